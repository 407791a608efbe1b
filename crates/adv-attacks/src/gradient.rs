//! The first-order update shared by FGSM, BIM, PGD, MIM, DIM and TI, generic over the norm
//! through three hooks: the random start, the steepest-ascent direction and the projection; and
//! extended by three optional ones: an input transformation whose gradient is taken (DIM), a
//! smoothing of the gradient (TI) and momentum on the normalized gradient (MIM). The harness
//! runs the loop, judges the iterates and keeps each sample's first success.

use adv_core::burn::tensor::Tensor;
use adv_core::{Loss, Norm, OptionValue, per_sample};
use serde::{Deserialize, Serialize};

use crate::dim::InputDiversity;
use crate::ti::{GaussianSmoothing, SmoothingKernel};
use crate::{
    AttackError, AttackInfo, Context, Gradients, Iterative, Observed, Result, Shared, Start, Step,
    StepInfo, WhiteBox,
};

/// The step length of each iteration.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum StepSize {
    /// The same length for every sample.
    Absolute(f32),
    /// A fraction of each sample's epsilon.
    Relative(f32),
    /// `2.5 * epsilon / steps`, the rule of Madry et al. (2018): the walk can cross the ball.
    Auto,
    /// `epsilon / steps`: the steps together just reach the sphere (BIM, MIM, DIM, TI).
    EpsOverSteps,
}

impl StepSize {
    pub(crate) fn check(self, attack: &str) -> Result<()> {
        match self {
            StepSize::Absolute(value) | StepSize::Relative(value)
                if !(value.is_finite() && value > 0.0) =>
            {
                Err(AttackError::config(
                    attack,
                    format!("step size {value} must be finite and positive"),
                ))
            }
            _ => Ok(()),
        }
    }

    /// The length for a sample of radius `epsilon` in a run of `steps` steps, on the host.
    pub(crate) fn length(self, epsilon: f32, steps: usize) -> f32 {
        match self {
            StepSize::Absolute(value) => value,
            StepSize::Relative(fraction) => epsilon * fraction,
            StepSize::Auto => epsilon * (2.5 / steps as f32),
            StepSize::EpsOverSteps => epsilon * (1.0 / steps as f32),
        }
    }

    fn lengths(self, epsilons: &Tensor<1>, steps: usize) -> Tensor<1> {
        match self {
            StepSize::Absolute(value) => epsilons.zeros_like().add_scalar(value),
            StepSize::Relative(fraction) => epsilons.clone().mul_scalar(fraction),
            StepSize::Auto => epsilons.clone().mul_scalar(2.5 / steps as f32),
            StepSize::EpsOverSteps => epsilons.clone().mul_scalar(1.0 / steps as f32),
        }
    }
}

impl std::str::FromStr for StepSize {
    type Err = AttackError;

    /// `auto`, `eps/steps`, a number (absolute), or a number followed by `x` or `*eps`
    /// (relative).
    fn from_str(text: &str) -> Result<Self> {
        let bad = || AttackError::config("step size", format!("cannot read '{text}'"));
        match text {
            "auto" => return Ok(StepSize::Auto),
            "eps/steps" => return Ok(StepSize::EpsOverSteps),
            _ => {}
        }
        let relative = text.strip_suffix("*eps").or_else(|| text.strip_suffix('x'));
        let number = |text: &str| f32::parse_option(text).map_err(|_| bad());
        let step = match relative {
            Some(value) => StepSize::Relative(number(value)?),
            None => StepSize::Absolute(number(text)?),
        };
        step.check("step size")?;
        Ok(step)
    }
}

/// Implements [`crate::Iterative`] for an attack struct whose `ascent` field runs the shared
/// loop.
macro_rules! ascent_attack {
    ($attack:ty) => {
        impl $crate::Iterative for $attack {
            type Access = $crate::Gradients;
            type State = $crate::AscentState;

            fn info(&self) -> &'static $crate::AttackInfo {
                self.ascent.info
            }

            fn steps(&self) -> usize {
                $crate::Iterative::steps(&self.ascent)
            }

            fn observes_input(&self) -> bool {
                $crate::Iterative::observes_input(&self.ascent)
            }

            fn start(
                &self,
                ctx: &$crate::Context,
                model: &$crate::WhiteBox<'_>,
                run: usize,
                previous: Option<Self::State>,
            ) -> $crate::Result<$crate::Start<Self::State>> {
                self.ascent.start(ctx, model, run, previous)
            }

            fn step(
                &self,
                ctx: &$crate::Context,
                model: &$crate::WhiteBox<'_>,
                state: &mut Self::State,
                x: adv_core::burn::tensor::Tensor<4>,
                info: $crate::StepInfo,
            ) -> $crate::Result<$crate::Step> {
                self.ascent.step(ctx, model, state, x, info)
            }
        }
    };
}
pub(crate) use ascent_attack;

