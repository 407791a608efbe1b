//! FAB-T against the closed form of a linear model: the smallest perturbation that changes the
//! class is `gap / ||w_y - w_t||_q` (`q` dual to the norm), and FAB-T gets within 1% of it.

mod common;

use adv_attacks::{FabConfig, RunOptions, attack_batch};
use adv_core::{Norm, ThreatModel, to_floats};
use common::{Linear, batch};

/// Two classes on four inputs; at `x0 = 0.5` the logit gap is `z_0 - z_1 = 0.3`.
fn model() -> Linear {
    Linear {
        weights: vec![1.0, -0.5, 0.3, 0.2, -0.2, 0.4, 0.1, -0.6],
        bias: vec![-0.35, 0.0],
        classes: 2,
        dims: 4,
    }
}

#[test]
fn fab_t_finds_the_minimal_perturbation_of_a_linear_model() {
    let model = model();
    let x0 = [0.5f32; 4];
    let difference = [1.2f32, -0.9, 0.2, 0.8];
    let minimal = [
        (
            Norm::L2,
            0.3 / difference.iter().map(|v| v * v).sum::<f32>().sqrt(),
        ),
        (
            Norm::Linf,
            0.3 / difference.iter().map(|v| v.abs()).sum::<f32>(),
        ),
    ];
    let fab = FabConfig::default().init().unwrap();
    for (norm, distance) in minimal {
        for (factor, breaks) in [(1.01f32, true), (0.99, false)] {
            let eps = distance * factor;
            let threat = ThreatModel::new(norm, eps).unwrap();
            let outcome = attack_batch(
                &fab,
                &model,
                &batch(&x0, &[0], 4),
                &threat,
                &RunOptions::default(),
            )
            .unwrap();
            assert!(outcome.attacked[0]);
            assert_eq!(
                outcome.success[0], breaks,
                "{norm} at {factor} x the minimal distance"
            );
            assert!(outcome.distances[0] <= eps * (1.0 + 1e-5));
            let example = to_floats(outcome.adversarials);
            assert_eq!(
                model.predict_host(&example) == 1,
                breaks,
                "{norm}: {example:?}"
            );
        }
    }
}
