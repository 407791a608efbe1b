//! ADT-EXPAM: adversarial distributional training with an amortized explicit distribution.
//! Dong, Deng, Pang, Su & Zhu, "Adversarial Distributional Training for Robust Deep Learning",
//! NeurIPS 2020.
//!
//! A generator maps each input to the parameters of ADT-EXP's per-pixel distribution,
//! `delta = eps * tanh(mu + softplus(rho) * n)`, instead of 7 inner steps per batch. As the
//! reference (dongyp13/Adversarial-Distributional-Training, `adt_expam.py`): the generator sees
//! the stack `[x, grad_x CE(x), grad CE at clip(x + eps sign grad)]` (gradients of the mean
//! cross-entropy on the classifier's running statistics) and outputs `2 C` channels, the means
//! and pre-softplus scales; one backward pass updates both networks, with the gradient of the
//! cross-entropy reversed on its way from the adversarial example to the generator, so the
//! classifier descends `CE` while the generator ascends `CE + lambda H` (`H` the same entropy
//! estimate as ADT-EXP's). The generator is the reference's `resnet_3blocks` with zero padding
//! (a 3x3 stem, residual blocks of `f`, `2f`, `f` channels with batch norms, a 3x3 output
//! convolution; `f` = 256 there), trained by Adam with learning rate 2e-4 and beta1 0.5 (its
//! linear decay starts after epoch 100, which the reference never reaches; not reproduced);
//! lambda 0.01, Linf 8/255.
//!
//! The reported loss is the saddle objective as the classifier sees it, `CE - lambda H`.
//! Checkpoints keep the generator and its optimizer beside the model, so a resumed run ends as
//! an uninterrupted one.

use adv_core::burn::tensor::Tensor;
use adv_core::{Batch, Norm};
use adv_models::ModelConfig;

use crate::adt_exp::keyed_normal;
use crate::generator::{
    Generator, Trained, check_beta1, input_gradient, reverse_gradient, unprepared,
};
use crate::objective::configure;
use crate::{
    Objective, ObjectiveInfo, Result, StepContext, StepLoss, smoothed_cross_entropy,
    tanh_gaussian_sample,
};

adv_core::options! {
    /// Configuration of [`AdtExpam`].
    pub struct AdtExpamConfig {
        /// Weight of the entropy of the adversarial distribution.
        lambda: f32 [Domain::NonNegative, Label::Value] = 0.01,
        /// Radius (Linf) of the distribution's support.
        eps: f32 [Domain::Positive, Label::Changed] = 8.0 / 255.0,
        /// Width of the generator (the reference's ngf).
        filters: usize [Domain::AtLeast(1.0), Label::Changed] = 256,
        /// The generator's Adam learning rate.
        generator_lr: f32 [Domain::Positive, Label::Changed] = 2e-4,
        /// The generator's Adam beta1.
        generator_beta1: f32 [Domain::NonNegative, Label::Changed] = 0.5,
    }
}

/// ADT with a generator of the explicit distribution's parameters.
pub struct AdtExpam {
    config: AdtExpamConfig,
    generator: Option<Trained<Generator>>,
}

impl AdtExpamConfig {
    /// The objective.
    pub fn init(&self) -> Result<AdtExpam> {
        check_beta1(INFO.name, self.generator_beta1)?;
        Ok(AdtExpam {
            config: self.clone(),
            generator: None,
        })
    }
}

pub(crate) static INFO: ObjectiveInfo = ObjectiveInfo {
    name: "adt-expam",
    aliases: &[],
    paper: "Dong et al., NeurIPS 2020 (ADT, amortized explicit distribution)",
    config: adv_core::ConfigFns::of::<AdtExpamConfig>(),
    build: |settings| Ok(Box::new(configure::<AdtExpamConfig>("adt-expam", settings)?.init()?)),
};

pub(crate) const OBJECTIVES: &[&ObjectiveInfo] = &[&INFO];

