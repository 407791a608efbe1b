//! The iterative first-order loop shared by FGSM, BIM, PGD, MIM, DIM and TI, generic over the
//! norm through three hooks: the random start, the steepest-ascent direction and the projection;
//! and extended by three optional ones: an input transformation whose gradient is taken (DIM),
//! a smoothing of the gradient (TI) and momentum on the normalized gradient (MIM).

use adv_core::burn::tensor::{Bool, Tensor};
use adv_core::{Classifier, Loss, per_sample, sample_rng};
use serde::{Deserialize, Serialize};

use crate::dim::InputDiversity;
use crate::ti::GaussianSmoothing;
use crate::{AttackError, AttackInput, Result, StepObserver};

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
    fn check(self, attack: &str) -> Result<()> {
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
        let step = match relative {
            Some(number) => StepSize::Relative(number.trim().parse().map_err(|_| bad())?),
            None => StepSize::Absolute(text.trim().parse().map_err(|_| bad())?),
        };
        step.check("step size")?;
        Ok(step)
    }
}

/// Implements [`crate::Attack`] for an attack struct whose `ascent` field runs the shared loop:
/// `ascent_attack!(Type, "name", &[norms])`.
macro_rules! ascent_attack {
    ($attack:ty, $name:literal, $norms:expr) => {
        impl $crate::Attack for $attack {
            fn name(&self) -> &'static str {
                $name
            }

            fn norms(&self) -> &'static [adv_core::Norm] {
                $norms
            }

            fn run(
                &self,
                model: &dyn adv_core::Classifier,
                input: &$crate::AttackInput,
                observer: &mut dyn $crate::StepObserver,
            ) -> $crate::Result<adv_core::burn::tensor::Tensor<4>> {
                self.ascent.run(model, input, observer)
            }
        }
    };
}
pub(crate) use ascent_attack;

/// Projected gradient ascent on a loss, inside the threat model's ball and box.
///
/// Keeps, for every sample, the first iterate that is adversarial (so a later step cannot undo
/// a success) and stops early once every sample is adversarial.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct GradientAscent {
    pub steps: usize,
    pub step_size: StepSize,
    pub random_start: bool,
    pub loss: Loss,
    pub l1_fraction: f32,
    /// Momentum decay: the ascent follows `g = decay * g + grad / ||grad||_1` (MIM).
    pub momentum: Option<f32>,
    /// A random transformation of the input through which the gradient is taken (DIM).
    pub diversity: Option<InputDiversity>,
    /// A smoothing of the gradient before the step (TI).
    pub smoothing: Option<GaussianSmoothing>,
}

impl GradientAscent {
    pub fn check(&self, attack: &str) -> Result<()> {
        if self.steps == 0 {
            return Err(AttackError::config(attack, "steps must be at least 1"));
        }
        if !(self.l1_fraction > 0.0 && self.l1_fraction <= 1.0) {
            return Err(AttackError::config(
                attack,
                format!("l1 fraction {} must be in (0, 1]", self.l1_fraction),
            ));
        }
        if let Some(decay) = self.momentum
            && !(decay.is_finite() && decay >= 0.0)
        {
            return Err(AttackError::config(
                attack,
                format!("decay {decay} must be finite and non-negative"),
            ));
        }
        if let Some(diversity) = &self.diversity {
            diversity.check(attack)?;
        }
        if let Some(smoothing) = &self.smoothing {
            smoothing.check(attack)?;
        }
        self.step_size.check(attack)
    }

    pub fn run(
        &self,
        model: &dyn Classifier,
        input: &AttackInput,
        observer: &mut dyn StepObserver,
    ) -> Result<Tensor<4>> {
        let norm = input.threat.norm;
        let x0 = input.images.clone();
        let step_lengths = per_sample(self.step_size.lengths(&input.epsilons, self.steps), &x0);
        let objective = |logits| {
            self.loss
                .objective(logits, &input.labels, input.targets.as_ref())
        };

        let mut x = if self.random_start {
            input.project(x0.clone() + self.random_start(input))
        } else {
            x0.clone()
        };
        let mut best = x.clone();
        let mut found = Tensor::<1, Bool>::full([x0.dims()[0]], false, &x0.device());
        let kernel = self
            .smoothing
            .map(|smoothing| smoothing.kernel(x0.dims()[1], &x0.device()));
        let mut velocity = x0.zeros_like();
        for step in 0..self.steps {
            let (logits, grad) = match &self.diversity {
                None => {
                    let evaluated = model.value_and_grad(x.clone(), &objective);
                    (evaluated.logits, evaluated.grad)
                }
                Some(diversity) => {
                    // The gradient is taken at a transformed input; success is judged at `x`.
                    let transform = diversity.draw(input, step as u64 + 1);
                    let evaluated = model.value_and_grad(transform.apply(x.clone()), &objective);
                    (
                        model.forward(x.clone()),
                        transform.pull_back(evaluated.grad),
                    )
                }
            };
            (best, found) = keep_first_success(input.is_adversarial(logits)?, &x, best, found);
            observer.on_step(step, &found);
            if found.clone().all().into_scalar::<bool>() {
                return Ok(best);
            }
            let grad = match &kernel {
                Some(kernel) => kernel.smooth(grad),
                None => grad,
            };
            let grad = match self.momentum {
                Some(decay) => {
                    let l1 = per_sample(
                        adv_core::Norm::L1.norms(grad.clone()).clamp_min(1e-12),
                        &grad,
                    );
                    velocity = velocity.mul_scalar(decay) + grad / l1;
                    velocity.clone()
                }
                None => grad,
            };
            let direction = norm.ascent_direction(grad, self.l1_fraction);
            x = input.project(x + direction * step_lengths.clone());
        }
        let adversarial = input.is_adversarial(model.forward(x.clone()))?;
        (best, found) = keep_first_success(adversarial, &x, best, found);
        observer.on_step(self.steps, &found);
        Ok(x.mask_where(per_sample(found, &best), best))
    }

    fn random_start(&self, input: &AttackInput) -> Tensor<4> {
        let dims = input.images.dims();
        let len = dims[1] * dims[2] * dims[3];
        let values = input
            .sample_ids
            .iter()
            .zip(input.epsilon_values)
            .flat_map(|(&id, &eps)| {
                input
                    .threat
                    .norm
                    .sample_ball(&mut sample_rng(input.seed, id, 0), eps, len)
            })
            .collect();
        adv_core::floats_from(values, dims, &input.images.device())
    }
}

/// Records `x` as the best example of the samples that became adversarial just now.
pub(crate) fn keep_first_success(
    adversarial: Tensor<1, Bool>,
    x: &Tensor<4>,
    best: Tensor<4>,
    found: Tensor<1, Bool>,
) -> (Tensor<4>, Tensor<1, Bool>) {
    let newly = adversarial.bool_and(found.clone().bool_not());
    let best = best.mask_where(per_sample(newly.clone(), x), x.clone());
    (best, found.bool_or(newly))
}

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
        assert!("-1".parse::<StepSize>().is_err());
        assert!("fast".parse::<StepSize>().is_err());
    }
}
