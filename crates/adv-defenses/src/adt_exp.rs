//! ADT-EXP: adversarial distributional training with an explicit per-pixel distribution. Dong,
//! Deng, Pang, Su & Zhu, "Adversarial Distributional Training for Robust Deep Learning",
//! NeurIPS 2020.
//!
//! Instead of one worst-case point per input, the inner maximization learns a distribution over
//! the ball, `delta = eps * tanh(mu + softplus(rho) * n)` with `n ~ N(0, I)` per pixel, that
//! maximizes the expected cross-entropy plus `lambda` times its entropy; the classifier then
//! minimizes the cross-entropy of one fresh sample. As the reference (dongyp13/
//! Adversarial-Distributional-Training, `adt_exp.py`): `mu` and `rho` start at 0, 7 inner steps
//! of 5 samples each, each step a signed step of 0.3 on `mu` and `rho` (Adam with betas (0, 0)
//! and learning rate 0.3), the entropy estimated as the mean over all elements of
//! `n^2 / 2 + log sigma + log(1 - u^2 + 1e-8)` (the change of variables through tanh, constants
//! dropped), lambda 0.01, Linf 8/255, batch norms on running statistics while crafting.
//!
//! The inner maximization runs here rather than through the attack harness, whose iterate is an
//! example: ADT's is the distribution's parameters. One difference from the reference, on
//! purpose: the gradients of `mu` and `rho` are those of the current step; the reference never
//! zeroes them, so its steps follow the sign of their running sum.

use adv_core::burn::module::Module;
use adv_core::burn::tensor::activation::softplus;
use adv_core::burn::tensor::Tensor;
use adv_core::{Batch, Norm, cross_entropy, floats_from, sample_rng};
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};

use crate::crafting::BnMode;
use crate::objective::configure;
use crate::{Objective, ObjectiveInfo, Result, StepContext, StepLoss, smoothed_cross_entropy};

adv_core::options! {
    /// Configuration of [`AdtExp`].
    pub struct AdtExpConfig {
        /// Weight of the entropy of the adversarial distribution.
        lambda: f32 [Domain::NonNegative, Label::Value] = 0.01,
        /// Radius (Linf) of the distribution's support.
        eps: f32 [Domain::Positive, Label::Changed] = 8.0 / 255.0,
        /// Inner steps on the distribution's parameters.
        steps: usize [Domain::AtLeast(1.0), Label::Changed] = 7,
        /// Samples per inner step.
        samples: usize [Domain::AtLeast(1.0), Label::Changed] = 5,
        /// Length of the signed inner steps on mu and rho.
        inner_lr: f32 [Domain::Positive, Label::Changed] = 0.3,
        /// Batch statistics while crafting: eval or train.
        bn: BnMode [Domain::Any, Label::Changed] = BnMode::Eval,
    }
}

/// ADT with an explicit distribution.
pub struct AdtExp {
    config: AdtExpConfig,
}

impl AdtExpConfig {
    /// The objective.
    pub fn init(&self) -> Result<AdtExp> {
        Ok(AdtExp {
            config: self.clone(),
        })
    }
}

pub(crate) static INFO: ObjectiveInfo = ObjectiveInfo {
    name: "adt-exp",
    aliases: &[],
    paper: "Dong et al., NeurIPS 2020 (ADT, explicit distribution)",
    config: adv_core::ConfigFns::of::<AdtExpConfig>(),
    build: |settings| Ok(Box::new(configure::<AdtExpConfig>("adt-exp", settings)?.init()?)),
};

pub(crate) const OBJECTIVES: &[&ObjectiveInfo] = &[&INFO];

/// The distribution's sample `u = tanh(mu + softplus(rho) * n)` and the entropy estimate: the
/// mean over every element of `n^2 / 2 + log sigma + log(1 - u^2 + 1e-8)`.
pub fn tanh_gaussian_sample(mu: Tensor<4>, rho: Tensor<4>, noise: Tensor<4>) -> (Tensor<4>, Tensor<1>) {
    let sigma = softplus(rho, 1.0);
    let u = (mu + sigma.clone() * noise.clone()).tanh();
    let entropy = noise.square().mul_scalar(0.5)
        + sigma.add_scalar(1e-8).log()
        // `(1 - u^2) + 1e-8`, in that order, as the reference: `1 + 1e-8` rounds to 1 in f32,
        // so a saturated tanh would give log 0.
        + u.clone().square().neg().add_scalar(1.0).add_scalar(1e-8).log();
    (u, entropy.mean())
}

/// `len` values per sample of `batch`, each sample's drawn by `sample` from its own generator
/// keyed by the seed, the sample's id and the draw, so they do not depend on the batch's
/// composition.
pub(crate) fn keyed_values(
    batch: &Batch,
    seed: u64,
    draw: u64,
    len: usize,
    sample: impl Fn(&mut StdRng) -> f32,
) -> Vec<f32> {
    let mut values = Vec::with_capacity(batch.ids.len() * len);
    for &id in &batch.ids {
        let mut rng = sample_rng(seed, id, draw);
        values.extend((0..len).map(|_| sample(&mut rng)));
    }
    values
}

