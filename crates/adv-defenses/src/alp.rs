//! Adversarial logit pairing: mixed clean and adversarial cross-entropy plus `lambda` times the
//! squared L2 distance between the logits of each clean example and its adversarial one.
//! Kannan, Kurakin & Goodfellow, "Adversarial Logit Pairing", 2018 (a baseline of the ADT
//! paper).
//!
//! Defaults: PGD as [`crate::PgdAtConfig`] (Linf 8/255, 10 steps of eps/4, uniform start),
//! half the cross-entropy on clean and half on adversarial examples (the paper's mixed
//! minibatch), `lambda` 0.5 on the mean squared logit distance. The paper tunes lambda per data
//! set; 0.5 was not checked against its tables.

use adv_attacks::{AttackConfig, StepSize};
use adv_core::{Norm, Setting};

use crate::crafting::{BnMode, Crafter};
use crate::objective::configure;
use crate::{Objective, ObjectiveInfo, Result, StepContext, StepLoss, smoothed_cross_entropy};

adv_core::options! {
    /// Configuration of [`Alp`].
    pub struct AlpConfig {
        /// Weight of the logit pairing term.
        lambda: f32 [Domain::NonNegative, Label::Value] = 0.5,
        /// Weight of the adversarial cross-entropy; 1 - mix goes to the clean one.
        mix: f32 [Domain::Unit, Label::Changed] = 0.5,
        /// Radius of the training examples.
        eps: f32 [Domain::Positive, Label::Changed] = 8.0 / 255.0,
        /// Norm of the radius.
        norm: Norm [Domain::Any, Label::Changed] = Norm::Linf,
        /// PGD steps.
        steps: usize [Domain::AtLeast(1.0), Label::Changed] = 10,
        /// PGD step length.
        step_size: StepSize [Domain::Any, Label::Changed] = StepSize::Relative(0.25),
        /// Batch statistics while crafting: eval or train.
        bn: BnMode [Domain::Any, Label::Changed] = BnMode::Eval,
    }
}

/// Adversarial logit pairing.
pub struct Alp {
    crafter: Crafter,
    lambda: f32,
    mix: f32,
}

impl AlpConfig {
    /// The objective, or an error if the configuration is invalid.
    pub fn init(&self) -> Result<Alp> {
        let attack = AttackConfig::new(
            "pgd",
            &[
                Setting::new("steps", self.steps.to_string()),
                Setting::new("step-size", self.step_size.to_string()),
            ],
        )?;
        Ok(Alp {
            crafter: Crafter::new(&attack, self.norm, self.eps, false, self.bn)?,
            lambda: self.lambda,
            mix: self.mix,
        })
    }
}

pub(crate) static INFO: ObjectiveInfo = ObjectiveInfo {
    name: "alp",
    aliases: &[],
    paper: "Kannan, Kurakin & Goodfellow, 2018",
    config: adv_core::ConfigFns::of::<AlpConfig>(),
    build: |settings| Ok(Box::new(configure::<AlpConfig>("alp", settings)?.init()?)),
};

pub(crate) const OBJECTIVES: &[&ObjectiveInfo] = &[&INFO];

impl Objective for Alp {
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
        let clean = model.forward(batch.images.clone());
        let labels = batch.labels.clone();
        let smoothing = step.label_smoothing;
        let pairing = (clean.clone() - logits.clone()).square().sum_dim(1).mean();
        let loss = smoothed_cross_entropy(logits.clone(), labels.clone(), smoothing).mul_scalar(self.mix)
            + smoothed_cross_entropy(clean, labels, smoothing).mul_scalar(1.0 - self.mix)
            + pairing.mul_scalar(self.lambda);
        Ok(StepLoss { loss, logits })
    }
}
