//! The iterative attacks built on the shared loop: equivalences between them and the effect of
//! each hook.

mod common;

use adv_attacks::{Attack, BimConfig, DimConfig, MimConfig, RunOptions, TiConfig, attack_batch};
use adv_core::{Goal, Norm, TargetSelection, ThreatModel, to_floats};
use common::{Linear, image_batch, pseudo_random};

const SHAPE: [usize; 3] = [2, 6, 6];
const DIMS: usize = 72;

fn model() -> Linear {
    Linear {
        weights: pseudo_random(4 * DIMS, 11, -1.0, 1.0),
        bias: pseudo_random(4, 12, -0.5, 0.5),
        classes: 4,
        dims: DIMS,
    }
}

struct Outcome {
    examples: Vec<f32>,
    success: Vec<bool>,
}

fn run(attack: &dyn Attack, norm: Norm, eps: f32, goal: Goal) -> Outcome {
    let model = model();
    let n = 4;
    let x0 = pseudo_random(n * DIMS, 13, 0.2, 0.8);
    let labels: Vec<usize> = x0.chunks(DIMS).map(|x| model.predict_host(x)).collect();
    let threat = ThreatModel::new(norm, eps).unwrap().with_goal(goal);
    let options = RunOptions {
        seed: 5,
        ..Default::default()
    };
    let outcome = attack_batch(
        attack,
        &model,
        &image_batch(&x0, &labels, SHAPE),
        &threat,
        &options,
    )
    .unwrap();
    assert!(outcome.attacked.iter().all(|&a| a));
    Outcome {
        examples: to_floats(outcome.adversarials),
        success: outcome.success,
    }
}

fn max_difference(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Budgets small enough that no sample is broken early, so every step is compared.
fn budgets() -> [(Norm, f32); 3] {
    [(Norm::Linf, 0.004), (Norm::L2, 0.03), (Norm::L1, 0.1)]
}

#[test]
fn mim_with_zero_decay_equals_bim() {
    let bim = BimConfig {
        steps: 7,
        l1_fraction: 0.1,
        ..Default::default()
    }
    .init()
    .unwrap();
    let mim = MimConfig {
        steps: 7,
        decay: 0.0,
        l1_fraction: 0.1,
        ..Default::default()
    }
    .init()
    .unwrap();
    for goal in [Goal::Untargeted, Goal::Targeted(TargetSelection::Next)] {
        for (norm, eps) in budgets() {
            let bim = run(&bim, norm, eps, goal).examples;
            let mim = run(&mim, norm, eps, goal).examples;
            // Linf steps follow the sign, which the L1 normalization cannot change; L2 and L1
            // divide the gradient by two norms in turn, which rounds differently.
            let tolerance = if norm == Norm::Linf { 0.0 } else { 1e-6 };
            let difference = max_difference(&bim, &mim);
            assert!(difference <= tolerance, "{norm} {goal:?}: {difference}");
        }
    }
}

#[test]
fn dim_without_diversity_or_momentum_and_ti_with_a_unit_kernel_equal_bim() {
    let bim = BimConfig::default().init().unwrap();
    let dim = DimConfig {
        diversity_prob: 0.0,
        decay: 0.0,
        ..Default::default()
    }
    .init()
    .unwrap();
    let ti = TiConfig {
        kernel_size: 1,
        decay: 0.0,
        ..Default::default()
    }
    .init()
    .unwrap();
    let goal = Goal::Untargeted;
    let reference = run(&bim, Norm::Linf, 0.004, goal).examples;
    assert_eq!(run(&dim, Norm::Linf, 0.004, goal).examples, reference);
    assert_eq!(run(&ti, Norm::Linf, 0.004, goal).examples, reference);
}

#[test]
fn momentum_diversity_and_smoothing_change_the_walk() {
    let goal = Goal::Untargeted;
    // A budget large enough for the softmax, hence the gradient, to change along the walk.
    let bim = run(&BimConfig::default().init().unwrap(), Norm::L2, 2.0, goal).examples;
    let mim = MimConfig::default().init().unwrap();
    let dim = DimConfig {
        diversity_prob: 1.0,
        resize_rate: 0.5,
        ..Default::default()
    }
    .init()
    .unwrap();
    let ti = TiConfig {
        kernel_size: 3,
        ..Default::default()
    }
    .init()
    .unwrap();
    let mim = run(&mim, Norm::L2, 2.0, goal).examples;
    assert!(
        max_difference(&bim, &mim) > 1e-4,
        "momentum must matter in L2"
    );
    let dim = run(&dim, Norm::L2, 2.0, goal).examples;
    assert!(
        max_difference(&mim, &dim) > 1e-4,
        "the resized input must change the gradient"
    );
    let ti = run(&ti, Norm::L2, 2.0, goal).examples;
    assert!(
        max_difference(&mim, &ti) > 1e-4,
        "smoothing must change the gradient"
    );
}

#[test]
fn every_iterative_attack_breaks_a_linear_model_with_a_large_budget() {
    // Half of DIM's gradients are taken at shifted copies and TI averages neighbouring pixels,
    // which on pixel-wise random weights is noise: they need more steps, and TI a small kernel.
    let attacks: Vec<Box<dyn Attack>> = vec![
        Box::new(BimConfig::default().init().unwrap()),
        Box::new(MimConfig::default().init().unwrap()),
        Box::new(
            DimConfig {
                steps: 40,
                ..Default::default()
            }
            .init()
            .unwrap(),
        ),
        Box::new(
            TiConfig {
                steps: 40,
                kernel_size: 3,
                ..Default::default()
            }
            .init()
            .unwrap(),
        ),
    ];
    for attack in &attacks {
        for goal in [Goal::Untargeted, Goal::Targeted(TargetSelection::Next)] {
            let outcome = run(attack.as_ref(), Norm::Linf, 0.3, goal);
            assert!(
                outcome.success.iter().all(|&s| s),
                "{} {goal:?}",
                attack.info().name
            );
        }
    }
}
