//! FAB-T: the targeted Fast Adaptive Boundary attack, a minimum-norm attack that linearizes the
//! decision boundary towards a target class at each step and moves towards its projection onto
//! that hyperplane (intersected with the input box), biased towards the clean image. Croce &
//! Hein, "Minimally distorted adversarial examples with a fast adaptive boundary attack", ICML
//! 2020; the targeted version is the one of AutoAttack.
//!
//! As in the reference (fra31/auto-attack, `fab_base.py`): 100 iterations, `alpha_max = 0.1`,
//! `eta = 1.05`, `beta = 0.9`, targets the 9 most likely other classes in turn, each on the
//! samples still unbroken, the first restart from the clean image and later ones from a random
//! point at half the best distance so far. At each step, with `w` the gradient of
//! `z_t - z_y` and the hyperplane `w . (x' - x) + z_t - z_y = 0`, the current point and the clean
//! image are projected (minimal Linf or L2 distance, inside the box) to `d1` and `d2`, and
//! `x <- clip((x + eta d1)(1 - alpha) + (x0 + eta d2) alpha)` with
//! `alpha = min(|d1| / (|d1| + |d2|), alpha_max)`; an adversarial point (under the threat
//! model's criterion: any misclassification for the untargeted goal, as in the reference) is
//! kept if it is the closest so far, then pulled back to `x0 + beta (x - x0)`. A sample counts as broken when its
//! closest example is within epsilon; it then stops (the reference keeps shrinking it, which
//! does not change robust accuracy).
//!
//! ```
//! use adv_attacks::FabConfig;
//! let fab = FabConfig::default().init().unwrap();
//! ```

use adv_core::burn::tensor::Tensor;
use adv_core::{Knowledge, Norm, floats_from, ints_from, to_floats};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::{
    AttackError, AttackInfo, Context, Gradients, Iterative, Observed, Result, Shared, Start,
    Step, StepInfo, WhiteBox,
};

adv_core::options! {
    /// Configuration of [`Fab`].
    pub struct FabConfig {
        /// Iterations per run.
        steps: usize [Domain::AtLeast(1.0), Label::ValueIfChanged] = 100,
        /// Runs per target class; the first starts at the clean image.
        restarts: usize [Domain::AtLeast(1.0), Label::Changed] = 1,
        /// How many of the most likely other classes are targeted in turn (untargeted goal).
        target_classes: usize [Domain::AtLeast(1.0), Label::Changed] = 9,
        /// Largest weight of the step from the clean image.
        alpha_max: f32 [Domain::Unit, Label::Changed] = 0.1,
        /// Overshoot of the projections.
        eta: f32 [Domain::AtLeast(1.0), Label::Changed] = 1.05,
        /// Pull-back towards the clean image after a success.
        beta: f32 [Domain::UnitAboveZero, Label::Changed] = 0.9,
    }
}

impl FabConfig {
    /// The attack, or an error if the configuration is invalid.
    pub fn init(&self) -> Result<Fab> {
        adv_core::Options::check_domains(self)
            .map_err(|problem| AttackError::config(INFO.name, problem))?;
        if !self.eta.is_finite() {
            return Err(AttackError::config(INFO.name, format!("eta {} must be finite", self.eta)));
        }
        Ok(Fab {
            config: self.clone(),
        })
    }
}

/// Targeted FAB (Linf, L2).
#[derive(Clone, Debug)]
pub struct Fab {
    config: FabConfig,
}

pub(crate) static INFO: AttackInfo = AttackInfo {
    name: "fab-t",
    aliases: &["fab"],
    paper: "Croce & Hein, ICML 2020 (targeted FAB over the most likely other classes)",
    norms: &[Norm::Linf, Norm::L2],
    access: Knowledge::WhiteBox,
    targeted: true,
    minimizes_distance: true,
    config: adv_core::ConfigFns::of::<FabConfig>(),
    build: |settings| Ok(Box::new(adv_core::configure::<FabConfig>("fab-t", settings)?.init()?)),
};

pub(crate) const ATTACKS: &[&AttackInfo] = &[&INFO];

