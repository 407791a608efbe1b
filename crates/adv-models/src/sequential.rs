//! Small CNNs and MLPs described by a data file (JSON or TOML) instead of Rust: the equivalent of
//! a PyTorch `nn.Sequential`, one entry per layer, so `torch.save(net.state_dict())` of that
//! `nn.Sequential` loads with its keys (`0.weight`, `5.bias`) as they are.
//!
//! ```json
//! {
//!   "input": [3, 32, 32],
//!   "num_classes": 10,
//!   "normalization": { "mean": [0.49, 0.48, 0.45], "std": [0.25, 0.24, 0.26] },
//!   "layers": [
//!     { "type": "conv2d", "in_channels": 3, "out_channels": 16, "kernel_size": 4, "stride": 2, "padding": 1 },
//!     { "type": "relu" },
//!     { "type": "flatten" },
//!     { "type": "linear", "in_features": 4096, "out_features": 10 }
//!   ]
//! }
//! ```
//!
//! The shapes are checked when the network is built: each layer must accept the output of the
//! previous one, and the last must produce `num_classes` logits.
//!
//! The head ([`Sequential::head`]) is the last `linear` layer and the layers after it (only
//! layers on vectors can follow one: batch norms, activations, flatten); the features
//! ([`Sequential::features`]) are the input of that linear layer. A network without a linear
//! layer (one whose last layer with weights is a convolution, say) still classifies, but has
//! no features: [`SequentialConfig::feature_dim`] is an error that says so.

use std::ops::Range;
use std::path::Path;

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::{relu, sigmoid, tanh};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::layers::normalize;
use crate::{ModelError, Normalization, Result};

fn one() -> usize {
    1
}

fn yes() -> bool {
    true
}

/// One layer of a [`SequentialConfig`], tagged by `"type"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum LayerSpec {
    /// `nn.Conv2d` with a square kernel.
    Conv2d {
        /// Input channels.
        in_channels: usize,
        /// Output channels.
        out_channels: usize,
        /// Kernel height and width.
        kernel_size: usize,
        /// Stride (default 1).
        #[serde(default = "one")]
        stride: usize,
        /// Zero padding on every side (default 0).
        #[serde(default)]
        padding: usize,
        /// Whether there is a bias (default true).
        #[serde(default = "yes")]
        bias: bool,
    },
    /// `nn.Linear`.
    Linear {
        /// Input features.
        in_features: usize,
        /// Output features.
        out_features: usize,
        /// Whether there is a bias (default true).
        #[serde(default = "yes")]
        bias: bool,
    },
    /// `nn.BatchNorm2d` on images or `nn.BatchNorm1d` on vectors, evaluated with running statistics.
    BatchNorm {
        /// Channels (images) or features (vectors).
        num_features: usize,
        /// Added to the variance (default 1e-5, PyTorch's).
        #[serde(default = "default_epsilon")]
        eps: f64,
    },
    /// `nn.MaxPool2d` with a square window.
    MaxPool2d {
        /// Window height and width.
        kernel_size: usize,
        /// Stride (default: the window size, as in PyTorch).
        #[serde(default)]
        stride: Option<usize>,
        /// Padding on every side (default 0).
        #[serde(default)]
        padding: usize,
    },
    /// `nn.AvgPool2d` with a square window, padding counted in the average as in PyTorch.
    AvgPool2d {
        /// Window height and width.
        kernel_size: usize,
        /// Stride (default: the window size, as in PyTorch).
        #[serde(default)]
        stride: Option<usize>,
        /// Padding on every side (default 0).
        #[serde(default)]
        padding: usize,
    },
    /// `nn.ReLU`.
    Relu,
    /// `nn.Tanh`.
    Tanh,
    /// `nn.Sigmoid`.
    Sigmoid,
    /// `nn.Flatten`: `[c, h, w]` to `[c * h * w]`.
    Flatten,
}

fn default_epsilon() -> f64 {
    1e-5
}

/// The shape flowing between layers (without the batch axis).
#[derive(Clone, Copy, Debug, PartialEq)]
enum FlowShape {
    Image([usize; 3]),
    Vector(usize),
}

