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
use adv_core::{Knowledge, Loss, Norm, floats_from, per_sample};

use crate::{
    AttackError, AttackInfo, Context, Gradients, Iterative, Observed, Result, Shared, Start,
    Step, StepInfo, WhiteBox,
};

/// Adam's moment decay rates and stabilizer (Kingma & Ba 2015 defaults, as in the paper's code).
const BETA1: f32 = 0.9;
const BETA2: f32 = 0.999;
const ADAM_EPSILON: f32 = 1e-8;
/// Constants at or above this mean "no success seen yet" in the binary search.
const UNBOUNDED: f32 = 1e10;

adv_core::options! {
    /// Configuration of [`CarliniWagner`].
    pub struct CarliniWagnerConfig {
        /// Adam steps per binary-search step.
        steps: usize [Domain::AtLeast(1.0), Label::Value] = 10_000,
        /// Binary-search steps over the constant c.
        search_steps: usize [Domain::AtLeast(1.0), Label::Changed] = 9,
        /// Adam's learning rate.
        learning_rate: f32 [Domain::Positive, Label::Changed] = 0.01,
        /// The constant c of the first search step.
        initial_const: f32 [Domain::Positive, Label::Changed] = 1e-3,
        /// Stop a sample's search step once its loss stalls.
        abort_early: bool [Domain::Any, Label::Changed] = true,
    }
}

