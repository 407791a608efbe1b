//! ResNet-18 and ResNet-50 for ImageNet, He et al., "Deep Residual Learning for Image
//! Recognition" (CVPR 2016), in torchvision's layout (`torchvision/models/resnet.py`): a 7x7
//! stride-2 stem and a 3x3 stride-2 max pool, four stages of basic (ResNet-18) or bottleneck
//! (ResNet-50, stride on the 3x3 convolution as in torchvision's "v1.5") blocks with 64, 128,
//! 256 and 512 base channels, a 1x1 convolution and batch norm on the shortcut where the shape
//! changes, global average pooling and a linear layer.
//!
//! PyTorch keys: `conv1.weight`, `bn1.*`, `layer1.0.conv1.weight`,
//! `layer2.0.downsample.0.weight` (conv), `layer2.0.downsample.1.*` (batch norm), `fc.*`;
//! `downsample.0`/`downsample.1` are our `downsample.conv`/`downsample.bn` (see
//! [`torchvision_resnet_key_mapping`]).

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::layers::{
    ConvBn, TORCH_BN_EPSILON, conv_bn_relu, conv_same, global_average_pool, normalize,
};
use crate::weights::KeyMapping;
use crate::{ModelError, Normalization, Result};

/// Configuration of a [`TorchvisionResNet`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TorchvisionResNetConfig {
    /// 18 (basic blocks) or 50 (bottleneck blocks).
    pub depth: usize,
    /// Input shape `[channels, height, width]`; height and width at least 32.
    #[serde(default = "imagenet_input")]
    pub input: [usize; 3],
    /// Number of classes.
    #[serde(default = "imagenet_classes")]
    pub num_classes: usize,
    /// Input normalization applied first.
    #[serde(default)]
    pub normalization: Option<Normalization>,
}

fn imagenet_input() -> [usize; 3] {
    [3, 224, 224]
}

pub(crate) fn imagenet_classes() -> usize {
    1000
}

/// The normalization of torchvision's ImageNet weights.
pub fn imagenet_normalization() -> Normalization {
    Normalization {
        mean: vec![0.485, 0.456, 0.406],
        std: vec![0.229, 0.224, 0.225],
    }
}

/// ResNet-18 for 224x224 RGB images and 1000 classes, with the ImageNet normalization.
pub fn resnet18() -> TorchvisionResNetConfig {
    TorchvisionResNetConfig::new(18)
}

/// ResNet-50 for 224x224 RGB images and 1000 classes, with the ImageNet normalization.
pub fn resnet50() -> TorchvisionResNetConfig {
    TorchvisionResNetConfig::new(50)
}

/// The key mapping of torchvision checkpoints: `downsample.0`/`.1` are our
/// `downsample.conv`/`.bn`.
pub fn torchvision_resnet_key_mapping() -> KeyMapping {
    KeyMapping {
        renames: vec![
            (r"\.downsample\.0\.".into(), ".downsample.conv.".into()),
            (r"\.downsample\.1\.".into(), ".downsample.bn.".into()),
        ],
        export_renames: vec![
            (r"\.downsample\.conv\.".into(), ".downsample.0.".into()),
            (r"\.downsample\.bn\.".into(), ".downsample.1.".into()),
        ],
    }
}

impl TorchvisionResNetConfig {
    /// ResNet-`depth` (18 or 50) with torchvision's defaults.
    pub fn new(depth: usize) -> Self {
        Self {
            depth,
            input: imagenet_input(),
            num_classes: imagenet_classes(),
            normalization: Some(imagenet_normalization()),
        }
    }

    /// Whether the blocks are bottlenecks (ResNet-50) or basic blocks (ResNet-18), or an
    /// error for another depth.
    fn bottleneck(&self) -> Result<bool> {
        match self.depth {
            18 => Ok(false),
            50 => Ok(true),
            other => Err(ModelError::InvalidConfig(format!(
                "torchvision ResNets here have depth 18 or 50, got {other}"
            ))),
        }
    }

