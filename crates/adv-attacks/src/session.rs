//! The harness: the clean pass, the choice of targets and of the rows to attack, the loop that
//! drives every iterative attack (judging iterates, dropping fooled rows, enforcing budgets),
//! and the final verification of every returned example by the model itself.

use adv_core::burn::tensor::ops::IndexingUpdateOp;
use adv_core::burn::tensor::{Device, Int, Tensor};
use adv_core::{
    Batch, Bounds, Budget, Classifier, CostCounts, Criterion, Goal, Loss, ModelTraits, Norm,
    TargetSelection, ThreatModel, check_epsilons, draw_keys, floats_from, ints_from, sample_rng,
    to_bools, to_floats, to_ints,
};
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use crate::access::{Access, Meter, knowledge_rank};
use crate::attack::{Attack, AttackInfo, Iterative, Keep, Observed, Rows, StepInfo};
use crate::tracker::{FirstSuccess, Tracker, Verdict};
use crate::{AttackError, Result};

/// Classes of the clean ranking each sample keeps (targets of APGD-T and FAB-T come from it).
pub const RANKED_CLASSES: usize = 20;

/// Above this fraction of rows fooled by the last step, the harness judges the next iterate
/// with a forward pass before the next gradient, so that fooled rows cost no gradient; below
/// it, the verdict comes free with the next gradient pass. Checking first pays when the
/// fraction fooled exceeds the cost of a forward pass relative to a gradient pass: 0.28 for
/// ResNet-20 at batch 128 on flex (339 ms vs 1.21 s, `cargo bench -p adv-benches --
/// resnet20_pass`).
const CHECK_FIRST_ABOVE: f32 = 0.3;

/// Draw index of the clean pass of randomized models.
const CLEAN_DRAW: u64 = u64::MAX;

/// What the caller wants from a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Robustness evaluation: a sample stops as soon as it is fooled within its radius and
    /// leaves the batch; every returned example is verified by a fresh forward pass.
    #[default]
    Evaluate,
    /// Example generation (adversarial training, minimal distances): every sample runs every
    /// step of every run, and gets `Pick`'s iterate.
    Generate(Pick),
}

/// Which iterate generation returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pick {
    /// The last iterate (Madry et al.'s PGD-AT); no iterate is judged unless the attack needs it.
    Final,
    /// The closest adversarial iterate, else the one with the highest success margin.
    Best,
}

/// Settings of one harnessed run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunOptions {
    /// Seed of every random choice (random starts, random targets).
    pub seed: u64,
    /// Logit margin an example needs to count as adversarial.
    pub confidence: f32,
    /// Samples to consider at all (`None`: every sample).
    pub candidates: Option<Vec<bool>>,
    /// One radius per sample instead of the threat model's epsilon (minimal-epsilon searches).
    pub radii: Option<Vec<f32>>,
    /// Evaluate or generate.
    pub mode: Mode,
    /// Drop fooled rows from the batch (evaluation). Off, fooled rows keep being computed and
    /// are ignored: the same verdicts, at the old cost; for tests.
    pub compaction: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            seed: 0,
            confidence: 0.0,
            candidates: None,
            radii: None,
            mode: Mode::Evaluate,
            compaction: true,
        }
    }
}

/// The model's verdict on the clean images of a batch, computed once and shared by every
/// attack and radius (the engine journals it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CleanPass {
    /// Predicted class per sample.
    pub predictions: Vec<usize>,
    /// The most likely classes per sample, most likely first (at most [`RANKED_CLASSES`]).
    pub ranking: Vec<Vec<usize>>,
    /// The least likely class per sample.
    pub least_likely: Vec<usize>,
    /// The model's number of classes.
    pub classes: usize,
}

impl CleanPass {
    /// The clean pass of `model` on `images`.
    pub fn of(model: &dyn Classifier, images: Tensor<4>, ids: &[u64]) -> Self {
        Self::from_logits(model.forward_keyed(images, &draw_keys(ids, CLEAN_DRAW)))
    }

    /// The clean pass of `model` on `images`, refused when a logit is NaN or infinite (named by
    /// the sample's id): what an evaluation goes through, so broken weights or normalization
    /// never read as an accuracy.
    pub fn checked(model: &dyn Classifier, images: Tensor<4>, ids: &[u64]) -> Result<Self> {
        let logits = model.forward_keyed(images, &draw_keys(ids, CLEAN_DRAW));
        let classes = logits.dims()[1].max(1);
        let values = adv_core::to_floats(logits.clone());
        if let Some(index) = values.iter().position(|v| !v.is_finite()) {
            return Err(AttackError::NonFiniteLogits {
                sample: ids.get(index / classes).copied().unwrap_or_default(),
                value: values[index],
            });
        }
        Ok(Self::from_logits(logits))
    }