/// The smallest perturbation `d` (in `norm`, Linf or L2) with `w . (p + d) = b` and `p + d` in
/// `[lower, upper]`; where the box does not reach the hyperplane, the box point closest to it.
pub fn project_on_hyperplane(
    norm: Norm,
    p: &[f32],
    w: &[f32],
    b: f32,
    lower: f32,
    upper: f32,
) -> Vec<f32> {
    let gap = f64::from(b)
        - p.iter()
            .zip(w)
            .map(|(p, w)| f64::from(*p) * f64::from(*w))
            .sum::<f64>();
    // Move along sign(w) * sign(gap); `room` is how far each coordinate can go that way.
    let direction = |w: f32| {
        if (w >= 0.0) == (gap >= 0.0) {
            1.0f64
        } else {
            -1.0
        }
    };
    let room: Vec<f64> = p
        .iter()
        .zip(w)
        .map(|(&p, &w)| match direction(w) {
            d if d > 0.0 => f64::from(upper - p).max(0.0),
            _ => f64::from(p - lower).max(0.0),
        })
        .collect();
    let weight: Vec<f64> = w.iter().map(|&w| f64::from(w).abs()).collect();
    // Coordinate i moves by min(lambda * rate_i, room_i): rate 1 (Linf) or |w_i| (L2).
    let rate = |i: usize| if norm == Norm::Linf { 1.0 } else { weight[i] };
    let mut order: Vec<usize> = (0..p.len()).filter(|&i| weight[i] > 0.0).collect();
    let breakpoint = |i: usize| room[i] / rate(i);
    order.sort_by(|&i, &j| breakpoint(i).total_cmp(&breakpoint(j)));
    // The progress towards the hyperplane, sum |w_i| min(lambda rate_i, room_i), is piecewise
    // linear and increasing in lambda: walk its pieces until it reaches |gap|.
    let target = gap.abs();
    let mut saturated = 0.0f64;
    let mut slope: f64 = order.iter().map(|&i| weight[i] * rate(i)).sum();
    let mut lambda = f64::INFINITY;
    for &i in &order {
        let at = breakpoint(i);
        if saturated + at * slope >= target {
            lambda = (target - saturated) / slope;
            break;
        }
        saturated += weight[i] * room[i];
        slope -= weight[i] * rate(i);
    }
    (0..p.len())
        .map(|i| {
            if weight[i] == 0.0 {
                return 0.0;
            }
            (direction(w[i]) * (lambda * rate(i)).min(room[i])) as f32
        })
        .collect()
}

fn norm_of(norm: Norm, values: &[f32]) -> f32 {
    match norm {
        Norm::Linf => values.iter().fold(0.0f32, |m, v| m.max(v.abs())),
        _ => values.iter().map(|v| v * v).sum::<f32>().sqrt(),
    }
}

crate::row_state! {
    /// One FAB run: the class each row aims at.
    pub struct FabState {
        targets: Vec<i64>,
        restart: Shared<usize>,
    }
}

impl Fab {
    /// Target lists in turn: the goal's targets, or the most likely other classes.
    fn target_count(&self, ctx: &Context) -> usize {
        match ctx.targets() {
            Some(_) => 1,
            None => self.config.target_classes.min(ctx.likely_target_count()).max(1),
        }
    }
}

impl Iterative for Fab {
    type Access = Gradients;
    type State = FabState;