    /// Width of [`TorchvisionResNet::features`]: 512 for ResNet-18, 2048 for ResNet-50, or an
    /// error for another depth.
    pub fn feature_dim(&self) -> Result<usize> {
        Ok(if self.bottleneck()? { 512 * 4 } else { 512 })
    }

    /// Builds the network with random weights.
    pub fn init(&self, device: &Device) -> Result<TorchvisionResNet> {
        let bottleneck = self.bottleneck()?;
        let [c, h, w] = self.input;
        if c == 0 || h < 32 || w < 32 || self.num_classes < 2 {
            return Err(ModelError::InvalidConfig(format!(
                "resnet{} needs images of at least 32x32 with channels (got {:?}) and at least 2 classes (got {})",
                self.depth, self.input, self.num_classes
            )));
        }
        if let Some(normalization) = &self.normalization {
            normalization.check(Some(c))?;
        }
        let (blocks, expansion) = if bottleneck {
            ([3, 4, 6, 3], 4)
        } else {
            ([2, 2, 2, 2], 1)
        };
        let mut input = 64;
        let mut stage = |planes: usize, count: usize, stride: usize| -> Vec<Block> {
            (0..count)
                .map(|i| {
                    let stride = if i == 0 { stride } else { 1 };
                    let block = Block::new(input, planes, expansion, stride, device);
                    input = planes * expansion;
                    block
                })
                .collect()
        };
        let layer1 = stage(64, blocks[0], 1);
        let layer2 = stage(128, blocks[1], 2);
        let layer3 = stage(256, blocks[2], 2);
        let layer4 = stage(512, blocks[3], 2);
        Ok(TorchvisionResNet {
            conv1: conv_same(c, 64, 7, 2, device),
            bn1: BatchNormConfig::new(64).init(device),
            maxpool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            layer1,
            layer2,
            layer3,
            layer4,
            fc: LinearConfig::new(self.feature_dim()?, self.num_classes).init(device),
            normalization: self.normalization.clone(),
        })
    }
}

/// A basic block (two 3x3 convolutions) or, with `conv3`, a bottleneck block (1x1, 3x3, 1x1);
/// `downsample` is the projection shortcut, a 1x1 convolution and batch norm.
#[derive(Module, Debug)]
pub struct Block {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    conv3: Option<Conv2d>,
    bn3: Option<BatchNorm>,
    downsample: Option<ConvBn>,
}

impl Block {
    fn new(input: usize, planes: usize, expansion: usize, stride: usize, device: &Device) -> Self {
        let output = planes * expansion;
        let downsample = (stride != 1 || input != output).then(|| {
            ConvBn::new(
                conv_same(input, output, 1, stride, device),
                TORCH_BN_EPSILON,
                device,
            )
        });
        let bn = |channels| BatchNormConfig::new(channels).init(device);
        if expansion == 1 {
            Self {
                conv1: conv_same(input, planes, 3, stride, device),
                bn1: bn(planes),
                conv2: conv_same(planes, planes, 3, 1, device),
                bn2: bn(planes),
                conv3: None,
                bn3: None,
                downsample,
            }
        } else {
            Self {
                conv1: conv_same(input, planes, 1, 1, device),
                bn1: bn(planes),
                conv2: conv_same(planes, planes, 3, stride, device),
                bn2: bn(planes),
                conv3: Some(conv_same(planes, output, 1, 1, device)),
                bn3: Some(bn(output)),
                downsample,
            }
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let out = conv_bn_relu(&self.conv1, &self.bn1, x.clone());
        let mut out = self.bn2.forward(self.conv2.forward(out));
        if let (Some(conv3), Some(bn3)) = (&self.conv3, &self.bn3) {
            out = bn3.forward(conv3.forward(relu(out)));
        }
        let identity = match &self.downsample {
            Some(downsample) => downsample.forward(x),
            None => x,
        };
        relu(out + identity)
    }
}

/// ResNet-18 or ResNet-50 in torchvision's ImageNet layout.
#[derive(Module, Debug)]
pub struct TorchvisionResNet {
    conv1: Conv2d,
    bn1: BatchNorm,
    maxpool: MaxPool2d,
    layer1: Vec<Block>,
    layer2: Vec<Block>,
    layer3: Vec<Block>,
    layer4: Vec<Block>,
    fc: Linear,
    #[module(skip)]
    normalization: Option<Normalization>,
}

impl TorchvisionResNet {
    /// Logits `[n, classes]` of images `[n, c, h, w]` in `[0, 1]`: `head(features(images))`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.head(self.features(images))
    }

