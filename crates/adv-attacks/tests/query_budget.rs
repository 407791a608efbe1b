//! Square counts its queries: the threat model's query budget caps them per sample.

mod common;

use adv_attacks::{AttackError, NoiseConfig, PgdConfig, RunOptions, SquareConfig, attack_batch};
use adv_core::{Budget, Counted, Knowledge, Norm, ThreatModel};
use common::{Linear, batch};

#[test]
fn square_honours_the_query_budget_of_the_threat_model() {
    // Class 0 wins by a wide margin that no perturbation of 0.01 can close.
    let model = Counted::new(Linear {
        weights: vec![1.0, 1.0, 1.0, -1.0, -1.0, -1.0],
        bias: vec![5.0, 0.0],
        classes: 2,
        dims: 3,
    });
    let x0 = [0.5f32; 6];
    assert_eq!(model.inner().predict_host(&x0[..3]), 0);
    let square = SquareConfig::default().init().unwrap();
    for (budget, norm) in [(7u64, Norm::Linf), (12, Norm::L2)] {
        let before = model.counts().forward_samples;
        let threat = ThreatModel::new(norm, 0.01)
            .unwrap()
            .with_budget(Budget::Queries(budget))
            .unwrap();
        let outcome = attack_batch(
            &square,
            &model,
            &batch(&x0, &[0, 0], 3),
            &threat,
            &RunOptions::default(),
        )
        .unwrap();
        assert!(outcome.attacked.iter().all(|&a| a) && outcome.success.iter().all(|&s| !s));
        // The oracle billed exactly the budget to each sample, the harness's calls apart.
        assert_eq!(outcome.queries, vec![budget; 2], "{norm}");
        assert_eq!(outcome.harness_cost.forward_samples, 2, "{norm}");
        let used = model.counts().forward_samples - before;
        // The harness's clean check and verdict (2 per sample) plus the attack's queries.
        assert_eq!(used, 2 * (2 + budget), "{norm}");
    }
}

/// The decision-based noise attack sees labels only: it takes no gradient, spends one query
/// per draw, stops at the budget, and never runs under less knowledge than it needs.
#[test]
fn decision_attacks_spend_label_queries_within_the_budget() {
    let model = Linear {
        weights: vec![1.0, 1.0, 1.0, -1.0, -1.0, -1.0],
        bias: vec![5.0, 0.0],
        classes: 2,
        dims: 3,
    };
    let noise = NoiseConfig { repeats: 30 }.init().unwrap();
    let x0 = [0.5f32; 6];
    for (budget, expected) in [(None, 30), (Some(12), 12)] {
        let mut threat = ThreatModel::new(Norm::L2, 0.05)
            .unwrap()
            .with_knowledge(Knowledge::DecisionBased);
        if let Some(budget) = budget {
            threat = threat.with_budget(Budget::Queries(budget)).unwrap();
        }
        let outcome = attack_batch(
            &noise,
            &model,
            &batch(&x0, &[0, 0], 3),
            &threat,
            &RunOptions::default(),
        )
        .unwrap();
        assert_eq!(outcome.queries, vec![expected; 2]);
        assert_eq!(outcome.gradients, vec![0; 2]);
        assert_eq!(outcome.cost.backward_samples, 0);
        assert!(outcome.success.iter().all(|&s| !s));
    }
    // A white-box attack under a decision-based threat model is refused.
    let threat = ThreatModel::new(Norm::L2, 0.05)
        .unwrap()
        .with_knowledge(Knowledge::DecisionBased);
    let pgd = PgdConfig::default().init().unwrap();
    let refused = attack_batch(
        &pgd,
        &model,
        &batch(&x0, &[0, 0], 3),
        &threat,
        &RunOptions::default(),
    );
    assert!(
        matches!(refused, Err(AttackError::KnowledgeExceeded { .. })),
        "{:?}",
        refused.err()
    );
}
