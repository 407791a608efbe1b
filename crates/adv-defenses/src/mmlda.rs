//! MMLDA: the softmax cross-entropy of the Max-Mahalanobis logits `-||z - mu_k||^2` with the
//! fixed centers of [`crate::MmcConfig`] (Pang, Du & Zhu, ICML 2018; the MMC paper's baseline,
//! `use_ball=False` in its code). Options as MMC's.

use adv_attacks::StepSize;
use adv_core::Norm;
use adv_models::{CenterLogits, ModelConfig};

use crate::center_heads::{Adversarial, centered};
use crate::crafting::BnMode;
use crate::objective::configure;
use crate::{MmcConfig, Objective, ObjectiveInfo, Result, StepContext, StepLoss, smoothed_cross_entropy};

adv_core::options! {
    /// Configuration of [`Mmlda`].
    pub struct MmldaConfig {
        /// C_MM, the norm of every center.
        radius: f32 [Domain::Positive, Label::Value] = 10.0,
        /// Draw the centers uniformly on the sphere instead of the Max-Mahalanobis simplex.
        random_centers: bool [Domain::Any, Label::Changed] = false,
        /// Dimension of the dense feature layer the centers are compared with (the reference's
        /// 256); 0 compares the backbone's own features.
        feature_dim: usize [Domain::Any, Label::Changed] = 256,
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

/// The MMLDA loss.
pub struct Mmlda {
    config: MmldaConfig,
    adversarial: Adversarial,
}

impl MmldaConfig {
    /// The objective.
    pub fn init(&self) -> Result<Mmlda> {
        Ok(Mmlda {
            adversarial: Adversarial::new(self.adversarial, self.eps, self.steps, self.step_size, self.targeted, self.bn)?,
            config: self.clone(),
        })
    }
}

pub(crate) static INFO: ObjectiveInfo = ObjectiveInfo {
    name: "mmlda",
    aliases: &[],
    paper: "Pang, Du & Zhu, ICML 2018 (Max-Mahalanobis LDA)",
    config: adv_core::ConfigFns::of::<MmldaConfig>(),
    build: |settings| Ok(Box::new(configure::<MmldaConfig>("mmlda", settings)?.init()?)),
};

pub(crate) const OBJECTIVES: &[&ObjectiveInfo] = &[&INFO];

impl Objective for Mmlda {
    fn info(&self) -> &'static ObjectiveInfo {
        &INFO
    }

    fn architecture(&self, base: &ModelConfig) -> Result<ModelConfig> {
        let centers = MmcConfig::centers(self.config.radius, self.config.random_centers, 0);
        centered(base, centers, CenterLogits::NegativeSquaredDistance, self.config.feature_dim)
    }

    fn radius(&self) -> Option<(Norm, f32)> {
        self.adversarial.radius()
    }

    fn loss(&mut self, model: &adv_models::Model, batch: &adv_core::Batch, step: &StepContext) -> Result<StepLoss> {
        let images = self.adversarial.images(model, batch, step)?;
        let logits = model.forward(images);
        Ok(StepLoss {
            loss: smoothed_cross_entropy(logits.clone(), batch.labels.clone(), step.label_smoothing),
            logits,
        })
    }
}
