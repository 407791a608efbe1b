//! One evaluation: a model on a data set, under every attack of a plan at every epsilon.
//!
//! Each (attack, epsilon) pair attacks every clean-correct sample independently, so its row
//! reads on its own; the per-sample worst case over all attacks is reported per epsilon, as
//! RobustBench and AutoAttack define robust accuracy.

use std::time::Instant;

use adv_attacks::{AttackConfig, NoObserver, RunOptions, attack_batch};
use adv_core::burn::tensor::Device;
use adv_core::{Classifier, Counted, Dataset, ThreatModel, check_epsilons, to_ints};
use serde::{Deserialize, Serialize};

use crate::report::{AttackResult, EvalReport, WorstCase};
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
}

impl EvalPlan {
    /// Checks the plan before any work is done: attacks build and support the norm, epsilons
    /// are valid, the batch size is positive.
    pub fn check(&self) -> Result<()> {
        check_epsilons(&self.epsilons)?;
        if self.batch_size == 0 {
            return Err(BenchError::InvalidArgument("the batch size must be at least 1".into()));
        }
        if self.attacks.is_empty() {
            return Err(BenchError::InvalidArgument("no attack given".into()));
        }
        for config in &self.attacks {
            let attack = config.build()?;
            if !attack.norms().contains(&self.threat.norm) {
                return Err(adv_attacks::AttackError::UnsupportedNorm {
                    attack: attack.name().to_owned(),
                    norm: self.threat.norm,
                    supported: attack.norms().iter().map(|n| n.name()).collect::<Vec<_>>().join(", "),
                }
                .into());
            }
        }
        Ok(())
    }
}

/// Evaluates `model` on `data` under `plan`; `progress` is advanced once per attacked batch.
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
    let n = data.len();
    let batches = n.div_ceil(plan.batch_size);
    progress.start(
        "clean",
        (batches * (1 + plan.attacks.len() * plan.epsilons.len())) as u64,
    );
    let started = Instant::now();
    let mut clean_correct = Vec::with_capacity(n);
    for batch in data.batches(plan.batch_size, device) {
        let predictions = to_ints(model.forward(batch.images).argmax(1).reshape([batch.ids.len()]));
        let labels = to_ints(batch.labels);
        clean_correct.extend(predictions.iter().zip(&labels).map(|(p, y)| p == y));
        progress.advance();
    }
    let clean_seconds = started.elapsed().as_secs_f64();

    let mut results = Vec::new();
    let mut robust_to_all = vec![clean_correct.clone(); plan.epsilons.len()];
    for config in &plan.attacks {
        let attack = config.build()?;
        for (e, &epsilon) in plan.epsilons.iter().enumerate() {
            progress.set_stage(&format!("{} eps={epsilon}", config.label()));
            let threat = plan.threat.clone().with_epsilon(epsilon)?;
            let counted = Counted::new(model);
            let options = RunOptions { seed: plan.seed, confidence: plan.confidence, candidates: None };
            let started = Instant::now();
            let mut robust = Vec::with_capacity(n);
            let mut distances = Vec::new();
            for batch in data.batches(plan.batch_size, device) {
                let outcome =
                    attack_batch(attack.as_ref(), &counted, &batch, &threat, &[epsilon], &options, &mut NoObserver)?;
                distances.extend(
                    outcome.attacked.iter().zip(&outcome.distances).filter(|(a, _)| **a).map(|(_, d)| *d),
                );
                robust.extend(outcome.robust());
                progress.advance();
            }
            for (all, here) in robust_to_all[e].iter_mut().zip(&robust) {
                *all &= *here;
            }
            results.push(AttackResult {
                attack: config.label(),
                config: config.clone(),
                epsilon,
                robust_accuracy: fraction(&robust),
                attacked: distances.len(),
                mean_perturbation: mean(&distances),
                max_perturbation: distances.iter().copied().fold(0.0, f32::max),
                cost: counted.counts(),
                wall_time_s: started.elapsed().as_secs_f64(),
            });
        }
    }
    progress.finish();
    let worst_case = plan
        .epsilons
        .iter()
        .zip(&robust_to_all)
        .map(|(&epsilon, robust)| WorstCase { epsilon, robust_accuracy: fraction(robust) })
        .collect();
    Ok(EvalReport {
        samples: n,
        clean_accuracy: fraction(&clean_correct),
        clean_wall_time_s: clean_seconds,
        norm: plan.threat.norm,
        goal: plan.threat.goal,
        seed: plan.seed,
        batch_size: plan.batch_size,
        confidence: plan.confidence,
        results,
        worst_case,
        context: Default::default(),
    })
}

fn fraction(flags: &[bool]) -> f32 {
    if flags.is_empty() {
        return 0.0;
    }
    flags.iter().filter(|&&f| f).count() as f32 / flags.len() as f32
}

fn mean(values: &[f32]) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    (values.iter().map(|&v| f64::from(v)).sum::<f64>() / values.len() as f64) as f32
}
