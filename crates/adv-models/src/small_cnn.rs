//! A small convolutional network: two conv-ReLU-maxpool blocks and two dense layers.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::{ModelError, Normalization, Result};

/// Configuration of a [`SmallCnn`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SmallCnnConfig {
    /// Input shape `[channels, height, width]`; height and width at least 4.
    pub input: [usize; 3],
    /// Number of classes.
    pub num_classes: usize,
    /// Channels of the two 3x3 convolutions.
    #[serde(default = "default_channels")]
    pub channels: [usize; 2],
    /// Width of the hidden dense layer.
    #[serde(default = "default_hidden")]
    pub hidden: usize,
    /// Input normalization applied first.
    #[serde(default)]
    pub normalization: Option<Normalization>,
}

fn default_channels() -> [usize; 2] {
    [16, 32]
}

fn default_hidden() -> usize {
    128
}

impl SmallCnnConfig {
    /// Default widths for the given input shape and class count.
    pub fn new(input: [usize; 3], num_classes: usize) -> Self {
        Self {
            input,
            num_classes,
            channels: default_channels(),
            hidden: default_hidden(),
            normalization: None,
        }
    }

    /// Width of [`SmallCnn::features`], the hidden dense layer's.
    pub fn feature_dim(&self) -> usize {
        self.hidden
    }

    /// Builds the network with random weights (seed the device for reproducibility).
    pub fn init(&self, device: &Device) -> Result<SmallCnn> {
        let [c, h, w] = self.input;
        if c == 0
            || h < 4
            || w < 4
            || self.num_classes < 2
            || self.channels.contains(&0)
            || self.hidden == 0
        {
            return Err(ModelError::InvalidConfig(format!(
                "small-cnn needs images of at least 4x4 with channels (got {:?}), at least 2 classes (got {}) and non-zero widths",
                self.input, self.num_classes
            )));
        }
        if let Some(normalization) = &self.normalization {
            normalization.check(Some(c))?;
        }
        let conv = |input, output| {
            Conv2dConfig::new([input, output], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        let flat = self.channels[1] * (h / 4) * (w / 4);
        Ok(SmallCnn {
            conv1: conv(c, self.channels[0]),
            conv2: conv(self.channels[0], self.channels[1]),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            fc1: LinearConfig::new(flat, self.hidden).init(device),
            fc2: LinearConfig::new(self.hidden, self.num_classes).init(device),
            normalization: self.normalization.clone(),
        })
    }
}

/// conv3x3-ReLU-maxpool2, twice, then dense-ReLU-dense.
#[derive(Module, Debug)]
pub struct SmallCnn {
    conv1: Conv2d,
    conv2: Conv2d,
    pool: MaxPool2d,
    fc1: Linear,
    fc2: Linear,
    #[module(skip)]
    normalization: Option<Normalization>,
}

impl SmallCnn {
    /// Logits `[n, classes]` of images `[n, c, h, w]` in `[0, 1]`: `head(features(images))`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.head(self.features(images))
    }

    /// The hidden dense layer after its ReLU, `[n, hidden]`.
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        let images = match &self.normalization {
            Some(normalization) => normalization.apply(images),
            None => images,
        };
        let x = self.pool.forward(relu(self.conv1.forward(images)));
        let x = self.pool.forward(relu(self.conv2.forward(x)));
        let n = x.dims()[0];
        relu(self.fc1.forward(x.reshape([n as i32, -1])))
    }

    /// The last dense layer: logits `[n, classes]` of features `[n, hidden]`.
    pub fn head(&self, features: Tensor<2>) -> Tensor<2> {
        self.fc2.forward(features)
    }
}
