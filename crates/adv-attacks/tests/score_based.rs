//! The gradient-estimating score-based attacks: their queries, as the oracle counts them, never
//! pass the threat model's budget, and on a linear model they lower the accuracy.

mod common;

use adv_attacks::{
    AdamStepSize, Attack, NattackConfig, NesConfig, PgdConfig, RunOptions, SpsaConfig, StepSize,
    ZooConfig, attack_batch,
};
use adv_core::{Budget, Counted, Norm, ThreatModel};
use common::{Linear, batch, pseudo_random};
use proptest::prelude::*;

/// Two classes, class 0 ahead by a margin no perturbation of 0.01 can close.
fn unbreakable() -> Linear {
    Linear {
        weights: vec![1.0, 1.0, 1.0, -1.0, -1.0, -1.0],
        bias: vec![5.0, 0.0],
        classes: 2,
        dims: 3,
    }
}

/// Runs `attack` under a query budget on two samples the attack cannot break, and checks the
/// oracle's count: each sample spends exactly `per_step` queries per step it can pay for, never
/// more than the budget, and the model saw the attack's queries plus the harness's two passes.
fn spends_exactly_its_steps(
    attack: &dyn Attack,
    norm: Norm,
    budget: u64,
    per_step: u64,
    steps: u64,
) {
    let model = Counted::new(unbreakable());
    let x0 = [0.5f32; 6];
    let threat = ThreatModel::new(norm, 0.01)
        .unwrap()
        .with_budget(Budget::Queries(budget))
        .unwrap();
    let outcome = attack_batch(
        attack,
        &model,
        &batch(&x0, &[0, 0], 3),
        &threat,
        &RunOptions::default(),
    )
    .unwrap();
    assert!(outcome.attacked.iter().all(|&a| a) && outcome.success.iter().all(|&s| !s));
    let expected = per_step * steps.min(budget / per_step);
    assert_eq!(outcome.queries, vec![expected; 2], "{norm} budget {budget}");
    assert!(expected <= budget);
    assert_eq!(outcome.gradients, vec![0; 2]);
    // The clean pass and the final verification, then the attack's own queries.
    assert_eq!(
        model.counts().forward_samples,
        2 * 2 + outcome.queries.iter().sum::<u64>(),
        "{norm} budget {budget}"
    );
    assert_eq!(model.counts().backward_samples, 0);
}