fn pooled(size: usize, kernel: usize, stride: usize, padding: usize) -> Option<usize> {
    (size + 2 * padding)
        .checked_sub(kernel)
        .map(|s| s / stride + 1)
}

impl LayerSpec {
    /// The output shape of this layer for `input`, or why it does not fit.
    fn output(&self, input: FlowShape) -> std::result::Result<FlowShape, String> {
        use FlowShape::{Image, Vector};
        match (self, input) {
            (
                LayerSpec::Conv2d {
                    in_channels,
                    out_channels,
                    kernel_size,
                    stride,
                    padding,
                    ..
                },
                Image([c, h, w]),
            ) => {
                if *in_channels != c {
                    return Err(format!("expects {in_channels} input channels, gets {c}"));
                }
                if *out_channels == 0 || *kernel_size == 0 || *stride == 0 {
                    return Err("needs non-zero channels, kernel size and stride".into());
                }
                match (
                    pooled(h, *kernel_size, *stride, *padding),
                    pooled(w, *kernel_size, *stride, *padding),
                ) {
                    (Some(h), Some(w)) if h > 0 && w > 0 => Ok(Image([*out_channels, h, w])),
                    _ => Err(format!("kernel {kernel_size} does not fit a {h}x{w} input")),
                }
            }
            (
                LayerSpec::MaxPool2d {
                    kernel_size,
                    stride,
                    padding,
                },
                Image([c, h, w]),
            )
            | (
                LayerSpec::AvgPool2d {
                    kernel_size,
                    stride,
                    padding,
                },
                Image([c, h, w]),
            ) => {
                let stride = stride.unwrap_or(*kernel_size);
                if *kernel_size == 0 || stride == 0 || 2 * padding > *kernel_size {
                    return Err(
                        "needs a non-zero window and stride, and padding at most half the window"
                            .into(),
                    );
                }
                match (
                    pooled(h, *kernel_size, stride, *padding),
                    pooled(w, *kernel_size, stride, *padding),
                ) {
                    (Some(h), Some(w)) => Ok(Image([c, h, w])),
                    _ => Err(format!("window {kernel_size} does not fit a {h}x{w} input")),
                }
            }
            (
                LayerSpec::Linear {
                    in_features,
                    out_features,
                    ..
                },
                Vector(n),
            ) => {
                if *in_features != n || *out_features == 0 {
                    return Err(format!("expects {in_features} input features, gets {n}"));
                }
                Ok(Vector(*out_features))
            }
            (LayerSpec::BatchNorm { num_features, eps }, shape) => {
                let channels = match shape {
                    Image([c, _, _]) => c,
                    Vector(n) => n,
                };
                if *num_features != channels || !(eps.is_finite() && *eps > 0.0) {
                    return Err(format!(
                        "has {num_features} features and eps {eps}, gets {channels} features"
                    ));
                }
                Ok(shape)
            }
            (LayerSpec::Relu | LayerSpec::Tanh | LayerSpec::Sigmoid, shape) => Ok(shape),
            (LayerSpec::Flatten, Image([c, h, w])) => Ok(Vector(c * h * w)),
            (LayerSpec::Flatten, Vector(n)) => Ok(Vector(n)),
            (_, Vector(n)) => Err(format!(
                "needs an image, gets a vector of {n} (add a flatten only after the image layers)"
            )),
            (_, Image(shape)) => Err(format!(
                "needs a vector, gets an image of shape {shape:?} (add a flatten first)"
            )),
        }
    }

