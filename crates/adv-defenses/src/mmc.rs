//! MMC: the Max-Mahalanobis center loss. Pang, Xu, Dong, Du, Chen & Zhu, "Rethinking Softmax
//! Cross-Entropy Loss for Adversarial Robustness", ICLR 2020; the centers of Pang, Du & Zhu,
//! "Max-Mahalanobis Linear Discriminant Analysis Networks", ICML 2018.
//!
//! The softmax head is replaced by fixed centers `mu_k` of norm `C_MM` spread as a regular
//! simplex; the loss pulls each feature onto its class center, `||z - mu_y||^2` (the reference
//! code's convention, the paper's halved), and the prediction is the nearest center (logits
//! `-||z - mu_k||^2`). Defaults as the reference (P2333/Max-Mahalanobis-Training): `C_MM` 10, the
//! features a 256-dimensional dense layer on the backbone's (`feature-dim`; 0 for none);
//! `random-centers` draws the centers uniformly on the sphere instead (the paper's baseline);
//! `adversarial` trains on PGD examples (AT(MMC)), by default towards uniformly random labels as
//! the reference's AT-MMC, Linf 8/255, 10 steps of eps/4.

use adv_attacks::StepSize;
use adv_core::Norm;
use adv_models::{CenterLogits, Centers, ModelConfig};

use crate::center_heads::{Adversarial, centered, own_squared_distance};
use crate::crafting::BnMode;
use crate::objective::configure;
use crate::{Objective, ObjectiveInfo, Result, StepContext, StepLoss};

adv_core::options! {
    /// Configuration of [`Mmc`].
    pub struct MmcConfig {
        /// C_MM, the norm of every center.
        radius: f32 [Domain::Positive, Label::Value] = 10.0,
        /// Draw the centers uniformly on the sphere instead of the Max-Mahalanobis simplex.
        random_centers: bool [Domain::Any, Label::Changed] = false,
        /// Dimension of the dense feature layer the centers are compared with (the reference's
        /// 256); 0 compares the backbone's own features.
        feature_dim: usize [Domain::Any, Label::Changed] = 256,
        /// Train on PGD examples (AT(MMC)).
        adversarial: bool [Domain::Any, Label::Changed] = false,
        /// Radius (Linf) of the training examples.
        eps: f32 [Domain::Positive, Label::Changed] = 8.0 / 255.0,
        /// PGD steps.
        steps: usize [Domain::AtLeast(1.0), Label::Changed] = 10,
        /// PGD step length.
        step_size: StepSize [Domain::Any, Label::Changed] = StepSize::Relative(0.25),
        /// Craft towards uniformly random other labels.
        targeted: bool [Domain::Any, Label::Changed] = true,
        /// Batch statistics while crafting: eval or train.
        bn: BnMode [Domain::Any, Label::Changed] = BnMode::Eval,
    }
}

/// The MMC loss.
pub struct Mmc {
    config: MmcConfig,
    adversarial: Adversarial,
}

impl MmcConfig {
    /// The objective.
    pub fn init(&self) -> Result<Mmc> {
        Ok(Mmc {
            adversarial: Adversarial::new(self.adversarial, self.eps, self.steps, self.step_size, self.targeted, self.bn)?,
            config: self.clone(),
        })
    }

    /// The centers of the configuration.
    pub(crate) fn centers(radius: f32, random: bool, seed: u64) -> Centers {
        if random {
            Centers::Random { radius, seed }
        } else {
            Centers::MaxMahalanobis { radius }
        }
    }
}

pub(crate) static INFO: ObjectiveInfo = ObjectiveInfo {
    name: "mmc",
    aliases: &[],
    paper: "Pang et al., ICLR 2020 (Max-Mahalanobis center loss)",
    config: adv_core::ConfigFns::of::<MmcConfig>(),
    build: |settings| Ok(Box::new(configure::<MmcConfig>("mmc", settings)?.init()?)),
};

pub(crate) const OBJECTIVES: &[&ObjectiveInfo] = &[&INFO];

impl Objective for Mmc {
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
        let features = model.features(images);
        let logits = model.head(features.clone());
        let loss = own_squared_distance(model, features, batch.labels.clone())?.mean();
        Ok(StepLoss { loss, logits })
    }
}
