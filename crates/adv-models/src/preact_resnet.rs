//! PreAct-ResNet-18, He et al., "Identity Mappings in Deep Residual Networks" (ECCV 2016), in the
//! CIFAR layout used by RobustBench and Rice et al. (`model_zoo/architectures/resnet.py`,
//! `PreActResNet`): a 3x3 stem of 64 channels, four stages of two pre-activation blocks with
//! 64, 128, 256 and 512 channels (the last three starting with stride 2, a 1x1 convolution on
//! the shortcut where the shape changes), batch norm, ReLU, global average pooling and a linear
//! layer.
//!
//! PyTorch keys: `conv1.weight`, `layer1.0.bn1.weight`, `layer2.0.shortcut.0.weight`, `bn.*`,
//! `linear.*`; `shortcut.0` is our `shortcut` (see [`preact_resnet_key_mapping`]).

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::layers::{conv_same, global_average_pool, normalize, pre_activation_residual};
use crate::weights::KeyMapping;
use crate::{ModelError, Normalization, Result};

/// Channels of the last stage.
const LAST_STAGE: usize = 512;

/// Configuration of a [`PreActResNet18`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PreActResNet18Config {
    /// Input shape `[channels, height, width]`; height and width at least 8.
    pub input: [usize; 3],
    /// Number of classes.
    pub num_classes: usize,
    /// Input normalization applied first.
    #[serde(default)]
    pub normalization: Option<Normalization>,
}

impl PreActResNet18Config {
    /// For `input` images and `num_classes` classes, without normalization.
    pub fn new(input: [usize; 3], num_classes: usize) -> Self {
        Self {
            input,
            num_classes,
            normalization: None,
        }
    }

    /// Width of [`PreActResNet18::features`]: the 512 channels of the last stage.
    pub fn feature_dim(&self) -> usize {
        LAST_STAGE
    }

    /// Builds the network with random weights.
    pub fn init(&self, device: &Device) -> Result<PreActResNet18> {
        let [c, h, w] = self.input;
        if c == 0 || h < 8 || w < 8 || self.num_classes < 2 {
            return Err(ModelError::InvalidConfig(format!(
                "preact-resnet18 needs images of at least 8x8 with channels (got {:?}) and at least 2 classes (got {})",
                self.input, self.num_classes
            )));
        }
        if let Some(normalization) = &self.normalization {
            normalization.check(Some(c))?;
        }
        let stage = |input: usize, planes: usize, stride: usize| {
            vec![
                PreActBlock::new(input, planes, stride, device),
                PreActBlock::new(planes, planes, 1, device),
            ]
        };
        Ok(PreActResNet18 {
            conv1: conv_same(c, 64, 3, 1, device),
            layer1: stage(64, 64, 1),
            layer2: stage(64, 128, 2),
            layer3: stage(128, 256, 2),
            layer4: stage(256, LAST_STAGE, 2),
            bn: BatchNormConfig::new(LAST_STAGE).init(device),
            linear: LinearConfig::new(LAST_STAGE, self.num_classes).init(device),
            normalization: self.normalization.clone(),
        })
    }
}

/// PreAct-ResNet-18 for 32x32 RGB images and 10 classes, without normalization.
pub fn preact_resnet18() -> PreActResNet18Config {
    PreActResNet18Config::new([3, 32, 32], 10)
}

/// The key mapping of the PyTorch layout: `shortcut.0` (an `nn.Sequential`) is our `shortcut`.
pub fn preact_resnet_key_mapping() -> KeyMapping {
    KeyMapping {
        renames: vec![(r"\.shortcut\.0\.".into(), ".shortcut.".into())],
        export_renames: vec![(r"\.shortcut\.".into(), ".shortcut.0.".into())],
    }
}

/// bn-relu-conv-bn-relu-conv plus the shortcut, which starts from the activated input when it
/// is a convolution.
#[derive(Module, Debug)]
pub struct PreActBlock {
    bn1: BatchNorm,
    conv1: Conv2d,
    bn2: BatchNorm,
    conv2: Conv2d,
    shortcut: Option<Conv2d>,
}

