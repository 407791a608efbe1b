//! MART: misclassification-aware adversarial training. Wang, Zou, Yi, Bailey, Ma & Gu,
//! "Improving Adversarial Robustness Requires Revisiting Misclassified Examples", ICLR 2020.
//!
//! As the reference (YisenWang/MART, `mart.py`): examples crafted on the cross-entropy from
//! `x + 0.001 N(0, I)`, 10 signed steps of 0.007 inside Linf 0.031; the loss is the boosted
//! cross-entropy `-log p_y(x') - log(1.0001 - max_{k != y} p_k(x'))` plus `beta` times the
//! mean over the batch of `KL(p(x) || p(x')) * (1.0000001 - p_y(x))` (1e-12 guards in the logs),
//! beta 6.

use adv_attacks::{AttackConfig, StepSize};
use adv_core::burn::tensor::activation::{log_softmax, softmax};
use adv_core::burn::tensor::{Int, Tensor};
use adv_core::{Norm, Setting};

use crate::crafting::{BnMode, Crafter};
use crate::objective::configure;
use crate::{Objective, ObjectiveInfo, Result, StepContext, StepLoss, smoothed_cross_entropy};

adv_core::options! {
    /// Configuration of [`Mart`].
    pub struct MartConfig {
        /// Weight of the misclassification-aware KL term.
        beta: f32 [Domain::NonNegative, Label::Value] = 6.0,
        /// Radius of the inner maximization.
        eps: f32 [Domain::Positive, Label::Changed] = 0.031,
        /// Norm of the radius.
        norm: Norm [Domain::Any, Label::Changed] = Norm::Linf,
        /// Inner steps.
        steps: usize [Domain::AtLeast(1.0), Label::Changed] = 10,
        /// Inner step length.
        step_size: StepSize [Domain::Any, Label::Changed] = StepSize::Absolute(0.007),
        /// Standard deviation of the Gaussian start.
        start_std: f32 [Domain::NonNegative, Label::Changed] = 0.001,
        /// Batch statistics while crafting: eval or train.
        bn: BnMode [Domain::Any, Label::Changed] = BnMode::Eval,
    }
}

/// MART.
pub struct Mart {
    crafter: Crafter,
    beta: f32,
}

impl MartConfig {
    /// The objective, or an error if the configuration is invalid.
    pub fn init(&self) -> Result<Mart> {
        let attack = AttackConfig::new(
            "pgd",
            &[
                Setting::new("steps", self.steps.to_string()),
                Setting::new("step-size", self.step_size.to_string()),
                Setting::new("random-start", (self.start_std > 0.0).to_string()),
                Setting::new("start-std", self.start_std.to_string()),
            ],
        )?;
        Ok(Mart {
            crafter: Crafter::new(&attack, self.norm, self.eps, false, self.bn)?,
            beta: self.beta,
        })
    }
}

pub(crate) static INFO: ObjectiveInfo = ObjectiveInfo {
    name: "mart",
    aliases: &[],
    paper: "Wang et al., ICLR 2020",
    config: adv_core::ConfigFns::of::<MartConfig>(),
    build: |settings| Ok(Box::new(configure::<MartConfig>("mart", settings)?.init()?)),
};

pub(crate) const OBJECTIVES: &[&ObjectiveInfo] = &[&INFO];

/// MART's loss from the clean and adversarial logits.
pub fn mart_loss(
    clean: Tensor<2>,
    adversarial: Tensor<2>,
    labels: Tensor<1, Int>,
    beta: f32,
    label_smoothing: f32,
) -> Tensor<1> {
    let [n, classes] = adversarial.dims();
    let index = labels.clone().reshape([n, 1]);
    let adversarial_probs = softmax(adversarial.clone(), 1);
    // The most likely wrong class on the adversarial example.
    let own = adversarial_probs
        .clone()
        .mask_fill(one_hot(&index, classes), f32::NEG_INFINITY);
    let wrong = own.argmax(1);
    let boosted = adversarial_probs
        .clone()
        .gather(1, wrong)
        .neg()
        .add_scalar(1.0001 + 1e-12)
        .log()
        .neg()
        .mean();
    let cross_entropy = smoothed_cross_entropy(adversarial.clone(), labels, label_smoothing);
    let clean_probs = softmax(clean.clone(), 1);
    let true_probs = clean_probs.clone().gather(1, index).reshape([n]);
    let kl = (clean_probs.clone() * (log_softmax(clean, 1) - adversarial_probs.add_scalar(1e-12).log()))
        .sum_dim(1)
        .reshape([n]);
    let weighted = (kl * true_probs.neg().add_scalar(1.000_000_1)).mean();
    cross_entropy + boosted + weighted.mul_scalar(beta)
}

fn one_hot(index: &Tensor<2, Int>, classes: usize) -> Tensor<2, adv_core::burn::tensor::Bool> {
    let n = index.dims()[0];
    Tensor::<1, Int>::arange(0..classes as i64, &index.device())
        .reshape([1, classes])
        .expand([n, classes])
        .equal(index.clone().expand([n, classes]))
}

impl Objective for Mart {
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
        let loss = mart_loss(
            clean,
            logits.clone(),
            batch.labels.clone(),
            self.beta,
            step.label_smoothing,
        );
        Ok(StepLoss { loss, logits })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use adv_core::burn::tensor::{Device, TensorData};
    use adv_core::to_floats;

    fn logits(values: [f32; 3]) -> Tensor<2> {
        Tensor::from_data(TensorData::new(values.to_vec(), [1, 3]), &Device::default())
    }

    /// The loss on hand-computed values: the boosted cross-entropy and the KL term weighted by
    /// `1.0000001 - p_y(x)`.
    #[test]
    fn mart_loss_matches_its_formula() {
        let softmax = |z: [f32; 3]| {
            let total: f32 = z.iter().map(|v| v.exp()).sum();
            z.map(|v| v.exp() / total)
        };
        let (clean, adv) = ([2.0f32, 0.5, -1.0], [0.2f32, 1.0, -0.5]);
        let (p, q) = (softmax(clean), softmax(adv));
        let label = 0usize;
        let cross_entropy = -q[label].ln();
        // The most likely wrong class on the adversarial example is class 1.
        let boosted = -(1.0001 - q[1] + 1e-12).ln();
        let kl: f32 = (0..3).map(|k| p[k] * (p[k].ln() - (q[k] + 1e-12).ln())).sum();
        let expected = cross_entropy + boosted + 6.0 * kl * (1.000_000_1 - p[label]);
        let labels = adv_core::ints_from(&[0], &Device::default());
        let got = to_floats(mart_loss(logits(clean), logits(adv), labels, 6.0, 0.0))[0];
        assert!((got - expected).abs() < 1e-4, "{got} vs {expected}");
    }
}
