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

use adv_core::{Knowledge, Loss, Norm};

use crate::gradient::{GradientAscent, StepSize, ascent_attack};
use crate::{AttackError, AttackInfo, Result};

adv_core::options! {
    /// Configuration of [`Bim`].
    pub struct BimConfig {
        /// Number of gradient steps.
        steps: usize [Domain::AtLeast(1.0), Label::Value] = 10,
        /// Step length: eps/steps (the steps together reach the sphere), auto, an absolute
        /// value, or a multiple of epsilon such as 0.25x.
        step_size: StepSize [Domain::Any, Label::Changed] = StepSize::EpsOverSteps,
        /// The loss that is climbed: ce (cross-entropy) or cw (the logit margin).
        loss: Loss [Domain::Any, Label::ValueIfChanged] = Loss::CrossEntropy,
        /// For L1: fraction of coordinates moved per step (the largest gradient entries).
        l1_fraction: f32 [Domain::UnitAboveZero, Label::Changed] = 0.01,
    }
}

impl BimConfig {
    /// The attack, or an error if the configuration is invalid.
    pub fn init(&self) -> Result<Bim> {
        adv_core::Options::check_domains(self).map_err(|problem| AttackError::config(INFO.name, problem))?;
        let ascent = GradientAscent {
            info: &INFO,
            steps: self.steps,
            step_size: self.step_size,
            random_start: false,
            start_std: 0.0,
            loss: self.loss.into(),
            l1_fraction: self.l1_fraction,
            momentum: None,
            diversity: None,
            smoothing: None,
        };
        ascent.check()?;
        Ok(Bim { ascent })
    }
}

/// The basic iterative method (Linf, L2, L1).
#[derive(Clone, Debug)]
pub struct Bim {
    ascent: GradientAscent,
}

ascent_attack!(Bim);

pub(crate) static INFO: AttackInfo = AttackInfo {
    name: "bim",
    aliases: &["i-fgsm"],
    paper: "Kurakin, Goodfellow & Bengio, ICLR 2017 (workshop)",
    norms: &Norm::ALL,
    access: Knowledge::WhiteBox,
    targeted: true,
    minimizes_distance: false,
    config: adv_core::ConfigFns::of::<BimConfig>(),
    build: |settings| Ok(Box::new(adv_core::configure::<BimConfig>("bim", settings)?.init()?)),
};

pub(crate) const ATTACKS: &[&AttackInfo] = &[&INFO];

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
