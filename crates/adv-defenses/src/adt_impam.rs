//! ADT-IMPAM: adversarial distributional training with an amortized implicit distribution.
//! Dong, Deng, Pang, Su & Zhu, "Adversarial Distributional Training for Robust Deep Learning",
//! NeurIPS 2020.
//!
//! The perturbation is a deterministic function of the input and a random code,
//! `delta = eps * clip(tanh(G([x, g, g'], z)), -1, 1)` with `z ~ U(-1, 1)^d`; its entropy has
//! no closed form, so an encoder `q(z | tanh G)` estimates the Gaussian negative log-likelihood
//! of the code (a variational bound on the mutual information between code and perturbation),
//! and generator and encoder both minimize `lambda * relu(NLL - threshold)`. As the reference
//! (dongyp13/Adversarial-Distributional-Training, `adt_impam.py`): the code enters the
//! generator as one extra image channel through an MLP (`d -> 256 -> h w`, ReLUs); the
//! generator sees `[x, grad_x CE(x), grad CE at the FGSM point]` and outputs `C` channels; one
//! backward pass updates classifier, generator and encoder, the cross-entropy's gradient
//! reversed on its way to the generator (the classifier descends it, the generator ascends
//! it); `d` = 64, lambda 1, threshold 0.9, generator Adam 2e-4 with beta1 0.5, encoder Adam
//! 2e-4, Linf 8/255. The NLL is averaged over the code's dimensions and the batch, the
//! variance softplus-activated, `1e-8` inside its logarithm and denominator, as there.
//!
//! The reported loss is the classifier's cross-entropy plus the hinge term. Checkpoints keep
//! generator, encoder and both optimizers.

use adv_core::burn::tensor::Tensor;
use adv_core::{Batch, Norm, floats_from};
use adv_models::ModelConfig;
use rand::Rng;

use crate::adt_exp::keyed_values;
use crate::adt_expam::gradient_stack;
use crate::generator::{Encoder, Generator, Trained, check_beta1, reverse_gradient, unprepared};
use crate::objective::configure;
use crate::{DefenseError, Objective, ObjectiveInfo, Result, StepContext, StepLoss, smoothed_cross_entropy};

adv_core::options! {
    /// Configuration of [`AdtImpam`].
    pub struct AdtImpamConfig {
        /// Weight of the entropy (mutual-information) term.
        lambda: f32 [Domain::NonNegative, Label::Value] = 1.0,
        /// Hinge of the code's negative log-likelihood.
        threshold: f32 [Domain::Any, Label::Changed] = 0.9,
        /// Dimensions of the random code.
        latent: usize [Domain::AtLeast(1.0), Label::Changed] = 64,
        /// Radius (Linf) of the perturbations.
        eps: f32 [Domain::Positive, Label::Changed] = 8.0 / 255.0,
        /// Width of the generator (the reference's ngf).
        filters: usize [Domain::AtLeast(1.0), Label::Changed] = 256,
        /// The generator's Adam learning rate.
        generator_lr: f32 [Domain::Positive, Label::Changed] = 2e-4,
        /// The generator's Adam beta1.
        generator_beta1: f32 [Domain::NonNegative, Label::Changed] = 0.5,
        /// The encoder's Adam learning rate.
        encoder_lr: f32 [Domain::Positive, Label::Changed] = 2e-4,
    }
}

/// ADT with an implicit generator and an entropy bound from an encoder of its code.
pub struct AdtImpam {
    config: AdtImpamConfig,
    nets: Option<(Trained<Generator>, Trained<Encoder>)>,
}

impl AdtImpamConfig {
    /// The objective.
    pub fn init(&self) -> Result<AdtImpam> {
        check_beta1(INFO.name, self.generator_beta1)?;
        Ok(AdtImpam {
            config: self.clone(),
            nets: None,
        })
    }
}

pub(crate) static INFO: ObjectiveInfo = ObjectiveInfo {
    name: "adt-impam",
    aliases: &[],
    paper: "Dong et al., NeurIPS 2020 (ADT, amortized implicit distribution)",
    config: adv_core::ConfigFns::of::<AdtImpamConfig>(),
    build: |settings| Ok(Box::new(configure::<AdtImpamConfig>("adt-impam", settings)?.init()?)),
};

