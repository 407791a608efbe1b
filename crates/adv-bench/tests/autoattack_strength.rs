//! AutoAttack's strength on a trained model: APGD-CE is at least as strong as PGD-10 at the
//! same radius, and the ensemble (APGD-CE, APGD-T, FAB-T, Square) is exactly the per-sample worst case of its attacks.

use adv_attacks::AttackConfig;
use adv_bench::{DataSource, DigitsSplit, EvalPlan, Progress, evaluate};
use adv_core::burn::tensor::Device;
use adv_core::{Norm, ThreatModel};
use adv_defenses::{TrainConfig, train};
use adv_models::ModelConfig;

fn parse(spec: &str) -> AttackConfig {
    AttackConfig::parse(spec).unwrap()
}

#[test]
fn autoattack_is_the_worst_case_of_its_attacks_and_beats_pgd() {
    let device = Device::default();
    let train_data = DataSource::Digits(DigitsSplit::Train).load().unwrap();
    let test_data = DataSource::Digits(DigitsSplit::Test)
        .load()
        .unwrap()
        .take(200);
    let architecture =
        ModelConfig::from_name("mlp", train_data.shape(), train_data.num_classes()).unwrap();
    let config = TrainConfig {
        epochs: 8,
        batch_size: 32,
        ..TrainConfig::default()
    };
    let model = train(&architecture, &config, &train_data, &device, &mut |_| {})
        .unwrap()
        .model;

    let plan = |attacks| EvalPlan {
        attacks,
        threat: ThreatModel::new(Norm::Linf, 0.0).unwrap(),
        epsilons: vec![0.05, 0.1],
        batch_size: 100,
        seed: 0,
        confidence: 0.0,
        epsilon_curves: None,
    };
    // The ensemble's attacks alone, each on every sample: their report's worst case is the
    // per-sample worst case of the three.
    let alone = plan(vec![
        parse("apgd-ce"),
        parse("apgd-t"),
        parse("fab-t"),
        parse("square:queries=1000"),
    ]);
    let alone = evaluate(&model, &test_data, &alone, &device, &Progress::hidden()).unwrap();
    let together = plan(vec![parse("pgd"), parse("autoattack:queries=1000")]);
    let report = evaluate(&model, &test_data, &together, &device, &Progress::hidden()).unwrap();
    assert!(
        report.clean_accuracy > 0.8,
        "clean accuracy {}",
        report.clean_accuracy
    );
    for (e, &epsilon) in together.epsilons.iter().enumerate() {
        let at = |attack: &str| {
            report
                .results
                .iter()
                .chain(&alone.results)
                .find(|r| r.attack.starts_with(attack) && r.epsilon == epsilon)
                .unwrap_or_else(|| panic!("{attack} at {epsilon}"))
                .robust_accuracy
        };
        let summary = format!(
            "eps {epsilon}: pgd-10 {}, apgd-ce {}, apgd-t {}, fab-t {}, square {}, autoattack {}",
            at("pgd-10"),
            at("apgd-ce"),
            at("apgd-t"),
            at("fab-t"),
            at("square"),
            at("autoattack")
        );
        assert!(
            at("pgd-10") < report.clean_accuracy,
            "{summary}: the radius must bite"
        );
        assert!(at("apgd-ce") <= at("pgd-10"), "{summary}");
        for component in ["apgd-ce", "apgd-t", "fab-t", "square"] {
            assert!(at("autoattack") <= at(component), "{summary}");
        }
        // Each sample meets the same attacks with the same random numbers inside and outside
        // the ensemble, so the ensemble is exactly the worst case of its attacks.
        let worst = alone.worst_case[e].robust_accuracy;
        assert!(
            (worst - at("autoattack")).abs() < 1e-6,
            "{summary}, worst case {worst}"
        );
        println!("{summary}");
    }
}
