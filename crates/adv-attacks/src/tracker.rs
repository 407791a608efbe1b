//! The one place that keeps the books of an attack run, per sample: the best example found so
//! far (adversarial and closest, else highest success margin), the latest iterate, the step
//! and query count at first success, and whether the sample is done. Attacks never keep any of
//! this themselves; the harness feeds the tracker a verdict on every iterate it judges.

use adv_core::burn::tensor::Tensor;
use adv_core::burn::tensor::ops::IndexingUpdateOp;
use adv_core::ints_from;
use serde::{Deserialize, Serialize};

/// When a sample was first fooled within its radius.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirstSuccess {
    /// The iterate (0: the first starting point; runs and stages are numbered on).
    pub step: u64,
    /// The attack's queries of the sample up to and including that iterate.
    pub queries: u64,
}

/// A verdict on one row's iterate.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Verdict {
    pub adversarial: bool,
    /// Success margin (positive once the goal's prediction is reached); NaN when unknown.
    pub margin: f32,
    /// Distance of the iterate from the clean image, in the threat model's norm.
    pub distance: f32,
}

/// The books of every attacked sample of a session.
pub(crate) struct Tracker {
    /// Per sample, the best example `[m, c, h, w]`.
    best: Tensor<4>,
    /// Per sample, the latest iterate recorded (when it left, or at the end of a run).
    last: Tensor<4>,
    /// Whether `best` is adversarial.
    pub found: Vec<bool>,
    pub best_distance: Vec<f32>,
    best_margin: Vec<f32>,
    /// Whether `best` was ever set from an iterate (else it is the clean image).
    has_best: Vec<bool>,
    pub first_success: Vec<Option<FirstSuccess>>,
    /// The step and query count of the latest verdict recorded for the sample.
    pub last_verdict: Vec<Option<FirstSuccess>>,
    /// Fooled at some iterate of the current run.
    fooled_in_run: Vec<bool>,
    /// Fooled at some iterate of the last completed run.
    pub fooled_last_run: Vec<bool>,
    /// No further iterate counts for the sample.
    pub done: Vec<bool>,
}

impl Tracker {
    pub fn new(x0: &Tensor<4>) -> Self {
        let m = x0.dims()[0];
        Self {
            best: x0.clone(),
            last: x0.clone(),
            found: vec![false; m],
            best_distance: vec![f32::INFINITY; m],
            best_margin: vec![f32::NEG_INFINITY; m],
            has_best: vec![false; m],
            first_success: vec![None; m],
            last_verdict: vec![None; m],
            fooled_in_run: vec![false; m],
            fooled_last_run: vec![false; m],
            done: vec![false; m],
        }
    }

    /// Records verdicts on `x` (`[rows.len(), ...]`, row `k` of sample `rows[k]`); `within[k]`
    /// says whether the iterate lies within the sample's radius. Returns, per row, whether the
    /// verdict fooled the model within the radius for the first time.
    pub fn record(
        &mut self,
        rows: &[usize],
        x: &Tensor<4>,
        verdicts: &[Verdict],
        within: &[bool],
        step: u64,
        queries: &[u64],
    ) -> Vec<bool> {
        let mut replace = Vec::new();
        let mut first = vec![false; rows.len()];
        for (k, (&row, verdict)) in rows.iter().zip(verdicts).enumerate() {
            if self.done[row] {
                continue;
            }
            self.last_verdict[row] = Some(FirstSuccess {
                step,
                queries: queries[row],
            });
            let better = if verdict.adversarial {
                self.fooled_in_run[row] = true;
                !self.found[row] || verdict.distance < self.best_distance[row]
            } else {
                !self.found[row] && verdict.margin > self.best_margin[row]
            };
            if better {
                self.has_best[row] = true;
                self.found[row] |= verdict.adversarial;
                if verdict.adversarial {
                    self.best_distance[row] = verdict.distance;
                } else {
                    self.best_margin[row] = verdict.margin;
                }
                replace.push(k);
            }
            if verdict.adversarial && within[k] && self.first_success[row].is_none() {
                self.first_success[row] = Some(FirstSuccess {
                    step,
                    queries: queries[row],
                });
                first[k] = true;
            }
        }
        if !replace.is_empty() {
            let global: Vec<usize> = replace.iter().map(|&k| rows[k]).collect();
            self.best = assign_rows(self.best.clone(), &global, x, &replace);
        }
        first
    }

    /// Records `x` as the latest iterate of the samples `rows` (`x` row `k` is `rows[k]`),
    /// or of the subset `local` of them.
    pub fn set_last(&mut self, rows: &[usize], x: &Tensor<4>, local: &[usize]) {
        if local.is_empty() {
            return;
        }
        let global: Vec<usize> = local.iter().map(|&k| rows[k]).collect();
        self.last = assign_rows(self.last.clone(), &global, x, local);
    }

    pub fn begin_run(&mut self) {
        self.fooled_in_run.iter_mut().for_each(|f| *f = false);
    }

    pub fn end_run(&mut self) {
        self.fooled_last_run.clone_from(&self.fooled_in_run);
    }

    /// The best example of every sample: adversarial and closest if any was found, else the
    /// iterate with the highest success margin, else the latest iterate.
    pub fn best(&self) -> Tensor<4> {
        let from_last: Vec<usize> = (0..self.has_best.len())
            .filter(|&r| !self.has_best[r])
            .collect();
        assign_rows(self.best.clone(), &from_last, &self.last, &from_last)
    }

    /// The best adversarial example where one was found, else the latest iterate.
    pub fn adversarial_or_last(&self) -> Tensor<4> {
        let found: Vec<usize> = (0..self.found.len()).filter(|&r| self.found[r]).collect();
        assign_rows(self.last.clone(), &found, &self.best, &found)
    }

    /// The latest iterate of every sample.
    pub fn last(&self) -> Tensor<4> {
        self.last.clone()
    }
}

/// `target` with its rows `rows` overwritten by rows `from_rows` of `source`.
fn assign_rows(
    target: Tensor<4>,
    rows: &[usize],
    source: &Tensor<4>,
    from_rows: &[usize],
) -> Tensor<4> {
    if rows.is_empty() {
        return target;
    }
    let device = target.device();
    let index = |values: &[usize]| {
        ints_from(
            &values.iter().map(|&v| v as i64).collect::<Vec<_>>(),
            &device,
        )
    };
    let values = source.clone().select(0, index(from_rows));
    target.select_assign(0, index(rows), values, IndexingUpdateOp::Assign)
}