pub(crate) const OBJECTIVES: &[&ObjectiveInfo] = &[&INFO];

/// The mean over dimensions and rows of the Gaussian negative log-likelihood of `z` under
/// `N(mean, variance)`: `(z - m)^2 / (2 v + 1e-8) + log(v + 1e-8) / 2 + log sqrt(2 pi)`.
pub fn gaussian_nll(z: Tensor<2>, mean: Tensor<2>, variance: Tensor<2>) -> Tensor<1> {
    let squared = (z - mean).square() / variance.clone().mul_scalar(2.0).add_scalar(1e-8);
    let log_variance = variance.add_scalar(1e-8).log().mul_scalar(0.5);
    (squared + log_variance)
        .add_scalar((2.0 * std::f64::consts::PI).sqrt().ln())
        .mean()
}

impl AdtImpam {
    /// The code `[n, d]`, uniform in `[-1, 1)`, keyed by the samples and the step.
    fn code(&self, batch: &Batch, seed: u64) -> Tensor<2> {
        let d = self.config.latent;
        let values = keyed_values(batch, seed, 0, d, |rng| rng.random::<f32>() * 2.0 - 1.0);
        floats_from(values, [batch.ids.len(), d], &batch.images.device().inner())
    }

    /// The adversarial examples (differentiable in the generator) and the hinge term.
    fn examples(&self, model: &adv_models::Model, batch: &Batch, step: &StepContext) -> Result<(Tensor<4>, Tensor<1>)> {
        let (generator, encoder) = self.nets.as_ref().ok_or_else(|| unprepared(INFO.name))?;
        let eps = self.config.eps * step.eps_scale;
        let stack = gradient_stack(model, batch, eps);
        let z = self.code(batch, step.step_seed()).autodiff();
        let perturbation = generator.net.forward(stack.autodiff(), Some(z.clone())).tanh();
        let (mean, variance) = encoder.net.forward(perturbation.clone());
        let nll = gaussian_nll(z, mean, variance);
        let hinge = nll.sub_scalar(self.config.threshold).clamp_min(0.0);
        let x = batch.images.clone().without_autodiff().autodiff();
        let adversarial = (x + perturbation.clamp(-1.0, 1.0).mul_scalar(eps)).clamp(0.0, 1.0);
        Ok((adversarial, hinge))
    }
}