    /// From the clean logits `[n, classes]`.
    pub fn from_logits(logits: Tensor<2>) -> Self {
        let [n, classes] = logits.dims();
        let ranked = classes.min(RANKED_CLASSES);
        let order = to_ints(logits.clone().argsort_descending(1).narrow(1, 0, ranked));
        let least = to_ints(logits.argmin(1).reshape([n]));
        let ranking: Vec<Vec<usize>> = order
            .chunks(ranked.max(1))
            .map(|row| row.iter().map(|&c| c as usize).collect())
            .collect();
        Self {
            predictions: ranking.iter().map(|r| r[0]).collect(),
            ranking,
            least_likely: least.into_iter().map(|c| c as usize).collect(),
            classes,
        }
    }

    /// Whether each prediction equals its label.
    pub fn correct(&self, labels: &[usize]) -> Vec<bool> {
        self.predictions
            .iter()
            .zip(labels)
            .map(|(p, y)| p == y)
            .collect()
    }
}

/// The result of attacking one batch; per-sample vectors follow the batch order.
#[derive(Clone, Debug)]
pub struct BatchOutcome {
    /// The examples `[n, c, h, w]`: the attack's result, projected into the threat model, for
    /// attacked samples; the clean image for the others.
    pub adversarials: Tensor<4>,
    /// Whether the clean image is classified correctly.
    pub clean_correct: Vec<bool>,
    /// Whether the sample was attacked.
    pub attacked: Vec<bool>,
    /// Whether the returned example is adversarial (evaluation: the model's verdict on it).
    pub success: Vec<bool>,
    /// Norm of each returned perturbation (0 where not attacked).
    pub distances: Vec<f32>,
    /// Target classes, for the targeted goals.
    pub targets: Option<Vec<usize>>,
    /// The attack's queries (model rows, gradient passes included) per sample.
    pub queries: Vec<u64>,
    /// The attack's input gradients per sample.
    pub gradients: Vec<u64>,
    /// When each sample was first fooled within its radius, if it was.
    pub first_success: Vec<Option<FirstSuccess>>,
    /// Iterates the run numbered (accuracy-vs-iterations curves end there).
    pub iterates: u64,
    /// The attack's work.
    pub cost: CostCounts,
    /// The harness's own work: the final verification.
    pub harness_cost: CostCounts,
}

impl BatchOutcome {
    /// Clean-correct samples the attack did not break.
    pub fn robust(&self) -> Vec<bool> {
        self.clean_correct
            .iter()
            .zip(&self.success)
            .map(|(&correct, &broken)| correct && !broken)
            .collect()
    }
}

/// Runs attacks on batches of one model under one threat model.
pub struct Harness<'a> {
    model: &'a dyn Classifier,
    threat: &'a ThreatModel,
    options: RunOptions,
}

impl<'a> Harness<'a> {
    /// A harness for `model` under `threat`.
    pub fn new(model: &'a dyn Classifier, threat: &'a ThreatModel, options: RunOptions) -> Self {
        Self {
            model,
            threat,
            options,
        }
    }

    /// The clean pass of `batch` (an error if a logit is not finite).
    pub fn clean(&self, batch: &Batch) -> Result<CleanPass> {
        CleanPass::checked(self.model, batch.images.clone(), &batch.ids)
    }

