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

use adv_core::{Knowledge, Loss, Norm};

use crate::gradient::{GradientAscent, StepSize, ascent_attack};
use crate::{AttackError, AttackInfo, Result};

adv_core::options! {
    /// Configuration of [`Mim`].
    pub struct MimConfig {
        /// Number of gradient steps.
        steps: usize [Domain::AtLeast(1.0), Label::Value] = 10,
        /// Step length (default eps/steps).
        step_size: StepSize [Domain::Any, Label::Changed] = StepSize::EpsOverSteps,
        /// Decay factor mu of the accumulated gradient (0: BIM).
        decay: f32 [Domain::NonNegative, Label::Changed] = 1.0,
        /// The loss that is climbed: ce (cross-entropy) or cw (the logit margin).
        loss: Loss [Domain::Any, Label::ValueIfChanged] = Loss::CrossEntropy,
        /// For L1: fraction of coordinates moved per step (the largest gradient entries).
        l1_fraction: f32 [Domain::UnitAboveZero, Label::Changed] = 0.01,
    }
}

impl MimConfig {
    /// The attack, or an error if the configuration is invalid.
    pub fn init(&self) -> Result<Mim> {
        adv_core::Options::check_domains(self).map_err(|problem| AttackError::config(INFO.name, problem))?;
        let ascent = GradientAscent {
            info: &INFO,
            steps: self.steps,
            step_size: self.step_size,
            random_start: false,
            start_std: 0.0,
            loss: self.loss.into(),
            l1_fraction: self.l1_fraction,
            momentum: Some(self.decay),
            diversity: None,
            smoothing: None,
        };
        ascent.check()?;
        Ok(Mim { ascent })
    }
}

/// The momentum iterative method (Linf, L2, L1).
#[derive(Clone, Debug)]
pub struct Mim {
    ascent: GradientAscent,
}

ascent_attack!(Mim);

pub(crate) static INFO: AttackInfo = AttackInfo {
    name: "mim",
    aliases: &["mi-fgsm"],
    paper: "Dong et al., CVPR 2018",
    norms: &Norm::ALL,
    access: Knowledge::WhiteBox,
    targeted: true,
    minimizes_distance: false,
    config: adv_core::ConfigFns::of::<MimConfig>(),
    build: |settings| Ok(Box::new(adv_core::configure::<MimConfig>("mim", settings)?.init()?)),
};

pub(crate) const ATTACKS: &[&AttackInfo] = &[&INFO];

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
