//! The iterative first-order loop shared by FGSM, BIM and PGD, generic over the norm through
//! three hooks: the random start, the steepest-ascent direction and the projection.

use adv_core::burn::tensor::{Bool, Tensor};
use adv_core::{Classifier, Loss, per_sample, sample_rng};
use serde::{Deserialize, Serialize};

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
        }
    }
}

impl std::str::FromStr for StepSize {
    type Err = AttackError;

    /// `auto`, a number (absolute), or a number followed by `x` or `*eps` (relative).
    fn from_str(text: &str) -> Result<Self> {
        let bad = || AttackError::config("step size", format!("cannot read '{text}'"));
        if text == "auto" {
            return Ok(StepSize::Auto);
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
        let objective = |logits| self.loss.objective(logits, &input.labels, input.targets.as_ref());

        let mut x = if self.random_start {
            input.project(x0.clone() + self.random_start(input))
        } else {
            x0.clone()
        };
        let mut best = x.clone();
        let mut found = Tensor::<1, Bool>::full([x0.dims()[0]], false, &x0.device());
        for step in 0..self.steps {
            let evaluated = model.value_and_grad(x.clone(), &objective);
            (best, found) = keep_first_success(input.is_adversarial(evaluated.logits)?, &x, best, found);
            observer.on_step(step, &found);
            if found.clone().all().into_scalar::<bool>() {
                return Ok(best);
            }
            let direction = norm.ascent_direction(evaluated.grad, self.l1_fraction);
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
fn keep_first_success(
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
        assert_eq!("0.01".parse::<StepSize>().unwrap(), StepSize::Absolute(0.01));
        assert_eq!("0.25x".parse::<StepSize>().unwrap(), StepSize::Relative(0.25));
        assert_eq!("0.1*eps".parse::<StepSize>().unwrap(), StepSize::Relative(0.1));
        assert!("-1".parse::<StepSize>().is_err());
        assert!("fast".parse::<StepSize>().is_err());
    }
}
