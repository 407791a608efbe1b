//! Projected Gradient Descent: iterated gradient steps on the loss, each projected back onto
//! the epsilon-ball and the input box, from a uniformly random start in the ball. Madry,
//! Makelov, Schmidt, Tsipras & Vladu, "Towards Deep Learning Models Resistant to Adversarial
//! Attacks", ICLR 2018. Without the random start this is BIM (Kurakin et al. 2017).
//!
//! Defaults follow torchattacks: 10 steps of `2.5 * eps / steps` (2/255 at eps 8/255).
//! With [`Loss::Margin`] it is the "CW" PGD of leaderboards.
//!
//! ```
//! use adv_attacks::{PgdConfig, StepSize};
//! let pgd = PgdConfig { steps: 20, step_size: StepSize::Absolute(2.0 / 255.0), ..Default::default() }
//!     .init()
//!     .unwrap();
//! ```

use adv_core::{Loss, Norm};
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::gradient::{GradientAscent, StepSize, ascent_attack};

/// Configuration of [`Pgd`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PgdConfig {
    /// Number of gradient steps (at least 1).
    pub steps: usize,
    /// Length of each step.
    pub step_size: StepSize,
    /// Start from a uniformly random point of the ball instead of the clean input.
    pub random_start: bool,
    /// The loss that is climbed.
    pub loss: Loss,
    /// For L1: fraction of coordinates moved per step (the largest gradient entries).
    pub l1_fraction: f32,
}

impl Default for PgdConfig {
    fn default() -> Self {
        Self {
            steps: 10,
            step_size: StepSize::Auto,
            random_start: true,
            loss: Loss::CrossEntropy,
            l1_fraction: 0.01,
        }
    }
}

impl PgdConfig {
    /// The attack, or an error if the configuration is invalid.
    pub fn init(&self) -> Result<Pgd> {
        let ascent = GradientAscent {
            steps: self.steps,
            step_size: self.step_size,
            random_start: self.random_start,
            loss: self.loss,
            l1_fraction: self.l1_fraction,
            momentum: None,
            diversity: None,
            smoothing: None,
        };
        ascent.check("pgd")?;
        Ok(Pgd { ascent })
    }
}

/// Projected gradient descent (Linf, L2, L1).
#[derive(Clone, Debug)]
pub struct Pgd {
    ascent: GradientAscent,
}

ascent_attack!(Pgd, "pgd", &Norm::ALL);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_configs_are_errors() {
        assert!(
            PgdConfig {
                steps: 0,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        let bad_step = PgdConfig {
            step_size: StepSize::Absolute(-0.1),
            ..Default::default()
        };
        assert!(bad_step.init().is_err());
        assert!(
            PgdConfig {
                l1_fraction: 0.0,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        assert!(PgdConfig::default().init().is_ok());
    }
}