/// The objective the shared loop climbs: a [`Loss`] of the goal, or TRADES' KL divergence from
/// the model's clean prediction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AscentLoss {
    /// Softmax cross-entropy.
    #[default]
    CrossEntropy,
    /// The Carlini & Wagner logit margin.
    Margin,
    /// `KL(softmax(z(x0)) || softmax(z(x)))`, away from the clean prediction (Zhang et al.
    /// 2019, TRADES' inner maximization); untargeted only. The clean logits cost one query per
    /// sample at the start.
    Kl,
}

impl std::str::FromStr for AscentLoss {
    type Err = AttackError;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "kl" => Ok(AscentLoss::Kl),
            other => match other.parse::<Loss>() {
                Ok(Loss::CrossEntropy) => Ok(AscentLoss::CrossEntropy),
                Ok(Loss::Margin) => Ok(AscentLoss::Margin),
                Err(_) => Err(AttackError::config(
                    "loss",
                    format!("unknown loss '{other}' (expected ce, cw or kl)"),
                )),
            },
        }
    }
}

impl std::fmt::Display for AscentLoss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AscentLoss::CrossEntropy => "ce",
            AscentLoss::Margin => "cw",
            AscentLoss::Kl => "kl",
        })
    }
}

adv_core::text_option!(AscentLoss, "ce|cw|kl");

impl From<Loss> for AscentLoss {
    fn from(loss: Loss) -> Self {
        match loss {
            Loss::CrossEntropy => AscentLoss::CrossEntropy,
            Loss::Margin => AscentLoss::Margin,
        }
    }
}

/// Projected gradient ascent on a loss, inside the threat model's ball and box: the update
/// step of FGSM, BIM, PGD, MIM, DIM and TI.
#[derive(Clone, Debug)]
pub(crate) struct GradientAscent {
    pub info: &'static AttackInfo,
    pub steps: usize,
    pub step_size: StepSize,
    pub random_start: bool,
    /// Standard deviation of a Gaussian random start; 0 for the uniform start in the ball.
    pub start_std: f32,
    pub loss: AscentLoss,
    pub l1_fraction: f32,
    /// Momentum decay: the ascent follows `g = decay * g + grad / ||grad||_1` (MIM).
    pub momentum: Option<f32>,
    /// A random transformation of the input through which the gradient is taken (DIM).
    pub diversity: Option<InputDiversity>,
    /// A smoothing of the gradient before the step (TI).
    pub smoothing: Option<GaussianSmoothing>,
}

crate::row_state! {
    /// The state of the first-order attacks: the accumulated gradient of each row (momentum)
    /// and the smoothing kernel (TI).
    pub struct AscentState {
        velocity: Option<Tensor<4>>,
        kernel: Shared<Option<SmoothingKernel>>,
        /// The clean logits of each row (KL loss).
        reference: Option<Tensor<2>>,
    }
}

impl GradientAscent {
    pub fn check(&self) -> Result<()> {
        let attack = self.info.name;
        if let Some(diversity) = &self.diversity {
            diversity.check(attack)?;
        }
        if let Some(smoothing) = &self.smoothing {
            smoothing.check(attack)?;
        }
        self.step_size.check(attack)
    }

    /// Uniform in each row's ball, or Gaussian noise of `start_std` when it is positive.
    fn random_start(&self, ctx: &Context) -> Tensor<4> {
        use rand_distr::{Distribution, Normal};
        let dims = ctx.images().dims();
        let len = dims[1] * dims[2] * dims[3];
        let values = (0..ctx.len())
            .flat_map(|row| {
                let mut rng = ctx.rng(row, 0);
                match Normal::new(0.0f32, self.start_std) {
                    Ok(normal) if self.start_std > 0.0 => (0..len)
                        .map(|_| normal.sample(&mut rng))
                        .collect::<Vec<_>>(),
                    _ => ctx
                        .norm()
                        .sample_ball(&mut rng, ctx.epsilon_values()[row], len),
                }
            })
            .collect();
        adv_core::floats_from(values, dims, &ctx.images().device())
    }
}

impl Iterative for GradientAscent {
    type Access = Gradients;
    type State = AscentState;

