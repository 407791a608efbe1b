//! The networks ADT-EXPAM and ADT-IMPAM train beside the classifier: a residual generator of
//! perturbation parameters (the reference's `resnet_3blocks` with zero padding and batch norms)
//! and ADT-IMPAM's encoder of the latent code; with the Adam optimizer each trains under, and
//! the files a checkpoint keeps of them.

use std::path::Path;

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::activation::{leaky_relu, relu};
use burn::tensor::{Device, Gradients, Tensor};

use crate::{DefenseError, Result};

/// Weights `N(0, 0.02)`, as the reference's `init_weights`.
const GENERATOR_INIT: Initializer = Initializer::Normal {
    mean: 0.0,
    std: 0.02,
};

fn conv(
    channels: [usize; 2],
    kernel: usize,
    stride: usize,
    padding: usize,
    init: Initializer,
    device: &Device,
) -> Conv2d {
    Conv2dConfig::new(channels, [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(
            padding, padding, padding, padding,
        ))
        .with_bias(false)
        .with_initializer(init)
        .init(device)
}

/// A 1x1 projection and its batch norm: the shortcut of a block that changes width.
#[derive(Module, Debug)]
pub struct Projection {
    conv: Conv2d,
    bn: BatchNorm,
}

/// `relu(bn(conv(relu(bn(conv(x))))) + shortcut(x))`.
#[derive(Module, Debug)]
pub struct ResidualBlock {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    shortcut: Option<Projection>,
}

impl ResidualBlock {
    fn new(input: usize, output: usize, device: &Device) -> Self {
        Self {
            conv1: conv([input, output], 3, 1, 1, GENERATOR_INIT, device),
            bn1: BatchNormConfig::new(output).init(device),
            conv2: conv([output, output], 3, 1, 1, GENERATOR_INIT, device),
            bn2: BatchNormConfig::new(output).init(device),
            shortcut: (input != output).then(|| Projection {
                conv: conv([input, output], 1, 1, 0, GENERATOR_INIT, device),
                bn: BatchNormConfig::new(output).init(device),
            }),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let out = relu(self.bn1.forward(self.conv1.forward(x.clone())));
        let out = self.bn2.forward(self.conv2.forward(out));
        let skip = match &self.shortcut {
            Some(projection) => projection.bn.forward(projection.conv.forward(x)),
            None => x,
        };
        relu(out + skip)
    }
}

/// ADT-IMPAM's embedding of the latent code into one extra input channel:
/// `relu(W2 relu(W1 z))` reshaped to `[n, 1, h, w]` (the reference's 64 -> 256 -> 1024 for
/// 32x32 images).
#[derive(Module, Debug)]
pub struct LatentChannel {
    fc1: Linear,
    fc2: Linear,
}

/// The generator: a 3x3 stem to `filters` channels, residual blocks of `filters`, `2 filters`
/// and `filters` channels, and a 3x3 convolution to the output channels; every convolution
/// keeps the image size.
#[derive(Module, Debug)]
pub struct Generator {
    stem: Conv2d,
    stem_bn: BatchNorm,
    blocks: Vec<ResidualBlock>,
    out: Conv2d,
    latent: Option<LatentChannel>,
}

impl Generator {
    /// From `inputs` image channels (plus one latent channel when `latent` is the code's size)
    /// to `outputs` channels, `filters` wide, for `height x width` images.
    pub fn new(
        inputs: usize,
        outputs: usize,
        filters: usize,
        latent: Option<usize>,
        [height, width]: [usize; 2],
        device: &Device,
    ) -> Self {
        let channels = inputs + usize::from(latent.is_some());
        let linear = |from, to| {
            LinearConfig::new(from, to)
                .with_initializer(GENERATOR_INIT)
                .init(device)
        };
        Self {
            stem: conv([channels, filters], 3, 1, 1, GENERATOR_INIT, device),
            stem_bn: BatchNormConfig::new(filters).init(device),
            blocks: vec![
                ResidualBlock::new(filters, 2 * filters, device),
                ResidualBlock::new(2 * filters, 2 * filters, device),
                ResidualBlock::new(2 * filters, filters, device),
            ],
            out: conv([filters, outputs], 3, 1, 1, GENERATOR_INIT, device),
            latent: latent.map(|size| LatentChannel {
                fc1: linear(size, 256),
                fc2: linear(256, height * width),
            }),
        }
    }

    /// The output `[n, outputs, h, w]` for `input` `[n, inputs, h, w]` and, with a latent
    /// channel, the code `z` `[n, size]`.
    pub fn forward(&self, input: Tensor<4>, z: Option<Tensor<2>>) -> Tensor<4> {
        let input = match (&self.latent, z) {
            (Some(latent), Some(z)) => {
                let [n, _, h, w] = input.dims();
                let channel = relu(latent.fc2.forward(relu(latent.fc1.forward(z))));
                Tensor::cat(vec![input, channel.reshape([n, 1, h, w])], 1)
            }
            _ => input,
        };
        let mut x = relu(self.stem_bn.forward(self.stem.forward(input)));
        for block in &self.blocks {
            x = block.forward(x);
        }
        self.out.forward(x)
    }
}

/// ADT-IMPAM's encoder `q(z | delta)`: four convolutions with batch norms and leaky ReLUs
/// (3x3 to 32, 4x4 stride 2 to 64, 3x3 to 128, 4x4 stride 2 to 256), a global average, and a
/// linear layer to the code's means and pre-softplus variances. The reference's layers are
/// sized for 32x32 images (5x5 and 4x4 kernels without padding, then a 4x4 average); these keep
/// its widths and strides with padding, so any image of at least 4x4 works.
#[derive(Module, Debug)]
pub struct Encoder {
    convs: Vec<Conv2d>,
    bns: Vec<BatchNorm>,
    fc: Linear,
}

impl Encoder {
    /// For images of `channels` channels and a code of `latent` dimensions.
    pub fn new(channels: usize, latent: usize, device: &Device) -> Self {
        // He-normal on the fan-out, as the reference initializes its convolutions.
        let init = Initializer::KaimingNormal {
            gain: std::f64::consts::SQRT_2,
            fan_out_only: true,
        };
        let layers = [
            (channels, 32, 3, 1, 1),
            (32, 64, 4, 2, 1),
            (64, 128, 3, 1, 1),
            (128, 256, 4, 2, 1),
        ];
        Self {
            convs: layers
                .iter()
                .map(|&(i, o, k, s, p)| conv([i, o], k, s, p, init.clone(), device))
                .collect(),
            bns: layers
                .iter()
                .map(|&(_, o, ..)| BatchNormConfig::new(o).init(device))
                .collect(),
            fc: LinearConfig::new(256, 2 * latent).init(device),
        }
    }

    /// The means `[n, latent]` and variances (softplus, positive) of the code given `delta`.
    pub fn forward(&self, delta: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        let mut x = delta;
        for (conv, bn) in self.convs.iter().zip(&self.bns) {
            x = leaky_relu(bn.forward(conv.forward(x)), 0.01);
        }
        let [n, c, _, _] = x.dims();
        let pooled = x.mean_dim(3).mean_dim(2).reshape([n, c]);
        let out = self.fc.forward(pooled);
        let [_, twice] = out.dims();
        let latent = twice / 2;
        let mean = out.clone().narrow(1, 0, latent);
        let variance = burn::tensor::activation::softplus(out.narrow(1, latent, latent), 1.0);
        (mean, variance)
    }
}

/// A network trained beside the classifier by its own Adam optimizer.
pub struct Trained<M: Module> {
    /// The network.
    pub net: M,
    optimizer: ModuleOptimizer,
    learning_rate: f64,
}

impl<M: Module + Clone> Trained<M> {
    /// `net` under Adam with `learning_rate` and `beta1` (beta2 0.999).
    pub fn new(net: M, learning_rate: f64, beta1: f32) -> Self {
        Self {
            net,
            optimizer: AdamConfig::new().with_beta_1(beta1).init(),
            learning_rate,
        }
    }

    /// One Adam step on the network's share of `grads` (taken out of them).
    pub fn step(&mut self, grads: &mut Gradients) {
        let own = GradientsParams::from_module(grads, &self.net);
        self.net = self
            .optimizer
            .step(self.learning_rate, self.net.clone(), own);
    }

    /// Writes `NAME.bpk` and `NAME-optimizer.bin` into `folder`.
    pub fn save(&self, folder: &Path, name: &str) -> Result<()> {
        let error = |e: &dyn std::fmt::Display| file_error(folder, name, e);
        self.net
            .clone()
            .save_file(folder.join(format!("{name}.bpk")))
            .map_err(|e| error(&e))?;
        self.optimizer
            .save(folder.join(format!("{name}-optimizer.bin")))
            .map_err(|e| error(&e))
    }

    /// Reads what [`Trained::save`] wrote.
    pub fn load(&mut self, folder: &Path, name: &str) -> Result<()> {
        let error = |e: &dyn std::fmt::Display| file_error(folder, name, e);
        self.net = self
            .net
            .clone()
            .try_load_file(folder.join(format!("{name}.bpk")))
            .map_err(|e| error(&e))?;
        self.optimizer = self
            .optimizer
            .clone()
            .load(folder.join(format!("{name}-optimizer.bin")))
            .map_err(|e| error(&e))?;
        Ok(())
    }
}

fn file_error(folder: &Path, name: &str, error: &dyn std::fmt::Display) -> DefenseError {
    DefenseError::InvalidConfig(format!("checkpoint {}: {name}: {error}", folder.display()))
}

/// An Adam beta1 in `[0, 1)` (the options' domain allows 1), else an error naming `objective`.
pub(crate) fn check_beta1(objective: &str, beta1: f32) -> Result<()> {
    if beta1 >= 1.0 {
        return Err(DefenseError::InvalidConfig(format!(
            "{objective}: generator-beta1 {beta1} must be below 1"
        )));
    }
    Ok(())
}

/// The error of an objective with networks of its own used before `prepare` built them.
pub(crate) fn unprepared(objective: &str) -> DefenseError {
    DefenseError::InvalidConfig(format!(
        "{objective}: the objective was used before `prepare` built its networks"
    ))
}

/// `x` in the forward pass, `-grad` in the backward one: the reference's gradient-reversal hook
/// on `x_adv`, so one backward lets the classifier descend and the generator ascend.
pub fn reverse_gradient(x: Tensor<4>) -> Tensor<4> {
    x.clone().detach().mul_scalar(2.0) - x
}

/// `grad_x` of the mean cross-entropy of `model` (running batch statistics) at `x`, without
/// autodiff.
pub fn input_gradient(
    model: &adv_models::Model,
    x: Tensor<4>,
    labels: burn::tensor::Tensor<1, burn::tensor::Int>,
) -> Tensor<4> {
    let frozen = model.valid();
    let leaf = x.without_autodiff().autodiff().require_grad();
    let loss = adv_core::cross_entropy(frozen.forward(leaf.clone()), labels).mean();
    let grads = loss.backward();
    leaf.grad(&grads)
        .unwrap_or_else(|| leaf.without_autodiff().zeros_like())
}

#[cfg(test)]
mod tests {
    use super::*;
    use adv_core::to_floats;

    #[test]
    fn shapes_and_the_reversal_of_the_gradient() {
        let device = Device::default().autodiff();
        let generator = Generator::new(3, 2, 4, Some(5), [6, 7], &device);
        let out = generator.forward(
            Tensor::ones([2, 3, 6, 7], &device),
            Some(Tensor::ones([2, 5], &device)),
        );
        assert_eq!(out.dims(), [2, 2, 6, 7]);
        let (mean, variance) =
            Encoder::new(1, 5, &device).forward(Tensor::ones([3, 1, 4, 4], &device));
        assert_eq!(mean.dims(), [3, 5]);
        assert!(to_floats(variance).iter().all(|v| *v > 0.0));

        let x = Tensor::<4>::from_floats([[[[1.0f32, -2.0]]]], &device).require_grad();
        let y = reverse_gradient(x.clone());
        assert_eq!(to_floats(y.clone()), vec![1.0, -2.0]);
        let grads = (y.square().sum()).backward();
        // d/dx of y^2 is 2y; reversed, -2x.
        assert_eq!(to_floats(x.grad(&grads).unwrap()), vec![-2.0, 4.0]);
    }
}
