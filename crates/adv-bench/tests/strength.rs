//! Attack strength on real models: a stronger attack never leaves more accuracy than a weaker
//! one, an unbounded budget leaves none, and PGD breaks the third-party ResNet-20.

use std::path::PathBuf;

use adv_attacks::AttackConfig;
use adv_bench::{EvalPlan, Progress, evaluate};
use adv_core::burn::tensor::Device;
use adv_core::data::load_npy;
use adv_core::{Norm, ThreatModel};
use adv_defenses::{TrainConfig, train};
use adv_models::{ModelConfig, load_weights};

fn plan(attacks: Vec<AttackConfig>, epsilons: Vec<f32>) -> EvalPlan {
    EvalPlan {
        attacks,
        threat: ThreatModel::new(Norm::Linf, 0.0).unwrap(),
        epsilons,
        batch_size: 128,
        seed: 0,
        confidence: 0.0,
        epsilon_curves: None,
    }
}

fn pgd(steps: usize) -> AttackConfig {
    AttackConfig::parse(&format!("pgd:steps={steps}")).unwrap()
}

/// FGSM >= PGD-10 >= PGD-100 >= AutoAttack (standard) in robust accuracy on the digits CNN,
/// and PGD-100 with a radius covering the whole box leaves nothing.
#[test]
fn stronger_attacks_leave_less_accuracy_on_a_trained_cnn() {
    let device = Device::default();
    let digits = adv_core::data::embedded_digits();
    let (train_data, test_data) = digits.split(1437);
    let architecture = ModelConfig::from_name("small-cnn", train_data.shape(), 10).unwrap();
    let config = TrainConfig {
        epochs: 15,
        batch_size: 32,
        ..Default::default()
    };
    let model = train(&architecture, &config, &train_data, &device, &mut |_| {})
        .unwrap()
        .model;
    let test_data = test_data.take(120);

    let attacks = vec![
        AttackConfig::named("fgsm").unwrap(),
        pgd(10),
        pgd(100),
        AttackConfig::named("autoattack").unwrap(),
    ];
    let report = evaluate(
        &model,
        &test_data,
        &plan(attacks, vec![0.1]),
        &device,
        &Progress::hidden(),
    )
    .unwrap();
    let accuracy: Vec<f32> = report.results.iter().map(|r| r.robust_accuracy).collect();
    assert!(
        report.clean_accuracy > 0.8,
        "clean accuracy {}",
        report.clean_accuracy
    );
    assert!(
        accuracy[0] < report.clean_accuracy,
        "FGSM bites: {accuracy:?}"
    );
    assert!(
        accuracy.windows(2).all(|w| w[1] <= w[0]),
        "FGSM >= PGD-10 >= PGD-100 >= AutoAttack: {accuracy:?}"
    );

    let unbounded = evaluate(
        &model,
        &test_data,
        &plan(vec![pgd(100)], vec![1.0]),
        &device,
        &Progress::hidden(),
    )
    .unwrap();
    assert_eq!(
        unbounded.results[0].robust_accuracy, 0.0,
        "a radius covering the box breaks everything"
    );
}

/// PGD-20 at Linf 8/255 leaves under 2% of the CIFAR sample to akamaster's ResNet-20.
#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared data: set ADV_SHARED_DATA (CI does)"
)]
fn pgd_20_breaks_resnet20_on_the_cifar_sample() {
    let shared = std::env::var_os("ADV_SHARED_DATA")
        .map(PathBuf::from)
        .expect("ADV_SHARED_DATA names the shared data folder");
    let device = Device::default();
    let sample = shared.join("cifar10-sample");
    let data = load_npy(&sample.join("x200.npy"), &sample.join("y200.npy")).unwrap();
    let config = ModelConfig::from_name("resnet20", [3, 32, 32], 10).unwrap();
    let model = load_weights(
        &config,
        &shared.join("weights/resnet20-12fca82f.safetensors"),
        &device,
    )
    .unwrap();
    let pgd_20 = pgd(20);
    let report = evaluate(
        &model,
        &data,
        &plan(vec![pgd_20], vec![8.0 / 255.0]),
        &device,
        &Progress::hidden(),
    )
    .unwrap();
    assert_eq!(
        report.clean_accuracy, 0.925,
        "the published-equivalent clean accuracy"
    );
    assert!(
        report.results[0].robust_accuracy < 0.02,
        "PGD-20 leaves {}",
        report.results[0].robust_accuracy
    );
}
