//! Auto-PGD (APGD): PGD with momentum and a step size that adapts itself at checkpoints, on
//! the cross-entropy (APGD-CE), the Difference of Logits Ratio (APGD-DLR), or the targeted DLR
//! over the most likely other classes (APGD-T). Croce & Hein, "Reliable evaluation of
//! adversarial robustness with an ensemble of diverse parameter-free attacks", ICML 2020.
//!
//! As in the reference implementation (fra31/auto-attack, `autopgd_base.py`): 100 iterations,
//! a start on the sphere of radius epsilon, a first step of `2 * eps`, the momentum update
//! `x + 0.75 (z - x) + 0.25 (x - x_prev)`, checkpoints after 22, 41, 57, 70, 80, 87, 93 and 99
//! iterations (`p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)`), where the step size of a
//! sample halves and its walk restarts from its best point when at most `rho = 0.75` of the
//! steps since the last checkpoint increased the loss, or when its step size and best loss are
//! both unchanged since the last checkpoint. Restarts and target classes only see the samples
//! still unbroken. Each sample keeps the first iterate that fools the model.
//!
//! ```
//! use adv_attacks::ApgdConfig;
//! let apgd_t = ApgdConfig::targeted().init().unwrap();
//! let apgd_ce = ApgdConfig { steps: 50, ..ApgdConfig::default() }.init().unwrap();
//! ```

use adv_core::burn::tensor::{Bool, Int, Tensor};
use adv_core::{Classifier, Loss, Norm, ints_from, per_sample, sample_rng, to_bools};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::gradient::keep_first_success;
use crate::subset::{Stages, likely_targets};
use crate::{Attack, AttackError, AttackInput, Result, StepObserver};

/// Added to the DLR denominators, as in the reference.
const DLR_TINY: f32 = 1e-12;

/// The objective APGD climbs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApgdLoss {
    /// Cross-entropy (APGD-CE).
    #[default]
    CrossEntropy,
    /// The Difference of Logits Ratio (APGD-DLR): `-(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3)`,
    /// invariant to shifts and scalings of the logits.
    Dlr,
    /// The targeted DLR `-(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2)` towards each of the most
    /// likely other classes in turn (APGD-T).
    TargetedDlr,
}

/// Configuration of [`Apgd`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApgdConfig {
    /// Iterations per run (at least 1).
    pub steps: usize,
    /// Runs from fresh random starts, each on the samples still unbroken (at least 1).
    pub restarts: usize,
    /// The objective.
    pub loss: ApgdLoss,
    /// For [`ApgdLoss::TargetedDlr`] under an untargeted goal: how many of the most likely
    /// other classes are targeted in turn (at least 1; capped at the number of classes - 1).
    pub target_classes: usize,
    /// Fraction of loss-increasing steps below which the step size halves (in `(0, 1)`).
    pub rho: f32,
}

impl Default for ApgdConfig {
    fn default() -> Self {
        Self {
            steps: 100,
            restarts: 1,
            loss: ApgdLoss::CrossEntropy,
            target_classes: 9,
            rho: 0.75,
        }
    }
}

impl ApgdConfig {
    /// APGD-T as AutoAttack's standard version runs it: targeted DLR over the 9 most likely
    /// other classes, one restart each.
    pub fn targeted() -> Self {
        Self {
            loss: ApgdLoss::TargetedDlr,
            ..Self::default()
        }
    }

    /// The attack, or an error if the configuration is invalid.
    pub fn init(&self) -> Result<Apgd> {
        let name = name(self.loss);
        if self.steps == 0 || self.restarts == 0 || self.target_classes == 0 {
            return Err(AttackError::config(
                name,
                format!(
                    "steps ({}), restarts ({}) and target classes ({}) must be at least 1",
                    self.steps, self.restarts, self.target_classes
                ),
            ));
        }
        if !(self.rho > 0.0 && self.rho < 1.0) {
            return Err(AttackError::config(
                name,
                format!("rho {} must be in (0, 1)", self.rho),
            ));
        }
        Ok(Apgd {
            config: self.clone(),
        })
    }
}

fn name(loss: ApgdLoss) -> &'static str {
    match loss {
        ApgdLoss::CrossEntropy => "apgd-ce",
        ApgdLoss::Dlr => "apgd-dlr",
        ApgdLoss::TargetedDlr => "apgd-t",
    }
}

/// Auto-PGD (Linf, L2).
#[derive(Clone, Debug)]
pub struct Apgd {
    config: ApgdConfig,
}