impl CarliniWagnerConfig {
    /// The attack, or an error if the configuration is invalid.
    pub fn init(&self) -> Result<CarliniWagner> {
        adv_core::Options::check_domains(self)
            .map_err(|problem| AttackError::config(INFO.name, problem))?;
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

pub(crate) static INFO: AttackInfo = AttackInfo {
    name: "cw",
    aliases: &["cw-l2", "carlini-wagner"],
    paper: "Carlini & Wagner, IEEE S&P 2017",
    norms: &[Norm::L2],
    access: Knowledge::WhiteBox,
    targeted: true,
    minimizes_distance: true,
    config: adv_core::ConfigFns::of::<CarliniWagnerConfig>(),
    build: |settings| {
        Ok(Box::new(
            adv_core::configure::<CarliniWagnerConfig>("cw", settings)?.init()?,
        ))
    },
};

pub(crate) const ATTACKS: &[&AttackInfo] = &[&INFO];

crate::row_state! {
    /// C&W's state: the binary search over c of each row (kept across search steps), and the
    /// Adam walk of the current search step.
    pub struct CwState {
        lower: Vec<f32>,
        upper: Vec<f32>,
        constants: Vec<f32>,
        c: Tensor<1>,
        w: Tensor<4>,
        first_moment: Tensor<4>,
        second_moment: Tensor<4>,
        active: Tensor<1, Bool>,
        previous: Tensor<1>,
        t: Shared<i32>,
    }
}

impl CarliniWagner {
    fn half_range(ctx: &Context) -> f32 {
        let bounds = ctx.bounds();
        (bounds.upper - bounds.lower) / 2.0
    }

    /// `x = (tanh(w) + 1) * half_range + lower`: every `w` is an input of the box.
    fn to_input(ctx: &Context, w: Tensor<4>) -> Tensor<4> {
        w.tanh()
            .add_scalar(1.0)
            .mul_scalar(Self::half_range(ctx))
            .add_scalar(ctx.bounds().lower)
    }

    /// atanh of the clean images, pulled slightly inside (-1, 1) so that it stays finite.
    fn w0(ctx: &Context) -> Tensor<4> {
        let unit = ctx
            .images()
            .clone()
            .sub_scalar(ctx.bounds().lower)
            .div_scalar(Self::half_range(ctx))
            .sub_scalar(1.0)
            .clamp(-1.0 + 1e-6, 1.0 - 1e-6);
        (unit.clone().add_scalar(1.0) / unit.neg().add_scalar(1.0))
            .log()
            .mul_scalar(0.5)
    }
}

impl Iterative for CarliniWagner {
    type Access = Gradients;
    type State = CwState;

    fn info(&self) -> &'static AttackInfo {
        &INFO
    }

    fn runs(&self, _ctx: &Context) -> usize {
        self.config.search_steps
    }

    fn steps(&self) -> usize {
        self.config.steps
    }

    fn observes_input(&self) -> bool {
        true
    }

    /// Search step `run`: the constants move by the previous search step's outcome (bisection
    /// once a success bounds them, times 10 before), and the Adam walk restarts from the clean
    /// image.
    fn start(
        &self,
        ctx: &Context,
        _model: &WhiteBox<'_>,
        _run: usize,
        previous: Option<CwState>,
    ) -> Result<Start<CwState>> {
        let n = ctx.len();
        let (lower, upper, constants) = match previous {
            None => (vec![0.0; n], vec![UNBOUNDED; n], vec![self.config.initial_const; n]),
            Some(state) => {
                let (mut lower, mut upper, mut constants) =
                    (state.lower, state.upper, state.constants);
                for (i, &success) in ctx.fooled_last_run().iter().enumerate() {
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
                (lower, upper, constants)
            }
        };
        let device = ctx.images().device();
        let w = Self::w0(ctx);
        let iterate = Self::to_input(ctx, w.clone());
        Ok(Start {
            state: CwState {
                c: floats_from(constants.clone(), [n], &device),
                lower,
                upper,
                constants,
                first_moment: w.zeros_like(),
                second_moment: w.zeros_like(),
                w,
                active: Tensor::<1, Bool>::full([n], true, &device),
                previous: Tensor::<1>::full([n], f32::INFINITY, &device),
                t: Shared(0),
            },
            iterate,
            observed: Observed::Nothing,
        })
    }

    fn step(
        &self,
        ctx: &Context,
        model: &WhiteBox<'_>,
        state: &mut CwState,
        x: Tensor<4>,
        info: StepInfo,
    ) -> Result<Step> {
        let config = &self.config;
        let kappa = ctx.criterion().confidence;
        // The paper's f, scaled by c: the margin loss of the goal, clamped at -kappa.
        let c = state.c.clone();
        let objective = |logits| {
            Loss::Margin
                .objective(logits, ctx.labels(), ctx.targets())
                .neg()
                .clamp_min(-kappa)
                * c.clone()
        };
        let evaluated = model.value_and_grad(x.clone(), &objective)?;
        let delta = x - ctx.images().clone();
        let distance = Norm::L2.norms(delta.clone()).square();
        let mut stop = false;
        let check_every = (config.steps / 10).max(1);
        if config.abort_early && info.step.is_multiple_of(check_every) {
            let loss = distance + evaluated.values;
            let stalled = loss
                .clone()
                .greater(state.previous.clone().mul_scalar(0.9999));
            state.active = state.active.clone().bool_and(stalled.bool_not());
            state.previous = loss;
            stop = !state.active.clone().any().into_scalar::<bool>();
        }
        // d/dw of ||x - x0||^2 + c f(x), through x = (tanh(w) + 1) * half_range + lower.
        let w = state.w.clone();
        let slope = w
            .clone()
            .tanh()
            .square()
            .neg()
            .add_scalar(1.0)
            .mul_scalar(Self::half_range(ctx));
        let grad = (delta.mul_scalar(2.0) + evaluated.grad) * slope;
        state.t.0 += 1;
        let t = state.t.0;
        let moving = per_sample(state.active.clone(), &w);
        let m1 = state.first_moment.clone();
        state.first_moment = m1.clone().mask_where(
            moving.clone(),
            m1.mul_scalar(BETA1) + grad.clone().mul_scalar(1.0 - BETA1),
        );
        let m2 = state.second_moment.clone();
        state.second_moment = m2.clone().mask_where(
            moving.clone(),
            m2.mul_scalar(BETA2) + grad.square().mul_scalar(1.0 - BETA2),
        );
        let corrected_first = state.first_moment.clone().div_scalar(1.0 - BETA1.powi(t));
        let corrected_second = state.second_moment.clone().div_scalar(1.0 - BETA2.powi(t));
        let update = corrected_first / corrected_second.sqrt().add_scalar(ADAM_EPSILON);
        state.w = w
            .clone()
            .mask_where(moving, w - update.mul_scalar(config.learning_rate));
        Ok(Step {
            stop,
            ..Step::with_input_logits(Self::to_input(ctx, state.w.clone()), evaluated.logits)
        })
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
