//! Inception-v3, Szegedy et al., "Rethinking the Inception Architecture for Computer Vision"
//! (CVPR 2016), in torchvision's layout (`torchvision/models/inception.py`, `Inception3`): a stem
//! of five convolutions and two max pools, three `InceptionA` blocks at 35x35, a grid reduction
//! (`InceptionB`), four `InceptionC` blocks with factorized 7x7 convolutions at 17x17, a second
//! reduction (`InceptionD`), two `InceptionE` blocks at 8x8, global average pooling and a linear
//! layer, for 299x299 images. Every convolution is torchvision's `BasicConv2d` ([`ConvBn`]:
//! bias-free convolution, batch norm with epsilon 0.001, ReLU).
//!
//! The auxiliary classifier (`AuxLogits`) only serves training; as in torchvision's eval mode its
//! weights load but it never runs. The smallest input that reaches the last block is 75x75.
//!
//! PyTorch keys: `Conv2d_1a_3x3.conv.weight`, `Conv2d_1a_3x3.bn.running_mean`,
//! `Mixed_5b.branch1x1.conv.weight`, `AuxLogits.conv0.conv.weight`, `AuxLogits.fc.*`, `fc.*`;
//! our fields are snake case (`conv2d_1a_3x3`, `mixed_5b`, `aux_logits`, see
//! [`inception_v3_key_mapping`]).

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::module::{avg_pool2d, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, MaxPoolOptions};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::layers::{ConvBn, conv, global_average_pool, normalize};
use crate::resnet_imagenet::imagenet_classes;
use crate::weights::KeyMapping;
use crate::{ModelError, Normalization, Result, imagenet_normalization};

/// Batch-norm epsilon of torchvision's `BasicConv2d`.
const BN_EPSILON: f64 = 1e-3;

/// Channels of `Mixed_7c`, the input of `fc`.
const FEATURES: usize = 2048;

/// The smallest height and width the network accepts.
pub const INCEPTION_MIN_SIZE: usize = 75;

/// Configuration of an [`InceptionV3`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InceptionV3Config {
    /// Input shape `[channels, height, width]`; height and width at least 75 (299 for the
    /// published weights).
    #[serde(default = "inception_input")]
    pub input: [usize; 3],
    /// Number of classes.
    #[serde(default = "imagenet_classes")]
    pub num_classes: usize,
    /// Whether the model holds the auxiliary classifier, as torchvision's checkpoints do.
    #[serde(default = "yes")]
    pub aux_logits: bool,
    /// torchvision's `transform_input`: after `normalization`, map ImageNet-normalized images to
    /// `(x - 0.5) / 0.5`, the scaling Google's weights were trained with (3 channels only).
    #[serde(default)]
    pub transform_input: bool,
    /// Input normalization applied first.
    #[serde(default)]
    pub normalization: Option<Normalization>,
}

fn inception_input() -> [usize; 3] {
    [3, 299, 299]
}

fn yes() -> bool {
    true
}

/// Inception-v3 as torchvision builds it for its ImageNet weights: 299x299 RGB images, 1000
/// classes, the auxiliary classifier, the ImageNet normalization and `transform_input`.
pub fn inception_v3() -> InceptionV3Config {
    InceptionV3Config {
        input: inception_input(),
        num_classes: imagenet_classes(),
        aux_logits: true,
        transform_input: true,
        normalization: Some(imagenet_normalization()),
    }
}

/// The key mapping of torchvision checkpoints: `Conv2d_*`, `Mixed_*` and `AuxLogits` are our
/// `conv2d_*`, `mixed_*` and `aux_logits`.
pub fn inception_v3_key_mapping() -> KeyMapping {
    let pairs = |pairs: [(&str, &str); 3]| {
        pairs
            .map(|(from, to)| (from.to_owned(), to.to_owned()))
            .to_vec()
    };
    KeyMapping {
        renames: pairs([
            ("^Conv2d_", "conv2d_"),
            ("^Mixed_", "mixed_"),
            (r"^AuxLogits\.", "aux_logits."),
        ]),
        export_renames: pairs([
            ("^conv2d_", "Conv2d_"),
            ("^mixed_", "Mixed_"),
            (r"^aux_logits\.", "AuxLogits."),
        ]),
    }
}

