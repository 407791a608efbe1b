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
//! still unbroken. The harness keeps each sample's first iterate that fools the model.
//!
//! ```
//! use adv_attacks::{ApgdConfig, ApgdTConfig};
//! let apgd_t = ApgdTConfig::default().init().unwrap();
//! let apgd_ce = ApgdConfig { steps: 50, ..ApgdConfig::default() }.ce().unwrap();
//! ```

use adv_core::burn::tensor::{Bool, Int, Tensor};
use adv_core::{Knowledge, Loss, Norm, per_sample};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::{
    AttackError, AttackInfo, Context, Gradients, Iterative, Observed, Result, Shared, Start,
    Step, StepInfo, WhiteBox,
};

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

adv_core::options! {
    /// Configuration of APGD-CE and APGD-DLR ([`Apgd`]).
    pub struct ApgdConfig {
        /// Iterations per run.
        steps: usize [Domain::AtLeast(1.0), Label::ValueIfChanged] = 100,
        /// Runs from fresh random starts, each on the samples still unbroken.
        restarts: usize [Domain::AtLeast(1.0), Label::Changed] = 1,
        /// Fraction of loss-increasing steps below which the step size halves.
        rho: f32 [Domain::OpenUnit, Label::Changed] = 0.75,
    }
}

adv_core::options! {
    /// Configuration of APGD-T ([`Apgd`] on the targeted DLR loss).
    pub struct ApgdTConfig {
        /// Iterations per run.
        steps: usize [Domain::AtLeast(1.0), Label::ValueIfChanged] = 100,
        /// Runs per target class, each on the samples still unbroken.
        restarts: usize [Domain::AtLeast(1.0), Label::Changed] = 1,
        /// How many of the most likely other classes are targeted in turn (untargeted goal).
        target_classes: usize [Domain::AtLeast(1.0), Label::Changed] = 9,
        /// Fraction of loss-increasing steps below which the step size halves.
        rho: f32 [Domain::OpenUnit, Label::Changed] = 0.75,
    }
}

impl ApgdConfig {
    /// APGD on the cross-entropy (APGD-CE).
    pub fn ce(&self) -> Result<Apgd> {
        self.build(&CE)
    }

    /// APGD on the DLR loss (APGD-DLR).
    pub fn dlr(&self) -> Result<Apgd> {
        self.build(&DLR)
    }

    fn build(&self, info: &'static AttackInfo) -> Result<Apgd> {
        adv_core::Options::check_domains(self)
            .map_err(|problem| AttackError::config(info.name, problem))?;
        Ok(Apgd {
            info,
            loss: if info.name == DLR.name { ApgdLoss::Dlr } else { ApgdLoss::CrossEntropy },
            steps: self.steps,
            restarts: self.restarts,
            target_classes: 1,
            rho: self.rho,
        })
    }
}

impl ApgdTConfig {
    /// APGD-T.
    pub fn init(&self) -> Result<Apgd> {
        adv_core::Options::check_domains(self)
            .map_err(|problem| AttackError::config(T.name, problem))?;
        Ok(Apgd {
            info: &T,
            loss: ApgdLoss::TargetedDlr,
            steps: self.steps,
            restarts: self.restarts,
            target_classes: self.target_classes,
            rho: self.rho,
        })
    }
}

/// Auto-PGD (Linf, L2): APGD-CE, APGD-DLR or APGD-T.
#[derive(Clone, Debug)]
pub struct Apgd {
    info: &'static AttackInfo,
    loss: ApgdLoss,
    steps: usize,
    restarts: usize,
    target_classes: usize,
    rho: f32,
}

pub(crate) static CE: AttackInfo = AttackInfo {
    name: "apgd-ce",
    aliases: &["apgd"],
    paper: "Croce & Hein, ICML 2020",
    norms: &[Norm::Linf, Norm::L2],
    access: Knowledge::WhiteBox,
    targeted: true,
    minimizes_distance: false,
    config: adv_core::ConfigFns::of::<ApgdConfig>(),
    build: |settings| Ok(Box::new(adv_core::configure::<ApgdConfig>("apgd-ce", settings)?.ce()?)),
};

