//! Forward-pass throughput of each built-in architecture on the default backend, batch 128 (the
//! `items/s` column is images per second). Weights are random: throughput does not depend on
//! them. Run with `cargo bench -p adv-models --bench forward`.

use std::path::Path;

use adv_core::burn::module::Module;
use adv_core::burn::tensor::{Device, Distribution, Tensor};
use adv_models::{Model, ModelConfig};
use divan::counter::ItemsCount;
use divan::{Bencher, black_box};

const BATCH: usize = 128;

fn main() {
    divan::main();
}

fn config(name: &str) -> ModelConfig {
    match name {
        "mnist-cnn" => ModelConfig::from_name(name, [1, 28, 28], 10),
        "cifar_cnn_a.json" => ModelConfig::from_file(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("architectures")
                .join(name),
        ),
        _ => ModelConfig::from_name(name, [3, 32, 32], 10),
    }
    .expect("a built-in architecture")
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
    ],
    sample_count = 5,
    sample_size = 1
)]
fn forward(bencher: Bencher, name: &str) {
    let device = Device::default();
    let config = config(name);
    let model: Model = config.init(&device).expect("valid configuration").valid();
    let [c, h, w] = config.input();
    let images = Tensor::<4>::random([BATCH, c, h, w], Distribution::Default, &device);
    bencher
        .counter(ItemsCount::new(BATCH))
        .bench_local(|| black_box(model.forward(images.clone()).into_data()));
}
