//! DeepFool: a minimal-perturbation attack that linearizes the classifier around the current
//! point, steps onto the nearest linearized decision boundary among the candidate classes, and
//! repeats until the prediction changes; the accumulated step is finally scaled by
//! `1 + overshoot` to cross the boundary. Moosavi-Dezfooli, Fawzi & Frossard, "DeepFool: a
//! simple and accurate method to fool deep neural networks", CVPR 2016.
//!
//! L2 steps along `w_k` (the gradient of the logit difference) by `(|f_k| + 1e-4) / ||w_k||²`;
//! Linf steps along `sign(w_k)` by `(|f_k| + 1e-4) / ||w_k||_1` (the dual norm). Defaults:
//! overshoot 0.02, at most 50 iterations, the 10 most likely classes as candidates.
//!
//! DeepFool minimizes the distance rather than respecting a budget: the harness projects its
//! result onto the epsilon-ball, so with an effectively unbounded epsilon (say `--eps 1e6`) the
//! reported distances are the distances DeepFool found. For a targeted goal the only candidate
//! is the target, linearized against the strongest other class (an extension of the paper).
//!
//! ```
//! use adv_attacks::DeepFoolConfig;
//! let deepfool = DeepFoolConfig { overshoot: 0.05, ..Default::default() }.init().unwrap();
//! ```

use adv_core::burn::tensor::{Bool, Int, Tensor};
use adv_core::{Classifier, Norm, per_sample};
use serde::{Deserialize, Serialize};

use crate::{Attack, AttackError, AttackInput, Result, StepObserver};

/// Smallest norm treated as non-zero when dividing by a norm.
const TINY: f32 = 1e-12;

/// Configuration of [`DeepFool`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeepFoolConfig {
    /// Largest number of linearization steps (at least 1).
    pub steps: usize,
    /// Relative extra length of the final perturbation (finite, non-negative).
    pub overshoot: f32,
    /// Number of most likely classes considered, the true class included (at least 2).
    pub candidates: usize,
}

impl Default for DeepFoolConfig {
    fn default() -> Self {
        Self {
            steps: 50,
            overshoot: 0.02,
            candidates: 10,
        }
    }
}

impl DeepFoolConfig {
    /// The attack, or an error if the configuration is invalid.
    pub fn init(&self) -> Result<DeepFool> {
        if self.steps == 0 {
            return Err(AttackError::config("deepfool", "steps must be at least 1"));
        }
        if !(self.overshoot.is_finite() && self.overshoot >= 0.0) {
            return Err(AttackError::config(
                "deepfool",
                format!(
                    "overshoot {} must be finite and non-negative",
                    self.overshoot
                ),
            ));
        }
        if self.candidates < 2 {
            return Err(AttackError::config(
                "deepfool",
                format!(
                    "candidates {} must be at least 2 (the true class and one other)",
                    self.candidates
                ),
            ));
        }
        Ok(DeepFool {
            config: self.clone(),
        })
    }
}

/// DeepFool (L2, Linf).
#[derive(Clone, Debug)]
pub struct DeepFool {
    config: DeepFoolConfig,
}

impl Attack for DeepFool {
    fn minimizes_distance(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "deepfool"
    }