    fn init(&self, device: &Device) -> Option<Layer> {
        let padding = |p: usize| PaddingConfig2d::Explicit(p, p, p, p);
        match self {
            LayerSpec::Conv2d {
                in_channels,
                out_channels,
                kernel_size,
                stride,
                padding: p,
                bias,
            } => Some(Layer::Conv2d(
                Conv2dConfig::new([*in_channels, *out_channels], [*kernel_size, *kernel_size])
                    .with_stride([*stride, *stride])
                    .with_padding(padding(*p))
                    .with_bias(*bias)
                    .init(device),
            )),
            LayerSpec::Linear {
                in_features,
                out_features,
                bias,
            } => Some(Layer::Linear(
                LinearConfig::new(*in_features, *out_features)
                    .with_bias(*bias)
                    .init(device),
            )),
            LayerSpec::BatchNorm { num_features, eps } => Some(Layer::BatchNorm(
                BatchNormConfig::new(*num_features)
                    .with_epsilon(*eps)
                    .init(device),
            )),
            LayerSpec::MaxPool2d {
                kernel_size,
                stride,
                padding: p,
            } => Some(Layer::MaxPool2d(
                MaxPool2dConfig::new([*kernel_size, *kernel_size])
                    .with_strides([stride.unwrap_or(*kernel_size); 2])
                    .with_padding(padding(*p))
                    .init(),
            )),
            LayerSpec::AvgPool2d {
                kernel_size,
                stride,
                padding: p,
            } => Some(Layer::AvgPool2d(
                AvgPool2dConfig::new([*kernel_size, *kernel_size])
                    .with_strides([stride.unwrap_or(*kernel_size); 2])
                    .with_padding(padding(*p))
                    .with_count_include_pad(true)
                    .init(),
            )),
            LayerSpec::Relu | LayerSpec::Tanh | LayerSpec::Sigmoid | LayerSpec::Flatten => None,
        }
    }
}

/// A network described by a data file, with the layer indices of the PyTorch `nn.Sequential`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequentialConfig {
    /// Input shape `[channels, height, width]`.
    pub input: [usize; 3],
    /// Number of classes, the size of the last layer's output.
    pub num_classes: usize,
    /// Input normalization applied first.
    #[serde(default)]
    pub normalization: Option<Normalization>,
    /// The layers, in order.
    pub layers: Vec<LayerSpec>,
}

impl SequentialConfig {
    /// Reads a description from a `.json` or `.toml` file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ModelError::InvalidConfig(format!("cannot read {}: {e}", path.display()))
        })?;
        let bad = |e: String| {
            ModelError::InvalidConfig(format!("architecture file {}: {e}", path.display()))
        };
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => serde_json::from_str(&text).map_err(|e| bad(e.to_string())),
            Some("toml") => toml::from_str(&text).map_err(|e| bad(e.to_string())),
            _ => Err(bad("expected a .json or .toml file".into())),
        }
    }

    /// Checks that the layers chain from the input to `num_classes` logits.
    pub fn check(&self) -> Result<()> {
        let bad = |problem: String| Err(ModelError::InvalidConfig(problem));
        if self.input.contains(&0) || self.num_classes < 2 || self.layers.is_empty() {
            return bad(format!(
                "a sequential network needs a non-empty input shape (got {:?}), at least 2 classes (got {}) and layers",
                self.input, self.num_classes
            ));
        }
        if let Some(normalization) = &self.normalization {
            normalization.check(Some(self.input[0]))?;
        }
        let mut shape = FlowShape::Image(self.input);
        for (index, layer) in self.layers.iter().enumerate() {
            shape = match layer.output(shape) {
                Ok(shape) => shape,
                Err(problem) => return bad(format!("layer {index} ({layer:?}) {problem}")),
            };
        }
        if shape != FlowShape::Vector(self.num_classes) {
            return bad(format!(
                "the last layer outputs {shape:?}, not {} logits",
                self.num_classes
            ));
        }
        Ok(())
    }

    /// Width of [`Sequential::features`], the `in_features` of the last linear layer, after
    /// [`check`](Self::check); an error for a network without a linear layer, which has no
    /// features.
    pub fn feature_dim(&self) -> Result<usize> {
        self.check()?;
        if let Some(LayerSpec::Linear { in_features, .. }) =
            head_start(&self.layers).map(|index| &self.layers[index])
        {
            return Ok(*in_features);
        }
        let weighted = self.layers.iter().enumerate().rev().find(|(_, layer)| {
            matches!(
                layer,
                LayerSpec::Conv2d { .. } | LayerSpec::Linear { .. } | LayerSpec::BatchNorm { .. }
            )
        });
        let last = match weighted {
            Some((index, layer)) => {
                format!("its last layer with weights is layer {index} ({layer:?})")
            }
            None => "nor any layer with weights".to_owned(),
        };
        Err(ModelError::InvalidConfig(format!(
            "a sequential network has features only if it has a linear layer (they are the input \
             of the last one); this one has none: {last}"
        )))
    }

    /// Builds the network with random weights, after [`check`](Self::check).
    pub fn init(&self, device: &Device) -> Result<Sequential> {
        self.check()?;
        Ok(Sequential {
            layers: self.layers.iter().map(|layer| layer.init(device)).collect(),
            specs: self.layers.clone(),
            normalization: self.normalization.clone(),
        })
    }
}

