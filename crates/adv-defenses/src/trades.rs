//! TRADES: the clean cross-entropy plus `beta` times the KL divergence of the prediction on an
//! example crafted to maximize that divergence from the clean prediction. Zhang, Yu, Jiao,
//! Xing, El Ghaoui & Jordan, "Theoretically Principled Trade-off between Robustness and
//! Accuracy", ICML 2019.
//!
//! As the reference (yaodongyu/TRADES, `trades.py`): `CE(f(x), y) + beta * mean_i KL(softmax
//! f(x_i) || softmax f(x'_i))` with beta 6; the inner maximization climbs the same KL from
//! `x + 0.001 N(0, I)` with 10 signed steps of 0.007 inside Linf 0.031, batch norms on their
//! running statistics. The KL's clean side is not detached. The reference takes a third
//! train-mode forward of the clean batch for the KL; here the clean logits of the
//! cross-entropy are reused (the same values, one batch-statistics update fewer).

use adv_attacks::{AttackConfig, StepSize};
use adv_core::{Norm, Setting};

use crate::crafting::{BnMode, Crafter};
use crate::objective::configure;
use crate::{
    Objective, ObjectiveInfo, Result, StepContext, StepLoss, kl_divergence, smoothed_cross_entropy,
};

adv_core::options! {
    /// Configuration of [`Trades`].
    pub struct TradesConfig {
        /// Weight of the robustness (KL) term.
        beta: f32 [Domain::NonNegative, Label::Value] = 6.0,
        /// Radius of the inner maximization.
        eps: f32 [Domain::Positive, Label::Changed] = 0.031,
        /// Norm of the radius.
        norm: Norm [Domain::Any, Label::Changed] = Norm::Linf,
        /// Inner steps.
        steps: usize [Domain::AtLeast(1.0), Label::Changed] = 10,
        /// Inner step length (absolute, or a multiple of epsilon such as 0.25x).
        step_size: StepSize [Domain::Any, Label::Changed] = StepSize::Absolute(0.007),
        /// Standard deviation of the Gaussian start.
        start_std: f32 [Domain::NonNegative, Label::Changed] = 0.001,
        /// Batch statistics while crafting: eval or train.
        bn: BnMode [Domain::Any, Label::Changed] = BnMode::Eval,
    }
}

/// TRADES.
pub struct Trades {
    crafter: Crafter,
    beta: f32,
}

impl TradesConfig {
    /// The objective, or an error if the configuration is invalid.
    pub fn init(&self) -> Result<Trades> {
        let attack = AttackConfig::new(
            "pgd",
            &[
                Setting::new("steps", self.steps.to_string()),
                Setting::new("step-size", self.step_size.to_string()),
                Setting::new("random-start", (self.start_std > 0.0).to_string()),
                Setting::new("start-std", self.start_std.to_string()),
                Setting::new("loss", "kl"),
            ],
        )?;
        Ok(Trades {
            crafter: Crafter::new(&attack, self.norm, self.eps, false, self.bn)?,
            beta: self.beta,
        })
    }
}

pub(crate) static INFO: ObjectiveInfo = ObjectiveInfo {
    name: "trades",
    aliases: &[],
    paper: "Zhang et al., ICML 2019",
    config: adv_core::ConfigFns::of::<TradesConfig>(),
    build: |settings| Ok(Box::new(configure::<TradesConfig>("trades", settings)?.init()?)),
};

pub(crate) const OBJECTIVES: &[&ObjectiveInfo] = &[&INFO];

impl Objective for Trades {
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
        let clean = model.forward(batch.images.clone());
        let natural = smoothed_cross_entropy(clean.clone(), batch.labels.clone(), step.label_smoothing);
        if self.beta == 0.0 {
            // Nothing to craft: exactly the clean objective.
            return Ok(StepLoss {
                loss: natural,
                logits: clean,
            });
        }
        let adversarial = self.crafter.craft(model, batch, step)?;
        let logits = model.forward(adversarial);
        let robust = kl_divergence(clean, logits.clone()).mean();
        Ok(StepLoss {
            loss: natural + robust.mul_scalar(self.beta),
            logits,
        })
    }
}