    /// Runs `attack` on `batch`, whose clean pass is `clean`.
    pub fn run(
        &self,
        attack: &dyn Attack,
        batch: &Batch,
        clean: &CleanPass,
    ) -> Result<BatchOutcome> {
        let n = batch.ids.len();
        let options = &self.options;
        if clean.predictions.len() != n {
            return Err(AttackError::Mismatch(format!(
                "a clean pass of {} samples for a batch of {n}",
                clean.predictions.len()
            )));
        }
        let radii = match &options.radii {
            None => vec![self.threat.epsilon; n],
            Some(radii) if radii.len() == n => {
                check_epsilons(radii)?;
                radii.clone()
            }
            Some(radii) => {
                return Err(AttackError::Mismatch(format!(
                    "{} radii for a batch of {n}",
                    radii.len()
                )));
            }
        };
        // A ball wider than the input box holds all of it: the radius is capped to the box's
        // diameter, which changes no verdict and keeps eps^2 and the like finite.
        let [_, c, h, w] = batch.images.dims();
        let diameter = self.threat.norm.diameter(
            c * h * w,
            self.threat.bounds.upper - self.threat.bounds.lower,
        );
        let radii: Vec<f32> = radii.into_iter().map(|r| r.min(diameter)).collect();
        if let Some(candidates) = &options.candidates
            && candidates.len() != n
        {
            return Err(AttackError::Mismatch(format!(
                "{} candidate flags for a batch of {n}",
                candidates.len()
            )));
        }
        let criterion = Criterion::new(self.threat.goal).with_confidence(options.confidence)?;
        check_attack(
            attack.info(),
            attack.info().access,
            self.threat,
            &criterion,
            self.model.traits(),
        )?;
        let labels: Vec<usize> = to_ints(batch.labels.clone())
            .into_iter()
            .map(|y| y as usize)
            .collect();
        if let Some(&label) = labels.iter().find(|&&y| y >= clean.classes) {
            return Err(AttackError::Mismatch(format!(
                "label {label} does not exist: the model has {} classes",
                clean.classes
            )));
        }
        let clean_correct = clean.correct(&labels);
        let targets = choose_targets(self.threat.goal, &labels, clean, &batch.ids, options.seed)?;
        let attacked: Vec<bool> = (0..n)
            .map(|i| {
                (clean_correct[i] || options.mode != Mode::Evaluate)
                    && options.candidates.as_ref().is_none_or(|c| c[i])
                    && targets.as_ref().is_none_or(|t| t[i] != labels[i])
            })
            .collect();
        let chosen: Vec<usize> = (0..n).filter(|&i| attacked[i]).collect();
        let mut outcome = BatchOutcome {
            adversarials: batch.images.clone(),
            clean_correct,
            attacked,
            success: vec![false; n],
            distances: vec![0.0; n],
            targets: targets.clone(),
            queries: vec![0; n],
            gradients: vec![0; n],
            first_success: vec![None; n],
            iterates: 0,
            cost: CostCounts::default(),
            harness_cost: CostCounts::default(),
        };
        if chosen.is_empty() {
            return Ok(outcome);
        }
        let device = batch.images.device();
        let index = index_of(&chosen, &device);
        let rows = SessionRows {
            images: batch.images.clone().select(0, index.clone()),
            labels: batch.labels.clone().select(0, index.clone()),
            targets: targets.as_ref().map(|t| {
                ints_from(
                    &chosen.iter().map(|&i| t[i] as i64).collect::<Vec<_>>(),
                    &device,
                )
            }),
            epsilon_values: chosen.iter().map(|&i| radii[i]).collect(),
            ids: chosen.iter().map(|&i| batch.ids[i]).collect(),
            ranking: chosen.iter().map(|&i| clean.ranking[i].clone()).collect(),
            clean_adversarial: chosen
                .iter()
                .map(|&i| match (self.threat.goal, &targets) {
                    (Goal::Targeted(_), Some(t)) => clean.predictions[i] == t[i],
                    _ => clean.predictions[i] != labels[i],
                })
                .collect(),
        };
        let mut session = Session::new(self.model, self.threat, criterion, options, rows);
        attack.run(&mut session)?;
        let finished = session.finish()?;
        for (k, &i) in chosen.iter().enumerate() {
            outcome.success[i] = finished.success[k];
            outcome.distances[i] = finished.distances[k];
            outcome.queries[i] = finished.queries[k];
            outcome.gradients[i] = finished.gradients[k];
            outcome.first_success[i] = finished.first_success[k];
        }
        outcome.iterates = finished.iterates;
        outcome.cost = finished.cost;
        outcome.harness_cost = finished.harness_cost;
        outcome.adversarials = batch.images.clone().select_assign(
            0,
            index,
            finished.examples,
            IndexingUpdateOp::Assign,
        );
        Ok(outcome)
    }
}

/// Runs `attack` on `batch` under `threat`, clean pass included: [`Harness::clean`] then
/// [`Harness::run`].
pub fn attack_batch(
    attack: &dyn Attack,
    model: &dyn Classifier,
    batch: &Batch,
    threat: &ThreatModel,
    options: &RunOptions,
) -> Result<BatchOutcome> {
    let harness = Harness::new(model, threat, options.clone());
    let clean = harness.clean(batch)?;
    harness.run(attack, batch, &clean)
}

/// An error unless the attack `info` declares may run under `threat` with `criterion`: its
/// norm, its access against the threat model's knowledge, its goals, its margin. What a plan
/// checks before any model work.
pub fn check_plan(info: &AttackInfo, threat: &ThreatModel, criterion: &Criterion) -> Result<()> {
    check_attack(
        info,
        info.access,
        threat,
        criterion,
        ModelTraits::DETERMINISTIC,
    )
}

/// An error unless `info`'s attack, needing `access`, may run under `threat` on a model with
/// `traits`.
pub(crate) fn check_attack(
    info: &AttackInfo,
    access: adv_core::Knowledge,
    threat: &ThreatModel,
    criterion: &Criterion,
    traits: ModelTraits,
) -> Result<()> {
    info.check_norm(threat.norm)?;
    if knowledge_rank(access) > knowledge_rank(threat.knowledge) {
        return Err(AttackError::KnowledgeExceeded {
            attack: info.name.to_owned(),
            needs: access,
            allowed: threat.knowledge,
        });
    }
    if matches!(
        threat.goal,
        Goal::Targeted(_) | Goal::TargetedOrMisclassified(_)
    ) && !info.targeted
    {
        return Err(AttackError::config(info.name, "it has no targeted version"));
    }
    if access == adv_core::Knowledge::DecisionBased && criterion.confidence > 0.0 {
        return Err(AttackError::config(
            info.name,
            "a decision-based attack sees labels only and cannot reach a logit margin \
             (confidence must be 0)",
        ));
    }
    if access == adv_core::Knowledge::WhiteBox && !traits.differentiable {
        return Err(AttackError::config(
            info.name,
            "the model declares itself non-differentiable: gradients would be meaningless \
             (wrap it in Bpda, or use a score-based attack)",
        ));
    }
    Ok(())
}