/// Standard normal noise `[n, c, h, w]` keyed by the samples, the step and the draw.
pub(crate) fn keyed_normal(batch: &Batch, seed: u64, draw: u64, dims: [usize; 4]) -> Tensor<4> {
    let len = dims[1] * dims[2] * dims[3];
    let values = keyed_values(batch, seed, draw, len, |rng| StandardNormal.sample(rng));
    floats_from(values, dims, &batch.images.device().inner())
}

impl Objective for AdtExp {
    fn info(&self) -> &'static ObjectiveInfo {
        &INFO
    }

    fn radius(&self) -> Option<(Norm, f32)> {
        Some((Norm::Linf, self.config.eps))
    }

    fn loss(
        &mut self,
        model: &adv_models::Model,
        batch: &Batch,
        step: &StepContext,
    ) -> Result<StepLoss> {
        let config = &self.config;
        let eps = config.eps * step.eps_scale;
        let x = batch.images.clone().without_autodiff();
        let dims = x.dims();
        let seed = step.step_seed();
        let frozen = model.valid();
        let (mut mu, mut rho) = (x.zeros_like(), x.zeros_like());
        let mut draw = 0u64;
        for _ in 0..config.steps {
            let mu_leaf = mu.clone().autodiff().require_grad();
            let rho_leaf = rho.clone().autodiff().require_grad();
            let mut total: Option<Tensor<1>> = None;
            for _ in 0..config.samples {
                let noise = keyed_normal(batch, seed, draw, dims);
                draw += 1;
                let (u, entropy) = tanh_gaussian_sample(mu_leaf.clone(), rho_leaf.clone(), noise);
                let adversarial = (x.clone() + u.mul_scalar(eps)).clamp(0.0, 1.0);
                let logits = match config.bn {
                    BnMode::Eval => frozen.forward(adversarial),
                    BnMode::Train => model.forward(adversarial),
                };
                let objective = cross_entropy(logits, batch.labels.clone()).mean()
                    + entropy.mul_scalar(config.lambda);
                total = Some(match total {
                    None => objective,
                    Some(sum) => sum + objective,
                });
            }
            let grads = total.expect("at least one sample").backward();
            let ascend = |leaf: &Tensor<4>, value: Tensor<4>| match leaf.grad(&grads) {
                Some(grad) => value + grad.sign().mul_scalar(config.inner_lr),
                None => value,
            };
            mu = ascend(&mu_leaf, mu);
            rho = ascend(&rho_leaf, rho);
        }
        let noise = keyed_normal(batch, seed, draw, dims);
        let (u, _) = tanh_gaussian_sample(mu, rho, noise);
        let adversarial = (x + u.mul_scalar(eps)).clamp(0.0, 1.0);
        let logits = model.forward(adversarial);
        Ok(StepLoss {
            loss: smoothed_cross_entropy(logits.clone(), batch.labels.clone(), step.label_smoothing),
            logits,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use adv_core::burn::tensor::Device;
    use adv_core::to_floats;

    /// A saturated tanh (`|mu| > 9` rounds `u` to +-1 in f32) keeps the estimate finite.
    #[test]
    fn a_saturated_sample_has_a_finite_entropy_estimate() {
        let device = Device::default();
        let full = |value: f32| floats_from(vec![value; 4], [1, 1, 2, 2], &device);
        let (u, entropy) = tanh_gaussian_sample(full(20.0), full(0.0), full(0.5));
        assert!(to_floats(u).iter().all(|v| *v == 1.0));
        let entropy = to_floats(entropy)[0];
        assert!(entropy.is_finite() && entropy < -15.0, "{entropy}");
    }

    /// For one dimension, `H(u) = 1/2 + 1/2 log(2 pi) + log sigma + E[log(1 - tanh^2(mu +
    /// sigma n))]`; the estimator plus `1/2 log(2 pi)` matches it (the expectation by
    /// quadrature) within Monte-Carlo error.
    #[test]
    fn the_entropy_estimate_matches_the_closed_form() {
        let device = Device::default();
        let (mu, rho) = (0.3f32, -0.4f32);
        let sigma = (1.0 + rho.exp()).ln();
        // Gauss-Hermite-free quadrature: a fine grid of the standard normal density.
        let (mut expectation, mut mass) = (0.0f64, 0.0f64);
        for k in -8000..=8000 {
            let n = f64::from(k) / 1000.0;
            let weight = (-0.5 * n * n).exp();
            let u = (f64::from(mu) + f64::from(sigma) * n).tanh();
            expectation += weight * (1.0 - u * u).ln();
            mass += weight;
        }
        let exact = 0.5 + 0.5 * (2.0 * std::f64::consts::PI).ln() + f64::from(sigma).ln() + expectation / mass;
        let count = 200_000;
        let mut rng = sample_rng(1, 2, 3);
        let noise: Vec<f32> = (0..count).map(|_| StandardNormal.sample(&mut rng)).collect();
        let full = |value: f32| floats_from(vec![value; count], [count, 1, 1, 1], &device);
        let (_, estimate) = tanh_gaussian_sample(full(mu), full(rho), floats_from(noise, [count, 1, 1, 1], &device));
        let estimate = f64::from(to_floats(estimate)[0]) + 0.5 * (2.0 * std::f64::consts::PI).ln();
        assert!((estimate - exact).abs() < 0.01, "{estimate} vs {exact}");
    }
}