impl InceptionV3Config {
    /// Width of [`InceptionV3::features`]: the 2048 channels of `Mixed_7c`.
    pub fn feature_dim(&self) -> usize {
        FEATURES
    }

    /// Builds the network with random weights.
    pub fn init(&self, device: &Device) -> Result<InceptionV3> {
        let [c, h, w] = self.input;
        if c == 0 || h < INCEPTION_MIN_SIZE || w < INCEPTION_MIN_SIZE || self.num_classes < 2 {
            return Err(ModelError::InvalidConfig(format!(
                "inception-v3 needs images of at least {INCEPTION_MIN_SIZE}x{INCEPTION_MIN_SIZE} \
                 with channels (got {:?}) and at least 2 classes (got {})",
                self.input, self.num_classes
            )));
        }
        if self.transform_input && c != 3 {
            return Err(ModelError::InvalidConfig(format!(
                "inception-v3's transform_input works on 3 channels, the input has {c}"
            )));
        }
        if let Some(normalization) = &self.normalization {
            normalization.check(Some(c))?;
        }
        Ok(InceptionV3 {
            conv2d_1a_3x3: basic(c, 32, [3, 3], 2, [0, 0], device),
            conv2d_2a_3x3: basic(32, 32, [3, 3], 1, [0, 0], device),
            conv2d_2b_3x3: basic(32, 64, [3, 3], 1, [1, 1], device),
            conv2d_3b_1x1: basic(64, 80, [1, 1], 1, [0, 0], device),
            conv2d_4a_3x3: basic(80, 192, [3, 3], 1, [0, 0], device),
            mixed_5b: InceptionA::new(192, 32, device),
            mixed_5c: InceptionA::new(256, 64, device),
            mixed_5d: InceptionA::new(288, 64, device),
            mixed_6a: InceptionB::new(288, device),
            mixed_6b: InceptionC::new(768, 128, device),
            mixed_6c: InceptionC::new(768, 160, device),
            mixed_6d: InceptionC::new(768, 160, device),
            mixed_6e: InceptionC::new(768, 192, device),
            aux_logits: self
                .aux_logits
                .then(|| InceptionAux::new(768, self.num_classes, device)),
            mixed_7a: InceptionD::new(768, device),
            mixed_7b: InceptionE::new(1280, device),
            mixed_7c: InceptionE::new(2048, device),
            fc: LinearConfig::new(FEATURES, self.num_classes).init(device),
            normalization: self.normalization.clone(),
            transform_input: self.transform_input,
        })
    }
}

/// torchvision's `BasicConv2d`: a bias-free convolution and a batch norm with epsilon 0.001.
fn basic(
    input: usize,
    output: usize,
    kernel: [usize; 2],
    stride: usize,
    padding: [usize; 2],
    device: &Device,
) -> ConvBn {
    let conv = conv([input, output], kernel, stride, padding, device);
    ConvBn::new(conv, BN_EPSILON, device)
}

/// `x` through each of `convs` in turn (convolution, batch norm, ReLU).
fn chain(convs: &[&ConvBn], x: Tensor<4>) -> Tensor<4> {
    convs.iter().fold(x, |x, conv| conv.forward_relu(x))
}

fn max_pool_3x3_stride_2(x: Tensor<4>) -> Tensor<4> {
    max_pool2d(x, MaxPoolOptions::new([3, 3]).with_stride([2, 2]))
}

/// `F.avg_pool2d(x, kernel_size=3, stride=1, padding=1)`, padding counted as in PyTorch.
fn avg_pool_3x3_same(x: Tensor<4>) -> Tensor<4> {
    avg_pool2d(
        x,
        AvgPoolOptions::new([3, 3])
            .with_stride([1, 1])
            .with_padding([1, 1]),
    )
}

/// 35x35 block: 1x1, 5x5, double 3x3 and pooled branches (64 + 64 + 96 + `pool_features`).
#[derive(Module, Debug)]
pub struct InceptionA {
    branch1x1: ConvBn,
    branch5x5_1: ConvBn,
    branch5x5_2: ConvBn,
    branch3x3dbl_1: ConvBn,
    branch3x3dbl_2: ConvBn,
    branch3x3dbl_3: ConvBn,
    branch_pool: ConvBn,
}