/// The iterations after which the step size is checked: `ceil(p_j * steps)` in the paper,
/// computed with the reference's integers (first window `floor(0.22 steps)`, each next one
/// `floor(0.03 steps)` shorter, never below `floor(0.06 steps)`; each at least 1).
pub fn apgd_checkpoints(steps: usize) -> Vec<usize> {
    let at_least_one = |fraction: f64| ((fraction * steps as f64) as usize).max(1);
    let (mut window, shrink, shortest) =
        (at_least_one(0.22), at_least_one(0.03), at_least_one(0.06));
    let mut checkpoints = Vec::new();
    let mut at = window;
    while at <= steps {
        checkpoints.push(at);
        window = window.saturating_sub(shrink).max(shortest);
        at += window;
    }
    checkpoints
}

/// The DLR loss per sample for logits `[n, classes]` (at least 2 classes; with fewer than 3 the
/// third-largest logit is the smallest one).
pub fn dlr_loss(logits: Tensor<2>, labels: &Tensor<1, Int>) -> Tensor<1> {
    let [n, k] = logits.dims();
    let sorted = logits.clone().sort_descending(1);
    let scale = sorted.clone().narrow(1, 0, 1) - sorted.narrow(1, 2.min(k - 1), 1);
    // The margin max_{i != y} z_i - z_y is -(z_y - max_{i != y} z_i).
    Loss::Margin.objective(logits, labels, None) / scale.reshape([n]).add_scalar(DLR_TINY)
}

/// The targeted DLR loss per sample, towards `targets`.
pub fn targeted_dlr_loss(
    logits: Tensor<2>,
    labels: &Tensor<1, Int>,
    targets: &Tensor<1, Int>,
) -> Tensor<1> {
    let [n, k] = logits.dims();
    let sorted = logits.clone().sort_descending(1);
    let own = logits.clone().gather(1, labels.clone().reshape([n, 1]));
    let target = logits.gather(1, targets.clone().reshape([n, 1]));
    let third = sorted.clone().narrow(1, 2.min(k - 1), 1);
    let fourth = sorted.clone().narrow(1, 3.min(k - 1), 1);
    let scale = sorted.narrow(1, 0, 1) - (third + fourth).mul_scalar(0.5);
    ((target - own) / scale.add_scalar(DLR_TINY)).reshape([n])
}