    /// The last stage, globally average-pooled (torchvision's `avgpool` and `flatten`):
    /// `[n, 512]` for ResNet-18, `[n, 2048]` for ResNet-50.
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        let x = normalize(&self.normalization, images);
        let x = self
            .maxpool
            .forward(conv_bn_relu(&self.conv1, &self.bn1, x));
        let blocks = self
            .layer1
            .iter()
            .chain(&self.layer2)
            .chain(&self.layer3)
            .chain(&self.layer4);
        let x = blocks.fold(x, |x, block| block.forward(x));
        global_average_pool(x)
    }

    /// The `fc` layer: logits `[n, classes]` of features `[n, 512]` or `[n, 2048]`.
    pub fn head(&self, features: Tensor<2>) -> Tensor<2> {
        self.fc.forward(features)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::store::{BurnToPyTorchAdapter, KeyRemapper, ModuleSnapshot};

    fn pytorch_tensors(model: &TorchvisionResNet) -> Vec<(String, usize)> {
        let tensors = model.collect(None, Some(Box::new(BurnToPyTorchAdapter)), true);
        let mapping = torchvision_resnet_key_mapping();
        let (tensors, _) = KeyRemapper::from_patterns(mapping.export_renames)
            .unwrap()
            .remap(tensors);
        tensors
            .into_iter()
            .map(|t| (t.name, t.shape.num_elements()))
            .collect()
    }

    #[test]
    fn parameter_counts_and_keys_are_torchvisions() {
        let device = Device::default();
        // torchvision's documented sizes: 11,689,512 and 25,557,032 parameters.
        for (config, expected, keys) in [
            (
                resnet18(),
                11_689_512,
                ["layer2.0.downsample.0.weight", "layer4.1.bn2.running_var"],
            ),
            (
                resnet50(),
                25_557_032,
                [
                    "layer1.0.downsample.1.running_mean",
                    "layer3.5.conv3.weight",
                ],
            ),
        ] {
            let tensors = pytorch_tensors(&config.init(&device).unwrap());
            let params: usize = tensors
                .iter()
                .filter(|(name, _)| !name.contains("running"))
                .map(|(_, n)| n)
                .sum();
            assert_eq!(params, expected, "resnet{}", config.depth);
            for key in keys
                .iter()
                .chain(&["conv1.weight", "bn1.weight", "fc.bias"])
            {
                assert!(tensors.iter().any(|(name, _)| name == key), "{key} missing");
            }
        }
    }

    #[test]
    fn runs_on_small_images_and_validates() {
        let device = Device::default();
        let config = TorchvisionResNetConfig {
            input: [3, 32, 32],
            num_classes: 10,
            ..resnet18()
        };
        let model = config.init(&device).unwrap();
        assert_eq!(
            model
                .forward(Tensor::<4>::zeros([1, 3, 32, 32], &device))
                .dims(),
            [1, 10]
        );
        assert!(TorchvisionResNetConfig::new(34).init(&device).is_err());
        let tiny = TorchvisionResNetConfig {
            input: [3, 16, 16],
            ..resnet18()
        };
        assert!(tiny.init(&device).is_err());
    }
}
