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

use adv_core::burn::tensor::{Int, Tensor};
use adv_core::{Knowledge, Loss, Norm, ints_from, per_sample};

use crate::{
    AttackError, AttackInfo, Context, Gradients, Iterative, Observed, Result, Start, Step,
    StepInfo, WhiteBox,
};

/// Smallest norm treated as non-zero when dividing by a norm.
const TINY: f32 = 1e-12;

adv_core::options! {
    /// Configuration of [`DeepFool`].
    pub struct DeepFoolConfig {
        /// Largest number of linearization steps.
        steps: usize [Domain::AtLeast(1.0), Label::Value] = 50,
        /// Relative extra length of the final perturbation.
        overshoot: f32 [Domain::NonNegative, Label::Changed] = 0.02,
        /// Number of most likely classes considered, the true class included.
        candidates: usize [Domain::AtLeast(2.0), Label::Changed] = 10,
    }
}

impl DeepFoolConfig {
    /// The attack, or an error if the configuration is invalid.
    pub fn init(&self) -> Result<DeepFool> {
        adv_core::Options::check_domains(self)
            .map_err(|problem| AttackError::config(INFO.name, problem))?;
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

pub(crate) static INFO: AttackInfo = AttackInfo {
    name: "deepfool",
    aliases: &[],
    paper: "Moosavi-Dezfooli, Fawzi & Frossard, CVPR 2016",
    norms: &[Norm::L2, Norm::Linf],
    access: Knowledge::WhiteBox,
    targeted: true,
    minimizes_distance: true,
    config: adv_core::ConfigFns::of::<DeepFoolConfig>(),
    build: |settings| {
        Ok(Box::new(
            adv_core::configure::<DeepFoolConfig>("deepfool", settings)?.init()?,
        ))
    },
};

pub(crate) const ATTACKS: &[&AttackInfo] = &[&INFO];

crate::row_state! {
    /// DeepFool's state: the accumulated step and the candidate classes of each row.
    pub struct DeepFoolState {
        total: Tensor<4>,
        others: Tensor<2, Int>,
    }
}

impl Iterative for DeepFool {
    type Access = Gradients;
    type State = DeepFoolState;

    fn info(&self) -> &'static AttackInfo {
        &INFO
    }

    fn steps(&self) -> usize {
        self.config.steps
    }

    fn queries_per_step(&self) -> u64 {
        self.config.candidates as u64
    }

    fn observes_input(&self) -> bool {
        true
    }

    fn stops_at_success(&self) -> bool {
        true
    }

    fn start(
        &self,
        ctx: &Context,
        _model: &WhiteBox<'_>,
        _run: usize,
        _previous: Option<DeepFoolState>,
    ) -> Result<Start<DeepFoolState>> {
        let x0 = ctx.images().clone();
        let count = self.config.candidates - 1;
        let rows: Vec<Vec<usize>> = (0..ctx.len()).map(|row| ctx.likely_classes(row)).collect();
        let count = rows.iter().map(Vec::len).min().unwrap_or(0).min(count);
        if count == 0 {
            return Err(AttackError::Mismatch(
                "deepfool needs two classes or more".into(),
            ));
        }
        let flat: Vec<i64> = rows
            .iter()
            .flat_map(|classes| classes[..count].iter().map(|&c| c as i64))
            .collect();
        let others = ints_from(&flat, &x0.device()).reshape([ctx.len(), count]);
        Ok(Start {
            state: DeepFoolState {
                total: x0.zeros_like(),
                others,
            },
            iterate: x0,
            observed: Observed::Clean,
        })
    }

    fn step(
        &self,
        ctx: &Context,
        model: &WhiteBox<'_>,
        state: &mut DeepFoolState,
        x: Tensor<4>,
        _info: StepInfo,
    ) -> Result<Step> {
        let norm = ctx.norm();
        let dual = match norm {
            Norm::Linf => Norm::L1,
            _ => Norm::L2,
        };
        // The nearest linearized boundary: the smallest |f_k| / ||w_k||_* over candidates.
        let mut nearest: Option<(Tensor<1>, Tensor<1>, Tensor<4>)> = None;
        let mut logits = None;
        for boundary in self.boundaries(ctx, &state.others) {
            let difference = |z: Tensor<2>| match &boundary.reference {
                Some(reference) => pick(z.clone(), &boundary.class) - pick(z, reference),
                // z_t - max_{j != t} z_j: its gradient is that of z_t - z_r for the strongest
                // other class r at `x`.
                None => Loss::Margin.objective(z, &boundary.class, None).neg(),
            };
            let evaluated = model.value_and_grad(x.clone(), &difference)?;
            logits.get_or_insert(evaluated.logits);
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
                grad.sign() * per_sample(length / l1, &x)
            }
            _ => {
                let squared = Norm::L2.norms(grad.clone()).square().clamp_min(TINY);
                grad * per_sample(length / squared, &x)
            }
        };
        state.total = state.total.clone() + step_vector;
        let scale = 1.0 + self.config.overshoot;
        let next = ctx
            .bounds()
            .clip(ctx.images().clone() + state.total.clone().mul_scalar(scale));
        Ok(Step::with_input_logits(
            next,
            logits.expect("at least one candidate class"),
        ))
    }
}

/// A linearized boundary: `z_class - z_reference`, or, without a reference, the class (the
/// target) against the strongest other class.
struct Boundary {
    class: Tensor<1, Int>,
    reference: Option<Tensor<1, Int>>,
}

impl DeepFool {
    /// The boundaries whose logit difference is pushed to zero: every candidate against the
    /// true class, or, for the targeted goal, the target against the strongest other class.
    fn boundaries(&self, ctx: &Context, others: &Tensor<2, Int>) -> Vec<Boundary> {
        match ctx.targets() {
            Some(targets) => vec![Boundary {
                class: targets.clone(),
                reference: None,
            }],
            None => {
                let [n, count] = others.dims();
                (0..count)
                    .map(|k| {
                        let class = others.clone().slice([0..n, k..k + 1]).squeeze_dim::<1>(1);
                        Boundary {
                            class,
                            reference: Some(ctx.labels().clone()),
                        }
                    })
                    .collect()
            }
        }
    }
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
