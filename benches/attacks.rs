//! Attack and forward-pass throughput on the default backend, batch 128 (small CNN on digits
//! and CIFAR shapes; PGD-10 on ResNet-20 for CIFAR; NES and Square on ResNet-20 in queries
//! per second): `cargo bench -p adv-benches` (`--features tch` for LibTorch). Figures are
//! images per second, or queries per second for the score-based attacks (divan's item
//! counter).
//!
//! Every measured closure reads its result back to the host (the harness does so to decide
//! success), so asynchronous backends are synchronized inside the timing.

use adv_attacks::{
    Attack, FgsmConfig, NesConfig, PgdConfig, RunOptions, SquareConfig, attack_batch,
};
use adv_benches::{batch, model};
use adv_core::burn::tensor::Device;
use adv_core::{Classifier, Norm, ThreatModel, to_floats};
use divan::Bencher;
use divan::counter::ItemsCount;

const BATCH: usize = 128;
/// The embedded digits (8x8 grey) and CIFAR-sized colour images.
const SHAPES: [[usize; 3]; 2] = [[1, 8, 8], [3, 32, 32]];

fn main() {
    divan::main();
}

fn shape_name(shape: [usize; 3]) -> &'static str {
    if shape[0] == 1 {
        "digits-1x8x8"
    } else {
        "cifar-3x32x32"
    }
}

fn shape_of(name: &str) -> [usize; 3] {
    SHAPES
        .into_iter()
        .find(|s| shape_name(*s) == name)
        .unwrap_or(SHAPES[0])
}

#[divan::bench(args = SHAPES.map(shape_name), sample_count = 10)]
fn forward(bencher: Bencher, name: &str) {
    let shape = shape_of(name);
    let device = Device::default();
    let model = model("small-cnn", shape, &device);
    let batch = batch(&model, BATCH, shape, &device);
    bencher
        .counter(ItemsCount::new(BATCH))
        .bench_local(|| to_floats(model.forward(batch.images.clone())));
}

/// ResNet-20 forward pass and input gradient, batch 128, side by side: their ratio is the
/// harness's threshold for judging an iterate with a forward pass before the next gradient
/// (`CHECK_FIRST_ABOVE` in adv-attacks' session.rs).
#[divan::bench(args = ["forward", "value_and_grad"], sample_count = 5)]
fn resnet20_pass(bencher: Bencher, pass: &str) {
    let device = Device::default();
    let shape = [3, 32, 32];
    let model = model("resnet20", shape, &device);
    let batch = batch(&model, BATCH, shape, &device);
    let keys = adv_core::draw_keys(&batch.ids, 0);
    let labels = batch.labels.clone();
    let objective = |logits| adv_core::cross_entropy(logits, labels.clone());
    bencher
        .counter(ItemsCount::new(BATCH))
        .bench_local(|| match pass {
            "forward" => to_floats(model.forward(batch.images.clone())),
            _ => to_floats(
                model
                    .value_and_grad(batch.images.clone(), &keys, &objective)
                    .grad,
            ),
        });
}

/// `attack` on `architecture` for images of `shape`, batch 128.
fn run_attack(bencher: Bencher, architecture: &str, shape: [usize; 3], attack: &dyn Attack) {
    let device = Device::default();
    let model = model(architecture, shape, &device);
    let batch = batch(&model, BATCH, shape, &device);
    // A tiny radius keeps every sample robust, so no sample stops early and each run costs
    // exactly its number of steps.
    let threat = ThreatModel::new(Norm::Linf, 1e-6).expect("a valid radius");
    let options = RunOptions::default();
    bencher.counter(ItemsCount::new(BATCH)).bench_local(|| {
        attack_batch(attack, &model, &batch, &threat, &options).expect("the attack runs")
    });
}

fn pgd_10_config() -> adv_attacks::Pgd {
    PgdConfig {
        steps: 10,
        ..Default::default()
    }
    .init()
    .expect("valid PGD settings")
}

#[divan::bench(args = SHAPES.map(shape_name), sample_count = 10)]
fn fgsm(bencher: Bencher, name: &str) {
    run_attack(
        bencher,
        "small-cnn",
        shape_of(name),
        &FgsmConfig::default().init().expect("valid FGSM settings"),
    );
}

#[divan::bench(args = SHAPES.map(shape_name), sample_count = 5)]
fn pgd_10(bencher: Bencher, name: &str) {
    run_attack(bencher, "small-cnn", shape_of(name), &pgd_10_config());
}

/// PGD-10 on ResNet-20 (CIFAR, batch 128): the figure the README quotes.
#[divan::bench(sample_count = 3)]
fn pgd_10_resnet20(bencher: Bencher) {
    run_attack(bencher, "resnet20", [3, 32, 32], &pgd_10_config());
}

/// Queries per second of a score-based attack on ResNet-20 (CIFAR shapes, batch 128): every
/// sample stays robust at the tiny radius, so each run spends its whole budget; the counter is
/// the queries the oracle counted in one run (the harness's passes included).
fn score_queries_resnet20(bencher: Bencher, attack: &dyn Attack) {
    let device = Device::default();
    let shape = [3, 32, 32];
    let model = model("resnet20", shape, &device);
    let batch = batch(&model, BATCH, shape, &device);
    let threat = ThreatModel::new(Norm::Linf, 1e-6).expect("a valid radius");
    let options = RunOptions::default();
    let run = || attack_batch(attack, &model, &batch, &threat, &options).expect("the attack runs");
    let queries: u64 = run().queries.iter().sum();
    bencher
        .counter(ItemsCount::new(queries as usize))
        .bench_local(run);
}

/// NES with 50 samples per estimate and 102 queries per sample: two steps.
#[divan::bench(sample_count = 3)]
fn nes_queries_resnet20(bencher: Bencher) {
    let nes = NesConfig {
        samples: 50,
        queries: 102,
        ..Default::default()
    }
    .init()
    .expect("valid NES settings");
    score_queries_resnet20(bencher, &nes);
}

/// Square with 100 queries per sample.
#[divan::bench(sample_count = 3)]
fn square_queries_resnet20(bencher: Bencher) {
    let square = SquareConfig {
        queries: 100,
        ..Default::default()
    }
    .init()
    .expect("valid Square settings");
    score_queries_resnet20(bencher, &square);
}
