//! One evaluation: a model on a data set, under every attack of a plan at every epsilon.
//!
//! Each (attack, epsilon) pair attacks every clean-correct sample independently, so its row
//! reads on its own; the per-sample worst case over all attacks is reported per epsilon, as
//! RobustBench and AutoAttack define robust accuracy.

use std::collections::HashMap;

use adv_attacks::{AttackConfig, check_norm};
use adv_core::burn::tensor::Device;
use adv_core::{Classifier, Dataset, ThreatModel, check_epsilons};
use serde::{Deserialize, Serialize};

use crate::curves::EpsilonSearch;
use crate::report::EvalReport;
use crate::work::{assemble, run_units, units};
use crate::{BenchError, Progress, Result};

/// What to run: attacks, the threat model (its epsilon is replaced by each of `epsilons`),
/// batch size, seed and success margin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalPlan {
    /// The attacks, in report order.
    pub attacks: Vec<AttackConfig>,
    /// Norm, input box and goal.
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
    /// Checks the plan before any work is done: attacks build and support the norm, epsilons
    /// are valid, the batch size is positive.
    pub fn check(&self) -> Result<()> {
        check_epsilons(&self.epsilons)?;
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
        for config in &self.attacks {
            check_norm(config.build()?.as_ref(), self.threat.norm)?;
        }
        Ok(())
    }
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
    plan.check()?;
    if data.is_empty() {
        return Err(BenchError::InvalidArgument("the data set is empty".into()));
    }
    let units = units(plan, data.len());
    progress.start("evaluation", units.len() as u64);
    let mut outcomes = HashMap::with_capacity(units.len());
    run_units(
        model,
        data,
        plan,
        &units,
        device,
        progress,
        &mut |unit, outcome| {
            outcomes.insert(unit, outcome);
            Ok(())
        },
    )?;
    progress.finish();
    let [c, h, w] = data.shape();
    assemble(plan, data.len(), c * h * w, &outcomes)
}
