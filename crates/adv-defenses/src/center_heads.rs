//! What the objectives with a head of class centers share: the architecture they train, the
//! distances and logits they take, and their optional adversarial crafting (AT(MMC) and its
//! baselines).

use adv_attacks::{AttackConfig, StepSize};
use adv_core::burn::tensor::{Int, Tensor};
use adv_core::{Batch, Norm, Setting};
use adv_models::{CenterLogits, CenteredConfig, Centers, Model, ModelConfig};

use crate::crafting::{BnMode, Crafter};
use crate::{DefenseError, Result, StepContext};

/// `base`'s backbone with `centers` and `logits`, through a dense layer of `embedding`
/// dimensions when it is not 0 (a backbone already centered keeps its backbone).
pub(crate) fn centered(
    base: &ModelConfig,
    centers: Centers,
    logits: CenterLogits,
    embedding: usize,
) -> Result<ModelConfig> {
    let backbone = match base {
        ModelConfig::Centered(config) => (*config.backbone).clone(),
        other => other.clone(),
    };
    let config = CenteredConfig {
        backbone: Box::new(backbone),
        centers,
        logits,
        embedding: (embedding > 0).then_some(embedding),
    };
    config.check()?;
    Ok(ModelConfig::Centered(config))
}

/// `||z_i - mu_{y_i}||^2` per sample `[n]`, for the features `z` of the batch.
pub(crate) fn own_squared_distance(
    model: &Model,
    features: Tensor<2>,
    labels: Tensor<1, Int>,
) -> Result<Tensor<1>> {
    let Model::Centered(centered) = model else {
        return Err(DefenseError::InvalidConfig(
            "the objective needs a network with class centers".into(),
        ));
    };
    let n = features.dims()[0];
    Ok(centered
        .squared_distances(features)
        .gather(1, labels.reshape([n, 1]))
        .reshape([n]))
}

/// The optional adversarial crafting of a loss-based objective: none, or PGD.
pub(crate) struct Adversarial {
    crafter: Option<Crafter>,
}

impl Adversarial {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        on: bool,
        eps: f32,
        steps: usize,
        step_size: StepSize,
        targeted: bool,
        bn: BnMode,
    ) -> Result<Self> {
        if !on {
            return Ok(Self { crafter: None });
        }
        let attack = AttackConfig::new(
            "pgd",
            &[
                Setting::new("steps", steps.to_string()),
                Setting::new("step-size", step_size.to_string()),
            ],
        )?;
        Ok(Self {
            crafter: Some(Crafter::new(&attack, Norm::Linf, eps, targeted, bn)?),
        })
    }

    /// The radius, when crafting.
    pub fn radius(&self) -> Option<(Norm, f32)> {
        self.crafter.as_ref().map(Crafter::radius)
    }

    /// The images the loss is taken on: crafted ones, or the clean batch.
    pub fn images(&self, model: &Model, batch: &Batch, step: &StepContext) -> Result<Tensor<4>> {
        match &self.crafter {
            Some(crafter) => crafter.craft(model, batch, step),
            None => Ok(batch.images.clone()),
        }
    }
}
