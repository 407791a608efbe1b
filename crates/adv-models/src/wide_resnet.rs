//! Wide residual networks, Zagoruyko and Komodakis, "Wide Residual Networks" (BMVC 2016), in the
//! layout of RobustBench (`model_zoo/architectures/wide_resnet.py`) and TRADES: a 3x3 stem of 16
//! channels, three groups of `(depth - 4) / 6` pre-activation blocks with `16k`, `32k` and `64k`
//! channels (the last two starting with stride 2, a 1x1 convolution on the shortcut where the
//! width changes), batch norm, ReLU, global average pooling and a linear layer.
//!
//! PyTorch keys: `conv1.weight`, `block1.layer.0.bn1.weight`, `block1.layer.0.convShortcut.weight`,
//! `bn1.*`, `fc.*`; `convShortcut` is our `conv_shortcut` (see [`wide_resnet_key_mapping`]).

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::layers::{conv_same, global_average_pool, normalize, pre_activation_residual};
use crate::weights::KeyMapping;
use crate::{ModelError, Normalization, Result};

/// Configuration of a [`WideResNet`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WideResNetConfig {
    /// Number of layers, `6n + 4` with `n >= 1` (16, 28, 34, 40, 70, ...).
    pub depth: usize,
    /// Width multiplier `k`.
    pub widen_factor: usize,
    /// Input shape `[channels, height, width]`; height and width at least 4.
    #[serde(default = "cifar_input")]
    pub input: [usize; 3],
    /// Number of classes.
    #[serde(default = "cifar_classes")]
    pub num_classes: usize,
    /// Input normalization applied first (RobustBench models have none).
    #[serde(default)]
    pub normalization: Option<Normalization>,
    /// Whether the checkpoint carries TRADES' unused `sub_block1` group (its parameters are
    /// loaded but never used in the forward pass, as in TRADES).
    #[serde(default)]
    pub sub_block1: bool,
}

fn cifar_input() -> [usize; 3] {
    [3, 32, 32]
}

fn cifar_classes() -> usize {
    10
}

impl WideResNetConfig {
    /// WRN-`depth`-`widen_factor` for 32x32 RGB images and 10 classes, without normalization.
    pub fn new(depth: usize, widen_factor: usize) -> Self {
        Self {
            depth,
            widen_factor,
            input: cifar_input(),
            num_classes: cifar_classes(),
            normalization: None,
            sub_block1: false,
        }
    }

    /// Blocks per group, `(depth - 4) / 6`, or an error for a depth that is not `6n + 4`.
    pub fn blocks_per_group(&self) -> Result<usize> {
        if self.depth < 10 || !(self.depth - 4).is_multiple_of(6) {
            return Err(ModelError::InvalidConfig(format!(
                "a WideResNet has depth 6n + 4 with n >= 1 (16, 28, 34, 40, ...), got {}",
                self.depth
            )));
        }
        Ok((self.depth - 4) / 6)
    }

    /// Width of [`WideResNet::features`]: the `64 * widen_factor` channels of the last group.
    pub fn feature_dim(&self) -> usize {
        64 * self.widen_factor
    }

    /// Builds the network with random weights.
    pub fn init(&self, device: &Device) -> Result<WideResNet> {
        let blocks = self.blocks_per_group()?;
        let [c, h, w] = self.input;
        if self.widen_factor == 0 || c == 0 || h < 4 || w < 4 || self.num_classes < 2 {
            return Err(ModelError::InvalidConfig(format!(
                "a WideResNet needs a widen factor of at least 1 (got {}), images of at least 4x4 \
                 with channels (got {:?}) and at least 2 classes (got {})",
                self.widen_factor, self.input, self.num_classes
            )));
        }
        if let Some(normalization) = &self.normalization {
            normalization.check(Some(c))?;
        }
        let k = self.widen_factor;
        let widths = [16, 16 * k, 32 * k, self.feature_dim()];
        let group = |input: usize, output: usize, stride: usize| NetworkBlock {
            layer: (0..blocks)
                .map(|i| match i {
                    0 => WideBlock::new(input, output, stride, device),
                    _ => WideBlock::new(output, output, 1, device),
                })
                .collect(),
        };
        Ok(WideResNet {
            conv1: conv_same(c, widths[0], 3, 1, device),
            block1: group(widths[0], widths[1], 1),
            sub_block1: self.sub_block1.then(|| group(widths[0], widths[1], 1)),
            block2: group(widths[1], widths[2], 2),
            block3: group(widths[2], widths[3], 2),
            bn1: BatchNormConfig::new(widths[3]).init(device),
            fc: LinearConfig::new(widths[3], self.num_classes).init(device),
            normalization: self.normalization.clone(),
        })
    }
}

/// WRN-28-10 (36.5M parameters), the architecture of most RobustBench CIFAR-10 Linf entries.
pub fn wrn_28_10() -> WideResNetConfig {
    WideResNetConfig::new(28, 10)
}

/// WRN-34-10 (46.2M parameters), the architecture of TRADES and Madry et al.'s CIFAR models.
pub fn wrn_34_10() -> WideResNetConfig {
    WideResNetConfig::new(34, 10)
}

/// The key mapping of RobustBench/TRADES checkpoints: `convShortcut` is our `conv_shortcut`.
pub fn wide_resnet_key_mapping() -> KeyMapping {
    KeyMapping {
        renames: vec![(r"\.convShortcut\.".into(), ".conv_shortcut.".into())],
        export_renames: vec![(r"\.conv_shortcut\.".into(), ".convShortcut.".into())],
    }
}

