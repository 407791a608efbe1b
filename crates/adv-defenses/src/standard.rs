//! Standard training: the softmax cross-entropy of the clean batch (label-smoothed by the
//! training's `label_smoothing`).

use crate::objective::configure;
use crate::{Objective, ObjectiveInfo, Result, StepContext, StepLoss, smoothed_cross_entropy};

adv_core::options! {
    /// Configuration of [`Standard`] (it has no options).
    pub struct StandardConfig {}
}

/// Clean cross-entropy.
#[derive(Clone, Debug)]
pub struct Standard;

pub(crate) static INFO: ObjectiveInfo = ObjectiveInfo {
    name: "standard",
    aliases: &["ce", "sce"],
    paper: "softmax cross-entropy, optional label smoothing (Szegedy et al., CVPR 2016)",
    config: adv_core::ConfigFns::of::<StandardConfig>(),
    build: |settings| {
        configure::<StandardConfig>("standard", settings)?;
        Ok(Box::new(Standard))
    },
};

pub(crate) const OBJECTIVES: &[&ObjectiveInfo] = &[&INFO];

impl Objective for Standard {
    fn info(&self) -> &'static ObjectiveInfo {
        &INFO
    }

    fn loss(
        &mut self,
        model: &adv_models::Model,
        batch: &adv_core::Batch,
        step: &StepContext,
    ) -> Result<StepLoss> {
        let logits = model.forward(batch.images.clone());
        Ok(StepLoss {
            loss: smoothed_cross_entropy(logits.clone(), batch.labels.clone(), step.label_smoothing),
            logits,
        })
    }
}
