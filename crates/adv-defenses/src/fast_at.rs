//! Fast adversarial training: one FGSM step of `alpha` from a uniformly random start in the
//! ball, projected back onto it and into the box. Wong, Rice & Kolter, "Fast is better than
//! free: Revisiting adversarial training", ICLR 2020.
//!
//! As the reference (locuslab/fast_adversarial, `CIFAR10/train_fgsm.py`): Linf 8/255, alpha
//! 10/255 (1.25 eps), batch norms in train mode while crafting, only adversarial examples; train
//! it with the cyclic learning rate (`schedule = cyclic`, peak 0.2 for 15 epochs in the
//! reference) and watch for catastrophic overfitting (early stopping on the held-out robust
//! accuracy keeps the best epoch).

use adv_attacks::{AttackConfig, StepSize};
use adv_core::{Norm, Setting};

use crate::crafting::{BnMode, Crafter};
use crate::objective::configure;
use crate::{Objective, ObjectiveInfo, Result, StepContext, StepLoss, smoothed_cross_entropy};

adv_core::options! {
    /// Configuration of [`FastAt`].
    pub struct FastAtConfig {
        /// Radius of the training examples.
        eps: f32 [Domain::Positive, Label::Value] = 8.0 / 255.0,
        /// Norm of the radius.
        norm: Norm [Domain::Any, Label::Changed] = Norm::Linf,
        /// The FGSM step (a multiple of epsilon, or absolute).
        alpha: StepSize [Domain::Any, Label::Changed] = StepSize::Relative(1.25),
        /// Batch statistics while crafting: eval or train.
        bn: BnMode [Domain::Any, Label::Changed] = BnMode::Train,
    }
}

/// Fast (FGSM with random start) adversarial training.
pub struct FastAt {
    crafter: Crafter,
}

impl FastAtConfig {
    /// The objective, or an error if the configuration is invalid.
    pub fn init(&self) -> Result<FastAt> {
        let attack = AttackConfig::new(
            "pgd",
            &[
                Setting::new("steps", "1"),
                Setting::new("step-size", self.alpha.to_string()),
                Setting::new("random-start", "true"),
            ],
        )?;
        Ok(FastAt {
            crafter: Crafter::new(&attack, self.norm, self.eps, false, self.bn)?,
        })
    }
}

pub(crate) static INFO: ObjectiveInfo = ObjectiveInfo {
    name: "fast-at",
    aliases: &["fast"],
    paper: "Wong, Rice & Kolter, ICLR 2020",
    config: adv_core::ConfigFns::of::<FastAtConfig>(),
    build: |settings| Ok(Box::new(configure::<FastAtConfig>("fast-at", settings)?.init()?)),
};

pub(crate) const OBJECTIVES: &[&ObjectiveInfo] = &[&INFO];

impl Objective for FastAt {
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
        Ok(StepLoss {
            loss: smoothed_cross_entropy(logits.clone(), batch.labels.clone(), step.label_smoothing),
            logits,
        })
    }
}