fn index_of(rows: &[usize], device: &Device) -> Tensor<1, Int> {
    ints_from(&rows.iter().map(|&r| r as i64).collect::<Vec<_>>(), device)
}

/// Target classes of the targeted goals, chosen as the goal says.
fn choose_targets(
    goal: Goal,
    labels: &[usize],
    clean: &CleanPass,
    ids: &[u64],
    seed: u64,
) -> Result<Option<Vec<usize>>> {
    let Some(selection) = goal.target_selection() else {
        return Ok(None);
    };
    let classes = clean.classes;
    if classes < 2 {
        return Err(AttackError::Mismatch(format!(
            "a targeted goal needs two classes or more, the model has {classes}"
        )));
    }
    let targets = match selection {
        TargetSelection::Fixed(class) if class >= classes => {
            return Err(AttackError::Mismatch(format!(
                "target class {class} does not exist: the model has {classes} classes"
            )));
        }
        TargetSelection::Fixed(class) => vec![class; labels.len()],
        TargetSelection::Next => labels.iter().map(|&y| (y + 1) % classes).collect(),
        TargetSelection::LeastLikely => clean.least_likely.clone(),
        TargetSelection::Random => {
            use rand::Rng;
            labels
                .iter()
                .zip(ids)
                .map(|(&y, &id)| {
                    // A uniform class among the others: draw from classes - 1 and skip the label.
                    let draw = sample_rng(seed, id, u64::MAX).random_range(0..classes - 1);
                    if draw >= y { draw + 1 } else { draw }
                })
                .collect()
        }
    };
    Ok(Some(targets))
}

/// The attacked samples of a session, as the harness selected them.
struct SessionRows {
    images: Tensor<4>,
    labels: Tensor<1, Int>,
    targets: Option<Tensor<1, Int>>,
    epsilon_values: Vec<f32>,
    ids: Vec<u64>,
    ranking: Vec<Vec<usize>>,
    clean_adversarial: Vec<bool>,
}

/// What an attack may read about the rows of a step: images, labels, targets, radii, sample
/// ids, the threat model. Rows follow the tensors the attack receives.
#[derive(Clone)]
pub struct Context<'a> {
    images: Tensor<4>,
    labels: Tensor<1, Int>,
    targets: Option<Tensor<1, Int>>,
    epsilons: Tensor<1>,
    epsilon_values: Vec<f32>,
    sample_ids: Vec<u64>,
    ranking: Vec<Vec<usize>>,
    fooled_last_run: Vec<bool>,
    threat: &'a ThreatModel,
    criterion: Criterion,
    seed: u64,
}

impl<'a> Context<'a> {
    /// Clean images `[rows, c, h, w]`.
    pub fn images(&self) -> &Tensor<4> {
        &self.images
    }

    /// True labels `[rows]`.
    pub fn labels(&self) -> &Tensor<1, Int> {
        &self.labels
    }

    /// Target labels `[rows]` of the targeted goals.
    pub fn targets(&self) -> Option<&Tensor<1, Int>> {
        self.targets.as_ref()
    }

    /// Each row's radius `[rows]`: the threat model's epsilon (or a search's radius).
    pub fn epsilons(&self) -> &Tensor<1> {
        &self.epsilons
    }

    /// The same radii on the host.
    pub fn epsilon_values(&self) -> &[f32] {
        &self.epsilon_values
    }

    /// Each row's index in its data set.
    pub fn sample_ids(&self) -> &[u64] {
        &self.sample_ids
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.sample_ids.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.sample_ids.is_empty()
    }

    /// The threat model.
    pub fn threat(&self) -> &ThreatModel {
        self.threat
    }

    /// The threat model's norm.
    pub fn norm(&self) -> Norm {
        self.threat.norm
    }

    /// The input box.
    pub fn bounds(&self) -> Bounds {
        self.threat.bounds
    }

    /// When an example counts as adversarial.
    pub fn criterion(&self) -> Criterion {
        self.criterion
    }

    /// The run's seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The random generator of row `row` in draw `draw`, keyed by the row's sample, so that a
    /// sample gets the same numbers in any batch.
    pub fn rng(&self, row: usize, draw: u64) -> StdRng {
        sample_rng(self.seed, self.sample_ids[row], draw)
    }

    /// `x` moved into the threat model: each row's ball, then the box.
    pub fn project(&self, x: Tensor<4>) -> Tensor<4> {
        self.threat
            .project(x, self.images.clone(), self.epsilons.clone())
    }

