//! Center loss: the softmax cross-entropy of the linear head plus `lambda / 2` times the squared
//! distance of each feature to its class's learned center. Wen, Zhang, Li & Qiao, "A
//! Discriminative Feature Learning Approach for Deep Face Recognition", ECCV 2016 (a baseline
//! of the MMC paper).
//!
//! The centers are parameters of the network, learned by the same optimizer (the paper updates
//! them by their own rule with rate alpha); prediction is the linear head's. lambda 0.01 (the
//! paper tunes it per task; not checked against the MMC paper's table).

use adv_attacks::StepSize;
use adv_core::Norm;
use adv_models::{CenterLogits, Centers, ModelConfig};

use crate::center_heads::{Adversarial, centered, own_squared_distance};
use crate::crafting::BnMode;
use crate::objective::configure;
use crate::{Objective, ObjectiveInfo, Result, StepContext, StepLoss, smoothed_cross_entropy};

adv_core::options! {
    /// Configuration of [`CenterLoss`].
    pub struct CenterLossConfig {
        /// Weight of the center term.
        lambda: f32 [Domain::NonNegative, Label::Value] = 0.01,
        /// Train on PGD examples.
        adversarial: bool [Domain::Any, Label::Changed] = false,
        /// Radius (Linf) of the training examples.
        eps: f32 [Domain::Positive, Label::Changed] = 8.0 / 255.0,
        /// PGD steps.
        steps: usize [Domain::AtLeast(1.0), Label::Changed] = 10,
        /// PGD step length.
        step_size: StepSize [Domain::Any, Label::Changed] = StepSize::Relative(0.25),
        /// Craft towards uniformly random other labels.
        targeted: bool [Domain::Any, Label::Changed] = false,
        /// Batch statistics while crafting: eval or train.
        bn: BnMode [Domain::Any, Label::Changed] = BnMode::Eval,
    }
}

/// The center loss.
pub struct CenterLoss {
    lambda: f32,
    adversarial: Adversarial,
}

impl CenterLossConfig {
    /// The objective.
    pub fn init(&self) -> Result<CenterLoss> {
        Ok(CenterLoss {
            lambda: self.lambda,
            adversarial: Adversarial::new(self.adversarial, self.eps, self.steps, self.step_size, self.targeted, self.bn)?,
        })
    }
}

pub(crate) static INFO: ObjectiveInfo = ObjectiveInfo {
    name: "center-loss",
    aliases: &[],
    paper: "Wen et al., ECCV 2016",
    config: adv_core::ConfigFns::of::<CenterLossConfig>(),
    build: |settings| Ok(Box::new(configure::<CenterLossConfig>("center-loss", settings)?.init()?)),
};

pub(crate) const OBJECTIVES: &[&ObjectiveInfo] = &[&INFO];

impl Objective for CenterLoss {
    fn info(&self) -> &'static ObjectiveInfo {
        &INFO
    }

    fn architecture(&self, base: &ModelConfig) -> Result<ModelConfig> {
        centered(base, Centers::Learned { scale: 1.0, seed: 0 }, CenterLogits::BackboneHead, 0)
    }

    fn radius(&self) -> Option<(Norm, f32)> {
        self.adversarial.radius()
    }

    fn loss(&mut self, model: &adv_models::Model, batch: &adv_core::Batch, step: &StepContext) -> Result<StepLoss> {
        let images = self.adversarial.images(model, batch, step)?;
        let features = model.features(images);
        let logits = model.head(features.clone());
        let pull = own_squared_distance(model, features, batch.labels.clone())?.mean();
        let loss = smoothed_cross_entropy(logits.clone(), batch.labels.clone(), step.label_smoothing)
            + pull.mul_scalar(0.5 * self.lambda);
        Ok(StepLoss { loss, logits })
    }
}
