//! Carlini & Wagner L2: minimizes `||x - x0||² + c * f(x)` over `x = (tanh(w) + 1) / 2`
//! (scaled to the input box, so every iterate is a valid input) with Adam, where
//! `f = max(z_y - max_{j != y} z_j, -kappa)` (targeted: `max(max_{j != t} z_j - z_t, -kappa)`),
//! and binary-searches the constant `c` per sample, keeping the smallest successful
//! perturbation. Carlini & Wagner, "Towards Evaluating the Robustness of Neural Networks",
//! IEEE S&P 2017.
//!
//! Defaults are the paper's code: 9 binary search steps from `c = 1e-3` (times 10 until the
//! first success, then bisection), 10 000 Adam steps of learning rate 0.01 per search step,
//! stopping a sample's search step early when its loss has not decreased by 0.01% over a tenth
//! of the steps. The confidence `kappa` is the success margin of the run (`RunOptions::confidence`,
//! `--confidence` on the command line), so that the examples the attack optimizes for are
//! exactly those the harness counts as adversarial.
//!
//! C&W minimizes the distance rather than respecting a budget: the harness projects its result
//! onto the epsilon-ball, so with an effectively unbounded epsilon (say `--eps 1e6`) the
//! reported distances are the distances C&W found. Samples never made adversarial are returned
//! unchanged.
//!
//! ```
//! use adv_attacks::CarliniWagnerConfig;
//! let cw = CarliniWagnerConfig { steps: 1000, ..Default::default() }.init().unwrap();
//! ```

use adv_core::burn::tensor::{Bool, Tensor};
use adv_core::{Classifier, Loss, Norm, floats_from, per_sample, to_bools};
use serde::{Deserialize, Serialize};

use crate::{Attack, AttackError, AttackInput, Result, StepObserver};

/// Adam's moment decay rates and stabilizer (Kingma & Ba 2015 defaults, as in the paper's code).
const BETA1: f32 = 0.9;
const BETA2: f32 = 0.999;
const ADAM_EPSILON: f32 = 1e-8;
/// Constants at or above this mean "no success seen yet" in the binary search.
const UNBOUNDED: f32 = 1e10;

/// Configuration of [`CarliniWagner`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CarliniWagnerConfig {
    /// Binary search steps over the constant `c` (at least 1).
    pub search_steps: usize,
    /// Adam steps per search step (at least 1).
    pub steps: usize,
    /// Adam's learning rate (finite, positive).
    pub learning_rate: f32,
    /// The constant `c` of the first search step (finite, positive).
    pub initial_const: f32,
    /// Stop a sample's search step once its loss stalls.
    pub abort_early: bool,
}

impl Default for CarliniWagnerConfig {
    fn default() -> Self {
        Self {
            search_steps: 9,
            steps: 10_000,
            learning_rate: 0.01,
            initial_const: 1e-3,
            abort_early: true,
        }
    }
}

impl CarliniWagnerConfig {
    /// The attack, or an error if the configuration is invalid.
    pub fn init(&self) -> Result<CarliniWagner> {
        if self.search_steps == 0 || self.steps == 0 {
            return Err(AttackError::config(
                "cw",
                "search steps and steps must be at least 1",
            ));
        }
        for (name, value) in [
            ("learning rate", self.learning_rate),
            ("initial const", self.initial_const),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return Err(AttackError::config(
                    "cw",
                    format!("{name} {value} must be finite and positive"),
                ));
            }
        }
        Ok(CarliniWagner {
            config: self.clone(),
        })
    }
}

/// The Carlini & Wagner L2 attack.
#[derive(Clone, Debug)]
pub struct CarliniWagner {
    config: CarliniWagnerConfig,
}

impl Attack for CarliniWagner {
    fn minimizes_distance(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "cw"
    }

