//! Fast Gradient (Sign) Method: one step of length epsilon along the steepest-ascent direction
//! of the loss. Goodfellow, Shlens & Szegedy, "Explaining and Harnessing Adversarial Examples",
//! ICLR 2015. For Linf this is `x + eps * sign(grad)`; for L2 the "fast gradient method"
//! `x + eps * grad / ||grad||`.
//!
//! ```
//! use adv_attacks::FgsmConfig;
//! let fgsm = FgsmConfig::default().init().unwrap();
//! ```

use adv_core::{Knowledge, Loss, Norm};

use crate::gradient::{GradientAscent, StepSize, ascent_attack};
use crate::{AttackError, AttackInfo, Result};

adv_core::options! {
    /// Configuration of [`Fgsm`].
    pub struct FgsmConfig {
        /// The loss that is climbed: ce (cross-entropy) or cw (the logit margin).
        loss: Loss [Domain::Any, Label::ValueIfChanged] = Loss::CrossEntropy,
    }
}

impl FgsmConfig {
    /// The attack, or an error if the configuration is invalid.
    pub fn init(&self) -> Result<Fgsm> {
        adv_core::Options::check_domains(self).map_err(|problem| AttackError::config(INFO.name, problem))?;
        let ascent = GradientAscent {
            info: &INFO,
            steps: 1,
            step_size: StepSize::Relative(1.0),
            random_start: false,
            start_std: 0.0,
            loss: self.loss.into(),
            l1_fraction: 1.0,
            momentum: None,
            diversity: None,
            smoothing: None,
        };
        ascent.check()?;
        Ok(Fgsm { ascent })
    }
}

/// The fast gradient sign method (Linf) and fast gradient method (L2).
#[derive(Clone, Debug)]
pub struct Fgsm {
    ascent: GradientAscent,
}

ascent_attack!(Fgsm);

pub(crate) static INFO: AttackInfo = AttackInfo {
    name: "fgsm",
    aliases: &["fgm"],
    paper: "Goodfellow, Shlens & Szegedy, ICLR 2015",
    norms: &[Norm::Linf, Norm::L2],
    access: Knowledge::WhiteBox,
    targeted: true,
    minimizes_distance: false,
    config: adv_core::ConfigFns::of::<FgsmConfig>(),
    build: |settings| Ok(Box::new(adv_core::configure::<FgsmConfig>("fgsm", settings)?.init()?)),
};

pub(crate) const ATTACKS: &[&AttackInfo] = &[&INFO];