/// The modules of the layers that have some.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
enum Layer {
    Conv2d(Conv2d),
    Linear(Linear),
    BatchNorm(BatchNorm),
    MaxPool2d(MaxPool2d),
    AvgPool2d(AvgPool2d),
}

/// Index of the first layer of the head: the last linear layer.
fn head_start(layers: &[LayerSpec]) -> Option<usize> {
    layers
        .iter()
        .rposition(|layer| matches!(layer, LayerSpec::Linear { .. }))
}

/// Activations between layers.
enum Flow {
    Image(Tensor<4>),
    Vector(Tensor<2>),
}

impl Flow {
    /// `layer` (described by `spec`) applied to the activations.
    fn through(self, layer: Option<&Layer>, spec: &LayerSpec) -> Flow {
        match (self, layer, spec) {
            (Flow::Image(x), Some(Layer::Conv2d(conv)), _) => Flow::Image(conv.forward(x)),
            (Flow::Image(x), Some(Layer::BatchNorm(bn)), _) => Flow::Image(bn.forward(x)),
            (Flow::Image(x), Some(Layer::MaxPool2d(pool)), _) => Flow::Image(pool.forward(x)),
            (Flow::Image(x), Some(Layer::AvgPool2d(pool)), _) => Flow::Image(pool.forward(x)),
            (Flow::Vector(x), Some(Layer::Linear(linear)), _) => Flow::Vector(linear.forward(x)),
            (Flow::Vector(x), Some(Layer::BatchNorm(bn)), _) => Flow::Vector(bn.forward(x)),
            (Flow::Image(x), None, LayerSpec::Flatten) => {
                let n = x.dims()[0];
                Flow::Vector(x.reshape([n as i32, -1]))
            }
            (Flow::Image(x), None, spec) => Flow::Image(activate(x, spec)),
            (Flow::Vector(x), None, spec) => Flow::Vector(activate(x, spec)),
            _ => unreachable!("SequentialConfig::check rejects layers that do not chain"),
        }
    }

    fn into_vector(self) -> Tensor<2> {
        match self {
            Flow::Vector(x) => x,
            Flow::Image(_) => unreachable!(
                "SequentialConfig::check requires a vector output, and a linear layer takes one"
            ),
        }
    }
}

/// A network built from a [`SequentialConfig`].
#[derive(Module, Debug)]
pub struct Sequential {
    /// One entry per layer, `None` for layers without a module (activations, flatten), so the
    /// indices are those of the PyTorch `nn.Sequential`.
    layers: Vec<Option<Layer>>,
    #[module(skip)]
    specs: Vec<LayerSpec>,
    #[module(skip)]
    normalization: Option<Normalization>,
}

