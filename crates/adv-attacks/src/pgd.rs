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

use adv_core::{Knowledge, Norm};

use crate::gradient::{AscentLoss, GradientAscent, StepSize, ascent_attack};
use crate::{AttackError, AttackInfo, Result};

adv_core::options! {
    /// Configuration of [`Pgd`].
    pub struct PgdConfig {
        /// Number of gradient steps.
        steps: usize [Domain::AtLeast(1.0), Label::Value] = 10,
        /// Step length: auto (2.5 eps / steps), eps/steps, an absolute value, or a multiple of
        /// epsilon such as 0.25x.
        step_size: StepSize [Domain::Any, Label::Changed] = StepSize::Auto,
        /// Start from a random point instead of the clean input.
        random_start: bool [Domain::Any, Label::Changed] = true,
        /// Standard deviation of a Gaussian random start (TRADES: 0.001); 0 draws it uniformly in the ball.
        start_std: f32 [Domain::NonNegative, Label::Changed] = 0.0,
        /// The loss that is climbed: ce (cross-entropy), cw (the logit margin) or kl (TRADES' divergence from the clean prediction, untargeted).
        loss: AscentLoss [Domain::Any, Label::ValueIfChanged] = AscentLoss::CrossEntropy,
        /// For L1: fraction of coordinates moved per step (the largest gradient entries).
        l1_fraction: f32 [Domain::UnitAboveZero, Label::Changed] = 0.01,
    }
}

impl PgdConfig {
    /// The attack, or an error if the configuration is invalid.
    pub fn init(&self) -> Result<Pgd> {
        adv_core::Options::check_domains(self).map_err(|problem| AttackError::config(INFO.name, problem))?;
        let ascent = GradientAscent {
            info: &INFO,
            steps: self.steps,
            step_size: self.step_size,
            random_start: self.random_start,
            start_std: self.start_std,
            loss: self.loss,
            l1_fraction: self.l1_fraction,
            momentum: None,
            diversity: None,
            smoothing: None,
        };
        ascent.check()?;
        Ok(Pgd { ascent })
    }
}

/// Projected gradient descent (Linf, L2, L1).
#[derive(Clone, Debug)]
pub struct Pgd {
    ascent: GradientAscent,
}

ascent_attack!(Pgd);

pub(crate) static INFO: AttackInfo = AttackInfo {
    name: "pgd",
    aliases: &[],
    paper: "Madry et al., ICLR 2018",
    norms: &Norm::ALL,
    access: Knowledge::WhiteBox,
    targeted: true,
    minimizes_distance: false,
    config: adv_core::ConfigFns::of::<PgdConfig>(),
    build: |settings| Ok(Box::new(adv_core::configure::<PgdConfig>("pgd", settings)?.init()?)),
};

pub(crate) const ATTACKS: &[&AttackInfo] = &[&INFO];

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