    fn info(&self) -> &'static AttackInfo {
        &INFO
    }

    fn runs(&self, ctx: &Context) -> usize {
        self.config.restarts * self.target_count(ctx)
    }

    fn steps(&self) -> usize {
        self.config.steps
    }

    fn needs_verdict(&self) -> bool {
        true
    }

    fn start(
        &self,
        ctx: &Context,
        _model: &WhiteBox<'_>,
        run: usize,
        _previous: Option<FabState>,
    ) -> Result<Start<FabState>> {
        let (rank, restart) = (run / self.config.restarts, run % self.config.restarts);
        let targets = match ctx.targets() {
            Some(targets) => targets.clone(),
            None => ctx.likely_targets(rank).ok_or_else(|| {
                AttackError::Mismatch(format!("no {}-th likely class to target", rank + 1))
            })?,
        };
        let targets = adv_core::to_ints(targets);
        let state = FabState {
            targets,
            restart: Shared(restart),
        };
        if restart == 0 {
            return Ok(Start {
                state,
                iterate: ctx.images().clone(),
                observed: Observed::Clean,
            });
        }
        let dims = ctx.images().dims();
        let d = dims[1] * dims[2] * dims[3];
        let norm = ctx.norm();
        let bounds = ctx.bounds();
        let x0 = to_floats(ctx.images().clone());
        let values: Vec<f32> = (0..ctx.len())
            .flat_map(|i| {
                let mut rng = ctx.rng(i, run as u64);
                let noise: Vec<f32> = match norm {
                    Norm::Linf => (0..d).map(|_| rng.random_range(-1.0f32..=1.0)).collect(),
                    _ => (0..d).map(|_| StandardNormal.sample(&mut rng)).collect(),
                };
                // Half of min(best distance, eps) in the reference, whose best distance starts
                // infinite.
                let radius = 0.5 * ctx.epsilon_values()[i] / (norm_of(norm, &noise) + 1e-12);
                x0[i * d..(i + 1) * d]
                    .iter()
                    .zip(noise)
                    .map(|(x, t)| (x + radius * t).clamp(bounds.lower, bounds.upper))
                    .collect::<Vec<_>>()
            })
            .collect();
        Ok(Start {
            state,
            iterate: floats_from(values, dims, &ctx.images().device()),
            observed: Observed::Nothing,
        })
    }

    /// Pulls the adversarial rows back towards the clean image (they were recorded), then
    /// moves towards the projections of the linearized boundary.
    fn step(
        &self,
        ctx: &Context,
        model: &WhiteBox<'_>,
        state: &mut FabState,
        x: Tensor<4>,
        info: StepInfo,
    ) -> Result<Step> {
        let dims = x.dims();
        let (n, d) = (dims[0], dims[1] * dims[2] * dims[3]);
        let device = x.device();
        let norm = ctx.norm();
        let (lower, upper) = (ctx.bounds().lower, ctx.bounds().upper);
        let (eta, alpha_max, beta) = (self.config.eta, self.config.alpha_max, self.config.beta);
        let x0 = to_floats(ctx.images().clone());
        let clean = |i: usize| &x0[i * d..(i + 1) * d];
        let mut x = to_floats(x);
        let adversarial = info.adversarial.unwrap_or(&[]);
        for i in (0..n).filter(|&i| adversarial.get(i).copied().unwrap_or(false)) {
            for (value, c) in x[i * d..(i + 1) * d].iter_mut().zip(clean(i)) {
                *value = c + beta * (*value - c);
            }
        }
        let labels = ctx.labels().clone();
        let targets = ints_from(&state.targets, &device);
        let objective = |logits: Tensor<2>| {
            let gap = logits.clone().gather(1, targets.clone().reshape([n, 1]))
                - logits.gather(1, labels.clone().reshape([n, 1]));
            gap.reshape([n])
        };
        let evaluated = model.value_and_grad(floats_from(x.clone(), dims, &device), &objective)?;
        let (gaps, grads) = (to_floats(evaluated.values), to_floats(evaluated.grad));
        for i in 0..n {
            let point = &x[i * d..(i + 1) * d];
            let w = &grads[i * d..(i + 1) * d];
            let b = point.iter().zip(w).map(|(x, w)| x * w).sum::<f32>() - gaps[i];
            let d1 = project_on_hyperplane(norm, point, w, b, lower, upper);
            let d2 = project_on_hyperplane(norm, clean(i), w, b, lower, upper);
            let (a1, a2) = (norm_of(norm, &d1).max(1e-8), norm_of(norm, &d2).max(1e-8));
            let alpha = (a1 / (a1 + a2)).clamp(0.0, alpha_max);
            for j in 0..d {
                let moved = (x[i * d + j] + eta * d1[j]) * (1.0 - alpha)
                    + (clean(i)[j] + eta * d2[j]) * alpha;
                x[i * d + j] = moved.clamp(lower, upper);
            }
        }
        Ok(Step::to(floats_from(x, dims, &device)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dot(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(a, b)| a * b).sum()
    }

    #[test]
    fn l2_projection_without_the_box_is_the_orthogonal_one() {
        // Onto x1 + x2 = 1 from the origin: (0.5, 0.5).
        let d = project_on_hyperplane(Norm::L2, &[0.0, 0.0], &[1.0, 1.0], 1.0, -10.0, 10.0);
        assert!(
            (d[0] - 0.5).abs() < 1e-6 && (d[1] - 0.5).abs() < 1e-6,
            "{d:?}"
        );
    }

    #[test]
    fn projections_respect_the_box() {
        // Onto 2 x1 + x2 = 2 from (0.5, 0.5) in [0, 1]^2. L2: the orthogonal projection
        // (0.7, 0.6) lies inside the box.
        let p = [0.5, 0.5];
        let w = [2.0, 1.0];
        let d = project_on_hyperplane(Norm::L2, &p, &w, 2.0, 0.0, 1.0);
        assert!(
            (d[0] - 0.2).abs() < 1e-6 && (d[1] - 0.1).abs() < 1e-6,
            "{d:?}"
        );
        // Linf: equal moves d = (l, l) with 3 l = 0.5.
        let d = project_on_hyperplane(Norm::Linf, &p, &w, 2.0, 0.0, 1.0);
        assert!(
            (d[0] - 1.0 / 6.0).abs() < 1e-6 && (d[1] - 1.0 / 6.0).abs() < 1e-6,
            "{d:?}"
        );
        // From (0.9, 0.1) onto 2 x1 + x2 = 2.9: x1 can only rise by 0.1, so both norms move
        // it to the edge and x2 by the rest: d = (0.1, 0.8).
        let p = [0.9, 0.1];
        for norm in [Norm::Linf, Norm::L2] {
            let d = project_on_hyperplane(norm, &p, &w, 2.9, 0.0, 1.0);
            let x: Vec<f32> = p.iter().zip(&d).map(|(p, d)| p + d).collect();
            assert!((dot(&w, &x) - 2.9).abs() < 1e-6, "{norm} {x:?}");
            assert!(
                (d[0] - 0.1).abs() < 1e-6 && (d[1] - 0.8).abs() < 1e-6,
                "{norm} {d:?}"
            );
        }
    }

    #[test]
    fn an_unreachable_hyperplane_gives_the_closest_corner() {
        let d = project_on_hyperplane(Norm::L2, &[0.5, 0.5], &[1.0, -1.0], 5.0, 0.0, 1.0);
        assert_eq!(d, vec![0.5, -0.5]);
    }

    #[test]
    fn invalid_configs_are_errors() {
        assert!(
            FabConfig {
                steps: 0,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        assert!(
            FabConfig {
                eta: 0.5,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        assert!(
            FabConfig {
                beta: 0.0,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        assert!(
            FabConfig {
                alpha_max: 1.5,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        assert!(FabConfig::default().init().is_ok());
    }
}