/// The generator's input, `[x, g, g']` with `g = grad_x CE(x)` and `g'` the gradient at the
/// FGSM point `clip(x + eps sign g, 0, 1)`; without autodiff.
pub(crate) fn gradient_stack(model: &adv_models::Model, batch: &Batch, eps: f32) -> Tensor<4> {
    let x = batch.images.clone().without_autodiff();
    let first = input_gradient(model, x.clone(), batch.labels.clone());
    let fgsm = (x.clone() + first.clone().sign().mul_scalar(eps)).clamp(0.0, 1.0);
    let second = input_gradient(model, fgsm, batch.labels.clone());
    Tensor::cat(vec![x, first, second], 1)
}

impl AdtExpam {
    /// The adversarial examples of `batch` (differentiable in the generator) and the entropy
    /// estimate of their distribution.
    fn examples(&self, model: &adv_models::Model, batch: &Batch, step: &StepContext) -> Result<(Tensor<4>, Tensor<1>)> {
        let generator = &self.generator.as_ref().ok_or_else(|| unprepared(INFO.name))?.net;
        let eps = self.config.eps * step.eps_scale;
        let stack = gradient_stack(model, batch, eps);
        let x = batch.images.clone().without_autodiff();
        let dims = x.dims();
        let channels = dims[1];
        let phi = generator.forward(stack.autodiff(), None);
        let mu = phi.clone().narrow(1, 0, channels);
        let rho = phi.narrow(1, channels, channels);
        let noise = keyed_normal(batch, step.step_seed(), 0, dims).autodiff();
        let (u, entropy) = tanh_gaussian_sample(mu, rho, noise);
        let adversarial = (x.autodiff() + u.mul_scalar(eps)).clamp(0.0, 1.0);
        Ok((adversarial, entropy))
    }
}