    /// The per-row objective that `loss` climbs under the goal: away from the label, or
    /// towards the target when the goal has targets.
    pub fn objective(&self, loss: Loss) -> impl Fn(Tensor<2>) -> Tensor<1> + '_ {
        move |logits| loss.objective(logits, &self.labels, self.targets.as_ref())
    }

    /// The classes most likely on the clean image after the label, for row `row`: the
    /// targets of APGD-T and FAB-T.
    pub fn likely_classes(&self, row: usize) -> Vec<usize> {
        let label = to_ints(self.labels.clone().narrow(0, row, 1))[0] as usize;
        self.ranking[row]
            .iter()
            .copied()
            .filter(|&c| c != label)
            .collect()
    }

    /// For each row, its `rank`-th most likely class other than its label on the clean image
    /// (`None` when the clean ranking does not reach that far for some row).
    pub fn likely_targets(&self, rank: usize) -> Option<Tensor<1, Int>> {
        let labels = to_ints(self.labels.clone());
        let targets: Option<Vec<i64>> = self
            .ranking
            .iter()
            .zip(&labels)
            .map(|(ranking, &label)| {
                ranking
                    .iter()
                    .filter(|&&c| c as i64 != label)
                    .nth(rank)
                    .map(|&c| c as i64)
            })
            .collect();
        targets.map(|t| ints_from(&t, &self.images.device()))
    }

    /// How many likely target classes every row has (see [`Context::likely_targets`]).
    pub fn likely_target_count(&self) -> usize {
        self.ranking
            .iter()
            .map(|r| r.len().saturating_sub(1))
            .min()
            .unwrap_or(0)
    }

    /// Per row, whether some iterate of the previous run fooled the model.
    pub fn fooled_last_run(&self) -> &[bool] {
        &self.fooled_last_run
    }

    fn narrow(&self, keep: &Keep) -> Self {
        Self {
            images: keep.tensor(self.images.clone()),
            labels: keep.tensor(self.labels.clone()),
            targets: self.targets.clone().map(|t| keep.tensor(t)),
            epsilons: keep.tensor(self.epsilons.clone()),
            epsilon_values: self.epsilon_values.clone().select_rows(keep),
            sample_ids: self.sample_ids.clone().select_rows(keep),
            ranking: self.ranking.clone().select_rows(keep),
            fooled_last_run: self.fooled_last_run.clone().select_rows(keep),
            threat: self.threat,
            criterion: self.criterion,
            seed: self.seed,
        }
    }
}

/// One attack run on one batch: the attacked rows, the tracker, the meter. Attacks see it
/// only through [`Context`] and their model view; composite attacks pass it on.
pub struct Session<'a> {
    threat: &'a ThreatModel,
    criterion: Criterion,
    seed: u64,
    mode: Mode,
    compaction: bool,
    traits: ModelTraits,
    meter: Meter<'a>,
    rows: SessionRows,
    epsilons: Tensor<1>,
    tracker: Tracker,
    /// Rows still attacked, as indices into the session's rows.
    active: Vec<usize>,
    /// Verdicts of the active rows' current iterate (for attacks that need them).
    verdicts: Vec<bool>,
    /// Number of the next iterate.
    next_iterate: u64,
    /// Fraction of rows the last judged step fooled.
    last_rate: Option<f32>,
    /// Per row, the queries that produced the iterate being judged, when the verdict comes
    /// after more queries were made.
    queries_at: Option<Vec<u64>>,
}

struct Finished {
    examples: Tensor<4>,
    success: Vec<bool>,
    distances: Vec<f32>,
    queries: Vec<u64>,
    gradients: Vec<u64>,
    first_success: Vec<Option<FirstSuccess>>,
    iterates: u64,
    cost: CostCounts,
    harness_cost: CostCounts,
}

impl<'a> Session<'a> {
    fn new(
        model: &'a dyn Classifier,
        threat: &'a ThreatModel,
        criterion: Criterion,
        options: &RunOptions,
        rows: SessionRows,
    ) -> Self {
        let m = rows.ids.len();
        let device = rows.images.device();
        let budget = match threat.budget {
            Some(Budget::Queries(queries)) => Some(queries),
            _ => None,
        };
        Self {
            threat,
            criterion,
            seed: options.seed,
            mode: options.mode,
            compaction: options.compaction,
            traits: model.traits(),
            meter: Meter::new(model, rows.ids.clone(), budget),
            epsilons: floats_from(rows.epsilon_values.clone(), [m], &device),
            tracker: Tracker::new(&rows.images),
            rows,
            active: (0..m).collect(),
            verdicts: vec![false; m],
            next_iterate: 0,
            last_rate: None,
            queries_at: None,
        }
    }

    /// Rows still attacked.
    pub fn remaining(&self) -> usize {
        self.active.len()
    }