pub(crate) static DLR: AttackInfo = AttackInfo {
    name: "apgd-dlr",
    aliases: &[],
    paper: "Croce & Hein, ICML 2020",
    config: adv_core::ConfigFns::of::<ApgdConfig>(),
    build: |settings| Ok(Box::new(adv_core::configure::<ApgdConfig>("apgd-dlr", settings)?.dlr()?)),
    ..CE
};

pub(crate) static T: AttackInfo = AttackInfo {
    name: "apgd-t",
    aliases: &[],
    paper: "Croce & Hein, ICML 2020 (targeted DLR over the most likely other classes)",
    config: adv_core::ConfigFns::of::<ApgdTConfig>(),
    build: |settings| Ok(Box::new(adv_core::configure::<ApgdTConfig>("apgd-t", settings)?.init()?)),
    ..CE
};

pub(crate) const ATTACKS: &[&AttackInfo] = &[&CE, &DLR, &T];

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

crate::row_state! {
    /// One APGD run: the momentum walk, its best point by loss and the step-size schedule.
    pub struct ApgdState {
        /// The class APGD-T aims at in this run (the goal's target otherwise).
        targets: Option<Tensor<1, Int>>,
        step: Tensor<1>,
        x_prev: Tensor<4>,
        loss_prev: Tensor<1>,
        x_best: Tensor<4>,
        grad_best: Tensor<4>,
        loss_best: Tensor<1>,
        increases: Tensor<1>,
        loss_best_at_check: Tensor<1>,
        halved_at_check: Tensor<1, Bool>,
        window_start: Shared<usize>,
    }
}

impl Apgd {
    /// The objective of one run, towards `targets` (those of the goal, or APGD-T's class).
    fn objective(&self, ctx: &Context, targets: Option<Tensor<1, Int>>) -> impl Fn(Tensor<2>) -> Tensor<1> {
        let (loss, labels) = (self.loss, ctx.labels().clone());
        move |logits| match (loss, &targets) {
            (ApgdLoss::CrossEntropy, targets) => {
                Loss::CrossEntropy.objective(logits, &labels, targets.as_ref())
            }
            (ApgdLoss::Dlr | ApgdLoss::TargetedDlr, None) => dlr_loss(logits, &labels),
            (ApgdLoss::Dlr | ApgdLoss::TargetedDlr, Some(targets)) => {
                targeted_dlr_loss(logits, &labels, targets)
            }
        }
    }

    /// Target classes in turn: APGD-T under the untargeted goal takes the most likely other
    /// classes; otherwise one target list (the goal's, or none).
    fn target_count(&self, ctx: &Context) -> usize {
        if self.loss == ApgdLoss::TargetedDlr && ctx.targets().is_none() {
            self.target_classes.min(ctx.likely_target_count()).max(1)
        } else {
            1
        }
    }