impl PreActBlock {
    fn new(input: usize, planes: usize, stride: usize, device: &Device) -> Self {
        Self {
            bn1: BatchNormConfig::new(input).init(device),
            conv1: conv_same(input, planes, 3, stride, device),
            bn2: BatchNormConfig::new(planes).init(device),
            conv2: conv_same(planes, planes, 3, 1, device),
            shortcut: (stride != 1 || input != planes)
                .then(|| conv_same(input, planes, 1, stride, device)),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        pre_activation_residual(
            x,
            [&self.bn1, &self.bn2],
            [&self.conv1, &self.conv2],
            self.shortcut.as_ref(),
        )
    }
}

/// PreAct-ResNet-18 (He et al. 2016, identity mappings) in the RobustBench CIFAR layout.
#[derive(Module, Debug)]
pub struct PreActResNet18 {
    conv1: Conv2d,
    layer1: Vec<PreActBlock>,
    layer2: Vec<PreActBlock>,
    layer3: Vec<PreActBlock>,
    layer4: Vec<PreActBlock>,
    bn: BatchNorm,
    linear: Linear,
    #[module(skip)]
    normalization: Option<Normalization>,
}

impl PreActResNet18 {
    /// Logits `[n, classes]` of images `[n, c, h, w]` in `[0, 1]`: `head(features(images))`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.head(self.features(images))
    }

    /// The last stage after the final batch norm and ReLU, globally average-pooled: `[n, 512]`.
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        let x = normalize(&self.normalization, images);
        let mut x = self.conv1.forward(x);
        for block in self
            .layer1
            .iter()
            .chain(&self.layer2)
            .chain(&self.layer3)
            .chain(&self.layer4)
        {
            x = block.forward(x);
        }
        let x = relu(self.bn.forward(x));
        // Global average pooling: `avg_pool2d(out, 4)` of the reference on 32x32 inputs.
        global_average_pool(x)
    }

    /// The linear layer: logits `[n, classes]` of features `[n, 512]`.
    pub fn head(&self, features: Tensor<2>) -> Tensor<2> {
        self.linear.forward(features)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::store::{BurnToPyTorchAdapter, KeyRemapper, ModuleSnapshot};

    #[test]
    fn has_the_pytorch_keys_and_size() {
        let device = Device::default();
        let model = preact_resnet18().init(&device).unwrap();
        let tensors = model.collect(None, Some(Box::new(BurnToPyTorchAdapter)), true);
        let mapping = preact_resnet_key_mapping();
        let (tensors, _) = KeyRemapper::from_patterns(mapping.export_renames.clone())
            .unwrap()
            .remap(tensors);
        // Computed independently from the PyTorch layer list: conv 3x3 in*out*9, 1x1 shortcuts
        // in*out, batch norm 2c, linear 512*10+10.
        let params: usize = tensors
            .iter()
            .filter(|t| !t.name.contains("running"))
            .map(|t| t.shape.num_elements())
            .sum();
        assert_eq!(params, 11_172_170);
        let names: Vec<&str> = tensors.iter().map(|t| t.name.as_str()).collect();
        for name in [
            "conv1.weight",
            "layer1.0.bn1.weight",
            "layer2.0.shortcut.0.weight",
            "layer4.1.conv2.weight",
            "bn.running_mean",
            "linear.weight",
        ] {
            assert!(names.contains(&name), "{name} missing");
        }
        assert!(!names.contains(&"layer1.0.shortcut.0.weight"));
        // 1 stem + 16 block convs + 3 shortcuts, 17 batch norms of 4 tensors, linear weight and bias.
        assert_eq!(names.len(), 20 + 17 * 4 + 2);
    }

    #[test]
    fn runs_and_validates() {
        let device = Device::default();
        let model = PreActResNet18Config::new([3, 16, 16], 10)
            .init(&device)
            .unwrap();
        assert_eq!(
            model
                .forward(Tensor::<4>::zeros([1, 3, 16, 16], &device))
                .dims(),
            [1, 10]
        );
        assert!(
            PreActResNet18Config::new([3, 4, 4], 10)
                .init(&device)
                .is_err()
        );
        assert!(
            PreActResNet18Config::new([3, 32, 32], 1)
                .init(&device)
                .is_err()
        );
    }
}