impl Sequential {
    /// Logits `[n, classes]` of images `[n, c, h, w]` in `[0, 1]`: `head(features(images))`,
    /// or all layers in turn for a network without a linear layer.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        match head_start(&self.specs) {
            Some(_) => self.head(self.features(images)),
            None => self.run(self.input(images), 0..self.layers.len()),
        }
    }

    /// The input of the last linear layer, `[n, in_features]`: the normalization and every
    /// layer before it.
    ///
    /// # Panics
    ///
    /// If the network has no linear layer ([`SequentialConfig::feature_dim`] returns the
    /// error instead).
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        self.run(self.input(images), 0..self.head_start())
    }

    /// The last linear layer and the layers after it: logits `[n, classes]` of features
    /// `[n, in_features]`.
    ///
    /// # Panics
    ///
    /// If the network has no linear layer ([`SequentialConfig::feature_dim`] returns the
    /// error instead).
    pub fn head(&self, features: Tensor<2>) -> Tensor<2> {
        self.run(Flow::Vector(features), self.head_start()..self.layers.len())
    }

    fn head_start(&self) -> usize {
        head_start(&self.specs).expect(
            "a sequential network without a linear layer has no features or head \
             (SequentialConfig::feature_dim says so as an error)",
        )
    }

    fn input(&self, images: Tensor<4>) -> Flow {
        Flow::Image(normalize(&self.normalization, images))
    }

    /// `flow` through the layers at `indices`, which end where a vector flows.
    fn run(&self, flow: Flow, indices: Range<usize>) -> Tensor<2> {
        self.specs[indices.clone()]
            .iter()
            .zip(&self.layers[indices])
            .fold(flow, |flow, (spec, layer)| {
                flow.through(layer.as_ref(), spec)
            })
            .into_vector()
    }
}