    /// The start of run `draw`: a point on the sphere of radius epsilon, as in the reference
    /// (Linf: uniform noise scaled so its largest entry is epsilon; L2: a Gaussian direction).
    fn random_start(&self, ctx: &Context, draw: u64) -> Tensor<4> {
        let dims = ctx.images().dims();
        let len = dims[1] * dims[2] * dims[3];
        let norm = ctx.norm();
        let values = (0..ctx.len())
            .flat_map(|row| {
                let mut rng = ctx.rng(row, draw);
                let eps = ctx.epsilon_values()[row];
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
        adv_core::floats_from(values, dims, &ctx.images().device())
    }
}

impl Iterative for Apgd {
    type Access = Gradients;
    type State = ApgdState;

    fn info(&self) -> &'static AttackInfo {
        self.info
    }

    /// Restarts per target class, target classes in turn.
    fn runs(&self, ctx: &Context) -> usize {
        self.restarts * self.target_count(ctx)
    }

    fn steps(&self) -> usize {
        self.steps
    }

    fn observes_input(&self) -> bool {
        true
    }

    fn start(
        &self,
        ctx: &Context,
        _model: &WhiteBox<'_>,
        run: usize,
        _previous: Option<ApgdState>,
    ) -> Result<Start<ApgdState>> {
        let targets = match ctx.targets() {
            Some(targets) => Some(targets.clone()),
            None if self.loss == ApgdLoss::TargetedDlr => {
                let rank = run / self.restarts;
                Some(ctx.likely_targets(rank).ok_or_else(|| {
                    AttackError::Mismatch(format!("no {}-th likely class to target", rank + 1))
                })?)
            }
            None => None,
        };
        let x0 = ctx.images().clone();
        let x = ctx.project(x0.clone() + self.random_start(ctx, run as u64));
        let n = ctx.len();
        let device = x0.device();
        let zeros = Tensor::<1>::zeros([n], &device);
        Ok(Start {
            state: ApgdState {
                targets,
                step: ctx.epsilons().clone().mul_scalar(2.0),
                x_prev: x.clone(),
                loss_prev: zeros.clone(),
                x_best: x.clone(),
                grad_best: x.zeros_like(),
                loss_best: zeros.clone(),
                increases: zeros.clone(),
                loss_best_at_check: zeros,
                // The reference starts as if the step had just been halved: no stall at the
                // first check.
                halved_at_check: Tensor::<1, Bool>::full([n], true, &device),
                window_start: Shared(0),
            },
            iterate: x,
            observed: Observed::Nothing,
        })
    }

    /// Evaluates the loss and gradient at `x` (the reference's evaluation after its previous
    /// move), updates the best point and, at checkpoints, the step size; then moves.
    fn step(
        &self,
        ctx: &Context,
        model: &WhiteBox<'_>,
        s: &mut ApgdState,
        x: Tensor<4>,
        info: StepInfo,
    ) -> Result<Step> {
        let objective = self.objective(ctx, s.targets.clone());
        let evaluated = model.value_and_grad(x.clone(), &objective)?;
        let logits = evaluated.logits;
        let (mut x, mut grad, loss) = (x, evaluated.grad, evaluated.values);
        let k = info.step;
        if k == 0 {
            (s.x_best, s.grad_best, s.loss_best) = (x.clone(), grad.clone(), loss.clone());
            s.loss_best_at_check = loss.clone();
        } else {
            s.increases = s.increases.clone() + loss.clone().greater(s.loss_prev.clone()).float();
            let improved = loss.clone().greater(s.loss_best.clone());
            s.x_best = s.x_best.clone().mask_where(per_sample(improved.clone(), &x), x.clone());
            s.grad_best = s
                .grad_best
                .clone()
                .mask_where(per_sample(improved.clone(), &grad), grad.clone());
            s.loss_best = s.loss_best.clone().mask_where(improved, loss.clone());
            if apgd_checkpoints(self.steps).contains(&k) {
                let window = (k - s.window_start.0) as f32;
                s.window_start.0 = k;
                let oscillating = s.increases.clone().lower_equal_elem(window * self.rho);
                let stalled = s
                    .halved_at_check
                    .clone()
                    .bool_not()
                    .bool_and(s.loss_best_at_check.clone().greater_equal(s.loss_best.clone()));
                let halve = oscillating.bool_or(stalled);
                s.step = s.step.clone().mask_where(halve.clone(), s.step.clone().mul_scalar(0.5));
                x = x.mask_where(per_sample(halve.clone(), &s.x_best), s.x_best.clone());
                grad = grad.mask_where(per_sample(halve.clone(), &s.grad_best), s.grad_best.clone());
                s.halved_at_check = halve;
                s.loss_best_at_check = s.loss_best.clone();
                s.increases = s.increases.zeros_like();
            }
        }
        s.loss_prev = loss;
        let momentum = if k == 0 { 1.0 } else { 0.75 };
        let direction = ctx.norm().ascent_direction(grad, 1.0);
        let z = ctx.project(x.clone() + direction * per_sample(s.step.clone(), &x));
        let moved = x.clone()
            + (z - x.clone()).mul_scalar(momentum)
            + (x.clone() - s.x_prev.clone()).mul_scalar(1.0 - momentum);
        s.x_prev = x;
        Ok(Step::with_input_logits(ctx.project(moved), logits))
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
            .ce()
            .is_err()
        );
        assert!(
            ApgdConfig {
                restarts: 0,
                ..Default::default()
            }
            .ce()
            .is_err()
        );
        assert!(
            ApgdConfig {
                rho: 1.0,
                ..Default::default()
            }
            .ce()
            .is_err()
        );
        assert!(
            ApgdTConfig {
                target_classes: 0,
                ..ApgdTConfig::default()
            }
            .init()
            .is_err()
        );
        assert_eq!(Iterative::info(&ApgdTConfig::default().init().unwrap()).name, "apgd-t");
    }
}