    fn norms(&self) -> &'static [Norm] {
        &[Norm::L2, Norm::Linf]
    }

    fn run(
        &self,
        model: &dyn Classifier,
        input: &AttackInput,
        observer: &mut dyn StepObserver,
    ) -> Result<Tensor<4>> {
        let norm = input.threat.norm;
        let x0 = input.images.clone();
        let n = x0.dims()[0];
        let mut logits = model.forward(x0.clone());
        let classes = logits.dims()[1];
        if classes < 2 {
            return Err(AttackError::Mismatch(format!(
                "deepfool needs two classes or more, the model has {classes}"
            )));
        }
        let others = other_classes(
            logits.clone(),
            &input.labels,
            self.config.candidates.min(classes) - 1,
        );
        let scale = 1.0 + self.config.overshoot;
        let mut total = x0.zeros_like();
        let mut x = x0.clone();
        let mut found = Tensor::<1, Bool>::full([n], false, &x0.device());
        for step in 0..=self.config.steps {
            found = found.bool_or(input.is_adversarial(logits.clone())?);
            observer.on_step(step, &found);
            if step == self.config.steps || found.clone().all().into_scalar::<bool>() {
                break;
            }
            // The nearest linearized boundary: the smallest |f_k| / ||w_k||_* over candidates.
            let mut nearest: Option<(Tensor<1>, Tensor<1>, Tensor<4>)> = None;
            for (class, reference) in self.boundaries(&logits, &others, input) {
                let difference = |z: Tensor<2>| pick(z.clone(), &class) - pick(z, &reference);
                let evaluated = model.value_and_grad(x.clone(), &difference);
                let dual = match norm {
                    Norm::Linf => Norm::L1,
                    _ => Norm::L2,
                };
                let distance = evaluated.values.clone().abs()
                    / dual.norms(evaluated.grad.clone()).clamp_min(TINY);
                nearest = Some(match nearest {
                    None => (distance, evaluated.values, evaluated.grad),
                    Some((best, values, grad)) => {
                        let closer = distance.clone().lower(best.clone());
                        (
                            best.mask_where(closer.clone(), distance),
                            values.mask_where(closer.clone(), evaluated.values),
                            grad.clone()
                                .mask_where(per_sample(closer, &grad), evaluated.grad),
                        )
                    }
                });
            }
            let (_, values, grad) = nearest.expect("at least one candidate class");
            let length = values.abs().add_scalar(1e-4);
            let step_vector = match norm {
                Norm::Linf => {
                    let l1 = Norm::L1.norms(grad.clone()).clamp_min(TINY);
                    grad.sign() * per_sample(length / l1, &x0)
                }
                _ => {
                    let squared = Norm::L2.norms(grad.clone()).square().clamp_min(TINY);
                    grad * per_sample(length / squared, &x0)
                }
            };
            let moving = per_sample(found.clone().bool_not().float(), &x0);
            total = total + step_vector * moving;
            x = input
                .threat
                .bounds
                .clip(x0.clone() + total.clone().mul_scalar(scale));
            logits = model.forward(x.clone());
        }
        Ok(x)
    }
}

impl DeepFool {
    /// The `(class, reference)` pairs whose logit difference `z_class - z_reference` is pushed
    /// to zero: every candidate against the true class, or the target against the strongest
    /// other class.
    fn boundaries(
        &self,
        logits: &Tensor<2>,
        others: &Tensor<2, Int>,
        input: &AttackInput,
    ) -> Vec<(Tensor<1, Int>, Tensor<1, Int>)> {
        match &input.targets {
            Some(targets) => {
                let strongest = other_classes(logits.clone(), targets, 1).squeeze_dim::<1>(1);
                vec![(targets.clone(), strongest)]
            }
            None => {
                let [n, count] = others.dims();
                (0..count)
                    .map(|k| {
                        let class = others.clone().slice([0..n, k..k + 1]).squeeze_dim::<1>(1);
                        (class, input.labels.clone())
                    })
                    .collect()
            }
        }
    }
}

/// The `count` classes with the largest logits other than `excluded`, most likely first.
fn other_classes(logits: Tensor<2>, excluded: &Tensor<1, Int>, count: usize) -> Tensor<2, Int> {
    let [n, classes] = logits.dims();
    let columns = Tensor::<1, Int>::arange(0..classes as i64, &logits.device())
        .reshape([1, classes])
        .expand([n, classes]);
    let own = columns.equal(excluded.clone().reshape([n, 1]).expand([n, classes]));
    let masked = logits.mask_fill(own, f32::NEG_INFINITY);
    let order = masked.argsort_descending(1);
    order.slice([0..n, 0..count.min(classes - 1)])
}

/// `z[i, classes[i]]` per sample.
fn pick(logits: Tensor<2>, classes: &Tensor<1, Int>) -> Tensor<1> {
    let n = logits.dims()[0];
    logits
        .gather(1, classes.clone().reshape([n, 1]))
        .reshape([n])
}

#[cfg(test)]
mod tests {
    use super::*;
    use adv_core::burn::tensor::Device;
    use adv_core::{floats_from, ints_from, to_ints};

    #[test]
    fn other_classes_skip_the_excluded_one_in_order() {
        let logits = floats_from(
            vec![0.1, 3.0, 2.0, -1.0, 5.0, 0.0, 1.0, 2.0],
            [2, 4],
            &Device::default(),
        );
        let excluded = ints_from(&[1, 0], &Device::default());
        assert_eq!(
            to_ints(other_classes(logits.clone(), &excluded, 2)),
            vec![2, 0, 3, 2]
        );
        assert_eq!(
            to_ints(other_classes(logits, &excluded, 9)),
            vec![2, 0, 3, 3, 2, 1]
        );
    }

    #[test]
    fn invalid_configs_are_errors() {
        assert!(
            DeepFoolConfig {
                steps: 0,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        assert!(
            DeepFoolConfig {
                overshoot: -0.1,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        assert!(
            DeepFoolConfig {
                candidates: 1,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        assert!(DeepFoolConfig::default().init().is_ok());
    }
}
