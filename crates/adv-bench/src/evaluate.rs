//! One evaluation: a model on a data set, under every attack of a plan at every epsilon.
//!
//! Each (attack, epsilon) pair attacks every clean-correct sample independently, so its row
//! reads on its own; the per-sample worst case over all attacks is reported per epsilon, as
//! RobustBench and AutoAttack define robust accuracy.

use std::collections::HashMap;

use adv_attacks::{Attack, AttackConfig, check_unique_labels};
use adv_core::burn::tensor::Device;
use adv_core::{Classifier, Dataset, ThreatModel, check_epsilons};
use serde::{Deserialize, Serialize};

use crate::curves::EpsilonSearch;
use crate::report::EvalReport;
use crate::work::{Measurement, MinimalEpsilon, RobustAccuracy, assemble, run_units, units};
use crate::{BenchError, Progress, Result};

/// What to run: attacks, the threat model (its epsilon is replaced by each of `epsilons`),
/// batch size, seed and success margin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalPlan {
    /// The attacks, in report order (labels unique).
    pub attacks: Vec<AttackConfig>,
    /// Norm, input box, goal, knowledge and budget.
    pub threat: ThreatModel,
    /// The radii to evaluate.
    pub epsilons: Vec<f32>,
    /// Samples per batch.
    pub batch_size: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Logit margin an example needs to count as adversarial.
    pub confidence: f32,
    /// When set, also the accuracy-vs-epsilon curve of every attack, by a per-sample search
    /// for the minimal epsilon.
    #[serde(default)]
    pub epsilon_curves: Option<EpsilonSearch>,
}

impl EvalPlan {
    /// Checks the plan before any work is done and builds every attack once: epsilons are
    /// valid, the batch size is positive, labels are unique, every attack supports the norm,
    /// the goal and the threat model's knowledge.
    pub fn check(&self) -> Result<CheckedPlan> {
        check_epsilons(&self.epsilons)?;
        // Equal radii (0.1 and "1/10") would be two columns of one measurement, and rank a model
        // against itself.
        if let Some((i, epsilon)) = self
            .epsilons
            .iter()
            .enumerate()
            .find(|&(i, e)| self.epsilons[..i].contains(e))
        {
            return Err(BenchError::InvalidArgument(format!(
                "radius {epsilon} is listed twice (positions {} and {}): list each radius once",
                self.epsilons.iter().position(|e| e == epsilon).unwrap_or(0) + 1,
                i + 1
            )));
        }
        if let Some(search) = &self.epsilon_curves {
            search.check()?;
        }
        if self.batch_size == 0 {
            return Err(BenchError::InvalidArgument(
                "the batch size must be at least 1".into(),
            ));
        }
        if self.attacks.is_empty() {
            return Err(BenchError::InvalidArgument("no attack given".into()));
        }
        check_unique_labels(&self.attacks)?;
        let criterion =
            adv_core::Criterion::new(self.threat.goal).with_confidence(self.confidence)?;
        let mut attacks = Vec::with_capacity(self.attacks.len());
        for config in &self.attacks {
            let info = config.info();
            adv_attacks::check_plan(info, &self.threat, &criterion)?;
            attacks.push(config.build()?);
        }
        let mut measurements: Vec<Box<dyn Measurement>> = Vec::new();
        for attack in 0..self.attacks.len() {
            for epsilon in 0..self.epsilons.len() {
                measurements.push(Box::new(RobustAccuracy { attack, epsilon }));
            }
        }
        if let Some(search) = &self.epsilon_curves {
            for (attack, config) in self.attacks.iter().enumerate() {
                if search.covers(&config.label()) {
                    measurements.push(Box::new(MinimalEpsilon { attack }));
                }
            }
        }
        Ok(CheckedPlan {
            plan: self.clone(),
            attacks,
            measurements,
        })
    }
}

/// A plan whose attacks are built, and the measurements it makes.
pub struct CheckedPlan {
    /// The plan.
    pub plan: EvalPlan,
    pub(crate) attacks: Vec<Box<dyn Attack>>,
    pub(crate) measurements: Vec<Box<dyn Measurement>>,
}

impl std::fmt::Debug for CheckedPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckedPlan")
            .field("plan", &self.plan)
            .finish_non_exhaustive()
    }
}

/// An error unless `model` takes `data`'s images and has a class for every label, checked with
/// one forward pass before any work.
pub fn check_model_fits(model: &dyn Classifier, data: &Dataset, device: &Device) -> Result<()> {
    if data.is_empty() {
        return Err(BenchError::InvalidArgument("the data set is empty".into()));
    }
    let probe = data.batch(0, 1, device);
    let classes = adv_attacks::CleanPass::checked(model, probe.images, &probe.ids)?.classes;
    check_labels(data, classes)
}

/// A note for each radius of `plan` wider than the input box of `data`'s images: the harness
/// caps it to the box's diameter (the whole box is inside the ball).
pub fn radius_notes(plan: &EvalPlan, data: &Dataset) -> Vec<String> {
    let [c, h, w] = data.shape();
    let bounds = plan.threat.bounds;
    let diameter = plan
        .threat
        .norm
        .diameter(c * h * w, bounds.upper - bounds.lower);
    plan.epsilons
        .iter()
        .filter(|&&epsilon| epsilon > diameter)
        .map(|epsilon| {
            format!(
                "radius {epsilon} is wider than the {} diameter of the input box ({diameter}): \
                 the whole box is inside the ball and the attacks use {diameter}",
                plan.threat.norm.name()
            )
        })
        .collect()
}

/// An error unless every label of `data` is below `classes`.
pub fn check_labels(data: &Dataset, classes: usize) -> Result<()> {
    if let Some((sample, &label)) = data
        .labels()
        .iter()
        .enumerate()
        .find(|&(_, &label)| label >= classes)
    {
        return Err(BenchError::InvalidArgument(format!(
            "label {label} of sample {sample} does not exist: the model has {classes} classes \
             (0..{})",
            classes.saturating_sub(1)
        )));
    }
    Ok(())
}

/// Evaluates `model` on `data` under `plan`; `progress` is advanced once per unit of work
/// (a batch of the clean pass, of an attack at one epsilon, or of a minimal-epsilon search).
pub fn evaluate(
    model: &dyn Classifier,
    data: &Dataset,
    plan: &EvalPlan,
    device: &Device,
    progress: &Progress,
) -> Result<EvalReport> {
    let checked = plan.check()?;
    check_model_fits(model, data, device)?;
    for note in radius_notes(plan, data) {
        eprintln!("note: {note}");
    }
    let units = units(&checked, data.len());
    progress.start("evaluation", units.len() as u64);
    let mut outcomes = HashMap::with_capacity(units.len());
    run_units(
        model,
        data,
        &checked,
        &units,
        &mut HashMap::new(),
        device,
        progress,
        &mut |unit, outcome| {
            outcomes.insert(unit, outcome);
            Ok(())
        },
    )?;
    progress.finish();
    let [c, h, w] = data.shape();
    assemble(&checked, data.len(), c * h * w, &outcomes)
}
