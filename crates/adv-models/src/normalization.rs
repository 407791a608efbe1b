//! Per-channel normalization inside the model, so attacks always see inputs in `[0, 1]`.

use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::{ModelError, Result};

/// `(x - mean[c]) / std[c]` per channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Normalization {
    /// Mean per channel.
    pub mean: Vec<f32>,
    /// Standard deviation per channel (positive).
    pub std: Vec<f32>,
}

impl Normalization {
    /// Checks that there is one positive, finite std and one finite mean per channel.
    pub fn new(mean: Vec<f32>, std: Vec<f32>) -> Result<Self> {
        let normalization = Self { mean, std };
        normalization.check(None)?;
        Ok(normalization)
    }

    /// Checks the values, and the channel count if given.
    pub fn check(&self, channels: Option<usize>) -> Result<()> {
        let bad = |problem: String| Err(ModelError::InvalidConfig(problem));
        if self.mean.len() != self.std.len() || self.mean.is_empty() {
            return bad(format!(
                "normalization has {} means and {} stds",
                self.mean.len(),
                self.std.len()
            ));
        }
        if let Some(channels) = channels
            && channels != self.mean.len()
        {
            return bad(format!(
                "normalization has {} channels, the input has {channels}",
                self.mean.len()
            ));
        }
        if let Some(mean) = self.mean.iter().find(|m| !m.is_finite()) {
            return bad(format!(
                "normalization mean {mean} (of {:?}) must be finite",
                self.mean
            ));
        }
        // 1/std must be finite too: a denormal std such as 1e-45 divides to infinity.
        if let Some(std) = self
            .std
            .iter()
            .find(|s| !(s.is_finite() && **s > 0.0 && (1.0 / **s).is_finite()))
        {
            return bad(format!(
                "normalization std {std:e} (of {:?}) must be positive, finite and at least {:e}",
                self.std,
                1.0 / f32::MAX
            ));
        }
        Ok(())
    }

    /// Normalizes images `[n, c, h, w]`.
    pub fn apply(&self, images: Tensor<4>) -> Tensor<4> {
        let device = images.device();
        let channels = self.mean.len();
        let mean = Tensor::<4>::from_data(
            TensorData::new(self.mean.clone(), [1, channels, 1, 1]),
            &device,
        );
        let std = Tensor::<4>::from_data(
            TensorData::new(self.std.clone(), [1, channels, 1, 1]),
            &device,
        );
        let dims = images.dims();
        (images - mean.expand(dims)) / std.expand(dims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use adv_core::to_floats;
    use burn::tensor::Device;

    #[test]
    fn normalizes_per_channel_and_validates() {
        let norm = Normalization::new(vec![0.5, 0.0], vec![0.5, 2.0]).unwrap();
        let images = Tensor::<4>::from_data(
            TensorData::new(vec![1.0f32, 0.0, 1.0, 4.0], [1, 2, 1, 2]),
            &Device::default(),
        );
        assert_eq!(to_floats(norm.apply(images)), vec![1.0, -1.0, 0.5, 2.0]);
        assert!(Normalization::new(vec![0.5], vec![0.0]).is_err());
        assert!(Normalization::new(vec![0.5, 0.5], vec![1.0]).is_err());
        assert!(norm.check(Some(3)).is_err());
    }
}
