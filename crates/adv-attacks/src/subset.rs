//! Staged attacks: the stages of APGD (restarts, target classes) and of AutoAttack (its
//! attacks) each see only the samples no earlier stage has broken.

use adv_core::burn::tensor::ops::IndexingUpdateOp;
use adv_core::burn::tensor::{Bool, Tensor};
use adv_core::{Classifier, bools_from, ints_from, to_bools, to_ints};

use crate::{AttackInput, StepObserver};

/// The samples of an [`AttackInput`] no stage has broken yet, and the examples found so far.
pub(crate) struct Stages {
    /// One example per sample: the clean image until a stage breaks the sample.
    pub examples: Tensor<4>,
    /// Whether a stage broke the sample.
    pub found: Vec<bool>,
    /// Steps reported to the observer so far, so that stages report consecutive steps.
    steps_done: usize,
}

/// The rows of a parent input that one stage attacks, with their own host values.
pub(crate) struct Rows {
    pub rows: Vec<usize>,
    epsilon_values: Vec<f32>,
    sample_ids: Vec<u64>,
}

impl Stages {
    pub fn new(input: &AttackInput) -> Self {
        Self {
            examples: input.images.clone(),
            found: vec![false; input.sample_ids.len()],
            steps_done: 0,
        }
    }

    /// The samples of `parent` still unbroken (`None` when there are none left).
    pub fn remaining(&self, parent: &AttackInput) -> Option<Rows> {
        let rows: Vec<usize> = (0..self.found.len()).filter(|&i| !self.found[i]).collect();
        (!rows.is_empty()).then(|| Rows {
            epsilon_values: rows.iter().map(|&i| parent.epsilon_values[i]).collect(),
            sample_ids: rows.iter().map(|&i| parent.sample_ids[i]).collect(),
            rows,
        })
    }

    /// Keeps `examples` (`[rows, ...]`) of the rows that `adversarial` flags.
    pub fn record(&mut self, rows: &Rows, examples: Tensor<4>, adversarial: &[bool]) {
        let broken: Vec<usize> = (0..rows.rows.len()).filter(|&k| adversarial[k]).collect();
        if broken.is_empty() {
            return;
        }
        let device = examples.device();
        let local = ints_from(
            &broken.iter().map(|&k| k as i64).collect::<Vec<_>>(),
            &device,
        );
        let global = ints_from(
            &broken
                .iter()
                .map(|&k| rows.rows[k] as i64)
                .collect::<Vec<_>>(),
            &device,
        );
        let delta = examples.select(0, local) - self.examples.clone().select(0, global.clone());
        self.examples =
            self.examples
                .clone()
                .select_assign(0, global, delta, IndexingUpdateOp::Add);
        for k in broken {
            self.found[rows.rows[k]] = true;
        }
    }

    /// An observer for one stage over `rows`: maps the stage's flags onto the whole input and
    /// numbers its steps after those of the earlier stages.
    pub fn observer<'a>(
        &'a mut self,
        rows: &'a Rows,
        inner: &'a mut dyn StepObserver,
    ) -> StageObserver<'a> {
        StageObserver {
            stages: self,
            rows,
            inner,
            last: None,
        }
    }
}

impl Rows {
    /// The stage's input: the parent's rows, with the parent's threat model and criterion.
    pub fn input<'a>(&'a self, parent: &AttackInput<'a>) -> AttackInput<'a> {
        let device = parent.images.device();
        let index = ints_from(
            &self.rows.iter().map(|&i| i as i64).collect::<Vec<_>>(),
            &device,
        );
        AttackInput {
            images: parent.images.clone().select(0, index.clone()),
            labels: parent.labels.clone().select(0, index.clone()),
            targets: parent.targets.clone().map(|t| t.select(0, index.clone())),
            epsilons: parent.epsilons.clone().select(0, index),
            epsilon_values: &self.epsilon_values,
            sample_ids: &self.sample_ids,
            threat: parent.threat,
            criterion: parent.criterion,
            seed: parent.seed,
        }
    }
}

/// See [`Stages::observer`].
pub(crate) struct StageObserver<'a> {
    stages: &'a mut Stages,
    rows: &'a Rows,
    inner: &'a mut dyn StepObserver,
    last: Option<usize>,
}

impl StageObserver<'_> {
    /// Ends the stage: later stages number their steps after this one's.
    pub fn finish(self) {
        if let Some(last) = self.last {
            self.stages.steps_done += last + 1;
        }
    }
}

impl StepObserver for StageObserver<'_> {
    fn on_step(&mut self, step: usize, found: &Tensor<1, Bool>) {
        let mut all = self.stages.found.clone();
        for (&row, hit) in self.rows.rows.iter().zip(to_bools(found.clone())) {
            all[row] |= hit;
        }
        self.last = Some(step);
        self.inner.on_step(
            self.stages.steps_done + step,
            &bools_from(&all, &found.device()),
        );
    }
}

/// The targets of the targeted stages of APGD-T and FAB-T: for `t = 0..count` (at most the
/// number of classes - 1), each sample's `(t + 1)`-th most likely class other than its label on
/// the clean input.
pub(crate) fn likely_targets(
    model: &dyn Classifier,
    input: &AttackInput,
    count: usize,
) -> Vec<Vec<i64>> {
    let logits = model.forward(input.images.clone());
    let [n, classes] = logits.dims();
    let ranked = to_ints(logits.argsort_descending(1));
    let labels = to_ints(input.labels.clone());
    (0..count.min(classes.saturating_sub(1)))
        .map(|t| {
            (0..n)
                .map(|i| {
                    let row = &ranked[i * classes..(i + 1) * classes];
                    row.iter()
                        .copied()
                        .filter(|&c| c != labels[i])
                        .nth(t)
                        .unwrap_or(labels[i])
                })
                .collect()
        })
        .collect()
}
