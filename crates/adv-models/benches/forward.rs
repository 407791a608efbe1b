//! Forward-pass throughput of each built-in architecture on the default backend (the `items/s`
//! column is images per second): batch 128 at CIFAR and MNIST sizes, batch 8 for the ImageNet
//! networks (ResNet-18/50 at 224x224, Inception-v3 at 299x299). Weights are random: throughput
//! does not depend on them. Run with `cargo bench -p adv-models --bench forward`, or one
//! architecture with `cargo bench -p adv-models --bench forward -- inception`.

use std::path::Path;

use adv_core::burn::module::Module;
use adv_core::burn::tensor::{Device, Distribution, Tensor};
use adv_models::{Model, ModelConfig};
use divan::counter::ItemsCount;
use divan::{Bencher, black_box};

const SMALL_IMAGE_BATCH: usize = 128;
const IMAGENET_BATCH: usize = 8;

fn main() {
    divan::main();
}

/// The architecture at the input size its published weights expect, and the batch size.
fn config(name: &str) -> (ModelConfig, usize) {
    let config = match name {
        "mnist-cnn" => ModelConfig::from_name(name, [1, 28, 28], 10),
        "cifar_cnn_a.json" => ModelConfig::from_file(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("architectures")
                .join(name),
        ),
        "torchvision-resnet18" | "torchvision-resnet50" => {
            ModelConfig::from_name(name, [3, 224, 224], 1000)
        }
        "inception-v3" => ModelConfig::from_name(name, [3, 299, 299], 1000),
        _ => ModelConfig::from_name(name, [3, 32, 32], 10),
    }
    .expect("a built-in architecture");
    let batch = if config.input()[1] > 32 {
        IMAGENET_BATCH
    } else {
        SMALL_IMAGE_BATCH
    };
    (config, batch)
}

#[divan::bench(
    args = [
        "cifar_cnn_a.json",
        "mnist-cnn",
        "resnet20",
        "resnet32",
        "resnet44",
        "resnet56",
        "resnet110",
        "preact-resnet18",
        "wrn-28-10",
        "wrn-34-10",
        "torchvision-resnet18",
        "torchvision-resnet50",
        "inception-v3",
    ],
    sample_count = 5,
    sample_size = 1
)]
fn forward(bencher: Bencher, name: &str) {
    let device = Device::default();
    let (config, batch) = config(name);
    let model: Model = config.init(&device).expect("valid configuration").valid();
    let [c, h, w] = config.input();
    let images = Tensor::<4>::random([batch, c, h, w], Distribution::Default, &device);
    bencher
        .counter(ItemsCount::new(batch))
        .bench_local(|| black_box(model.forward(images.clone()).into_data()));
}