impl Apgd {
    /// The objective of one run: `targets` are those of the goal, or the class APGD-T aims at.
    fn objective<'a>(
        &self,
        labels: &'a Tensor<1, Int>,
        targets: Option<&'a Tensor<1, Int>>,
    ) -> impl Fn(Tensor<2>) -> Tensor<1> + 'a {
        let loss = self.config.loss;
        move |logits| match (loss, targets) {
            (ApgdLoss::CrossEntropy, targets) => {
                Loss::CrossEntropy.objective(logits, labels, targets)
            }
            (ApgdLoss::Dlr | ApgdLoss::TargetedDlr, None) => dlr_loss(logits, labels),
            (ApgdLoss::Dlr | ApgdLoss::TargetedDlr, Some(targets)) => {
                targeted_dlr_loss(logits, labels, targets)
            }
        }
    }

    /// The start of run `draw`: a point on the sphere of radius epsilon, as in the reference
    /// (Linf: uniform noise scaled so its largest entry is epsilon; L2: a Gaussian direction).
    fn random_start(&self, input: &AttackInput, draw: u64) -> Tensor<4> {
        let dims = input.images.dims();
        let len = dims[1] * dims[2] * dims[3];
        let norm = input.threat.norm;
        let values = input
            .sample_ids
            .iter()
            .zip(input.epsilon_values)
            .flat_map(|(&id, &eps)| {
                let mut rng = sample_rng(input.seed, id, draw);
                let noise: Vec<f32> = match norm {
                    Norm::Linf => (0..len).map(|_| rng.random_range(-1.0f32..=1.0)).collect(),
                    _ => (0..len).map(|_| StandardNormal.sample(&mut rng)).collect(),
                };
                let size = match norm {
                    Norm::Linf => noise.iter().fold(0.0f32, |m, v| m.max(v.abs())),
                    _ => noise.iter().map(|v| v * v).sum::<f32>().sqrt(),
                };
                noise.into_iter().map(move |v| eps * v / (size + 1e-12))
            })
            .collect();
        adv_core::floats_from(values, dims, &input.images.device())
    }

    /// One APGD run on every sample of `input`: the examples (the first adversarial iterate, or
    /// the highest-loss one) and whether each fools the model.
    fn single_run(
        &self,
        model: &dyn Classifier,
        input: &AttackInput,
        objective: &dyn Fn(Tensor<2>) -> Tensor<1>,
        draw: u64,
        observer: &mut dyn StepObserver,
    ) -> Result<(Tensor<4>, Vec<bool>)> {
        let norm = input.threat.norm;
        let x0 = input.images.clone();
        let mut x = input.project(x0.clone() + self.random_start(input, draw));
        let evaluated = model.value_and_grad(x.clone(), objective);
        let mut grad = evaluated.grad;
        let mut loss_prev = evaluated.values;
        let mut found = input.is_adversarial(evaluated.logits)?;
        let mut first_adversarial = x.clone();
        observer.on_step(0, &found);

        let (mut x_best, mut grad_best, mut loss_best) =
            (x.clone(), grad.clone(), loss_prev.clone());
        let mut step = input.epsilons.clone().mul_scalar(2.0);
        let mut x_prev = x.clone();
        let mut increases = loss_prev.zeros_like();
        let mut loss_best_at_check = loss_best.clone();
        // The reference starts as if the step had just been halved: no stall at the first check.
        let mut halved_at_check = Tensor::<1, Bool>::full([x0.dims()[0]], true, &x0.device());
        let checkpoints = apgd_checkpoints(self.config.steps);
        let mut window_start = 0;
        for i in 0..self.config.steps {
            let momentum = if i == 0 { 1.0 } else { 0.75 };
            let direction = norm.ascent_direction(grad, 1.0);
            let z = input.project(x.clone() + direction * per_sample(step.clone(), &x));
            let moved = x.clone()
                + (z - x.clone()).mul_scalar(momentum)
                + (x.clone() - x_prev).mul_scalar(1.0 - momentum);
            x_prev = x;
            x = input.project(moved);

            let evaluated = model.value_and_grad(x.clone(), objective);
            grad = evaluated.grad;
            let loss = evaluated.values;
            (first_adversarial, found) = keep_first_success(
                input.is_adversarial(evaluated.logits)?,
                &x,
                first_adversarial,
                found,
            );
            increases = increases + loss.clone().greater(loss_prev).float();
            let improved = loss.clone().greater(loss_best.clone());
            x_best = x_best.mask_where(per_sample(improved.clone(), &x), x.clone());
            grad_best = grad_best.mask_where(per_sample(improved.clone(), &grad), grad.clone());
            loss_best = loss_best.mask_where(improved, loss.clone());
            loss_prev = loss;

            if checkpoints.contains(&(i + 1)) {
                let window = (i + 1 - window_start) as f32;
                window_start = i + 1;
                let oscillating = increases.clone().lower_equal_elem(window * self.config.rho);
                let stalled = halved_at_check
                    .bool_not()
                    .bool_and(loss_best_at_check.greater_equal(loss_best.clone()));
                let halve = oscillating.bool_or(stalled);
                step = step.clone().mask_where(halve.clone(), step.mul_scalar(0.5));
                x = x.mask_where(per_sample(halve.clone(), &x_best), x_best.clone());
                grad = grad.mask_where(per_sample(halve.clone(), &grad_best), grad_best.clone());
                halved_at_check = halve;
                loss_best_at_check = loss_best.clone();
                increases = increases.zeros_like();
            }
            observer.on_step(i + 1, &found);
            if found.clone().all().into_scalar::<bool>() {
                break;
            }
        }
        let examples = x_best.mask_where(
            per_sample(found.clone(), &first_adversarial),
            first_adversarial,
        );
        Ok((examples, to_bools(found)))
    }

    /// The runs to make: one target tensor (or none) per run, in order, each with its draw.
    fn target_runs(
        &self,
        model: &dyn Classifier,
        input: &AttackInput,
    ) -> Vec<(Option<Tensor<1, Int>>, u64)> {
        let restarts = self.config.restarts as u64;
        let per_target = |t: u64| (0..restarts).map(move |r| t * restarts + r);
        if self.config.loss != ApgdLoss::TargetedDlr || input.targets.is_some() {
            return per_target(0)
                .map(|draw| (input.targets.clone(), draw))
                .collect();
        }
        likely_targets(model, input, self.config.target_classes)
            .into_iter()
            .enumerate()
            .flat_map(|(t, targets)| {
                let targets = ints_from(&targets, &input.images.device());
                per_target(t as u64).map(move |draw| (Some(targets.clone()), draw))
            })
            .collect()
    }
}