impl Objective for AdtExpam {
    fn info(&self) -> &'static ObjectiveInfo {
        &INFO
    }

    fn radius(&self) -> Option<(Norm, f32)> {
        Some((Norm::Linf, self.config.eps))
    }

    fn prepare(&mut self, architecture: &ModelConfig, device: &adv_core::burn::tensor::Device) -> Result<()> {
        let [c, h, w] = architecture.input();
        let net = Generator::new(3 * c, 2 * c, self.config.filters, None, [h, w], device);
        self.generator = Some(Trained::new(net, f64::from(self.config.generator_lr), self.config.generator_beta1));
        Ok(())
    }

    fn loss(&mut self, model: &adv_models::Model, batch: &Batch, step: &StepContext) -> Result<StepLoss> {
        let (adversarial, entropy) = self.examples(model, batch, step)?;
        let logits = model.forward(reverse_gradient(adversarial));
        let loss = smoothed_cross_entropy(logits.clone(), batch.labels.clone(), step.label_smoothing)
            - entropy.mul_scalar(self.config.lambda);
        Ok(StepLoss { loss, logits })
    }

    fn parameter_grads(
        &mut self,
        mut grads: adv_core::burn::tensor::Gradients,
        model: &adv_models::Model,
    ) -> adv_core::burn::optim::GradientsParams {
        if let Some(generator) = &mut self.generator {
            generator.step(&mut grads);
        }
        adv_core::burn::optim::GradientsParams::from_grads(grads, model)
    }

    fn save_files(&self, folder: &std::path::Path) -> Result<()> {
        self.generator.as_ref().ok_or_else(|| unprepared(INFO.name))?.save(folder, "generator")
    }

    fn load_files(&mut self, folder: &std::path::Path) -> Result<()> {
        self.generator.as_mut().ok_or_else(|| unprepared(INFO.name))?.load(folder, "generator")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use adv_core::burn::module::Module;
    use adv_core::burn::tensor::Device;
    use adv_core::to_floats;

    fn context(device: &Device) -> StepContext<'_> {
        StepContext {
            epoch: 0,
            epochs: 1,
            step: 2,
            seed: 3,
            device,
            eps_scale: 1.0,
            label_smoothing: 0.0,
        }
    }

    /// The examples stay in the ball and the box; one step moves the generator so that the
    /// classifier's cross-entropy on its examples goes up while the classifier's own step (on
    /// the same backward) lowers it on fixed examples: the two players of the saddle point.
    #[test]
    fn the_generator_ascends_while_the_classifier_descends() {
        let device = Device::default().autodiff();
        let data = adv_core::data::embedded_digits().take(32);
        let architecture = ModelConfig::from_name("small-cnn", data.shape(), 10).unwrap();
        device.seed(1);
        let model = architecture.init(&device).unwrap();
        let mut objective = AdtExpamConfig { filters: 8, generator_lr: 0.01, ..Default::default() }.init().unwrap();
        objective.prepare(&architecture, &device).unwrap();
        let batch = data.batch(0, 32, &device);
        let step = context(&device);
        let eps = 0.1f32;
        objective.config.eps = eps;

        let (adversarial, _) = objective.examples(&model, &batch, &step).unwrap();
        let (x0, x) = (to_floats(batch.images.clone()), to_floats(adversarial.clone()));
        assert!(x.iter().zip(&x0).all(|(a, b)| (a - b).abs() <= eps * (1.0 + 1e-6)));
        assert!(x.iter().all(|v| (0.0..=1.0).contains(v)));

        // The cross-entropy of the frozen classifier on the generator's examples (same noise).
        let frozen_ce = |objective: &AdtExpam, model: &adv_models::Model| {
            let (adversarial, _) = objective.examples(model, &batch, &step).unwrap();
            let logits = model.valid().forward(adversarial.without_autodiff());
            to_floats(adv_core::cross_entropy(logits, batch.labels.clone().inner()).mean())[0]
        };
        let before = frozen_ce(&objective, &model);
        let mut ascended = before;
        for _ in 0..5 {
            let outcome = objective.loss(&model, &batch, &step).unwrap();
            let grads = outcome.loss.backward();
            let _ = objective.parameter_grads(grads, &model);
            ascended = frozen_ce(&objective, &model);
        }
        assert!(ascended > before, "generator steps should raise the CE: {before} -> {ascended}");
    }

    /// The loss is `CE(f(x_adv)) - lambda H`: with lambda 0 it is the cross-entropy of the
    /// examples, and lambda moves it by exactly lambda times the entropy estimate.
    #[test]
    fn the_loss_is_the_cross_entropy_minus_lambda_times_the_entropy() {
        let device = Device::default().autodiff();
        let data = adv_core::data::embedded_digits().take(8);
        let architecture = ModelConfig::from_name("small-cnn", data.shape(), 10).unwrap();
        let model = architecture.init(&device).unwrap();
        let batch = data.batch(0, 8, &device);
        let step = context(&device);
        let mut losses = Vec::new();
        for lambda in [0.0f32, 0.5] {
            device.seed(4);
            let mut objective = AdtExpamConfig { filters: 4, lambda, ..Default::default() }.init().unwrap();
            objective.prepare(&architecture, &device).unwrap();
            let (adversarial, entropy) = objective.examples(&model, &batch, &step).unwrap();
            let ce = to_floats(adv_core::cross_entropy(model.forward(adversarial), batch.labels.clone()).mean())[0];
            let loss = to_floats(objective.loss(&model, &batch, &step).unwrap().loss)[0];
            losses.push((ce, to_floats(entropy)[0], loss));
        }
        let (ce0, _, loss0) = losses[0];
        assert!((ce0 - loss0).abs() < 1e-5, "{ce0} vs {loss0}");
        let (ce, entropy, loss) = losses[1];
        assert!((ce - 0.5 * entropy - loss).abs() < 1e-4, "{ce} - 0.5 * {entropy} vs {loss}");
    }
}
