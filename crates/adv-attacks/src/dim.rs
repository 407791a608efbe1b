//! Diverse Inputs Method: the gradient of each step is taken at a randomly resized and padded
//! copy of the input (with probability `p`, else at the input itself), which makes the
//! examples transfer better. Xie, Zhang, Zhou, Bai, Wang, Ren & Yuille, "Improving
//! Transferability of Adversarial Examples with Input Diversity", CVPR 2019.
//!
//! Each transformed sample is shrunk by nearest-neighbour resampling (the paper's
//! interpolation) to a random size between `resize_rate` times its size and its full size,
//! then zero-padded back to its size at a random offset, so any fixed-size model can take it
//! (the paper enlarges 299 to 330 for Inception; shrinking is torchattacks' convention). The
//! draws are keyed per sample and per step with [`adv_core::sample_rng`].
//!
//! Defaults: `p = 0.5`, `resize_rate = 0.9`, momentum decay 1.0 (the paper's M-DI²-FGSM; decay
//! 0 gives DI²-FGSM), 10 steps of `eps / steps`.
//!
//! ```
//! use adv_attacks::DimConfig;
//! let di2_fgsm = DimConfig { decay: 0.0, ..Default::default() }.init().unwrap();
//! ```

use adv_core::burn::tensor::{Device, Tensor};
use adv_core::{Knowledge, Loss, Norm, floats_from};
use rand::Rng;

use crate::gradient::{GradientAscent, StepSize, ascent_attack};
use crate::{AttackError, AttackInfo, Context, Result};

adv_core::options! {
    /// Configuration of [`Dim`].
    pub struct DimConfig {
        /// Number of gradient steps.
        steps: usize [Domain::AtLeast(1.0), Label::Value] = 10,
        /// Step length (default eps/steps).
        step_size: StepSize [Domain::Any, Label::Changed] = StepSize::EpsOverSteps,
        /// Momentum decay (0: DI2-FGSM without momentum).
        decay: f32 [Domain::NonNegative, Label::Changed] = 1.0,
        /// Probability that a sample is resized and padded at a step.
        diversity_prob: f32 [Domain::Unit, Label::Changed] = 0.5,
        /// Smallest size of the resized copy, as a fraction of the image size.
        resize_rate: f32 [Domain::UnitAboveZero, Label::Changed] = 0.9,
        /// The loss that is climbed: ce (cross-entropy) or cw (the logit margin).
        loss: Loss [Domain::Any, Label::ValueIfChanged] = Loss::CrossEntropy,
        /// For L1: fraction of coordinates moved per step (the largest gradient entries).
        l1_fraction: f32 [Domain::UnitAboveZero, Label::Changed] = 0.01,
    }
}

impl DimConfig {
    /// The attack, or an error if the configuration is invalid.
    pub fn init(&self) -> Result<Dim> {
        adv_core::Options::check_domains(self)
            .map_err(|problem| AttackError::config(INFO.name, problem))?;
        let ascent = GradientAscent {
            info: &INFO,
            steps: self.steps,
            step_size: self.step_size,
            random_start: false,
            start_std: 0.0,
            loss: self.loss.into(),
            l1_fraction: self.l1_fraction,
            momentum: Some(self.decay),
            diversity: Some(InputDiversity {
                probability: self.diversity_prob,
                resize_rate: self.resize_rate,
            }),
            smoothing: None,
        };
        ascent.check()?;
        Ok(Dim { ascent })
    }
}

/// The diverse inputs method, with momentum by default (Linf, L2, L1).
#[derive(Clone, Debug)]
pub struct Dim {
    ascent: GradientAscent,
}

ascent_attack!(Dim);

pub(crate) static INFO: AttackInfo = AttackInfo {
    name: "dim",
    aliases: &["di-fgsm", "di-mim"],
    paper: "Xie et al., CVPR 2019",
    norms: &Norm::ALL,
    access: Knowledge::WhiteBox,
    targeted: true,
    minimizes_distance: false,
    config: adv_core::ConfigFns::of::<DimConfig>(),
    build: |settings| Ok(Box::new(adv_core::configure::<DimConfig>("dim", settings)?.init()?)),
};

pub(crate) const ATTACKS: &[&AttackInfo] = &[&INFO];

/// The random resize-and-pad transformation of DIM.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct InputDiversity {
    pub probability: f32,
    pub resize_rate: f32,
}

impl InputDiversity {
    pub fn check(&self, attack: &str) -> Result<()> {
        if !(0.0..=1.0).contains(&self.probability) {
            return Err(AttackError::config(
                attack,
                format!(
                    "diversity probability {} must be in [0, 1]",
                    self.probability
                ),
            ));
        }
        if !(self.resize_rate > 0.0 && self.resize_rate <= 1.0) {
            return Err(AttackError::config(
                attack,
                format!("resize rate {} must be in (0, 1]", self.resize_rate),
            ));
        }
        Ok(())
    }

    /// The transformation of every row of `ctx` at draw `draw` (one per step).
    pub fn draw(&self, ctx: &Context, draw: u64) -> Resampling {
        let [_, channels, height, width] = ctx.images().dims();
        let layouts: Vec<Option<Layout>> = (0..ctx.len())
            .map(|row| {
                let mut rng = ctx.rng(row, draw);
                rng.random_bool(f64::from(self.probability))
                    .then(|| Layout::draw(&mut rng, self.resize_rate, height, width))
            })
            .collect();
        Resampling::new(&layouts, channels, height, width, &ctx.images().device())
    }
}

