//! The MNIST network of Burn's `import-model-weights` example (tracel-ai/burn): three unpadded
//! 3x3 convolutions with 8, 16 and 24 channels and ReLU, a 2-D batch norm, then dense
//! `24 * 22 * 22 -> 32`, ReLU, dense `32 -> 10` and a 1-D batch norm on the logits.
//!
//! Parameter names are PyTorch's (`conv1`..`conv3`, `norm1`, `fc1`, `fc2`, `norm2`). The
//! example ends with `log_softmax`; we return the logits before it, which have the same argmax
//! and the same cross-entropy.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::{ModelError, Normalization, Result};

/// Configuration of a [`MnistCnn`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MnistCnnConfig {
    /// Input shape `[channels, height, width]`; height and width above 6.
    #[serde(default = "mnist_input")]
    pub input: [usize; 3],
    /// Number of classes.
    #[serde(default = "mnist_classes")]
    pub num_classes: usize,
    /// Input normalization applied first.
    #[serde(default)]
    pub normalization: Option<Normalization>,
}

/// Outputs of `fc1`.
const HIDDEN: usize = 32;

fn mnist_input() -> [usize; 3] {
    [1, 28, 28]
}

fn mnist_classes() -> usize {
    10
}

/// The MNIST normalization of the example, mean 0.1307 and std 0.3081.
pub fn mnist_normalization() -> Normalization {
    Normalization {
        mean: vec![0.1307],
        std: vec![0.3081],
    }
}

impl Default for MnistCnnConfig {
    /// 28x28 grey images, 10 classes, the MNIST normalization of the example.
    fn default() -> Self {
        Self {
            input: mnist_input(),
            num_classes: mnist_classes(),
            normalization: Some(mnist_normalization()),
        }
    }
}

impl MnistCnnConfig {
    /// Width of [`MnistCnn::features`], the 32 outputs of `fc1`.
    pub fn feature_dim(&self) -> usize {
        HIDDEN
    }

    /// Builds the network with random weights.
    pub fn init(&self, device: &Device) -> Result<MnistCnn> {
        let [c, h, w] = self.input;
        if c == 0 || h <= 6 || w <= 6 || self.num_classes < 2 {
            return Err(ModelError::InvalidConfig(format!(
                "mnist-cnn needs images larger than 6x6 with channels (got {:?}) and at least 2 classes (got {})",
                self.input, self.num_classes
            )));
        }
        if let Some(normalization) = &self.normalization {
            normalization.check(Some(c))?;
        }
        let conv = |input, output| Conv2dConfig::new([input, output], [3, 3]).init(device);
        Ok(MnistCnn {
            conv1: conv(c, 8),
            conv2: conv(8, 16),
            conv3: conv(16, 24),
            norm1: BatchNormConfig::new(24).init(device),
            fc1: LinearConfig::new(24 * (h - 6) * (w - 6), HIDDEN).init(device),
            fc2: LinearConfig::new(HIDDEN, self.num_classes).init(device),
            norm2: BatchNormConfig::new(self.num_classes).init(device),
            normalization: self.normalization.clone(),
        })
    }
}

/// The MNIST CNN of Burn's `import-model-weights` example: conv 3x3 8/16/24 + ReLU, batch norm,
/// dense 11616 -> 32 -> 10, batch norm on the logits; PyTorch parameter names.
#[derive(Module, Debug)]
pub struct MnistCnn {
    conv1: Conv2d,
    conv2: Conv2d,
    conv3: Conv2d,
    norm1: BatchNorm,
    fc1: Linear,
    fc2: Linear,
    norm2: BatchNorm,
    #[module(skip)]
    normalization: Option<Normalization>,
}

impl MnistCnn {
    /// Logits `[n, classes]` of images `[n, c, h, w]` in `[0, 1]`: `head(features(images))`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.head(self.features(images))
    }

    /// `fc1` after its ReLU, `[n, 32]`.
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        let x = match &self.normalization {
            Some(normalization) => normalization.apply(images),
            None => images,
        };
        let x = relu(self.conv1.forward(x));
        let x = relu(self.conv2.forward(x));
        let x = relu(self.conv3.forward(x));
        let x = self.norm1.forward(x);
        let n = x.dims()[0];
        relu(self.fc1.forward(x.reshape([n as i32, -1])))
    }

    /// `fc2` and the batch norm on its logits: logits `[n, classes]` of features `[n, 32]`.
    pub fn head(&self, features: Tensor<2>) -> Tensor<2> {
        self.norm2.forward(self.fc2.forward(features))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_validation() {
        let device = Device::default();
        let model = MnistCnnConfig::default().init(&device).unwrap();
        assert_eq!(model.fc1.weight.dims(), [11616, 32]);
        assert_eq!(
            model
                .forward(Tensor::<4>::zeros([3, 1, 28, 28], &device))
                .dims(),
            [3, 10]
        );
        let config = MnistCnnConfig {
            input: [1, 6, 6],
            ..Default::default()
        };
        assert!(config.init(&device).is_err());
    }
}
