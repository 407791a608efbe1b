//! Translation-Invariant attack: the gradient of each step is convolved with a Gaussian kernel
//! (channel by channel) before the step, which approximates attacking an ensemble of
//! translated images and makes the examples evade translation-sensitive defenses. Dong, Pang,
//! Su & Zhu, "Evading Defenses to Transferable Adversarial Examples by Translation-Invariant
//! Attacks", CVPR 2019.
//!
//! Defaults: a 15 x 15 kernel spanning 3 standard deviations each side (the paper's kernel and
//! the reference code's), momentum decay 1.0 (TI-MI-FGSM), no input diversity (set
//! `diversity_prob` to 0.5 for TI-DIM), 10 steps of `eps / steps`.
//!
//! ```
//! use adv_attacks::TiConfig;
//! let ti_dim = TiConfig { diversity_prob: 0.5, ..Default::default() }.init().unwrap();
//! ```

use adv_core::burn::tensor::module::conv2d;
use adv_core::burn::tensor::ops::ConvOptions;
use adv_core::burn::tensor::{Device, Tensor};
use adv_core::{Knowledge, Loss, Norm, floats_from};

use crate::dim::InputDiversity;
use crate::gradient::{GradientAscent, StepSize, ascent_attack};
use crate::{AttackError, AttackInfo, Result};

adv_core::options! {
    /// Configuration of [`Ti`].
    pub struct TiConfig {
        /// Number of gradient steps.
        steps: usize [Domain::AtLeast(1.0), Label::Value] = 10,
        /// Step length (default eps/steps).
        step_size: StepSize [Domain::Any, Label::Changed] = StepSize::EpsOverSteps,
        /// Momentum decay (0: TI-FGSM iterated, no momentum).
        decay: f32 [Domain::NonNegative, Label::Changed] = 1.0,
        /// Side of the square Gaussian kernel (odd).
        kernel_size: usize [Domain::AtLeast(1.0), Label::Changed] = 15,
        /// Standard deviations the kernel spans on each side of its centre.
        nsig: f32 [Domain::Positive, Label::Changed] = 3.0,
        /// Probability of DIM's resize-and-pad at each step (0: none; 0.5: TI-DIM).
        diversity_prob: f32 [Domain::Unit, Label::Changed] = 0.0,
        /// Smallest size of DIM's resized copy, as a fraction of the image size.
        resize_rate: f32 [Domain::UnitAboveZero, Label::Changed] = 0.9,
        /// The loss that is climbed: ce (cross-entropy) or cw (the logit margin).
        loss: Loss [Domain::Any, Label::ValueIfChanged] = Loss::CrossEntropy,
        /// For L1: fraction of coordinates moved per step (the largest gradient entries).
        l1_fraction: f32 [Domain::UnitAboveZero, Label::Changed] = 0.01,
    }
}

impl TiConfig {
    /// The attack, or an error if the configuration is invalid.
    pub fn init(&self) -> Result<Ti> {
        adv_core::Options::check_domains(self)
            .map_err(|problem| AttackError::config(INFO.name, problem))?;
        let diversity = InputDiversity {
            probability: self.diversity_prob,
            resize_rate: self.resize_rate,
        };
        let ascent = GradientAscent {
            info: &INFO,
            steps: self.steps,
            step_size: self.step_size,
            random_start: false,
            start_std: 0.0,
            loss: self.loss.into(),
            l1_fraction: self.l1_fraction,
            momentum: Some(self.decay),
            diversity: (self.diversity_prob > 0.0).then_some(diversity),
            smoothing: Some(GaussianSmoothing {
                kernel_size: self.kernel_size,
                nsig: self.nsig,
            }),
        };
        ascent.check()?;
        Ok(Ti { ascent })
    }
}

/// The translation-invariant attack, with momentum by default (Linf, L2, L1).
#[derive(Clone, Debug)]
pub struct Ti {
    ascent: GradientAscent,
}

ascent_attack!(Ti);

pub(crate) static INFO: AttackInfo = AttackInfo {
    name: "ti",
    aliases: &["ti-fgsm", "ti-mim"],
    paper: "Dong et al., CVPR 2019",
    norms: &Norm::ALL,
    access: Knowledge::WhiteBox,
    targeted: true,
    minimizes_distance: false,
    config: adv_core::ConfigFns::of::<TiConfig>(),
    build: |settings| Ok(Box::new(adv_core::configure::<TiConfig>("ti", settings)?.init()?)),
};