fn activate<const D: usize>(x: Tensor<D>, spec: &LayerSpec) -> Tensor<D> {
    match spec {
        LayerSpec::Relu => relu(x),
        LayerSpec::Tanh => tanh(x),
        LayerSpec::Sigmoid => sigmoid(x),
        _ => x,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::store::ModuleSnapshot;

    fn cnn_a() -> SequentialConfig {
        serde_json::from_str(include_str!("../architectures/cifar_cnn_a.json")).unwrap()
    }

    #[test]
    fn parameters_keep_the_nn_sequential_indices() {
        let device = Device::default();
        let model = cnn_a().init(&device).unwrap();
        let mut names: Vec<(String, Vec<usize>)> = model
            .collect(None, None, true)
            .iter()
            .map(|t| (t.name.clone(), t.shape.to_vec()))
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                ("layers.0.bias", vec![16]),
                ("layers.0.weight", vec![16, 3, 4, 4]),
                ("layers.2.bias", vec![32]),
                ("layers.2.weight", vec![32, 16, 4, 4]),
                ("layers.5.bias", vec![100]),
                ("layers.5.weight", vec![2048, 100]),
                ("layers.7.bias", vec![10]),
                ("layers.7.weight", vec![100, 10]),
            ]
            .map(|(n, s)| (n.to_string(), s))
        );
        assert_eq!(
            model
                .forward(Tensor::<4>::zeros([2, 3, 32, 32], &device))
                .dims(),
            [2, 10]
        );
    }

    #[test]
    fn layers_that_do_not_chain_are_named() {
        let mut config = cnn_a();
        config.layers[5] = LayerSpec::Linear {
            in_features: 2000,
            out_features: 100,
            bias: true,
        };
        let error = config.check().unwrap_err().to_string();
        assert!(
            error.contains("layer 5") && error.contains("2048"),
            "{error}"
        );
        let mut config = cnn_a();
        config.layers.remove(4);
        assert!(config.check().unwrap_err().to_string().contains("flatten"));
        let mut config = cnn_a();
        config.num_classes = 100;
        assert!(config.check().is_err());
        let mut config = cnn_a();
        config.layers[0] = LayerSpec::Conv2d {
            in_channels: 3,
            out_channels: 16,
            kernel_size: 40,
            stride: 1,
            padding: 0,
            bias: true,
        };
        assert!(config.check().is_err());
    }

    /// A network whose last linear layer is followed by a batch norm and an activation.
    fn linear_then_batch_norm_and_tanh() -> SequentialConfig {
        serde_json::from_str(
            r#"{
              "input": [2, 4, 4],
              "num_classes": 3,
              "layers": [
                { "type": "conv2d", "in_channels": 2, "out_channels": 4, "kernel_size": 3 },
                { "type": "flatten" },
                { "type": "linear", "in_features": 16, "out_features": 6 },
                { "type": "sigmoid" },
                { "type": "linear", "in_features": 6, "out_features": 3 },
                { "type": "batch_norm", "num_features": 3 },
                { "type": "tanh" }
              ]
            }"#,
        )
        .unwrap()
    }

    #[test]
    fn the_head_is_the_last_linear_layer_and_what_follows_it() {
        let device = Device::default();
        let config = linear_then_batch_norm_and_tanh();
        assert_eq!(head_start(&config.layers), Some(4));
        assert_eq!(config.feature_dim().unwrap(), 6);
        let model = config.init(&device).unwrap().valid();
        let images =
            Tensor::<4>::random([2, 2, 4, 4], burn::tensor::Distribution::Default, &device);
        let features = model.features(images.clone());
        assert_eq!(features.dims(), [2, 6]);
        // The features are the sigmoid's output, in (0, 1).
        assert!(
            adv_core::to_floats(features.clone())
                .iter()
                .all(|v| *v > 0.0 && *v < 1.0)
        );
        let logits = adv_core::to_floats(model.forward(images));
        let head = adv_core::to_floats(model.head(features));
        let bits = |values: &[f32]| values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&head), bits(&logits));
        // The tanh of the head bounds the logits.
        assert!(logits.iter().all(|v| v.abs() < 1.0));
    }

    #[test]
    fn without_a_linear_layer_feature_dim_is_an_error() {
        let mut config = linear_then_batch_norm_and_tanh();
        config.layers.truncate(2);
        config.input = [2, 3, 3];
        config.num_classes = 4;
        // conv 2 -> 4 channels on 3x3 images gives 4x1x1, flattened to 4 logits.
        config.check().unwrap();
        assert_eq!(head_start(&config.layers), None);
        let message = config.feature_dim().unwrap_err().to_string();
        assert!(message.contains("layer 0 (Conv2d"), "{message}");
        config.layers = vec![LayerSpec::Flatten];
        config.input = [4, 1, 1];
        let message = config.feature_dim().unwrap_err().to_string();
        assert!(message.contains("nor any layer with weights"), "{message}");
        // A broken chain is reported as such, not as a missing linear layer.
        config.num_classes = 5;
        assert!(
            config
                .feature_dim()
                .unwrap_err()
                .to_string()
                .contains("not 5 logits")
        );
    }

    #[test]
    #[should_panic(expected = "has no features or head")]
    fn features_of_a_network_without_a_linear_layer_panic() {
        let mut config = linear_then_batch_norm_and_tanh();
        config.layers.truncate(2);
        config.input = [2, 3, 3];
        config.num_classes = 4;
        let device = Device::default();
        let model = config.init(&device).unwrap();
        let images = Tensor::<4>::ones([1, 2, 3, 3], &device);
        assert_eq!(model.forward(images.clone()).dims(), [1, 4]);
        model.features(images);
    }

    #[test]
    fn toml_pools_batch_norms_and_activations() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("net.toml");
        std::fs::write(
            &path,
            r#"
input = [1, 8, 8]
num_classes = 3
layers = [
  { type = "conv2d", in_channels = 1, out_channels = 4, kernel_size = 3, padding = 1 },
  { type = "batch_norm", num_features = 4 },
  { type = "tanh" },
  { type = "max_pool2d", kernel_size = 2 },
  { type = "avg_pool2d", kernel_size = 2, stride = 2 },
  { type = "flatten" },
  { type = "linear", in_features = 16, out_features = 3 },
  { type = "sigmoid" },
]
"#,
        )
        .unwrap();
        let config = SequentialConfig::from_file(&path).unwrap();
        let model = config.init(&Device::default()).unwrap().valid();
        let out = model.forward(Tensor::<4>::ones([2, 1, 8, 8], &Device::default()));
        assert_eq!(out.dims(), [2, 3]);
        std::fs::write(
            &path,
            "input = [1, 8, 8]\nnum_classes = 3\nlayers = [{ type = \"dropout\" }]",
        )
        .unwrap();
        assert!(SequentialConfig::from_file(&path).is_err());
    }
}
