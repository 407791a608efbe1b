//! Security-evaluation curves, computed the ARES way.
//!
//! * Accuracy against the perturbation budget: for every sample, the smallest epsilon at which
//!   a fixed-budget attack (FGSM, BIM, PGD, ...) breaks it, found by an exponential search that
//!   brackets it and a bisection that narrows the bracket, all samples at their own radius in
//!   one batch. `accuracy(eps)` is the fraction of samples whose minimal epsilon exceeds `eps`.
//! * Accuracy against attack strength: robust accuracy after every iteration of an iterative
//!   attack, from a single run (the harness's step observer), not one run per iteration count.

use adv_attacks::{Attack, NoObserver, RunOptions, StepObserver, attack_batch};
use adv_core::burn::tensor::{Bool, Tensor};
use adv_core::{Batch, Classifier, ThreatModel, to_bools};
use serde::{Deserialize, Serialize};

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
/// `search.max`. Attacks that minimize the distance themselves (DeepFool, C&W, FAB) run once
/// at `search.max` and report the distance they found.
pub(crate) fn minimal_epsilons_of_batch(
    attack: &dyn Attack,
    model: &dyn Classifier,
    batch: &Batch,
    threat: &ThreatModel,
    options: &RunOptions,
    search: &EpsilonSearch,
) -> Result<Vec<f32>> {
    let n = batch.ids.len();
    if attack.minimizes_distance() {
        let outcome = attack_batch(
            attack,
            model,
            batch,
            threat,
            &vec![search.max; n],
            options,
            &mut NoObserver,
        )?;
        return Ok((0..n)
            .map(|i| match (outcome.clean_correct[i], outcome.success[i]) {
                (false, _) => 0.0,
                (true, true) => outcome.distances[i],
                (true, false) => f32::INFINITY,
            })
            .collect());
    }
    // Bracket [low, high]: the attack failed at `low` and succeeded at `high` (if finite).
    let mut low = vec![0.0f32; n];
    let mut high = vec![f32::INFINITY; n];
    let mut radius = vec![search.initial; n];
    let mut misclassified = vec![false; n];
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
                ..options.clone()
            };
            let outcome =
                attack_batch(attack, model, batch, threat, &radius, &run, &mut NoObserver)?;
            for i in 0..n {
                misclassified[i] = !outcome.clean_correct[i];
                if !candidates[i] || misclassified[i] {
                    continue;
                }
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
    Ok((0..n)
        .map(|i| if misclassified[i] { 0.0 } else { high[i] })
        .collect())
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

/// Counts, per iteration, the samples broken so far; one instance per batch.
#[derive(Default)]
pub(crate) struct StepCounts {
    broken: Vec<usize>,
}

impl StepCounts {
    /// Samples broken after each step.
    pub fn into_broken(self) -> Vec<usize> {
        self.broken
    }
}

impl StepObserver for StepCounts {
    fn on_step(&mut self, step: usize, found: &Tensor<1, Bool>) {
        let count = to_bools(found.clone()).into_iter().filter(|&f| f).count();
        if self.broken.len() <= step {
            self.broken.resize(step + 1, 0);
        }
        self.broken[step] = count;
    }
}

/// Robust accuracy per step over batches: gathers each batch's clean-correct count and step
/// counts, then divides by the number of samples.
#[derive(Default)]
pub(crate) struct StepCurve {
    batches: Vec<(usize, Vec<usize>)>,
    samples: usize,
}

impl StepCurve {
    /// Adds a batch of `samples` samples with `clean_correct` of them correct and `broken`
    /// of those broken after each step.
    pub fn add(&mut self, samples: usize, clean_correct: usize, broken: Vec<usize>) {
        self.samples += samples;
        self.batches.push((clean_correct, broken));
    }

    /// Accuracy after each step; attacks that stopped early (everything broken) reported no
    /// later steps, so their last count carries forward.
    pub fn accuracy(&self) -> Vec<f32> {
        let steps = self
            .batches
            .iter()
            .map(|(_, broken)| broken.len())
            .max()
            .unwrap_or(0)
            .max(1);
        let n = self.samples.max(1) as f32;
        (0..steps)
            .map(|step| {
                let robust: usize = self
                    .batches
                    .iter()
                    .map(|(correct, broken)| {
                        correct - broken.get(step).or(broken.last()).copied().unwrap_or(0)
                    })
                    .sum();
                robust as f32 / n
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use adv_attacks::{AttackConfig, FgsmConfig, PgdConfig};
    use adv_core::burn::tensor::{Device, TensorData};
    use adv_core::{Dataset, Norm, to_floats};

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
        let fgsm = AttackConfig::Fgsm(FgsmConfig::default());
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
        let report = evaluate_one(
            &model,
            &data,
            AttackConfig::Pgd(config.clone()),
            0.08,
            4,
            None,
        );
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
            let outcome = attack_batch(
                &pgd,
                &model,
                &batch,
                &threat,
                &[0.08],
                &options,
                &mut NoObserver,
            )
            .unwrap();
            robust += outcome.robust().iter().filter(|&&r| r).count();
        }
        assert_eq!(*curve.last().unwrap(), robust as f32 / data.len() as f32);
        assert!(
            curve[0] > *curve.last().unwrap(),
            "the attack makes progress: {curve:?}"
        );
    }
}
