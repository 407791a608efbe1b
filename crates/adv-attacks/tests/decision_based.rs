//! The decision-based minimal-distance attacks: they run on labels alone, their queries, as the
//! oracle counts them, never pass the budget, and on a linear model they lower the accuracy.

mod common;

use adv_attacks::{
    Attack, BoundaryConfig, EvolutionaryConfig, HopSkipJumpConfig, RunOptions, attack_batch,
};
use adv_core::{Budget, Counted, Knowledge, Norm, ThreatModel};
use common::{Linear, batch, pseudo_random};
use proptest::prelude::*;

/// Ten 12-dimensional samples of a four-class linear model, all classified as labelled.
fn linear_problem() -> (Linear, Vec<f32>, Vec<usize>) {
    let (classes, dims, n) = (4, 12, 10);
    let model = Linear {
        weights: pseudo_random(classes * dims, 11, -1.0, 1.0),
        bias: pseudo_random(classes, 12, -0.1, 0.1),
        classes,
        dims,
    };
    let x0 = pseudo_random(n * dims, 13, 0.2, 0.8);
    let labels = x0.chunks(dims).map(|x| model.predict_host(x)).collect();
    (model, x0, labels)
}

fn decision_threat(norm: Norm, eps: f32) -> ThreatModel {
    ThreatModel::new(norm, eps)
        .unwrap()
        .with_knowledge(Knowledge::DecisionBased)
}

/// Runs `attack` on the linear problem under `budget` queries per sample, and checks the
/// oracle's count: no sample spends more than the budget, no gradient is taken, and the model
/// saw the attack's queries plus the harness's clean pass and final verification.
fn stays_within(attack: &dyn Attack, norm: Norm, eps: f32, budget: u64, seed: u64) {
    let (model, x0, labels) = linear_problem();
    let model = Counted::new(model);
    let threat = decision_threat(norm, eps)
        .with_budget(Budget::Queries(budget))
        .unwrap();
    let options = RunOptions {
        seed,
        ..Default::default()
    };
    let outcome =
        attack_batch(attack, &model, &batch(&x0, &labels, 12), &threat, &options).unwrap();
    for (i, &queries) in outcome.queries.iter().enumerate() {
        assert!(queries <= budget, "sample {i}: {queries} > {budget}");
        if let Some(first) = outcome.first_success[i] {
            assert!(first.queries <= queries);
        }
    }
    assert!(outcome.gradients.iter().all(|&g| g == 0));
    assert_eq!(model.counts().backward_samples, 0);
    assert_eq!(
        model.counts().forward_samples,
        2 * labels.len() as u64 + outcome.queries.iter().sum::<u64>()
    );
}

/// Robust accuracy of the returned examples (the model's own verdict) at `eps`, and the
/// largest query count.
fn robust_accuracy(attack: &dyn Attack, norm: Norm, eps: f32) -> (f32, u64) {
    let (model, x0, labels) = linear_problem();
    let outcome = attack_batch(
        attack,
        &model,
        &batch(&x0, &labels, model.dims),
        &decision_threat(norm, eps),
        &RunOptions::default(),
    )
    .unwrap();
    assert!(outcome.clean_correct.iter().all(|&c| c));
    let robust = outcome.robust();
    let accuracy = robust.iter().filter(|&&r| r).count() as f32 / robust.len() as f32;
    (accuracy, outcome.queries.iter().copied().max().unwrap_or(0))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Budgets small and large against the attack's own cap, both norms, any seed.
    #[test]
    fn hopskipjump_never_spends_more_than_the_budget(linf in any::<bool>(), budget in 1u64..400, queries in 1u64..600, seed in any::<u64>()) {
        let norm = if linf { Norm::Linf } else { Norm::L2 };
        let hsj = HopSkipJumpConfig { queries, iterations: 8, init_evals: 20, ..Default::default() }.init().unwrap();
        stays_within(&hsj, norm, 0.3, budget, seed);
    }

    #[test]
    fn boundary_never_spends_more_than_the_budget(budget in 1u64..400, queries in 1u64..600, directions in 1usize..30, seed in any::<u64>()) {
        let boundary = BoundaryConfig { queries, directions, ..Default::default() }.init().unwrap();
        stays_within(&boundary, Norm::L2, 0.3, budget, seed);
    }

    #[test]
    fn evolutionary_never_spends_more_than_the_budget(budget in 1u64..400, queries in 1u64..600, reduced_size in 0usize..3, seed in any::<u64>()) {
        let evolutionary = EvolutionaryConfig { queries, reduced_size, ..Default::default() }.init().unwrap();
        stays_within(&evolutionary, Norm::L2, 0.3, budget, seed);
    }
}

/// White-box PGD-50 leaves 10% (Linf 0.2) and 0% (L2 0.6) robust; 2,000 label queries take
/// HopSkipJump to at most 20% at both.
#[test]
fn hopskipjump_lowers_the_accuracy_of_a_linear_model() {
    let hsj = HopSkipJumpConfig {
        queries: 2_000,
        ..Default::default()
    }
    .init()
    .unwrap();
    for (norm, eps) in [(Norm::Linf, 0.2), (Norm::L2, 0.6)] {
        let (accuracy, queries) = robust_accuracy(&hsj, norm, eps);
        assert!(accuracy <= 0.2, "{norm} {eps}: accuracy {accuracy}");
        assert!(queries <= 2_000);
    }
}

/// 2,000 label queries take the Boundary attack from 100% to at most 20% at L2 0.6 (PGD-50: 0%).
#[test]
fn boundary_lowers_the_accuracy_of_a_linear_model() {
    let boundary = BoundaryConfig {
        queries: 2_000,
        ..Default::default()
    }
    .init()
    .unwrap();
    let (accuracy, queries) = robust_accuracy(&boundary, Norm::L2, 0.6);
    assert!(accuracy <= 0.2, "accuracy {accuracy}");
    assert!(queries <= 2_000);
}

/// 2,000 label queries take the Evolutionary attack from 100% to at most 20% at L2 0.6 (PGD-50:
/// 0%).
#[test]
fn evolutionary_lowers_the_accuracy_of_a_linear_model() {
    let evolutionary = EvolutionaryConfig {
        queries: 2_000,
        ..Default::default()
    }
    .init()
    .unwrap();
    let (accuracy, queries) = robust_accuracy(&evolutionary, Norm::L2, 0.6);
    assert!(accuracy <= 0.2, "accuracy {accuracy}");
    assert!(queries <= 2_000);
}