    fn norms(&self) -> &'static [Norm] {
        &[Norm::L2]
    }

    fn run(
        &self,
        model: &dyn Classifier,
        input: &AttackInput,
        observer: &mut dyn StepObserver,
    ) -> Result<Tensor<4>> {
        let config = &self.config;
        let x0 = input.images.clone();
        let n = x0.dims()[0];
        let device = x0.device();
        let bounds = input.threat.bounds;
        let half_range = (bounds.upper - bounds.lower) / 2.0;
        let to_input = |w: Tensor<4>| {
            w.tanh()
                .add_scalar(1.0)
                .mul_scalar(half_range)
                .add_scalar(bounds.lower)
        };
        // atanh of the clean image, pulled slightly inside (-1, 1) so that it stays finite.
        let unit = x0
            .clone()
            .sub_scalar(bounds.lower)
            .div_scalar(half_range)
            .sub_scalar(1.0);
        let unit = unit.clamp(-1.0 + 1e-6, 1.0 - 1e-6);
        let w0 = (unit.clone().add_scalar(1.0) / unit.neg().add_scalar(1.0))
            .log()
            .mul_scalar(0.5);
        let kappa = input.criterion.confidence;

        let mut lower = vec![0.0f32; n];
        let mut upper = vec![UNBOUNDED; n];
        let mut constants = vec![config.initial_const; n];
        let mut best = x0.clone();
        let mut best_distance = Tensor::<1>::full([n], f32::INFINITY, &device);
        let mut found = Tensor::<1, Bool>::full([n], false, &device);
        let check_every = (config.steps / 10).max(1);
        let mut observed = 0;
        for _ in 0..config.search_steps {
            let c = floats_from(constants.clone(), [n], &device);
            // The paper's f, scaled by c: the margin loss of the goal, clamped at -kappa.
            let objective = |logits| {
                Loss::Margin
                    .objective(logits, &input.labels, input.targets.as_ref())
                    .neg()
                    .clamp_min(-kappa)
                    * c.clone()
            };
            let mut w = w0.clone();
            let mut first_moment = w0.zeros_like();
            let mut second_moment = w0.zeros_like();
            let mut active = Tensor::<1, Bool>::full([n], true, &device);
            let mut previous = Tensor::<1>::full([n], f32::INFINITY, &device);
            let mut succeeded = Tensor::<1, Bool>::full([n], false, &device);
            for step in 0..config.steps {
                let x = to_input(w.clone());
                let evaluated = model.value_and_grad(x.clone(), &objective);
                let delta = x.clone() - x0.clone();
                let distance = Norm::L2.norms(delta.clone()).square();
                let adversarial = input.is_adversarial(evaluated.logits)?;
                let closer = adversarial
                    .clone()
                    .bool_and(distance.clone().lower(best_distance.clone()));
                best_distance = best_distance.mask_where(closer.clone(), distance.clone());
                best = best.mask_where(per_sample(closer, &x), x);
                succeeded = succeeded.bool_or(adversarial.clone());
                found = found.bool_or(adversarial);
                observer.on_step(observed, &found);
                observed += 1;

                if config.abort_early && step % check_every == 0 {
                    let loss = distance + evaluated.values;
                    let stalled = loss.clone().greater(previous.mul_scalar(0.9999));
                    active = active.bool_and(stalled.bool_not());
                    previous = loss;
                    if !active.clone().any().into_scalar::<bool>() {
                        break;
                    }
                }
                // d/dw of ||x - x0||² + c f(x), through x = (tanh(w) + 1) * half_range + lower.
                let slope = w
                    .clone()
                    .tanh()
                    .square()
                    .neg()
                    .add_scalar(1.0)
                    .mul_scalar(half_range);
                let grad = (delta.mul_scalar(2.0) + evaluated.grad) * slope;
                let t = (step + 1) as i32;
                let moving = per_sample(active.clone(), &w);
                first_moment = first_moment.clone().mask_where(
                    moving.clone(),
                    first_moment.mul_scalar(BETA1) + grad.clone().mul_scalar(1.0 - BETA1),
                );
                second_moment = second_moment.clone().mask_where(
                    moving.clone(),
                    second_moment.mul_scalar(BETA2) + grad.square().mul_scalar(1.0 - BETA2),
                );
                let corrected_first = first_moment.clone().div_scalar(1.0 - BETA1.powi(t));
                let corrected_second = second_moment.clone().div_scalar(1.0 - BETA2.powi(t));
                let update = corrected_first / corrected_second.sqrt().add_scalar(ADAM_EPSILON);
                w = w
                    .clone()
                    .mask_where(moving, w - update.mul_scalar(config.learning_rate));
            }
            for (i, success) in to_bools(succeeded).into_iter().enumerate() {
                if success {
                    upper[i] = upper[i].min(constants[i]);
                } else {
                    lower[i] = lower[i].max(constants[i]);
                }
                constants[i] = if upper[i] < UNBOUNDED / 10.0 {
                    (lower[i] + upper[i]) / 2.0
                } else {
                    constants[i] * 10.0
                };
            }
        }
        Ok(best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_configs_are_errors() {
        assert!(
            CarliniWagnerConfig {
                search_steps: 0,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        assert!(
            CarliniWagnerConfig {
                steps: 0,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        assert!(
            CarliniWagnerConfig {
                learning_rate: 0.0,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        assert!(
            CarliniWagnerConfig {
                initial_const: f32::NAN,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        assert!(CarliniWagnerConfig::default().init().is_ok());
    }
}
