//! Fast Gradient (Sign) Method: one step of length epsilon along the steepest-ascent direction
//! of the loss. Goodfellow, Shlens & Szegedy, "Explaining and Harnessing Adversarial Examples",
//! ICLR 2015. For Linf this is `x + eps * sign(grad)`; for L2 the "fast gradient method"
//! `x + eps * grad / ||grad||`.

use adv_core::{Loss, Norm};
use serde::{Deserialize, Serialize};

use crate::gradient::{GradientAscent, StepSize, ascent_attack};

/// Configuration of [`Fgsm`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FgsmConfig {
    /// The loss whose gradient is followed.
    pub loss: Loss,
}

impl FgsmConfig {
    /// The attack.
    pub fn init(&self) -> Fgsm {
        Fgsm {
            ascent: GradientAscent {
                steps: 1,
                step_size: StepSize::Relative(1.0),
                random_start: false,
                loss: self.loss,
                l1_fraction: 1.0,
                momentum: None,
                diversity: None,
                smoothing: None,
            },
        }
    }
}

/// The fast gradient sign method (Linf) and fast gradient method (L2).
#[derive(Clone, Debug)]
pub struct Fgsm {
    ascent: GradientAscent,
}

ascent_attack!(Fgsm, "fgsm", &[Norm::Linf, Norm::L2]);
