//! A multi-layer perceptron on flattened images.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::{ModelError, Normalization, Result};

/// Configuration of an [`Mlp`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MlpConfig {
    /// Input shape `[channels, height, width]`.
    pub input: [usize; 3],
    /// Number of classes.
    pub num_classes: usize,
    /// Widths of the hidden layers (ReLU after each).
    #[serde(default = "default_hidden")]
    pub hidden: Vec<usize>,
    /// Input normalization applied first.
    #[serde(default)]
    pub normalization: Option<Normalization>,
}

fn default_hidden() -> Vec<usize> {
    vec![128, 64]
}

impl MlpConfig {
    /// Default hidden widths for the given input shape and class count.
    pub fn new(input: [usize; 3], num_classes: usize) -> Self {
        Self {
            input,
            num_classes,
            hidden: default_hidden(),
            normalization: None,
        }
    }

    /// Width of [`Mlp::features`]: the last hidden width, or the flattened input size when
    /// there is no hidden layer.
    pub fn feature_dim(&self) -> usize {
        match self.hidden.last() {
            Some(width) => *width,
            None => self.input.iter().product(),
        }
    }

    /// Builds the network with random weights (seed the device for reproducibility).
    pub fn init(&self, device: &Device) -> Result<Mlp> {
        let features: usize = self.input.iter().product();
        if features == 0 || self.num_classes < 2 || self.hidden.contains(&0) {
            return Err(ModelError::InvalidConfig(format!(
                "mlp needs a non-empty input (got {:?}), at least 2 classes (got {}) and non-zero widths (got {:?})",
                self.input, self.num_classes, self.hidden
            )));
        }
        if let Some(normalization) = &self.normalization {
            normalization.check(Some(self.input[0]))?;
        }
        let widths: Vec<usize> = std::iter::once(features)
            .chain(self.hidden.iter().copied())
            .chain(std::iter::once(self.num_classes))
            .collect();
        let layers = widths
            .windows(2)
            .map(|pair| LinearConfig::new(pair[0], pair[1]).init(device))
            .collect();
        Ok(Mlp {
            layers,
            normalization: self.normalization.clone(),
        })
    }
}

/// Fully connected layers with ReLU between them.
#[derive(Module, Debug)]
pub struct Mlp {
    layers: Vec<Linear>,
    #[module(skip)]
    normalization: Option<Normalization>,
}

impl Mlp {
    /// Logits `[n, classes]` of images `[n, c, h, w]` in `[0, 1]`: `head(features(images))`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.head(self.features(images))
    }

    /// The output of the last hidden layer after its ReLU, `[n, feature_dim]` (the normalized,
    /// flattened images when there is no hidden layer).
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        let images = match &self.normalization {
            Some(normalization) => normalization.apply(images),
            None => images,
        };
        let n = images.dims()[0];
        let hidden = &self.layers[..self.layers.len() - 1];
        hidden
            .iter()
            .fold(images.reshape([n as i32, -1]), |x, layer| {
                relu(layer.forward(x))
            })
    }

    /// The last linear layer: logits `[n, classes]` of features `[n, feature_dim]`.
    pub fn head(&self, features: Tensor<2>) -> Tensor<2> {
        self.layers[self.layers.len() - 1].forward(features)
    }
}
