//! The CIFAR ResNets of He et al., "Deep Residual Learning for Image Recognition" (CVPR 2016,
//! section 4.2): a 3x3 stem of 16 channels, three stages of `n` basic blocks with 16, 32 and 64
//! channels (the last two starting with stride 2), global average pooling and one linear layer;
//! depth `6n + 2`. Shortcuts are option A: identity, or, where the shape changes, the input
//! subsampled with stride 2 and zero-padded with `planes / 4` channels on each side.
//!
//! The layout and parameter names are those of akamaster/pytorch_resnet_cifar10 (`conv1.weight`,
//! `bn1.*`, `layer1.0.conv1.weight`, ..., `linear.weight`), so its checkpoints load with the
//! identity key mapping.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, s};
use serde::{Deserialize, Serialize};

use crate::layers::{conv_bn_relu, conv_same, global_average_pool, normalize};
use crate::{ModelError, Normalization, Result};

/// Configuration of a [`CifarResNet`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CifarResNetConfig {
    /// Number of weighted layers, `6n + 2` with `n >= 1` (20, 32, 44, 56, 110, ...).
    pub depth: usize,
    /// Input shape `[channels, height, width]`; height and width at least 4.
    #[serde(default = "cifar_input")]
    pub input: [usize; 3],
    /// Number of classes.
    #[serde(default = "cifar_classes")]
    pub num_classes: usize,
    /// Input normalization applied first.
    #[serde(default)]
    pub normalization: Option<Normalization>,
}

/// Channels of the last stage.
const LAST_STAGE: usize = 64;

fn cifar_input() -> [usize; 3] {
    [3, 32, 32]
}

fn cifar_classes() -> usize {
    10
}

/// The normalization the akamaster checkpoints were trained with (ImageNet statistics).
pub fn akamaster_normalization() -> Normalization {
    Normalization {
        mean: vec![0.485, 0.456, 0.406],
        std: vec![0.229, 0.224, 0.225],
    }
}

impl CifarResNetConfig {
    /// ResNet-`depth` for 32x32 RGB images and 10 classes, with the normalization of the
    /// akamaster checkpoints.
    pub fn new(depth: usize) -> Self {
        Self {
            depth,
            input: cifar_input(),
            num_classes: cifar_classes(),
            normalization: Some(akamaster_normalization()),
        }
    }

    /// Blocks per stage, `(depth - 2) / 6`, or an error for a depth that is not `6n + 2`.
    pub fn blocks_per_stage(&self) -> Result<usize> {
        if self.depth < 8 || !(self.depth - 2).is_multiple_of(6) {
            return Err(ModelError::InvalidConfig(format!(
                "a CIFAR ResNet has depth 6n + 2 with n >= 1 (20, 32, 44, 56, 110, ...), got {}",
                self.depth
            )));
        }
        Ok((self.depth - 2) / 6)
    }

    /// Width of [`CifarResNet::features`]: the 64 channels of the last stage.
    pub fn feature_dim(&self) -> usize {
        LAST_STAGE
    }

    /// Builds the network with random weights.
    pub fn init(&self, device: &Device) -> Result<CifarResNet> {
        let blocks = self.blocks_per_stage()?;
        let [c, h, w] = self.input;
        if c == 0 || h < 4 || w < 4 || self.num_classes < 2 {
            return Err(ModelError::InvalidConfig(format!(
                "a CIFAR ResNet needs images of at least 4x4 with channels (got {:?}) and at least 2 classes (got {})",
                self.input, self.num_classes
            )));
        }
        if let Some(normalization) = &self.normalization {
            normalization.check(Some(c))?;
        }
        let stage = |input: usize, planes: usize, stride: usize| -> Vec<BasicBlock> {
            (0..blocks)
                .map(|i| match i {
                    0 => BasicBlock::new(input, planes, stride, device),
                    _ => BasicBlock::new(planes, planes, 1, device),
                })
                .collect()
        };
        Ok(CifarResNet {
            conv1: conv_same(c, 16, 3, 1, device),
            bn1: BatchNormConfig::new(16).init(device),
            layer1: stage(16, 16, 1),
            layer2: stage(16, 32, 2),
            layer3: stage(32, LAST_STAGE, 2),
            linear: LinearConfig::new(LAST_STAGE, self.num_classes).init(device),
            normalization: self.normalization.clone(),
        })
    }
}

/// ResNet-20 (269,722 parameters).
pub fn resnet20() -> CifarResNetConfig {
    CifarResNetConfig::new(20)
}

/// ResNet-32.
pub fn resnet32() -> CifarResNetConfig {
    CifarResNetConfig::new(32)
}

/// ResNet-44.
pub fn resnet44() -> CifarResNetConfig {
    CifarResNetConfig::new(44)
}

/// ResNet-56.
pub fn resnet56() -> CifarResNetConfig {
    CifarResNetConfig::new(56)
}

