//! L-GM: the large-margin Gaussian mixture loss. Wan, Zhong, Li & Chen, "Rethinking Feature
//! Distribution for Loss Functions in Image Classification", CVPR 2018 (a baseline of the MMC
//! paper).
//!
//! The features follow a Gaussian mixture of identity covariance and learned means: the logits
//! are `-||z - mu_k||^2 / 2`; the classification term is the cross-entropy of those logits with
//! the true class's distance enlarged by `1 + alpha` (the margin), and a likelihood term
//! `lambda * ||z - mu_y||^2 / 2` pulls each feature to its mean. alpha 0.1 and lambda 0.1 (the
//! paper's MNIST settings are not checked here).

use adv_attacks::StepSize;
use adv_core::Norm;
use adv_core::burn::tensor::Tensor;
use adv_models::{CenterLogits, Centers, Model, ModelConfig};

use crate::center_heads::{Adversarial, centered};
use crate::crafting::BnMode;
use crate::objective::configure;
use crate::{DefenseError, Objective, ObjectiveInfo, Result, StepContext, StepLoss, smoothed_cross_entropy};

adv_core::options! {
    /// Configuration of [`LGm`].
    pub struct LGmConfig {
        /// Margin: the true class's distance is multiplied by 1 + alpha in the classification term.
        alpha: f32 [Domain::NonNegative, Label::Value] = 0.1,
        /// Weight of the likelihood term.
        lambda: f32 [Domain::NonNegative, Label::Changed] = 0.1,
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

/// The L-GM loss.
pub struct LGm {
    alpha: f32,
    lambda: f32,
    adversarial: Adversarial,
}

impl LGmConfig {
    /// The objective.
    pub fn init(&self) -> Result<LGm> {
        Ok(LGm {
            alpha: self.alpha,
            lambda: self.lambda,
            adversarial: Adversarial::new(self.adversarial, self.eps, self.steps, self.step_size, self.targeted, self.bn)?,
        })
    }
}

pub(crate) static INFO: ObjectiveInfo = ObjectiveInfo {
    name: "l-gm",
    aliases: &["lgm"],
    paper: "Wan et al., CVPR 2018 (large-margin Gaussian mixture)",
    config: adv_core::ConfigFns::of::<LGmConfig>(),
    build: |settings| Ok(Box::new(configure::<LGmConfig>("l-gm", settings)?.init()?)),
};

pub(crate) const OBJECTIVES: &[&ObjectiveInfo] = &[&INFO];

impl Objective for LGm {
    fn info(&self) -> &'static ObjectiveInfo {
        &INFO
    }

    fn architecture(&self, base: &ModelConfig) -> Result<ModelConfig> {
        centered(base, Centers::Learned { scale: 1.0, seed: 0 }, CenterLogits::HalfNegativeSquaredDistance, 0)
    }

    fn radius(&self) -> Option<(Norm, f32)> {
        self.adversarial.radius()
    }

    fn loss(&mut self, model: &Model, batch: &adv_core::Batch, step: &StepContext) -> Result<StepLoss> {
        let Model::Centered(centered) = model else {
            return Err(DefenseError::InvalidConfig("l-gm needs a network with class centers".into()));
        };
        let images = self.adversarial.images(model, batch, step)?;
        let features = model.features(images);
        let distances = centered.squared_distances(features);
        let [n, classes] = distances.dims();
        let labels = batch.labels.clone();
        let own = distances.clone().gather(1, labels.clone().reshape([n, 1])).reshape([n]);
        // The margin enlarges the true class's distance: d_y (1 + alpha).
        let is_own = Tensor::<1, adv_core::burn::tensor::Int>::arange(0..classes as i64, &distances.device())
            .reshape([1, classes])
            .expand([n, classes])
            .equal(labels.clone().reshape([n, 1]).expand([n, classes]));
        let margined = distances.clone().mask_where(is_own, distances.clone().mul_scalar(1.0 + self.alpha));
        let logits = distances.mul_scalar(-0.5);
        let loss = smoothed_cross_entropy(margined.mul_scalar(-0.5), labels, step.label_smoothing)
            + own.mean().mul_scalar(0.5 * self.lambda);
        Ok(StepLoss { loss, logits })
    }
}
