//! Security-evaluation curves, computed the ARES way.
//!
//! * Accuracy against the perturbation budget: for every sample, the smallest epsilon at which
//!   a fixed-budget attack (FGSM, BIM, PGD, ...) breaks it, found by an exponential search that
//!   brackets it and a bisection that narrows the bracket, all samples at their own radius in
//!   one batch. `accuracy(eps)` is the fraction of samples whose minimal epsilon exceeds `eps`.
//! * Accuracy against attack strength: robust accuracy after every iteration of an iterative
//!   attack, from a single run (the iterate at which the harness first saw each sample fooled),
//!   not one run per iteration count; and against queries, likewise.

use adv_attacks::{Attack, CleanPass, Harness, RunOptions};
use adv_core::{Batch, Classifier, CostCounts, ThreatModel, to_ints};
use serde::{Deserialize, Serialize};

use crate::work::minimal_distance_options;
use crate::{BenchError, Result};

/// How the minimal epsilon of each sample is searched.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpsilonSearch {
    /// First radius tried (positive).
    pub initial: f32,
    /// Largest radius tried; samples not broken there have an infinite minimal epsilon.
    pub max: f32,
    /// Bisection rounds after bracketing; the bracket shrinks by half each round.
    pub bisection_steps: usize,
    /// Labels of attacks that get no curve (expensive black-box attacks, say).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip: Vec<String>,
}

impl Default for EpsilonSearch {
    fn default() -> Self {
        Self {
            initial: 1.0 / 255.0,
            max: 1.0,
            bisection_steps: 8,
            skip: Vec::new(),
        }
    }
}

impl EpsilonSearch {
    /// Whether the attack labelled `label` gets a curve.
    pub fn covers(&self, label: &str) -> bool {
        !self.skip.iter().any(|s| s == label)
    }

    /// Checks `0 < initial <= max`, both finite.
    pub fn check(&self) -> Result<()> {
        if !(self.initial.is_finite()
            && self.initial > 0.0
            && self.max.is_finite()
            && self.max >= self.initial)
        {
            return Err(BenchError::InvalidArgument(format!(
                "epsilon search needs 0 < initial ({}) <= max ({})",
                self.initial, self.max
            )));
        }
        Ok(())
    }
}

/// Per sample of `batch`, the smallest radius found at which `attack` breaks it: 0 for
/// samples misclassified without attack, `f32::INFINITY` for samples never broken up to
/// `search.max`; and the work it took. Attacks that minimize the distance themselves (DeepFool,
/// C&W, FAB) run once at `search.max`, every step, keeping their closest example.
pub(crate) fn minimal_epsilons_of_batch(
    attack: &dyn Attack,
    model: &dyn Classifier,
    batch: &Batch,
    clean: &CleanPass,
    threat: &ThreatModel,
    options: &RunOptions,
    search: &EpsilonSearch,
) -> Result<(Vec<f32>, CostCounts)> {
    let n = batch.ids.len();
    let labels: Vec<usize> = to_ints(batch.labels.clone())
        .into_iter()
        .map(|y| y as usize)
        .collect();
    let misclassified: Vec<bool> = clean.correct(&labels).iter().map(|c| !c).collect();
    let mut cost = CostCounts::default();
    if attack.info().minimizes_distance {
        let threat = threat.clone().with_epsilon(search.max)?;
        let run = RunOptions {
            candidates: Some(misclassified.iter().map(|m| !m).collect()),
            ..minimal_distance_options(options)
        };
        let outcome = Harness::new(model, &threat, run).run(attack, batch, clean)?;
        cost = cost + outcome.cost + outcome.harness_cost;
        let minimal = (0..n)
            .map(|i| match (misclassified[i], outcome.success[i]) {
                (true, _) => 0.0,
                (false, true) => outcome.distances[i],
                (false, false) => f32::INFINITY,
            })
            .collect();
        return Ok((minimal, cost));
    }
    // Bracket [low, high]: the attack failed at `low` and succeeded at `high` (if finite).
    let mut low = vec![0.0f32; n];
    let mut high = vec![f32::INFINITY; n];
    let mut radius = vec![search.initial; n];
    let mut bracketing = true;
    let mut bisections = 0;
    loop {
        let open =
            |i: usize, low: &[f32], high: &[f32]| !high[i].is_finite() && low[i] < search.max;
        let candidates: Vec<bool> = (0..n)
            .map(|i| {
                !misclassified[i]
                    && if bracketing {
                        open(i, &low, &high)
                    } else {
                        high[i].is_finite()
                    }
            })
            .collect();
        if candidates.iter().any(|&c| c) {
            let run = RunOptions {
                candidates: Some(candidates.clone()),
                radii: Some(radius.clone()),
                ..options.clone()
            };
            let outcome = Harness::new(model, threat, run).run(attack, batch, clean)?;
            cost = cost + outcome.cost + outcome.harness_cost;
            for i in (0..n).filter(|&i| candidates[i]) {
                if outcome.success[i] {
                    high[i] = high[i].min(radius[i]);
                } else {
                    low[i] = low[i].max(radius[i]);
                }
            }
        }
        if bracketing {
            let mut any_open = false;
            for i in (0..n).filter(|&i| !misclassified[i] && open(i, &low, &high)) {
                radius[i] = (radius[i] * 2.0).min(search.max);
                any_open = true;
            }
            if any_open {
                continue;
            }
            bracketing = false;
        }
        if bisections == search.bisection_steps {
            break;
        }
        bisections += 1;
        for i in (0..n).filter(|&i| high[i].is_finite()) {
            radius[i] = 0.5 * (low[i] + high[i]);
        }
    }
    let minimal = (0..n)
        .map(|i| if misclassified[i] { 0.0 } else { high[i] })
        .collect();
    Ok((minimal, cost))
}

