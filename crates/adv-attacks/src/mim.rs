//! Momentum Iterative Method: iterated steps along the sign (Linf) or the normalized direction
//! (L2, L1) of an accumulated gradient `g = decay * g + grad / ||grad||_1`, each projected onto
//! the epsilon-ball and the box. Dong, Liao, Pang, Su, Zhu, Hu & Li, "Boosting Adversarial
//! Attacks with Momentum", CVPR 2018.
//!
//! Paper defaults: decay 1.0, 10 steps of `eps / steps`, no random start. With decay 0 the
//! attack is BIM.
//!
//! ```
//! use adv_attacks::MimConfig;
//! let mim = MimConfig { decay: 0.9, ..Default::default() }.init().unwrap();
//! ```

use adv_core::{Loss, Norm};
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::gradient::{GradientAscent, StepSize, ascent_attack};

/// Configuration of [`Mim`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MimConfig {
    /// Number of gradient steps (at least 1).
    pub steps: usize,
    /// Length of each step.
    pub step_size: StepSize,
    /// Decay factor `mu` of the accumulated gradient (finite, non-negative).
    pub decay: f32,
    /// The loss that is climbed.
    pub loss: Loss,
    /// For L1: fraction of coordinates moved per step (the largest gradient entries).
    pub l1_fraction: f32,
}

impl Default for MimConfig {
    fn default() -> Self {
        Self {
            steps: 10,
            step_size: StepSize::EpsOverSteps,
            decay: 1.0,
            loss: Loss::CrossEntropy,
            l1_fraction: 0.01,
        }
    }
}

impl MimConfig {
    /// The attack, or an error if the configuration is invalid.
    pub fn init(&self) -> Result<Mim> {
        let ascent = GradientAscent {
            steps: self.steps,
            step_size: self.step_size,
            random_start: false,
            loss: self.loss,
            l1_fraction: self.l1_fraction,
            momentum: Some(self.decay),
            diversity: None,
            smoothing: None,
        };
        ascent.check("mim")?;
        Ok(Mim { ascent })
    }
}

/// The momentum iterative method (Linf, L2, L1).
#[derive(Clone, Debug)]
pub struct Mim {
    ascent: GradientAscent,
}

ascent_attack!(Mim, "mim", &Norm::ALL);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_configs_are_errors() {
        assert!(
            MimConfig {
                steps: 0,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        assert!(
            MimConfig {
                decay: -0.5,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        assert!(
            MimConfig {
                decay: f32::INFINITY,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        assert!(
            MimConfig {
                decay: 0.0,
                ..Default::default()
            }
            .init()
            .is_ok()
        );
        assert!(MimConfig::default().init().is_ok());
    }
}
