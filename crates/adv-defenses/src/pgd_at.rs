//! PGD adversarial training: the cross-entropy of examples crafted by PGD on the model as it is
//! at each step. Madry, Makelov, Schmidt, Tsipras & Vladu, "Towards Deep Learning Models
//! Resistant to Adversarial Attacks", ICLR 2018.
//!
//! Defaults from the reference configuration (MadryLab/cifar10_challenge): Linf 8/255, 10 steps
//! of 2/255 (a quarter of epsilon), a uniform random start, untargeted, only adversarial
//! examples in the batch (`mix` 1); the batch norms use their running statistics while crafting
//! (`bn = eval`, the bag of tricks' recommendation; Madry's code crafts in train mode).
//! `targeted = true` crafts towards uniformly random other labels, as the MMC paper's AT(MMC).
//!
//! ```
//! use adv_defenses::ObjectiveConfig;
//! let pgd_at = ObjectiveConfig::parse("pgd-at:eps=0.1,steps=7").unwrap();
//! ```

use adv_attacks::{AttackConfig, StepSize};
use adv_core::{Norm, Setting};

use crate::crafting::{BnMode, Crafter};
use crate::objective::configure;
use crate::{Objective, ObjectiveInfo, Result, StepContext, StepLoss, smoothed_cross_entropy};

adv_core::options! {
    /// Configuration of [`PgdAt`].
    pub struct PgdAtConfig {
        /// Radius of the training examples.
        eps: f32 [Domain::Positive, Label::Value] = 8.0 / 255.0,
        /// Norm of the radius.
        norm: Norm [Domain::Any, Label::Changed] = Norm::Linf,
        /// PGD steps.
        steps: usize [Domain::AtLeast(1.0), Label::Changed] = 10,
        /// PGD step length (a multiple of epsilon such as 0.25x, or absolute).
        step_size: StepSize [Domain::Any, Label::Changed] = StepSize::Relative(0.25),
        /// Start PGD at a uniformly random point of the ball.
        random_start: bool [Domain::Any, Label::Changed] = true,
        /// Craft towards uniformly random other labels instead of away from the true one.
        targeted: bool [Domain::Any, Label::Changed] = false,
        /// Batch statistics while crafting: eval (running statistics) or train.
        bn: BnMode [Domain::Any, Label::Changed] = BnMode::Eval,
        /// Weight of the adversarial loss; 1 - mix goes to the clean loss (Goodfellow et al.: 0.5).
        mix: f32 [Domain::Unit, Label::Changed] = 1.0,
    }
}

/// PGD adversarial training.
pub struct PgdAt {
    crafter: Crafter,
    mix: f32,
}

impl PgdAtConfig {
    /// The objective, or an error if the configuration is invalid.
    pub fn init(&self) -> Result<PgdAt> {
        let attack = AttackConfig::new(
            "pgd",
            &[
                Setting::new("steps", self.steps.to_string()),
                Setting::new("step-size", self.step_size.to_string()),
                Setting::new("random-start", self.random_start.to_string()),
            ],
        )?;
        Ok(PgdAt {
            crafter: Crafter::new(&attack, self.norm, self.eps, self.targeted, self.bn)?,
            mix: self.mix,
        })
    }
}

pub(crate) static INFO: ObjectiveInfo = ObjectiveInfo {
    name: "pgd-at",
    aliases: &["madry"],
    paper: "Madry et al., ICLR 2018",
    config: adv_core::ConfigFns::of::<PgdAtConfig>(),
    build: |settings| Ok(Box::new(configure::<PgdAtConfig>("pgd-at", settings)?.init()?)),
};

pub(crate) const OBJECTIVES: &[&ObjectiveInfo] = &[&INFO];

impl Objective for PgdAt {
    fn info(&self) -> &'static ObjectiveInfo {
        &INFO
    }

    fn radius(&self) -> Option<(Norm, f32)> {
        Some(self.crafter.radius())
    }

    fn loss(
        &mut self,
        model: &adv_models::Model,
        batch: &adv_core::Batch,
        step: &StepContext,
    ) -> Result<StepLoss> {
        let adversarial = self.crafter.craft(model, batch, step)?;
        let logits = model.forward(adversarial);
        let mut loss = smoothed_cross_entropy(logits.clone(), batch.labels.clone(), step.label_smoothing)
            .mul_scalar(self.mix);
        if self.mix < 1.0 {
            let clean = model.forward(batch.images.clone());
            loss = loss
                + smoothed_cross_entropy(clean, batch.labels.clone(), step.label_smoothing)
                    .mul_scalar(1.0 - self.mix);
        }
        Ok(StepLoss { loss, logits })
    }
}