pub(crate) const ATTACKS: &[&AttackInfo] = &[&INFO];

/// The Gaussian smoothing of TI.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct GaussianSmoothing {
    pub kernel_size: usize,
    pub nsig: f32,
}

impl GaussianSmoothing {
    pub fn check(&self, attack: &str) -> Result<()> {
        if self.kernel_size.is_multiple_of(2) {
            return Err(AttackError::config(
                attack,
                format!("kernel size {} must be odd", self.kernel_size),
            ));
        }
        if !(self.nsig.is_finite() && self.nsig > 0.0) {
            return Err(AttackError::config(
                attack,
                format!("nsig {} must be finite and positive", self.nsig),
            ));
        }
        Ok(())
    }

    /// The normalized 2-D kernel, row-major `[k, k]`.
    fn weights(&self) -> Vec<f32> {
        let k = self.kernel_size;
        let radius = (k / 2) as f32;
        let profile: Vec<f32> = (0..k)
            .map(|i| {
                let z = if k == 1 {
                    0.0
                } else {
                    (i as f32 - radius) / radius * self.nsig
                };
                (-0.5 * z * z).exp()
            })
            .collect();
        let outer: Vec<f32> = profile
            .iter()
            .flat_map(|a| profile.iter().map(move |b| a * b))
            .collect();
        let total: f32 = outer.iter().sum();
        outer.into_iter().map(|v| v / total).collect()
    }

    /// The depthwise convolution for images of `channels` channels, built once per run.
    pub fn kernel(&self, channels: usize, device: &Device) -> SmoothingKernel {
        let k = self.kernel_size;
        let weights = self.weights().repeat(channels);
        SmoothingKernel {
            weight: floats_from(weights, [channels, 1, k, k], device),
            options: ConvOptions::new([1, 1], [k / 2, k / 2], [1, 1], channels),
        }
    }
}

/// A built [`GaussianSmoothing`].
pub(crate) struct SmoothingKernel {
    weight: Tensor<4>,
    options: ConvOptions<2>,
}

impl SmoothingKernel {
    /// `grad` convolved with the kernel, zero-padded so the shape is kept.
    pub fn smooth(&self, grad: Tensor<4>) -> Tensor<4> {
        conv2d(grad, self.weight.clone(), None, self.options.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use adv_core::to_floats;

    #[test]
    fn kernel_is_a_normalized_symmetric_gaussian() {
        let smoothing = GaussianSmoothing {
            kernel_size: 5,
            nsig: 2.0,
        };
        let weights = smoothing.weights();
        assert!((weights.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        // Neighbouring entries of the centre row are exp(-z^2 / 2) apart, z = 1 per pixel here.
        assert!((weights[12 + 1] / weights[12] - (-0.5f32).exp()).abs() < 1e-6);
        assert!((weights[12 + 2] / weights[12] - (-2.0f32).exp()).abs() < 1e-6);
        assert_eq!(weights[0], weights[24]);
        assert_eq!(weights[1], weights[5]);
    }

    #[test]
    fn smoothing_spreads_an_impulse_into_the_kernel() {
        let smoothing = GaussianSmoothing {
            kernel_size: 3,
            nsig: 1.0,
        };
        let kernel = smoothing.kernel(2, &Device::default());
        let mut impulse = vec![0.0; 2 * 5 * 5];
        impulse[12] = 1.0; // centre of channel 0
        let smoothed =
            to_floats(kernel.smooth(floats_from(impulse, [1, 2, 5, 5], &Device::default())));
        let weights = smoothing.weights();
        for (r, row) in weights.chunks(3).enumerate() {
            for (c, &w) in row.iter().enumerate() {
                assert!((smoothed[(r + 1) * 5 + c + 1] - w).abs() < 1e-6);
            }
        }
        assert!(
            smoothed[25..].iter().all(|&v| v == 0.0),
            "channels are smoothed apart"
        );
    }

    #[test]
    fn invalid_configs_are_errors() {
        assert!(
            TiConfig {
                kernel_size: 4,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        assert!(
            TiConfig {
                nsig: 0.0,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        assert!(
            TiConfig {
                diversity_prob: -0.1,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        assert!(TiConfig::default().init().is_ok());
    }
}