/// Where the resized copy of one sample lands in the padded image.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Layout {
    size: [usize; 2],
    offset: [usize; 2],
}

impl Layout {
    fn draw<R: Rng>(rng: &mut R, rate: f32, height: usize, width: usize) -> Self {
        let smallest = ((rate * height as f32).floor() as usize).clamp(1, height);
        let size_h = rng.random_range(smallest..=height);
        // The same scale on both axes, so square images stay square.
        let size_w = ((size_h * width) as f32 / height as f32).round() as usize;
        let size_w = size_w.clamp(1, width);
        Self {
            size: [size_h, size_w],
            offset: [
                rng.random_range(0..=height - size_h),
                rng.random_range(0..=width - size_w),
            ],
        }
    }

    /// The `[full, full]` matrix of one axis: nearest-neighbour shrink, then shift.
    fn axis(size: usize, offset: usize, full: usize) -> Vec<f32> {
        let mut matrix = vec![0.0; full * full];
        for i in 0..size {
            matrix[(offset + i) * full + i * full / size] = 1.0;
        }
        matrix
    }
}

/// Per-sample linear resampling `x -> R x C^T` of the rows and columns of every channel.
pub(crate) struct Resampling {
    rows: Tensor<4>,
    columns: Tensor<4>,
}

impl Resampling {
    /// `None` leaves a sample unchanged.
    fn new(
        layouts: &[Option<Layout>],
        channels: usize,
        height: usize,
        width: usize,
        device: &Device,
    ) -> Self {
        let identity = |full: usize| Layout::axis(full, 0, full);
        let mut rows = Vec::with_capacity(layouts.len() * height * height);
        let mut columns = Vec::with_capacity(layouts.len() * width * width);
        for layout in layouts {
            match layout {
                Some(layout) => {
                    rows.extend(Layout::axis(layout.size[0], layout.offset[0], height));
                    columns.extend(Layout::axis(layout.size[1], layout.offset[1], width));
                }
                None => {
                    rows.extend(identity(height));
                    columns.extend(identity(width));
                }
            }
        }
        let n = layouts.len();
        Self {
            rows: floats_from(rows, [n, 1, height, height], device)
                .expand([n, channels, height, height]),
            columns: floats_from(columns, [n, 1, width, width], device)
                .expand([n, channels, width, width]),
        }
    }

    /// The transformed images.
    pub fn apply(&self, images: Tensor<4>) -> Tensor<4> {
        self.rows
            .clone()
            .matmul(images)
            .matmul(self.columns.clone().transpose())
    }

    /// The gradient with respect to the images, from the gradient at the transformed images
    /// (the transpose of the linear map).
    pub fn pull_back(&self, grad: Tensor<4>) -> Tensor<4> {
        self.rows
            .clone()
            .transpose()
            .matmul(grad)
            .matmul(self.columns.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use adv_core::{sample_rng, to_floats};

    fn image(n: usize, height: usize, width: usize) -> Tensor<4> {
        let values = (0..n * height * width).map(|v| v as f32 + 1.0).collect();
        floats_from(values, [n, 1, height, width], &Device::default())
    }

    #[test]
    fn resize_and_pad_matches_hand_computed_example() {
        // 4x4 shrunk to 2x2 by nearest neighbour (rows and columns 0 and 2), placed at (1, 2).
        let layout = Layout {
            size: [2, 2],
            offset: [1, 2],
        };
        let resampling = Resampling::new(&[Some(layout), None], 1, 4, 4, &Device::default());
        let out = to_floats(resampling.apply(image(2, 4, 4)));
        #[rustfmt::skip]
        let expected = [
            0.0, 0.0, 0.0, 0.0,
            0.0, 0.0, 1.0, 3.0,
            0.0, 0.0, 9.0, 11.0,
            0.0, 0.0, 0.0, 0.0,
        ];
        assert_eq!(&out[..16], &expected);
        let untouched: Vec<f32> = (17..=32).map(|v| v as f32).collect();
        assert_eq!(&out[16..], &untouched[..]);
    }

    #[test]
    fn pull_back_is_the_adjoint() {
        let layout = Layout {
            size: [3, 4],
            offset: [2, 1],
        };
        let resampling = Resampling::new(&[Some(layout)], 1, 5, 6, &Device::default());
        let x = image(1, 5, 6);
        let g = image(1, 5, 6).sin();
        let forward: f32 = to_floats(resampling.apply(x.clone()) * g.clone())
            .iter()
            .sum();
        let backward: f32 = to_floats(x * resampling.pull_back(g)).iter().sum();
        assert!(
            (forward - backward).abs() < 1e-3 * forward.abs(),
            "{forward} vs {backward}"
        );
    }

    #[test]
    fn layouts_stay_inside_the_image() {
        let mut rng = sample_rng(3, 4, 5);
        for _ in 0..200 {
            let layout = Layout::draw(&mut rng, 0.5, 8, 12);
            assert!((4..=8).contains(&layout.size[0]));
            assert!((layout.size[1] as f32 - layout.size[0] as f32 * 1.5).abs() <= 0.5);
            assert!(layout.offset[0] + layout.size[0] <= 8);
            assert!(layout.offset[1] + layout.size[1] <= 12);
        }
    }

    #[test]
    fn invalid_configs_are_errors() {
        assert!(
            DimConfig {
                diversity_prob: 1.5,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        assert!(
            DimConfig {
                resize_rate: 0.0,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        assert!(
            DimConfig {
                decay: -1.0,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        assert!(DimConfig::default().init().is_ok());
    }
}
