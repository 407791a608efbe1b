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
use adv_core::{
    Classifier, Norm, bools_from, floats_from, ints_from, sample_rng, to_bools, to_floats, to_ints,
};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::subset::{Stages, likely_targets};
use crate::{Attack, AttackError, AttackInput, Result, StepObserver};

/// Configuration of [`Fab`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FabConfig {
    /// Iterations per run (at least 1).
    pub steps: usize,
    /// Runs per target class (at least 1); the first starts at the clean image.
    pub restarts: usize,
    /// How many of the most likely other classes are targeted in turn (at least 1).
    pub target_classes: usize,
    /// Largest weight of the step from the clean image (in `[0, 1]`).
    pub alpha_max: f32,
    /// Overshoot of the projections (at least 1).
    pub eta: f32,
    /// Pull-back towards the clean image after a success (in `(0, 1]`).
    pub beta: f32,
}

impl Default for FabConfig {
    fn default() -> Self {
        Self {
            steps: 100,
            restarts: 1,
            target_classes: 9,
            alpha_max: 0.1,
            eta: 1.05,
            beta: 0.9,
        }
    }
}

impl FabConfig {
    /// The attack, or an error if the configuration is invalid.
    pub fn init(&self) -> Result<Fab> {
        let bad = |problem: String| Err(AttackError::config("fab-t", problem));
        if self.steps == 0 || self.restarts == 0 || self.target_classes == 0 {
            return bad(format!(
                "steps ({}), restarts ({}) and target classes ({}) must be at least 1",
                self.steps, self.restarts, self.target_classes
            ));
        }
        if !(0.0..=1.0).contains(&self.alpha_max) {
            return bad(format!("alpha_max {} must be in [0, 1]", self.alpha_max));
        }
        if !(self.eta.is_finite() && self.eta >= 1.0) {
            return bad(format!("eta {} must be finite and at least 1", self.eta));
        }
        if !(self.beta > 0.0 && self.beta <= 1.0) {
            return bad(format!("beta {} must be in (0, 1]", self.beta));
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

impl Fab {
    /// One run on every sample of `input` towards `targets`: the closest examples found and
    /// their distances (infinite where none was found).
    fn single_run(
        &self,
        model: &dyn Classifier,
        input: &AttackInput,
        targets: &[i64],
        restart: usize,
        draw: u64,
        observer: &mut dyn StepObserver,
    ) -> Result<(Vec<Vec<f32>>, Vec<f32>)> {
        let dims = input.images.dims();
        let (n, d) = (dims[0], dims[1] * dims[2] * dims[3]);
        let device = input.images.device();
        let norm = input.threat.norm;
        let (lower, upper) = (input.threat.bounds.lower, input.threat.bounds.upper);
        let x0 = to_floats(input.images.clone());
        let clean = |i: usize| &x0[i * d..(i + 1) * d];
        let mut best: Vec<Vec<f32>> = (0..n).map(|i| clean(i).to_vec()).collect();
        let mut distance = vec![f32::INFINITY; n];
        let mut x: Vec<Vec<f32>> = (0..n)
            .map(|i| {
                if restart == 0 {
                    return clean(i).to_vec();
                }
                let mut rng = sample_rng(input.seed, input.sample_ids[i], draw);
                let noise: Vec<f32> = match norm {
                    Norm::Linf => (0..d).map(|_| rng.random_range(-1.0f32..=1.0)).collect(),
                    _ => (0..d).map(|_| StandardNormal.sample(&mut rng)).collect(),
                };
                // Half of min(best distance, eps) in the reference, whose best distance starts infinite.
                let radius = 0.5 * input.epsilon_values[i] / (norm_of(norm, &noise) + 1e-12);
                clean(i)
                    .iter()
                    .zip(&noise)
                    .map(|(x, t)| (x + radius * t).clamp(lower, upper))
                    .collect()
            })
            .collect();
        let within = |distance: &[f32]| -> Vec<bool> {
            distance
                .iter()
                .zip(input.epsilon_values)
                .map(|(&r, &eps)| r <= eps)
                .collect()
        };
        let (eta, alpha_max, beta) = (self.config.eta, self.config.alpha_max, self.config.beta);
        for step in 0..self.config.steps {
            let active: Vec<usize> = (0..n)
                .filter(|&i| distance[i] > input.epsilon_values[i])
                .collect();
            if active.is_empty() {
                break;
            }
            let index = ints_from(
                &active.iter().map(|&i| i as i64).collect::<Vec<_>>(),
                &device,
            );
            let batch = floats_from(
                active.iter().flat_map(|&i| x[i].clone()).collect(),
                [active.len(), dims[1], dims[2], dims[3]],
                &device,
            );
            let (y, t) = (
                input.labels.clone().select(0, index.clone()),
                ints_from(
                    &active.iter().map(|&i| targets[i]).collect::<Vec<_>>(),
                    &device,
                ),
            );
            let m = active.len();
            let objective = |logits: Tensor<2>| {
                let gap = logits.clone().gather(1, t.clone().reshape([m, 1]))
                    - logits.gather(1, y.clone().reshape([m, 1]));
                gap.reshape([m])
            };
            let evaluated = model.value_and_grad(batch, &objective);
            let (gaps, grads) = (to_floats(evaluated.values), to_floats(evaluated.grad));
            for (k, &i) in active.iter().enumerate() {
                let w = &grads[k * d..(k + 1) * d];
                let b = x[i].iter().zip(w).map(|(x, w)| x * w).sum::<f32>() - gaps[k];
                let d1 = project_on_hyperplane(norm, &x[i], w, b, lower, upper);
                let d2 = project_on_hyperplane(norm, clean(i), w, b, lower, upper);
                let (a1, a2) = (norm_of(norm, &d1).max(1e-8), norm_of(norm, &d2).max(1e-8));
                let alpha = (a1 / (a1 + a2)).clamp(0.0, alpha_max);
                for j in 0..d {
                    let moved = (x[i][j] + eta * d1[j]) * (1.0 - alpha)
                        + (clean(i)[j] + eta * d2[j]) * alpha;
                    x[i][j] = moved.clamp(lower, upper);
                }
            }
            let moved = floats_from(
                active.iter().flat_map(|&i| x[i].clone()).collect(),
                [m, dims[1], dims[2], dims[3]],
                &device,
            );
            // The criterion of the threat model decides (the reference: any misclassification).
            let goal_targets = input
                .targets
                .clone()
                .map(|all| all.select(0, index.clone()));
            let adversarial = to_bools(input.criterion.is_adversarial(
                model.forward(moved),
                y.clone(),
                goal_targets.as_ref(),
            )?);
            for (k, &i) in active.iter().enumerate() {
                if !adversarial[k] {
                    continue;
                }
                let delta: Vec<f32> = x[i].iter().zip(clean(i)).map(|(a, b)| a - b).collect();
                let size = norm_of(norm, &delta);
                if size < distance[i] {
                    distance[i] = size;
                    best[i] = x[i].clone();
                }
                for (value, (c, dv)) in x[i].iter_mut().zip(clean(i).iter().zip(&delta)) {
                    *value = c + beta * dv;
                }
            }
            observer.on_step(step, &bools_from(&within(&distance), &device));
        }
        Ok((best, distance))
    }
}

impl Attack for Fab {
    fn minimizes_distance(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "fab-t"
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
        let target_lists = match &input.targets {
            Some(targets) => vec![to_ints(targets.clone())],
            None => likely_targets(model, input, self.config.target_classes),
        };
        let dims = input.images.dims();
        let mut stages = Stages::new(input);
        for (t, targets) in target_lists.iter().enumerate() {
            for restart in 0..self.config.restarts {
                let Some(rows) = stages.remaining(input) else {
                    return Ok(stages.examples);
                };
                let stage = rows.input(input);
                let stage_targets: Vec<i64> = rows.rows.iter().map(|&i| targets[i]).collect();
                let draw = (t * self.config.restarts + restart) as u64;
                let mut stage_observer = stages.observer(&rows, observer);
                let (best, distance) = self.single_run(
                    model,
                    &stage,
                    &stage_targets,
                    restart,
                    draw,
                    &mut stage_observer,
                )?;
                stage_observer.finish();
                let broken: Vec<bool> = distance
                    .iter()
                    .zip(stage.epsilon_values)
                    .map(|(&r, &eps)| r <= eps)
                    .collect();
                let examples = floats_from(
                    best.concat(),
                    [rows.rows.len(), dims[1], dims[2], dims[3]],
                    &stage.images.device(),
                );
                stages.record(&rows, examples, &broken);
            }
        }
        Ok(stages.examples)
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