    fn context(&self) -> Context<'a> {
        let device = self.rows.images.device();
        let index = index_of(&self.active, &device);
        Context {
            images: self.rows.images.clone().select(0, index.clone()),
            labels: self.rows.labels.clone().select(0, index.clone()),
            targets: self
                .rows
                .targets
                .clone()
                .map(|t| t.select(0, index.clone())),
            epsilons: self.epsilons.clone().select(0, index),
            epsilon_values: self
                .active
                .iter()
                .map(|&r| self.rows.epsilon_values[r])
                .collect(),
            sample_ids: self.active.iter().map(|&r| self.rows.ids[r]).collect(),
            ranking: self
                .active
                .iter()
                .map(|&r| self.rows.ranking[r].clone())
                .collect(),
            fooled_last_run: self
                .active
                .iter()
                .map(|&r| self.tracker.fooled_last_run[r])
                .collect(),
            threat: self.threat,
            criterion: self.criterion,
            seed: self.seed,
        }
    }

    /// Whether iterates must be judged at all: not when generating final iterates for an
    /// attack that does not look at verdicts.
    fn judges<A: Iterative>(&self, attack: &A) -> bool {
        self.mode != Mode::Generate(Pick::Final)
            || attack.needs_verdict()
            || attack.stops_at_success()
    }

    /// Drives an iterative attack over its runs and steps on the rows still attacked.
    pub(crate) fn drive<A: Iterative>(&mut self, attack: &A) -> Result<()> {
        check_attack(
            attack.info(),
            A::Access::KNOWLEDGE,
            self.threat,
            &self.criterion,
            self.traits,
        )?;
        // Rows done by an earlier attack leave now, compaction or not.
        self.drop_done();
        if self.active.is_empty() {
            return Ok(());
        }
        let steps = match self.threat.budget {
            Some(Budget::Iterations(cap)) => attack.steps().min(cap as usize),
            _ => attack.steps(),
        };
        let judges = self.judges(attack);
        let white_box = A::Access::KNOWLEDGE == adv_core::Knowledge::WhiteBox;
        let runs = attack.runs(&self.context()).max(1);
        let mut previous: Option<A::State> = None;
        for run in 0..runs {
            // Rows done in an earlier run leave now, compaction or not.
            if let Some(keep) = self.drop_done() {
                previous = previous.map(|state| state.select_rows(&keep));
            }
            if self.active.is_empty() {
                break;
            }
            self.tracker.begin_run();
            self.last_rate = None;
            let mut ctx = self.context();
            let first = self.next_iterate;
            let rows = self.active.clone();
            let start = {
                let view = A::Access::view(&self.meter, &rows);
                attack.start(&ctx, &view, run, previous.take())?
            };
            let mut state = start.state;
            let mut x = start.iterate;
            check_shape(attack.info(), &x, &ctx)?;
            let mut iterate = first;
            let mut pending = true;
            if judges {
                if let Some(keep) = self.settle(&ctx, &x, start.observed, iterate, false, attack)? {
                    (x, state, ctx) = (keep.tensor(x), state.select_rows(&keep), ctx.narrow(&keep));
                }
                pending = false;
            }
            for k in 0..steps {
                let verdict_queries = u64::from(pending && !white_box);
                if let Some(keep) = self.retire(attack.queries_per_step() + verdict_queries, &x) {
                    (x, state, ctx) = (keep.tensor(x), state.select_rows(&keep), ctx.narrow(&keep));
                }
                if self.active.is_empty() {
                    break;
                }
                let check_first = pending
                    && judges
                    && (attack.needs_verdict()
                        || !attack.observes_input()
                        || self.traits.randomized
                        || self.prefer_check_first());
                if check_first {
                    let logits = self.verdict(x.clone(), white_box)?;
                    if let Some(keep) =
                        self.settle(&ctx, &x, Observed::Logits(logits), iterate, true, attack)?
                    {
                        (x, state, ctx) =
                            (keep.tensor(x), state.select_rows(&keep), ctx.narrow(&keep));
                    }
                    pending = false;
                    if self.active.is_empty() {
                        break;
                    }
                }
                let rows = self.active.clone();
                let verdicts = self.verdicts.clone();
                let info = StepInfo {
                    run,
                    step: k,
                    adversarial: attack.needs_verdict().then_some(verdicts.as_slice()),
                };
                // The queries that produced `x`, for a verdict taken from this step's logits.
                let before = self.meter.counts().queries;
                let step = {
                    let view = A::Access::view(&self.meter, &rows);
                    attack.step(&ctx, &view, &mut state, x.clone(), info)?
                };
                check_shape(attack.info(), &step.next, &ctx)?;
                let mut next = step.next;
                if pending && judges {
                    let logits = step.at_input.ok_or_else(|| {
                        AttackError::Mismatch(format!(
                            "{} declares that its steps observe their input, and this one did not",
                            attack.info().name
                        ))
                    })?;
                    self.queries_at = Some(before);
                    if let Some(keep) =
                        self.settle(&ctx, &x, Observed::Logits(logits), iterate, true, attack)?
                    {
                        (next, state, ctx) = (
                            keep.tensor(next),
                            state.select_rows(&keep),
                            ctx.narrow(&keep),
                        );
                    }
                }
                x = next;
                iterate += 1;
                pending = true;
                if judges && !matches!(step.at_next, Observed::Nothing) {
                    if let Some(keep) =
                        self.settle(&ctx, &x, step.at_next, iterate, true, attack)?
                    {
                        (x, state, ctx) =
                            (keep.tensor(x), state.select_rows(&keep), ctx.narrow(&keep));
                    }
                    pending = false;
                }
                if step.stop || self.active.is_empty() {
                    break;
                }
            }
            if pending && judges && !self.active.is_empty() {
                // The last iterate, judged by the rows that can still pay for a query.
                if !white_box && let Some(keep) = self.retire(1, &x) {
                    (x, state, ctx) = (keep.tensor(x), state.select_rows(&keep), ctx.narrow(&keep));
                }
                if !self.active.is_empty() {
                    let logits = self.verdict(x.clone(), white_box)?;
                    if let Some(keep) =
                        self.settle(&ctx, &x, Observed::Logits(logits), iterate, true, attack)?
                    {
                        (x, state) = (keep.tensor(x), state.select_rows(&keep));
                    }
                }
            }
            let all: Vec<usize> = (0..self.active.len()).collect();
            self.tracker.set_last(&self.active, &x, &all);
            self.tracker.end_run();
            self.next_iterate = iterate + 1;
            previous = Some(state);
        }
        Ok(())
    }

    /// The model's logits at the active rows' iterate `x`, for a verdict: a query of the rows
    /// unless the attack is white-box.
    fn verdict(&self, x: Tensor<4>, white_box: bool) -> Result<Tensor<2>> {
        if white_box {
            self.meter.verdict_forward(x, &self.active)
        } else {
            self.meter.forward(x, &self.active)
        }
    }

    fn prefer_check_first(&self) -> bool {
        self.mode == Mode::Evaluate
            && self.compaction
            && self.last_rate.is_none_or(|rate| rate >= CHECK_FIRST_ABOVE)
    }

    /// Retires the active rows that cannot pay `need` more queries; their iterate in `x`
    /// becomes their last one. The rows kept, if any left.
    fn retire(&mut self, need: u64, x: &Tensor<4>) -> Option<Keep> {
        self.meter.remaining(0)?;
        let (keep, leave): (Vec<usize>, Vec<usize>) = (0..self.active.len()).partition(|&k| {
            self.meter
                .remaining(self.active[k])
                .is_none_or(|r| r >= need)
        });
        if leave.is_empty() {
            return None;
        }
        self.tracker.set_last(&self.active, x, &leave);
        Some(self.keep(keep, &x.device()))
    }

    /// Drops the active rows that are done; the rows kept, if some left.
    fn drop_done(&mut self) -> Option<Keep> {
        let local: Vec<usize> = (0..self.active.len())
            .filter(|&k| !self.tracker.done[self.active[k]])
            .collect();
        if local.len() == self.active.len() {
            return None;
        }
        let device = self.rows.images.device();
        Some(self.keep(local, &device))
    }

    fn keep(&mut self, local: Vec<usize>, device: &Device) -> Keep {
        self.active = local.iter().map(|&k| self.active[k]).collect();
        self.verdicts = local.iter().map(|&k| self.verdicts[k]).collect();
        Keep::new(local, device)
    }

    /// Judges `x` (the active rows' iterate number `iterate`) from what was observed, records
    /// the verdicts and returns the rows to keep when some leave the batch.
    fn settle<A: Iterative>(
        &mut self,
        ctx: &Context,
        x: &Tensor<4>,
        observed: Observed,
        iterate: u64,
        from_step: bool,
        attack: &A,
    ) -> Result<Option<Keep>> {
        let rows = self.active.clone();
        let n = rows.len();
        let observed = match observed {
            Observed::Clean if self.criterion.confidence == 0.0 => Observed::Clean,
            Observed::Nothing | Observed::Clean => Observed::Logits(self.verdict(
                x.clone(),
                A::Access::KNOWLEDGE == adv_core::Knowledge::WhiteBox,
            )?),
            other => other,
        };
        let device = x.device();
        let distance = self.threat.norm.norms(x.clone() - ctx.images.clone());
        let (adversarial, margin) = match observed {
            Observed::Logits(logits) => {
                let adversarial = self.criterion.is_adversarial(
                    logits.clone(),
                    ctx.labels.clone(),
                    ctx.targets.as_ref(),
                )?;
                let margin = self.criterion.success_margin(
                    logits,
                    ctx.labels.clone(),
                    ctx.targets.as_ref(),
                )?;
                (adversarial.float(), margin)
            }
            Observed::Labels(labels) => {
                let hit = match (self.threat.goal, &ctx.targets) {
                    (Goal::Targeted(_), Some(targets)) => labels.equal(targets.clone()),
                    _ => labels.not_equal(ctx.labels.clone()),
                };
                (hit.float(), Tensor::<1>::full([n], f32::NAN, &device))
            }
            _ => {
                let clean: Vec<bool> = rows
                    .iter()
                    .map(|&r| self.rows.clean_adversarial[r])
                    .collect();
                (
                    adv_core::bools_from(&clean, &device).float(),
                    Tensor::<1>::full([n], f32::NAN, &device),
                )
            }
        };
        // One transfer to the host for the three per-row values.
        let host = to_floats(Tensor::cat(vec![adversarial, margin, distance], 0));
        let verdicts: Vec<Verdict> = (0..n)
            .map(|k| Verdict {
                adversarial: host[k] > 0.5,
                margin: host[n + k],
                distance: host[2 * n + k],
            })
            .collect();
        let within: Vec<bool> = (0..n)
            .map(|k| {
                let eps = ctx.epsilon_values[k];
                verdicts[k].distance <= eps * (1.0 + 1e-5) + 1e-7
            })
            .collect();
        let queries = self
            .queries_at
            .take()
            .unwrap_or_else(|| self.meter.counts().queries);
        self.tracker
            .record(&rows, x, &verdicts, &within, iterate, &queries);
        let leaving: Vec<bool> = (0..n)
            .map(|k| {
                !self.tracker.done[rows[k]]
                    && verdicts[k].adversarial
                    && ((self.mode == Mode::Evaluate && within[k]) || attack.stops_at_success())
            })
            .collect();
        let left = leaving.iter().filter(|&&l| l).count();
        if from_step {
            self.last_rate = Some(left as f32 / n.max(1) as f32);
        }
        self.verdicts = verdicts.iter().map(|v| v.adversarial).collect();
        let leave: Vec<usize> = (0..n).filter(|&k| leaving[k]).collect();
        for &k in &leave {
            self.tracker.done[rows[k]] = true;
        }
        self.tracker.set_last(&rows, x, &leave);
        if leave.is_empty() || !self.compaction {
            return Ok(None);
        }
        let stay: Vec<usize> = (0..n).filter(|&k| !leaving[k]).collect();
        Ok(Some(self.keep(stay, &device)))
    }

    /// The examples the mode asks for, projected into the threat model and, when evaluating,
    /// verified by a fresh forward pass.
    fn finish(self) -> Result<Finished> {
        let x0 = self.rows.images.clone();
        let candidates = match self.mode {
            Mode::Evaluate => self.tracker.adversarial_or_last(),
            Mode::Generate(Pick::Final) => self.tracker.last(),
            Mode::Generate(Pick::Best) => self.tracker.best(),
        };
        if !to_bools(candidates.clone().is_finite().all())[0] {
            return Err(AttackError::NonFinite("the attack".into()));
        }
        let examples = self
            .threat
            .project(candidates, x0.clone(), self.epsilons.clone());
        let m = self.rows.ids.len();
        let all: Vec<usize> = (0..m).collect();
        let success = match self.mode {
            Mode::Evaluate => {
                let logits = self.meter.harness_forward(examples.clone(), &all)?;
                to_bools(self.criterion.is_adversarial(
                    logits,
                    self.rows.labels.clone(),
                    self.rows.targets.as_ref(),
                )?)
            }
            Mode::Generate(_) => self
                .tracker
                .first_success
                .iter()
                .map(Option::is_some)
                .collect(),
        };
        let distances = to_floats(self.threat.norm.norms(examples.clone() - x0));
        let counts = self.meter.counts();
        // An example can fool the model only once projected into the ball (an iterate outside
        // it, as FAB's or DeepFool's, inside AutoAttack too): its success is then first known
        // at the sample's last judged iterate, so that every verified success has a time.
        let mut first_success = self.tracker.first_success.clone();
        for (k, first) in first_success.iter_mut().enumerate() {
            if success[k] && first.is_none() {
                *first = Some(self.tracker.last_verdict[k].unwrap_or(FirstSuccess {
                    step: 0,
                    queries: counts.queries[k],
                }));
            }
        }
        Ok(Finished {
            examples,
            success,
            distances,
            queries: counts.queries,
            gradients: counts.gradients,
            first_success,
            iterates: self.next_iterate,
            cost: counts.attack,
            harness_cost: counts.harness,
        })
    }
}

fn check_shape(info: &AttackInfo, x: &Tensor<4>, ctx: &Context) -> Result<()> {
    if x.dims() != ctx.images.dims() {
        return Err(AttackError::Mismatch(format!(
            "{} produced iterates of shape {:?} for inputs of shape {:?}",
            info.name,
            x.dims(),
            ctx.images.dims()
        )));
    }
    Ok(())
}