    fn info(&self) -> &'static AttackInfo {
        self.info
    }

    fn steps(&self) -> usize {
        self.steps
    }

    fn observes_input(&self) -> bool {
        self.diversity.is_none()
    }

    fn start(
        &self,
        ctx: &Context,
        model: &WhiteBox<'_>,
        _run: usize,
        _previous: Option<AscentState>,
    ) -> Result<Start<AscentState>> {
        let x0 = ctx.images().clone();
        let reference = match self.loss {
            AscentLoss::Kl if ctx.targets().is_some() => {
                return Err(AttackError::config(
                    self.info.name,
                    "the kl loss moves away from the clean prediction: it has no targeted version",
                ));
            }
            AscentLoss::Kl => Some(model.logits(x0.clone())?),
            _ => None,
        };
        let velocity = self.momentum.map(|_| x0.zeros_like());
        let kernel = Shared(
            self.smoothing
                .map(|smoothing| smoothing.kernel(x0.dims()[1], &x0.device())),
        );
        let state = AscentState {
            velocity,
            kernel,
            reference,
        };
        Ok(if self.random_start {
            Start {
                state,
                iterate: ctx.project(x0.clone() + self.random_start(ctx)),
                observed: Observed::Nothing,
            }
        } else {
            Start {
                state,
                iterate: x0,
                observed: Observed::Clean,
            }
        })
    }

    fn step(
        &self,
        ctx: &Context,
        model: &WhiteBox<'_>,
        state: &mut AscentState,
        x: Tensor<4>,
        info: StepInfo,
    ) -> Result<Step> {
        let goal_objective = |loss: Loss| ctx.objective(loss);
        let reference = state.reference.clone();
        let objective = |logits: Tensor<2>| match (self.loss, &reference) {
            (AscentLoss::Kl, Some(reference)) => adv_core::kl_divergence(reference.clone(), logits),
            (AscentLoss::Margin, _) => goal_objective(Loss::Margin)(logits),
            _ => goal_objective(Loss::CrossEntropy)(logits),
        };
        let (at_input, grad) = match &self.diversity {
            None => {
                let evaluated = model.value_and_grad(x.clone(), &objective)?;
                (Some(evaluated.logits), evaluated.grad)
            }
            Some(diversity) => {
                // The gradient is taken at a transformed input; the harness judges `x` itself.
                let transform = diversity.draw(ctx, info.step as u64 + 1);
                let evaluated = model.value_and_grad(transform.apply(x.clone()), &objective)?;
                (None, transform.pull_back(evaluated.grad))
            }
        };
        let grad = match &state.kernel.0 {
            Some(kernel) => kernel.smooth(grad),
            None => grad,
        };
        let grad = match (self.momentum, state.velocity.take()) {
            (Some(decay), Some(velocity)) => {
                let l1 = per_sample(Norm::L1.norms(grad.clone()).clamp_min(1e-12), &grad);
                let velocity = velocity.mul_scalar(decay) + grad / l1;
                state.velocity = Some(velocity.clone());
                velocity
            }
            _ => grad,
        };
        let step_lengths = per_sample(self.step_size.lengths(ctx.epsilons(), self.steps), &x);
        let direction = ctx.norm().ascent_direction(grad, self.l1_fraction);
        let next = ctx.project(x + direction * step_lengths);
        Ok(Step {
            at_input,
            ..Step::to(next)
        })
    }
}

impl std::fmt::Display for StepSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepSize::Auto => f.write_str("auto"),
            StepSize::EpsOverSteps => f.write_str("eps/steps"),
            StepSize::Absolute(value) => write!(f, "{value}"),
            StepSize::Relative(value) => write!(f, "{value}x"),
        }
    }
}

adv_core::text_option!(StepSize, "auto|eps/steps|ABS|RELx");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_size_parses() {
        assert_eq!("auto".parse::<StepSize>().unwrap(), StepSize::Auto);
        assert_eq!(
            "eps/steps".parse::<StepSize>().unwrap(),
            StepSize::EpsOverSteps
        );
        assert_eq!(
            "0.01".parse::<StepSize>().unwrap(),
            StepSize::Absolute(0.01)
        );
        assert_eq!(
            "0.25x".parse::<StepSize>().unwrap(),
            StepSize::Relative(0.25)
        );
        assert_eq!(
            "0.1*eps".parse::<StepSize>().unwrap(),
            StepSize::Relative(0.1)
        );
        assert_eq!(
            "2/255".parse::<StepSize>().unwrap(),
            StepSize::Absolute(2.0 / 255.0)
        );
        for text in ["auto", "eps/steps", "0.01", "0.25x"] {
            assert_eq!(text.parse::<StepSize>().unwrap().to_string(), text);
        }
        assert!("-1".parse::<StepSize>().is_err());
        assert!("fast".parse::<StepSize>().is_err());
    }
}