fn norm() -> impl Strategy<Value = Norm> {
    prop_oneof![Just(Norm::Linf), Just(Norm::L2)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Budgets that are and are not multiples of a step's cost.
    #[test]
    fn nes_never_spends_more_than_the_budget(norm in norm(), budget in 1u64..60, pairs in 1usize..5, steps in 1u64..8) {
        let samples = 2 * pairs;
        let per_step = samples as u64 + 1;
        let nes = NesConfig { samples, queries: per_step * steps, ..Default::default() }.init().unwrap();
        spends_exactly_its_steps(&nes, norm, budget, per_step, steps);
    }

    #[test]
    fn spsa_never_spends_more_than_the_budget(norm in norm(), budget in 1u64..60, pairs in 1usize..5, steps in 1u64..8) {
        let samples = 2 * pairs;
        let per_step = samples as u64 + 1;
        let spsa = SpsaConfig { samples, queries: per_step * steps, ..Default::default() }.init().unwrap();
        spends_exactly_its_steps(&spsa, norm, budget, per_step, steps);
    }

    /// Any population size (no antithetic pairs): budgets that are and are not multiples.
    #[test]
    fn nattack_never_spends_more_than_the_budget(norm in norm(), budget in 1u64..60, samples in 2usize..9, steps in 1u64..8) {
        let per_step = samples as u64 + 1;
        let nattack = NattackConfig { samples, queries: per_step * steps, ..Default::default() }.init().unwrap();
        spends_exactly_its_steps(&nattack, norm, budget, per_step, steps);
    }

    /// At most three coordinates, so that each step spends its full `2 * coordinates + 1` on
    /// the three-value inputs; also over binary-search steps.
    #[test]
    fn zoo_never_spends_more_than_the_budget(budget in 1u64..60, coordinates in 1usize..4, steps in 1u64..8, search_steps in 1usize..3) {
        let per_step = 2 * coordinates as u64 + 1;
        let zoo = ZooConfig { coordinates, steps: steps as usize, search_steps, ..Default::default() }.init().unwrap();
        spends_exactly_its_steps(&zoo, Norm::L2, budget, per_step, steps * search_steps as u64);
    }
}

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

/// Accuracy of the returned examples (the model's own verdict) at `eps`.
fn robust_accuracy(attack: &dyn Attack, norm: Norm, eps: f32) -> f32 {
    let (model, x0, labels) = linear_problem();
    let threat = ThreatModel::new(norm, eps).unwrap();
    let outcome = attack_batch(
        attack,
        &model,
        &batch(&x0, &labels, model.dims),
        &threat,
        &RunOptions::default(),
    )
    .unwrap();
    assert!(outcome.clean_correct.iter().all(|&c| c));
    let robust = outcome.robust();
    robust.iter().filter(|&&r| r).count() as f32 / robust.len() as f32
}

/// The radii of the end-to-end checks: white-box PGD-50 leaves 10% (Linf 0.2) and 0% (L2 0.6)
/// of the samples robust.
const RADII: [(Norm, f32); 2] = [(Norm::Linf, 0.2), (Norm::L2, 0.6)];

/// From 100% clean accuracy down to at most 20%, and within 10 points of white-box PGD;
/// `attack` gives the attack for each norm.
fn lowers_the_accuracy_like_pgd(attack: impl Fn(Norm) -> Box<dyn Attack>) {
    let pgd = PgdConfig {
        steps: 50,
        ..Default::default()
    }
    .init()
    .unwrap();
    for (norm, eps) in RADII {
        let attack = attack(norm);
        if !attack.info().norms.contains(&norm) {
            continue;
        }
        let accuracy = robust_accuracy(attack.as_ref(), norm, eps);
        let white_box = robust_accuracy(&pgd, norm, eps);
        assert!(
            accuracy <= 0.2 && accuracy <= white_box + 0.1,
            "{} {norm} {eps}: accuracy {accuracy}, pgd {white_box}",
            attack.info().name
        );
    }
}

#[test]
fn nes_lowers_the_accuracy_of_a_linear_model() {
    lowers_the_accuracy_like_pgd(|_| {
        let nes = NesConfig {
            samples: 20,
            queries: 21 * 30,
            ..Default::default()
        };
        Box::new(nes.init().unwrap())
    });
}

/// The default learning rate at Linf; at L2 the reference's `0.005 * eps` is sized for
/// CIFAR-10's 3072 dimensions (Adam moves every coordinate by about the learning rate), and
/// these 12 take a larger one.
#[test]
fn spsa_lowers_the_accuracy_of_a_linear_model() {
    lowers_the_accuracy_like_pgd(|norm| {
        let step_size = match norm {
            Norm::Linf => AdamStepSize::ByNorm,
            _ => AdamStepSize::Fixed(StepSize::Relative(0.05)),
        };
        let spsa = SpsaConfig {
            samples: 20,
            queries: 21 * 30,
            step_size,
            ..Default::default()
        };
        Box::new(spsa.init().unwrap())
    });
}

/// With the binary search over c: the default c = 0.25 alone leaves 40% robust.
#[test]
fn zoo_lowers_the_accuracy_of_a_linear_model() {
    lowers_the_accuracy_like_pgd(|_| {
        let zoo = ZooConfig {
            steps: 200,
            coordinates: 4,
            search_steps: 3,
            ..Default::default()
        };
        Box::new(zoo.init().unwrap())
    });
}

#[test]
fn nattack_lowers_the_accuracy_of_a_linear_model() {
    lowers_the_accuracy_like_pgd(|_| {
        let nattack = NattackConfig {
            samples: 20,
            queries: 21 * 30,
            ..Default::default()
        };
        Box::new(nattack.init().unwrap())
    });
}
