//! Basic Iterative Method: iterated FGSM steps of a fixed length, each clipped back into the
//! epsilon-ball and the input box, starting at the clean input. Kurakin, Goodfellow & Bengio,
//! "Adversarial Examples in the Physical World", ICLR 2017 (workshop). It is PGD without the
//! random start.
//!
//! The paper takes `min(eps + 4, 1.25 eps)` steps of 1/255 on the 0–255 scale; the default here
//! is 10 steps of `eps / steps` (torchattacks' convention for the step count, the paper's idea
//! that the steps together just reach the sphere).
//!
//! ```
//! use adv_attacks::BimConfig;
//! let bim = BimConfig { steps: 20, ..Default::default() }.init().unwrap();
//! ```

use adv_core::{Loss, Norm};
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::gradient::{GradientAscent, StepSize, ascent_attack};

/// Configuration of [`Bim`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BimConfig {
    /// Number of gradient steps (at least 1).
    pub steps: usize,
    /// Length of each step.
    pub step_size: StepSize,
    /// The loss that is climbed.
    pub loss: Loss,
    /// For L1: fraction of coordinates moved per step (the largest gradient entries).
    pub l1_fraction: f32,
}

impl Default for BimConfig {
    fn default() -> Self {
        Self {
            steps: 10,
            step_size: StepSize::EpsOverSteps,
            loss: Loss::CrossEntropy,
            l1_fraction: 0.01,
        }
    }
}

impl BimConfig {
    /// The attack, or an error if the configuration is invalid.
    pub fn init(&self) -> Result<Bim> {
        let ascent = GradientAscent {
            steps: self.steps,
            step_size: self.step_size,
            random_start: false,
            loss: self.loss,
            l1_fraction: self.l1_fraction,
            momentum: None,
            diversity: None,
            smoothing: None,
        };
        ascent.check("bim")?;
        Ok(Bim { ascent })
    }
}

/// The basic iterative method (Linf, L2, L1).
#[derive(Clone, Debug)]
pub struct Bim {
    ascent: GradientAscent,
}

ascent_attack!(Bim, "bim", &Norm::ALL);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_configs_are_errors() {
        assert!(
            BimConfig {
                steps: 0,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        let bad_step = BimConfig {
            step_size: StepSize::Relative(f32::NAN),
            ..Default::default()
        };
        assert!(bad_step.init().is_err());
        assert!(
            BimConfig {
                l1_fraction: 1.5,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        assert!(BimConfig::default().init().is_ok());
    }
}