/// A pre-activation block: bn-relu-conv-bn-relu-conv plus the shortcut.
#[derive(Module, Debug)]
pub struct WideBlock {
    bn1: BatchNorm,
    conv1: Conv2d,
    bn2: BatchNorm,
    conv2: Conv2d,
    conv_shortcut: Option<Conv2d>,
}

impl WideBlock {
    fn new(input: usize, output: usize, stride: usize, device: &Device) -> Self {
        Self {
            bn1: BatchNormConfig::new(input).init(device),
            conv1: conv_same(input, output, 3, stride, device),
            bn2: BatchNormConfig::new(output).init(device),
            conv2: conv_same(output, output, 3, 1, device),
            conv_shortcut: (input != output).then(|| conv_same(input, output, 1, stride, device)),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        // As in the reference: a widening block's shortcut starts from the activated input.
        pre_activation_residual(
            x,
            [&self.bn1, &self.bn2],
            [&self.conv1, &self.conv2],
            self.conv_shortcut.as_ref(),
        )
    }
}

/// A group of [`WideBlock`]s (`NetworkBlock` in PyTorch, whose `nn.Sequential` is `layer`).
#[derive(Module, Debug)]
pub struct NetworkBlock {
    layer: Vec<WideBlock>,
}

impl NetworkBlock {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.layer.iter().fold(x, |x, block| block.forward(x))
    }
}

/// A wide residual network in the RobustBench/TRADES layout.
#[derive(Module, Debug)]
pub struct WideResNet {
    conv1: Conv2d,
    block1: NetworkBlock,
    sub_block1: Option<NetworkBlock>,
    block2: NetworkBlock,
    block3: NetworkBlock,
    bn1: BatchNorm,
    fc: Linear,
    #[module(skip)]
    normalization: Option<Normalization>,
}

impl WideResNet {
    /// Logits `[n, classes]` of images `[n, c, h, w]` in `[0, 1]`: `head(features(images))`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.head(self.features(images))
    }

    /// The last group after the final batch norm and ReLU, globally average-pooled:
    /// `[n, 64 * widen_factor]`.
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        let x = normalize(&self.normalization, images);
        let x = self.conv1.forward(x);
        let x = self
            .block3
            .forward(self.block2.forward(self.block1.forward(x)));
        let x = relu(self.bn1.forward(x));
        // Global average pooling: `avg_pool2d(out, 8)` of the reference on 32x32 inputs.
        global_average_pool(x)
    }

    /// The `fc` layer: logits `[n, classes]` of features `[n, 64 * widen_factor]`.
    pub fn head(&self, features: Tensor<2>) -> Tensor<2> {
        self.fc.forward(features)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::store::KeyRemapper;
    use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot};

    /// PyTorch names and parameter count of a network, through the export mapping.
    fn pytorch_names(model: &WideResNet) -> (Vec<String>, usize) {
        let tensors = model.collect(None, Some(Box::new(BurnToPyTorchAdapter)), true);
        let mapping = wide_resnet_key_mapping();
        let (tensors, _) = KeyRemapper::from_patterns(mapping.export_renames.clone())
            .unwrap()
            .remap(tensors);
        let params = tensors
            .iter()
            .filter(|t| !t.name.contains("running"))
            .map(|t| t.shape.num_elements())
            .sum();
        (tensors.into_iter().map(|t| t.name).collect(), params)
    }

    #[test]
    fn depths_must_be_6n_plus_4() {
        let device = Device::default();
        for depth in [4, 20, 27, 32] {
            assert!(
                WideResNetConfig::new(depth, 1).init(&device).is_err(),
                "depth {depth}"
            );
        }
        assert!(WideResNetConfig::new(16, 0).init(&device).is_err());
    }

    #[test]
    fn wrn_28_10_and_34_10_have_the_robustbench_keys_and_sizes() {
        let device = Device::default();
        // Parameter counts of the PyTorch layout, computed independently from the layer list:
        // conv 3x3 in*out*9, 1x1 shortcut in*out, batch norm 2c, fc 640*10+10.
        for (config, expected) in [(wrn_28_10(), 36_479_194), (wrn_34_10(), 46_160_474)] {
            let model = config.init(&device).unwrap();
            let (names, params) = pytorch_names(&model);
            assert_eq!(params, expected, "WRN-{}-10", config.depth);
            for name in [
                "conv1.weight",
                "block1.layer.0.bn1.weight",
                "block1.layer.0.convShortcut.weight",
                "block2.layer.0.convShortcut.weight",
                "block3.layer.3.conv2.weight",
                "bn1.running_var",
                "fc.weight",
            ] {
                assert!(names.iter().any(|n| n == name), "{name} missing");
            }
            assert!(
                !names
                    .iter()
                    .any(|n| n.starts_with("block1.layer.1.convShortcut"))
            );
        }
    }

    #[test]
    fn small_wrn_runs_and_keeps_trades_sub_block() {
        let device = Device::default();
        let mut config = WideResNetConfig::new(16, 2);
        config.sub_block1 = true;
        let model = config.init(&device).unwrap();
        let (names, _) = pytorch_names(&model);
        assert!(
            names
                .iter()
                .any(|n| n == "sub_block1.layer.0.convShortcut.weight")
        );
        let logits = model.forward(Tensor::<4>::ones([2, 3, 32, 32], &device).mul_scalar(0.5));
        assert_eq!(logits.dims(), [2, 10]);
    }
}