/// ResNet-110.
pub fn resnet110() -> CifarResNetConfig {
    CifarResNetConfig::new(110)
}

/// conv-bn-relu-conv-bn, plus the shortcut, then relu.
#[derive(Module, Debug)]
pub struct BasicBlock {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    /// Channels zero-padded on each side of a subsampled shortcut; `None` for the identity.
    #[module(skip)]
    pad_channels: Option<usize>,
}

impl BasicBlock {
    fn new(input: usize, planes: usize, stride: usize, device: &Device) -> Self {
        Self {
            conv1: conv_same(input, planes, 3, stride, device),
            bn1: BatchNormConfig::new(planes).init(device),
            conv2: conv_same(planes, planes, 3, 1, device),
            bn2: BatchNormConfig::new(planes).init(device),
            pad_channels: (stride != 1 || input != planes).then_some(planes / 4),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let out = conv_bn_relu(&self.conv1, &self.bn1, x.clone());
        let out = self.bn2.forward(self.conv2.forward(out));
        let shortcut = match self.pad_channels {
            None => x,
            Some(pad) => {
                let x = x.slice(s![.., .., ..;2, ..;2]);
                let [n, _, h, w] = x.dims();
                let zeros = Tensor::<4>::zeros([n, pad, h, w], &x.device());
                Tensor::cat(vec![zeros.clone(), x, zeros], 1)
            }
        };
        relu(out + shortcut)
    }
}

/// A CIFAR ResNet of He et al. 2016 with option-A shortcuts, in the akamaster layout.
#[derive(Module, Debug)]
pub struct CifarResNet {
    conv1: Conv2d,
    bn1: BatchNorm,
    layer1: Vec<BasicBlock>,
    layer2: Vec<BasicBlock>,
    layer3: Vec<BasicBlock>,
    linear: Linear,
    #[module(skip)]
    normalization: Option<Normalization>,
}

impl CifarResNet {
    /// Logits `[n, classes]` of images `[n, c, h, w]` in `[0, 1]`: `head(features(images))`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.head(self.features(images))
    }

    /// The last stage, globally average-pooled: `[n, 64]`.
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        let x = normalize(&self.normalization, images);
        let mut x = conv_bn_relu(&self.conv1, &self.bn1, x);
        for block in self.layer1.iter().chain(&self.layer2).chain(&self.layer3) {
            x = block.forward(x);
        }
        global_average_pool(x)
    }

    /// The linear layer: logits `[n, classes]` of features `[n, 64]`.
    pub fn head(&self, features: Tensor<2>) -> Tensor<2> {
        self.linear.forward(features)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::store::ModuleSnapshot;

    #[test]
    fn depths_must_be_6n_plus_2() {
        let device = Device::default();
        for depth in [0, 2, 7, 21, 34] {
            assert!(
                CifarResNetConfig::new(depth).init(&device).is_err(),
                "depth {depth}"
            );
        }
        let mut config = resnet20();
        config.input = [3, 2, 2];
        assert!(config.init(&device).is_err());
        config.input = [1, 32, 32];
        assert!(
            config.init(&device).is_err(),
            "3-channel normalization on 1-channel input"
        );
    }

    #[test]
    fn resnet20_has_the_akamaster_parameters_and_shapes() {
        let device = Device::default();
        let model = resnet20().init(&device).unwrap();
        let tensors = model.collect(None, None, true);
        // 1 stem conv + 18 block convs, 19 batch norms with 4 tensors each, linear weight and bias.
        assert_eq!(tensors.len(), 19 + 19 * 4 + 2);
        let shape = |name: &str| {
            tensors
                .iter()
                .find(|t| t.name == name)
                .map(|t| t.shape.to_vec())
                .unwrap_or_default()
        };
        assert_eq!(shape("conv1.weight"), [16, 3, 3, 3]);
        assert_eq!(shape("layer2.0.conv1.weight"), [32, 16, 3, 3]);
        assert_eq!(shape("layer3.2.bn2.running_var"), [64]);
        assert_eq!(shape("linear.weight"), [64, 10]);
        let params: usize = tensors
            .iter()
            .filter(|t| !t.name.contains("running"))
            .map(|t| t.shape.num_elements())
            .sum();
        assert_eq!(params, 269_722, "ResNet-20 has 0.27M parameters");
    }

    #[test]
    fn option_a_shortcut_subsamples_and_zero_pads() {
        let device = Device::default();
        let model = resnet56().init(&device).unwrap();
        assert_eq!(model.layer1.len(), 9);
        let images = Tensor::<4>::ones([2, 3, 32, 32], &device).mul_scalar(0.5);
        assert_eq!(model.forward(images).dims(), [2, 10]);
        let block = BasicBlock::new(16, 32, 2, &device).valid();
        let x = Tensor::<4>::random([1, 16, 8, 8], burn::tensor::Distribution::Default, &device);
        assert_eq!(block.forward(x).dims(), [1, 32, 4, 4]);
    }
}