impl Attack for Apgd {
    fn name(&self) -> &'static str {
        name(self.config.loss)
    }

    fn norms(&self) -> &'static [Norm] {
        &[Norm::Linf, Norm::L2]
    }

    fn run(
        &self,
        model: &dyn Classifier,
        input: &AttackInput,
        observer: &mut dyn StepObserver,
    ) -> Result<Tensor<4>> {
        let mut stages = Stages::new(input);
        for (targets, draw) in self.target_runs(model, input) {
            let Some(rows) = stages.remaining(input) else {
                break;
            };
            let stage = rows.input(input);
            let index = ints_from(
                &rows.rows.iter().map(|&i| i as i64).collect::<Vec<_>>(),
                &stage.images.device(),
            );
            let targets = targets.map(|t| t.select(0, index));
            let objective = self.objective(&stage.labels, targets.as_ref());
            let mut stage_observer = stages.observer(&rows, observer);
            let (examples, adversarial) =
                self.single_run(model, &stage, &objective, draw, &mut stage_observer)?;
            stage_observer.finish();
            stages.record(&rows, examples, &adversarial);
        }
        Ok(stages.examples)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use adv_core::burn::tensor::{Device, TensorData};
    use adv_core::to_floats;

    /// `p_0 = 0`, `p_1 = 0.22`, `p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)`.
    fn paper_schedule() -> Vec<f64> {
        let mut p: Vec<f64> = vec![0.0, 0.22];
        while *p.last().unwrap() <= 1.0 {
            let j = p.len() - 1;
            p.push(p[j] + (p[j] - p[j - 1] - 0.03).max(0.06));
        }
        p
    }

    #[test]
    fn checkpoints_follow_the_paper_schedule_at_100_iterations() {
        let expected: Vec<usize> = paper_schedule()[1..]
            .iter()
            .map(|p| (p * 100.0).round() as usize)
            .filter(|&w| w <= 100)
            .collect();
        assert_eq!(expected, vec![22, 41, 57, 70, 80, 87, 93, 99]);
        assert_eq!(apgd_checkpoints(100), expected);
    }

    #[test]
    fn checkpoints_use_the_reference_integers_for_other_budgets() {
        // 10 iterations: windows max(floor(2.2), 1) = 2, then 2 - 1 = 1 (the floor of 0.6 is 0,
        // so the shortest window is 1).
        assert_eq!(apgd_checkpoints(10), vec![2, 3, 4, 5, 6, 7, 8, 9, 10]);
        // 1000 iterations: 220, then 30 shorter each time down to 60.
        assert_eq!(
            apgd_checkpoints(1000),
            vec![220, 410, 570, 700, 800, 870, 930, 990]
        );
        assert_eq!(apgd_checkpoints(1), vec![1]);
    }

    fn logits(values: Vec<f32>, n: usize) -> Tensor<2> {
        let k = values.len() / n;
        Tensor::from_data(TensorData::new(values, [n, k]), &Device::default())
    }

    fn classes(values: Vec<i64>) -> Tensor<1, Int> {
        let n = values.len();
        Tensor::from_data(TensorData::new(values, [n]), &Device::default())
    }

    #[test]
    fn dlr_matches_hand_computed_values() {
        // Sorted logits 4 > 3 > 1 > 0. Label 0 (logit 4, the largest): -(4 - 3) / (4 - 1).
        // Label 2 (logit 1): -(1 - 4) / (4 - 1) = 1.
        let z = logits(vec![4.0, 3.0, 1.0, 0.0, 4.0, 3.0, 1.0, 0.0], 2);
        let got = to_floats(dlr_loss(z.clone(), &classes(vec![0, 2])));
        assert!((got[0] + 1.0 / 3.0).abs() < 1e-6, "{got:?}");
        assert!((got[1] - 1.0).abs() < 1e-6, "{got:?}");
        // Targeted, label 0 towards class 3: -(4 - 0) / (4 - (1 + 0) / 2) = -8 / 7.
        let got = to_floats(targeted_dlr_loss(
            z,
            &classes(vec![0, 1]),
            &classes(vec![3, 0]),
        ));
        assert!((got[0] + 8.0 / 7.0).abs() < 1e-6, "{got:?}");
        // Label 1 (3) towards class 0 (4): -(3 - 4) / 3.5.
        assert!((got[1] - 1.0 / 3.5).abs() < 1e-6, "{got:?}");
    }

    #[test]
    fn dlr_is_invariant_to_shift_and_scale() {
        let z = logits(vec![0.3, -1.2, 2.5, 0.9, 0.1], 1);
        let label = classes(vec![2]);
        let plain = to_floats(dlr_loss(z.clone(), &label))[0];
        let moved = to_floats(dlr_loss(z.mul_scalar(3.0).add_scalar(-7.0), &label))[0];
        assert!((plain - moved).abs() < 1e-5);
    }

    #[test]
    fn invalid_configs_are_errors() {
        assert!(
            ApgdConfig {
                steps: 0,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        assert!(
            ApgdConfig {
                restarts: 0,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        assert!(
            ApgdConfig {
                rho: 1.0,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        assert!(
            ApgdConfig {
                target_classes: 0,
                ..ApgdConfig::targeted()
            }
            .init()
            .is_err()
        );
        assert_eq!(ApgdConfig::targeted().init().unwrap().name(), "apgd-t");
    }
}