/// `accuracy(eps)`: the fraction of samples whose minimal epsilon exceeds each `eps`.
pub fn accuracy_at(minimal: &[f32], epsilons: &[f32]) -> Vec<f32> {
    epsilons
        .iter()
        .map(|&eps| {
            if minimal.is_empty() {
                return 0.0;
            }
            minimal.iter().filter(|&&m| m > eps).count() as f32 / minimal.len() as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use adv_attacks::{AttackConfig, PgdConfig, attack_batch};
    use adv_core::burn::tensor::{Device, Tensor, TensorData};
    use adv_core::{Dataset, Norm, to_floats};
    use adv_core::{Setting, ThreatModel};

    use crate::{EvalPlan, EvalReport, Progress, evaluate};

    /// Two classes, logits `[0, w.x + b]`: class 1 where `w.x + b > 0`.
    struct Halfspace {
        w: Vec<f32>,
        b: f32,
    }

    impl Classifier for Halfspace {
        fn forward(&self, images: Tensor<4>) -> Tensor<2> {
            let n = images.dims()[0];
            let d = self.w.len();
            let w =
                Tensor::<2>::from_data(TensorData::new(self.w.clone(), [d, 1]), &images.device());
            let score = images.reshape([n, d]).matmul(w).add_scalar(self.b);
            Tensor::cat(vec![score.zeros_like(), score], 1)
        }
    }

    fn halfspace_data(model: &Halfspace) -> Dataset {
        let d = model.w.len();
        let images: Vec<f32> = (0..6 * d)
            .map(|k| 0.4 + 0.2 * ((k * 7919 % 101) as f32 / 100.0))
            .collect();
        let logits = to_floats(model.forward(adv_core::floats_from(
            images.clone(),
            [6, 1, 1, d],
            &Device::default(),
        )));
        let labels = logits.chunks(2).map(|z| usize::from(z[1] > 0.0)).collect();
        Dataset::new(images, labels, [1, 1, d], 2).unwrap()
    }

    /// `evaluate` with one attack at one radius, batches of 4.
    fn evaluate_one(
        model: &Halfspace,
        data: &Dataset,
        attack: AttackConfig,
        epsilon: f32,
        seed: u64,
        epsilon_curves: Option<EpsilonSearch>,
    ) -> EvalReport {
        let plan = EvalPlan {
            attacks: vec![attack],
            threat: ThreatModel::new(Norm::Linf, 0.0).unwrap(),
            epsilons: vec![epsilon],
            batch_size: 4,
            seed,
            confidence: 0.0,
            epsilon_curves,
        };
        evaluate(model, data, &plan, &Device::default(), &Progress::hidden()).unwrap()
    }

    /// FGSM moves a sample of class 1 by -eps sign(w), lowering the score by eps ||w||_1, so
    /// its minimal Linf radius is |w.x + b| / ||w||_1 (the box is far away for these inputs).
    #[test]
    fn minimal_epsilon_of_fgsm_on_a_halfspace_matches_the_closed_form() {
        let model = Halfspace {
            w: vec![0.5, -1.0, 0.25, 2.0],
            b: -0.9,
        };
        let data = halfspace_data(&model);
        let search = EpsilonSearch {
            initial: 0.001,
            max: 1.0,
            bisection_steps: 10,
            skip: Vec::new(),
        };
        let fgsm = AttackConfig::named("fgsm").unwrap();
        let report = evaluate_one(&model, &data, fgsm, 0.1, 0, Some(search));
        let found: Vec<f32> = report.epsilon_curves[0]
            .minimal_epsilons
            .iter()
            .map(|m| m.unwrap_or(f32::INFINITY))
            .collect();
        let l1: f32 = model.w.iter().map(|v| v.abs()).sum();
        for (i, &eps) in found.iter().enumerate() {
            let x = data.image(i);
            let score: f32 = model.w.iter().zip(x).map(|(w, v)| w * v).sum::<f32>() + model.b;
            let exact = score.abs() / l1;
            assert!(
                eps >= exact * (1.0 - 1e-4) && eps <= exact * (1.0 + 2.0 / 1024.0) + 1e-6,
                "sample {i}: {eps} vs {exact}"
            );
        }
        let curve = accuracy_at(&found, &[0.0, 1.0]);
        assert_eq!(curve, vec![1.0, 0.0]);
    }

    #[test]
    fn accuracy_at_counts_minimal_epsilons_above_each_radius() {
        let minimal = [0.0, 0.1, 0.2, f32::INFINITY];
        assert_eq!(
            accuracy_at(&minimal, &[0.0, 0.1, 0.15, 10.0]),
            vec![0.75, 0.5, 0.5, 0.25]
        );
        assert!(
            EpsilonSearch {
                initial: 0.0,
                ..Default::default()
            }
            .check()
            .is_err()
        );
    }

    #[test]
    fn iteration_curve_falls_and_ends_at_the_attack_result() {
        let model = Halfspace {
            w: vec![0.5, -1.0, 0.25, 2.0],
            b: -0.9,
        };
        let data = halfspace_data(&model);
        let config = PgdConfig {
            steps: 10,
            step_size: adv_attacks::StepSize::Relative(0.05),
            ..Default::default()
        };
        let named = AttackConfig::new(
            "pgd",
            &[
                Setting::new("steps", "10"),
                Setting::new("step-size", "0.05x"),
            ],
        )
        .unwrap();
        let report = evaluate_one(&model, &data, named, 0.08, 4, None);
        let curve = &report.results[0].accuracy_per_step;
        let (threat, pgd) = (
            ThreatModel::new(Norm::Linf, 0.08).unwrap(),
            config.init().unwrap(),
        );
        let options = RunOptions {
            seed: 4,
            ..Default::default()
        };
        let device = Device::default();
        assert!(curve.windows(2).all(|w| w[1] <= w[0]), "{curve:?}");
        let mut robust = 0;
        for batch in data.batches(4, &device) {
            let outcome = attack_batch(&pgd, &model, &batch, &threat, &options).unwrap();
            robust += outcome.robust().iter().filter(|&&r| r).count();
        }
        assert_eq!(*curve.last().unwrap(), robust as f32 / data.len() as f32);
        assert!(
            curve[0] > *curve.last().unwrap(),
            "the attack makes progress: {curve:?}"
        );
    }
}
