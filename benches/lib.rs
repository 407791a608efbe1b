//! Shared set-up of the benchmarks: models and batches of the sizes the README quotes.

use adv_core::Batch;
use adv_core::burn::tensor::{Device, Int, Tensor};
use adv_models::{Model, ModelConfig};

/// A built-in architecture (`small-cnn`, `resnet20`, ...) for images of `shape` with 10
/// classes, random weights: throughput does not depend on the weights.
pub fn model(name: &str, shape: [usize; 3], device: &Device) -> Model {
    ModelConfig::from_name(name, shape, 10)
        .and_then(|config| config.init(device))
        .expect("the architecture builds for these shapes")
}

/// `n` uniform random images of `shape` in [0, 1], labelled by the model's own predictions so
/// that every sample is attacked.
pub fn batch(model: &Model, n: usize, shape: [usize; 3], device: &Device) -> Batch {
    let [c, h, w] = shape;
    let images = Tensor::<4>::random(
        [n, c, h, w],
        adv_core::burn::tensor::Distribution::Default,
        device,
    );
    let labels: Tensor<1, Int> = model.forward(images.clone()).argmax(1).reshape([n]);
    Batch {
        images,
        labels,
        ids: (0..n as u64).collect(),
    }
}
