//! A linear softmax classifier with hand-checkable gradients, and batch helpers.
// Each test binary uses a subset of the helpers.
#![allow(dead_code)]

use adv_core::burn::tensor::{Device, Int, Tensor, TensorData};
use adv_core::{Batch, Classifier};

/// `logits = W x + b` on flattened images, `W` of shape `[classes, dims]`.
pub struct Linear {
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
    pub classes: usize,
    pub dims: usize,
}

impl Linear {
    pub fn logits_host(&self, x: &[f32]) -> Vec<f32> {
        (0..self.classes)
            .map(|k| {
                let row = &self.weights[k * self.dims..(k + 1) * self.dims];
                row.iter().zip(x).map(|(w, v)| w * v).sum::<f32>() + self.bias[k]
            })
            .collect()
    }

    pub fn predict_host(&self, x: &[f32]) -> usize {
        argmax(&self.logits_host(x))
    }
}

impl Classifier for Linear {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let device = images.device();
        let n = images.dims()[0];
        let w = Tensor::<2>::from_data(
            TensorData::new(self.weights.clone(), [self.classes, self.dims]),
            &device,
        );
        let b = Tensor::<2>::from_data(
            TensorData::new(self.bias.clone(), [1, self.classes]),
            &device,
        );
        images.reshape([n, self.dims]).matmul(w.transpose()) + b
    }
}

pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}

/// A batch of `n` images of shape `[1, 1, dims]` from host values.
pub fn batch(images: &[f32], labels: &[usize], dims: usize) -> Batch {
    image_batch(images, labels, [1, 1, dims])
}

/// A batch of `n` images of shape `[c, h, w]` from host values.
pub fn image_batch(images: &[f32], labels: &[usize], [c, h, w]: [usize; 3]) -> Batch {
    let device = Device::default();
    let n = labels.len();
    Batch {
        images: Tensor::from_data(TensorData::new(images.to_vec(), [n, c, h, w]), &device),
        labels: Tensor::<1, Int>::from_data(
            TensorData::new(labels.iter().map(|&l| l as i64).collect::<Vec<_>>(), [n]),
            &device,
        ),
        ids: (0..n as u64).collect(),
    }
}

/// `count` values in `[low, high)` from a fixed linear congruential stream keyed by `seed`.
pub fn pseudo_random(count: usize, seed: u32, low: f32, high: f32) -> Vec<f32> {
    let mut state = seed.wrapping_mul(2654435761).wrapping_add(12345);
    (0..count)
        .map(|_| {
            state = state.wrapping_mul(1664525).wrapping_add(1013904223);
            low + (high - low) * (state >> 8) as f32 / (1u32 << 24) as f32
        })
        .collect()
}