impl InceptionA {
    fn new(input: usize, pool_features: usize, device: &Device) -> Self {
        Self {
            branch1x1: basic(input, 64, [1, 1], 1, [0, 0], device),
            branch5x5_1: basic(input, 48, [1, 1], 1, [0, 0], device),
            branch5x5_2: basic(48, 64, [5, 5], 1, [2, 2], device),
            branch3x3dbl_1: basic(input, 64, [1, 1], 1, [0, 0], device),
            branch3x3dbl_2: basic(64, 96, [3, 3], 1, [1, 1], device),
            branch3x3dbl_3: basic(96, 96, [3, 3], 1, [1, 1], device),
            branch_pool: basic(input, pool_features, [1, 1], 1, [0, 0], device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let branch1x1 = self.branch1x1.forward_relu(x.clone());
        let branch5x5 = chain(&[&self.branch5x5_1, &self.branch5x5_2], x.clone());
        let branch3x3dbl = chain(
            &[
                &self.branch3x3dbl_1,
                &self.branch3x3dbl_2,
                &self.branch3x3dbl_3,
            ],
            x.clone(),
        );
        let branch_pool = self.branch_pool.forward_relu(avg_pool_3x3_same(x));
        Tensor::cat(vec![branch1x1, branch5x5, branch3x3dbl, branch_pool], 1)
    }
}

/// Grid reduction 35x35 to 17x17: strided 3x3, strided double 3x3 and max-pooled branches.
#[derive(Module, Debug)]
pub struct InceptionB {
    branch3x3: ConvBn,
    branch3x3dbl_1: ConvBn,
    branch3x3dbl_2: ConvBn,
    branch3x3dbl_3: ConvBn,
}

impl InceptionB {
    fn new(input: usize, device: &Device) -> Self {
        Self {
            branch3x3: basic(input, 384, [3, 3], 2, [0, 0], device),
            branch3x3dbl_1: basic(input, 64, [1, 1], 1, [0, 0], device),
            branch3x3dbl_2: basic(64, 96, [3, 3], 1, [1, 1], device),
            branch3x3dbl_3: basic(96, 96, [3, 3], 2, [0, 0], device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let branch3x3 = self.branch3x3.forward_relu(x.clone());
        let branch3x3dbl = chain(
            &[
                &self.branch3x3dbl_1,
                &self.branch3x3dbl_2,
                &self.branch3x3dbl_3,
            ],
            x.clone(),
        );
        Tensor::cat(vec![branch3x3, branch3x3dbl, max_pool_3x3_stride_2(x)], 1)
    }
}

/// 17x17 block with 7x7 convolutions factorized into 1x7 and 7x1 (`channels_7x7` inside).
#[derive(Module, Debug)]
pub struct InceptionC {
    branch1x1: ConvBn,
    branch7x7_1: ConvBn,
    branch7x7_2: ConvBn,
    branch7x7_3: ConvBn,
    branch7x7dbl_1: ConvBn,
    branch7x7dbl_2: ConvBn,
    branch7x7dbl_3: ConvBn,
    branch7x7dbl_4: ConvBn,
    branch7x7dbl_5: ConvBn,
    branch_pool: ConvBn,
}

impl InceptionC {
    fn new(input: usize, c7: usize, device: &Device) -> Self {
        let one_by_seven = |i, o| basic(i, o, [1, 7], 1, [0, 3], device);
        let seven_by_one = |i, o| basic(i, o, [7, 1], 1, [3, 0], device);
        Self {
            branch1x1: basic(input, 192, [1, 1], 1, [0, 0], device),
            branch7x7_1: basic(input, c7, [1, 1], 1, [0, 0], device),
            branch7x7_2: one_by_seven(c7, c7),
            branch7x7_3: seven_by_one(c7, 192),
            branch7x7dbl_1: basic(input, c7, [1, 1], 1, [0, 0], device),
            branch7x7dbl_2: seven_by_one(c7, c7),
            branch7x7dbl_3: one_by_seven(c7, c7),
            branch7x7dbl_4: seven_by_one(c7, c7),
            branch7x7dbl_5: one_by_seven(c7, 192),
            branch_pool: basic(input, 192, [1, 1], 1, [0, 0], device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let branch1x1 = self.branch1x1.forward_relu(x.clone());
        let branch7x7 = chain(
            &[&self.branch7x7_1, &self.branch7x7_2, &self.branch7x7_3],
            x.clone(),
        );
        let branch7x7dbl = chain(
            &[
                &self.branch7x7dbl_1,
                &self.branch7x7dbl_2,
                &self.branch7x7dbl_3,
                &self.branch7x7dbl_4,
                &self.branch7x7dbl_5,
            ],
            x.clone(),
        );
        let branch_pool = self.branch_pool.forward_relu(avg_pool_3x3_same(x));
        Tensor::cat(vec![branch1x1, branch7x7, branch7x7dbl, branch_pool], 1)
    }
}

/// Grid reduction 17x17 to 8x8: strided 3x3, 1x7-7x1-strided 3x3 and max-pooled branches.
#[derive(Module, Debug)]
pub struct InceptionD {
    branch3x3_1: ConvBn,
    branch3x3_2: ConvBn,
    branch7x7x3_1: ConvBn,
    branch7x7x3_2: ConvBn,
    branch7x7x3_3: ConvBn,
    branch7x7x3_4: ConvBn,
}

impl InceptionD {
    fn new(input: usize, device: &Device) -> Self {
        Self {
            branch3x3_1: basic(input, 192, [1, 1], 1, [0, 0], device),
            branch3x3_2: basic(192, 320, [3, 3], 2, [0, 0], device),
            branch7x7x3_1: basic(input, 192, [1, 1], 1, [0, 0], device),
            branch7x7x3_2: basic(192, 192, [1, 7], 1, [0, 3], device),
            branch7x7x3_3: basic(192, 192, [7, 1], 1, [3, 0], device),
            branch7x7x3_4: basic(192, 192, [3, 3], 2, [0, 0], device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let branch3x3 = chain(&[&self.branch3x3_1, &self.branch3x3_2], x.clone());
        let branch7x7x3 = chain(
            &[
                &self.branch7x7x3_1,
                &self.branch7x7x3_2,
                &self.branch7x7x3_3,
                &self.branch7x7x3_4,
            ],
            x.clone(),
        );
        Tensor::cat(vec![branch3x3, branch7x7x3, max_pool_3x3_stride_2(x)], 1)
    }
}

/// 8x8 block whose 3x3 branches end in parallel 1x3 and 3x1 convolutions, concatenated.
#[derive(Module, Debug)]
pub struct InceptionE {
    branch1x1: ConvBn,
    branch3x3_1: ConvBn,
    branch3x3_2a: ConvBn,
    branch3x3_2b: ConvBn,
    branch3x3dbl_1: ConvBn,
    branch3x3dbl_2: ConvBn,
    branch3x3dbl_3a: ConvBn,
    branch3x3dbl_3b: ConvBn,
    branch_pool: ConvBn,
}

impl InceptionE {
    fn new(input: usize, device: &Device) -> Self {
        let one_by_three = || basic(384, 384, [1, 3], 1, [0, 1], device);
        let three_by_one = || basic(384, 384, [3, 1], 1, [1, 0], device);
        Self {
            branch1x1: basic(input, 320, [1, 1], 1, [0, 0], device),
            branch3x3_1: basic(input, 384, [1, 1], 1, [0, 0], device),
            branch3x3_2a: one_by_three(),
            branch3x3_2b: three_by_one(),
            branch3x3dbl_1: basic(input, 448, [1, 1], 1, [0, 0], device),
            branch3x3dbl_2: basic(448, 384, [3, 3], 1, [1, 1], device),
            branch3x3dbl_3a: one_by_three(),
            branch3x3dbl_3b: three_by_one(),
            branch_pool: basic(input, 192, [1, 1], 1, [0, 0], device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let split = |x: Tensor<4>, a: &ConvBn, b: &ConvBn| {
            Tensor::cat(vec![a.forward_relu(x.clone()), b.forward_relu(x)], 1)
        };
        let branch1x1 = self.branch1x1.forward_relu(x.clone());
        let branch3x3 = split(
            self.branch3x3_1.forward_relu(x.clone()),
            &self.branch3x3_2a,
            &self.branch3x3_2b,
        );
        let branch3x3dbl = split(
            chain(&[&self.branch3x3dbl_1, &self.branch3x3dbl_2], x.clone()),
            &self.branch3x3dbl_3a,
            &self.branch3x3dbl_3b,
        );
        let branch_pool = self.branch_pool.forward_relu(avg_pool_3x3_same(x));
        Tensor::cat(vec![branch1x1, branch3x3, branch3x3dbl, branch_pool], 1)
    }
}

/// The auxiliary classifier on the 17x17 features (training only: loaded, never run).
#[derive(Module, Debug)]
pub struct InceptionAux {
    conv0: ConvBn,
    conv1: ConvBn,
    fc: Linear,
}

impl InceptionAux {
    fn new(input: usize, num_classes: usize, device: &Device) -> Self {
        Self {
            conv0: basic(input, 128, [1, 1], 1, [0, 0], device),
            conv1: basic(128, 768, [5, 5], 1, [0, 0], device),
            fc: LinearConfig::new(768, num_classes).init(device),
        }
    }
}

/// Inception-v3 in torchvision's layout, evaluated as torchvision does in eval mode.
#[derive(Module, Debug)]
pub struct InceptionV3 {
    conv2d_1a_3x3: ConvBn,
    conv2d_2a_3x3: ConvBn,
    conv2d_2b_3x3: ConvBn,
    conv2d_3b_1x1: ConvBn,
    conv2d_4a_3x3: ConvBn,
    mixed_5b: InceptionA,
    mixed_5c: InceptionA,
    mixed_5d: InceptionA,
    mixed_6a: InceptionB,
    mixed_6b: InceptionC,
    mixed_6c: InceptionC,
    mixed_6d: InceptionC,
    mixed_6e: InceptionC,
    aux_logits: Option<InceptionAux>,
    mixed_7a: InceptionD,
    mixed_7b: InceptionE,
    mixed_7c: InceptionE,
    fc: Linear,
    #[module(skip)]
    normalization: Option<Normalization>,
    #[module(skip)]
    transform_input: bool,
}

impl InceptionV3 {
    /// Logits `[n, classes]` of images `[n, c, h, w]` in `[0, 1]`: `head(features(images))`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.head(self.features(images))
    }

    /// `Mixed_7c`, globally average-pooled, what torchvision feeds to `fc` (its dropout is
    /// the identity in eval mode; the auxiliary classifier never runs): `[n, 2048]`.
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = normalize(&self.normalization, images);
        if self.transform_input {
            x = transform_input(x);
        }
        let x = chain(
            &[
                &self.conv2d_1a_3x3,
                &self.conv2d_2a_3x3,
                &self.conv2d_2b_3x3,
            ],
            x,
        );
        let x = max_pool_3x3_stride_2(x);
        let x = chain(&[&self.conv2d_3b_1x1, &self.conv2d_4a_3x3], x);
        let x = max_pool_3x3_stride_2(x);
        let x = [&self.mixed_5b, &self.mixed_5c, &self.mixed_5d]
            .iter()
            .fold(x, |x, block| block.forward(x));
        let x = self.mixed_6a.forward(x);
        let x = [
            &self.mixed_6b,
            &self.mixed_6c,
            &self.mixed_6d,
            &self.mixed_6e,
        ]
        .iter()
        .fold(x, |x, block| block.forward(x));
        let x = self.mixed_7a.forward(x);
        let x = self.mixed_7c.forward(self.mixed_7b.forward(x));
        global_average_pool(x)
    }

    /// The `fc` layer: logits `[n, classes]` of features `[n, 2048]` (dropout before it is
    /// the identity in eval mode).
    pub fn head(&self, features: Tensor<2>) -> Tensor<2> {
        self.fc.forward(features)
    }
}

/// torchvision's `_transform_input`: `x * std / 0.5 + (mean - 0.5) / 0.5` per channel, with the
/// ImageNet statistics.
fn transform_input(x: Tensor<4>) -> Tensor<4> {
    let imagenet = imagenet_normalization();
    let per_channel = |values: Vec<f32>| {
        Tensor::<4>::from_data(TensorData::new(values, [1, 3, 1, 1]), &x.device()).expand(x.dims())
    };
    let scale = per_channel(imagenet.std.iter().map(|s| s / 0.5).collect());
    let shift = per_channel(imagenet.mean.iter().map(|m| (m - 0.5) / 0.5).collect());
    x * scale + shift
}

#[cfg(test)]
mod tests {
    use super::*;
    use adv_core::to_floats;
    use burn::store::{BurnToPyTorchAdapter, KeyRemapper, ModuleSnapshot};

    /// torchvision's state dict, written by `tests/data/inception_v3_torchvision.py`.
    const TORCHVISION_KEYS: &str = include_str!("../tests/data/inception_v3_torchvision_keys.txt");

    /// Name and shape of every tensor, in PyTorch's names and layout, sorted.
    fn pytorch_tensors(model: &InceptionV3) -> Vec<(String, Vec<usize>)> {
        let tensors = model.collect(None, Some(Box::new(BurnToPyTorchAdapter)), true);
        let (tensors, _) = KeyRemapper::from_patterns(inception_v3_key_mapping().export_renames)
            .unwrap()
            .remap(tensors);
        let mut tensors: Vec<_> = tensors
            .into_iter()
            .map(|t| (t.name, t.shape.to_vec()))
            .collect();
        tensors.sort();
        tensors
    }

    #[test]
    fn keys_shapes_and_parameter_count_are_torchvisions() {
        let mut expected: Vec<(String, Vec<usize>)> = TORCHVISION_KEYS
            .lines()
            .filter(|line| !line.starts_with('#'))
            .map(|line| {
                let (name, shape) = line.split_once(' ').unwrap();
                let shape = shape.split(',').map(|d| d.parse().unwrap()).collect();
                (name.to_owned(), shape)
            })
            .collect();
        expected.sort();
        let parameters: usize = TORCHVISION_KEYS
            .lines()
            .find_map(|line| line.strip_prefix("# parameters: "))
            .unwrap()
            .parse()
            .unwrap();
        let tensors = pytorch_tensors(&inception_v3().init(&Device::default()).unwrap());
        assert_eq!(tensors, expected);
        let ours: usize = tensors
            .iter()
            .filter(|(name, _)| !name.contains("running"))
            .map(|(_, shape)| shape.iter().product::<usize>())
            .sum();
        assert_eq!(ours, parameters);
    }

    #[test]
    fn without_aux_logits_the_auxiliary_classifier_is_absent() {
        let config = InceptionV3Config {
            aux_logits: false,
            ..inception_v3()
        };
        let tensors = pytorch_tensors(&config.init(&Device::default()).unwrap());
        assert!(
            !tensors
                .iter()
                .any(|(name, _)| name.starts_with("AuxLogits"))
        );
        assert!(
            tensors
                .iter()
                .any(|(name, _)| name == "Mixed_7c.branch_pool.bn.running_var")
        );
    }

    #[test]
    fn runs_on_the_smallest_input_and_rejects_impossible_configs() {
        let device = Device::default();
        let smallest = InceptionV3Config {
            input: [3, INCEPTION_MIN_SIZE, INCEPTION_MIN_SIZE],
            num_classes: 10,
            aux_logits: false,
            ..inception_v3()
        };
        let model = smallest.init(&device).unwrap();
        let logits = model.forward(Tensor::<4>::ones([1, 3, 75, 75], &device).mul_scalar(0.5));
        assert_eq!(logits.dims(), [1, 10]);
        assert!(to_floats(logits).iter().all(|v| v.is_finite()));
        for bad in [
            InceptionV3Config {
                input: [3, 74, 299],
                ..inception_v3()
            },
            InceptionV3Config {
                input: [3, 299, 74],
                ..inception_v3()
            },
            InceptionV3Config {
                input: [0, 299, 299],
                normalization: None,
                transform_input: false,
                ..inception_v3()
            },
            InceptionV3Config {
                num_classes: 0,
                ..inception_v3()
            },
            InceptionV3Config {
                input: [1, 299, 299],
                normalization: None,
                ..inception_v3()
            },
            InceptionV3Config {
                input: [1, 299, 299],
                transform_input: false,
                ..inception_v3()
            },
        ] {
            assert!(
                matches!(bad.init(&device), Err(ModelError::InvalidConfig(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn transform_input_turns_imagenet_normalization_into_half_scaling() {
        let device = Device::default();
        let x = Tensor::<4>::from_data(
            TensorData::new(vec![0.0f32, 0.25, 1.0], [1, 3, 1, 1]),
            &device,
        );
        let transformed = to_floats(transform_input(imagenet_normalization().apply(x)));
        for (got, want) in transformed.iter().zip([-1.0, -0.5, 1.0]) {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
    }
}