impl Objective for AdtImpam {
    fn info(&self) -> &'static ObjectiveInfo {
        &INFO
    }

    fn radius(&self) -> Option<(Norm, f32)> {
        Some((Norm::Linf, self.config.eps))
    }

    fn prepare(&mut self, architecture: &ModelConfig, device: &adv_core::burn::tensor::Device) -> Result<()> {
        let [c, h, w] = architecture.input();
        if h < 4 || w < 4 {
            return Err(DefenseError::InvalidConfig(format!(
                "adt-impam: the encoder needs images of at least 4x4, the model takes {h}x{w}"
            )));
        }
        let config = &self.config;
        let generator = Generator::new(3 * c, c, config.filters, Some(config.latent), [h, w], device);
        let encoder = Encoder::new(c, config.latent, device);
        self.nets = Some((
            Trained::new(generator, f64::from(config.generator_lr), config.generator_beta1),
            Trained::new(encoder, f64::from(config.encoder_lr), 0.9),
        ));
        Ok(())
    }

    fn loss(&mut self, model: &adv_models::Model, batch: &Batch, step: &StepContext) -> Result<StepLoss> {
        let (adversarial, hinge) = self.examples(model, batch, step)?;
        let logits = model.forward(reverse_gradient(adversarial));
        let loss = smoothed_cross_entropy(logits.clone(), batch.labels.clone(), step.label_smoothing)
            + hinge.mul_scalar(self.config.lambda);
        Ok(StepLoss { loss, logits })
    }

    fn parameter_grads(
        &mut self,
        mut grads: adv_core::burn::tensor::Gradients,
        model: &adv_models::Model,
    ) -> adv_core::burn::optim::GradientsParams {
        if let Some((generator, encoder)) = &mut self.nets {
            generator.step(&mut grads);
            encoder.step(&mut grads);
        }
        adv_core::burn::optim::GradientsParams::from_grads(grads, model)
    }

    fn save_files(&self, folder: &std::path::Path) -> Result<()> {
        let (generator, encoder) = self.nets.as_ref().ok_or_else(|| unprepared(INFO.name))?;
        generator.save(folder, "generator")?;
        encoder.save(folder, "encoder")
    }

    fn load_files(&mut self, folder: &std::path::Path) -> Result<()> {
        let (generator, encoder) = self.nets.as_mut().ok_or_else(|| unprepared(INFO.name))?;
        generator.load(folder, "generator")?;
        encoder.load(folder, "encoder")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use adv_core::burn::module::Module;
    use adv_core::burn::tensor::Device;
    use adv_core::to_floats;

    /// The NLL against its closed form on a hand-made case.
    #[test]
    fn the_gaussian_nll_matches_its_closed_form() {
        let device = Device::default();
        let z = Tensor::<2>::from_floats([[0.5f32, -1.0]], &device);
        let mean = Tensor::<2>::from_floats([[0.0f32, 0.0]], &device);
        let variance = Tensor::<2>::from_floats([[1.0f32, 4.0]], &device);
        let nll = to_floats(gaussian_nll(z, mean, variance))[0] as f64;
        let term = |z: f64, v: f64| z * z / (2.0 * v) + 0.5 * v.ln() + 0.5 * (2.0 * std::f64::consts::PI).ln();
        let expected = (term(0.5, 1.0) + term(-1.0, 4.0)) / 2.0;
        assert!((nll - expected).abs() < 1e-5, "{nll} vs {expected}");
    }

    /// Examples stay in the ball and the box; a few joint steps raise the frozen classifier's
    /// cross-entropy on the generator's examples (lambda 0: the generator ascends it through the
    /// reversed gradient) and lower the hinge term (generator and encoder both descend it).
    #[test]
    fn joint_steps_raise_the_cross_entropy_and_lower_the_bound() {
        let device = Device::default().autodiff();
        let data = adv_core::data::embedded_digits().take(32);
        let architecture = ModelConfig::from_name("small-cnn", data.shape(), 10).unwrap();
        device.seed(2);
        let model = architecture.init(&device).unwrap();
        let batch = data.batch(0, 32, &device);
        let step = StepContext {
            epoch: 0,
            epochs: 1,
            step: 5,
            seed: 1,
            device: &device,
            eps_scale: 1.0,
            label_smoothing: 0.0,
        };
        let measure = |objective: &AdtImpam| {
            let (adversarial, hinge) = objective.examples(&model, &batch, &step).unwrap();
            let x = to_floats(adversarial.clone());
            let x0 = to_floats(batch.images.clone());
            assert!(x.iter().zip(&x0).all(|(a, b)| (a - b).abs() <= 0.1 * (1.0 + 1e-6)));
            assert!(x.iter().all(|v| (0.0..=1.0).contains(v)));
            let logits = model.valid().forward(adversarial.without_autodiff());
            let ce = to_floats(adv_core::cross_entropy(logits, batch.labels.clone().inner()).mean())[0];
            (ce, to_floats(hinge)[0])
        };
        for lambda in [0.0f32, 1.0] {
            let mut objective = AdtImpamConfig {
                filters: 8,
                latent: 4,
                lambda,
                threshold: -10.0,
                generator_lr: 0.002,
                encoder_lr: 0.002,
                eps: 0.1,
                ..Default::default()
            }
            .init()
            .unwrap();
            objective.prepare(&architecture, &device).unwrap();
            let (ce0, hinge0) = measure(&objective);
            for _ in 0..12 {
                let grads = objective.loss(&model, &batch, &step).unwrap().loss.backward();
                let _ = objective.parameter_grads(grads, &model);
            }
            let (ce, hinge) = measure(&objective);
            if lambda == 0.0 {
                assert!(ce > ce0, "the cross-entropy should rise: {ce0} -> {ce}");
            } else {
                assert!(hinge < hinge0, "the bound should fall: {hinge0} -> {hinge}");
            }
        }
    }
}
