//! Attacks against closed forms on linear models.

mod common;

use adv_attacks::{
    Attack, FgsmConfig, NoObserver, PgdConfig, RunOptions, StepSize, attack_batch,
};
use adv_core::{Norm, ThreatModel, to_floats};
use common::{Linear, batch};

fn softmax(z: &[f32]) -> Vec<f32> {
    let max = z.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = z.iter().map(|v| (v - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|v| v / sum).collect()
}

fn pseudo_random(count: usize, seed: u32, low: f32, high: f32) -> Vec<f32> {
    let mut state = seed.wrapping_mul(2654435761).wrapping_add(12345);
    (0..count)
        .map(|_| {
            state = state.wrapping_mul(1664525).wrapping_add(1013904223);
            low + (high - low) * (state >> 8) as f32 / (1u32 << 24) as f32
        })
        .collect()
}

fn run(attack: &dyn Attack, model: &Linear, x0: &[f32], labels: &[usize], norm: Norm, eps: f32) -> Vec<f32> {
    let threat = ThreatModel::new(norm, eps).unwrap();
    let outcome = attack_batch(
        attack,
        model,
        &batch(x0, labels, model.dims),
        &threat,
        &[eps],
        &RunOptions::default(),
        &mut NoObserver,
    )
    .unwrap();
    assert!(outcome.attacked.iter().all(|&a| a), "every sample must be attacked");
    to_floats(outcome.adversarials)
}

/// FGSM's perturbation is eps * sign(W^T (softmax(z) - onehot(y))).
#[test]
fn fgsm_follows_the_sign_of_the_softmax_gradient() {
    let (classes, dims, n) = (4, 12, 3);
    let model = Linear {
        weights: pseudo_random(classes * dims, 1, -1.0, 1.0),
        bias: pseudo_random(classes, 2, -0.1, 0.1),
        classes,
        dims,
    };
    let x0 = pseudo_random(n * dims, 3, 0.3, 0.7);
    let labels: Vec<usize> = x0.chunks(dims).map(|x| model.predict_host(x)).collect();
    let eps = 0.05;
    let adversarial = run(&FgsmConfig::default().init(), &model, &x0, &labels, Norm::Linf, eps);
    for i in 0..n {
        let x = &x0[i * dims..(i + 1) * dims];
        let p = softmax(&model.logits_host(x));
        for j in 0..dims {
            let grad: f32 = (0..classes)
                .map(|k| model.weights[k * dims + j] * (p[k] - (k == labels[i]) as u8 as f32))
                .sum();
            let delta = adversarial[i * dims + j] - x[j];
            assert!((delta - eps * grad.signum()).abs() < 1e-6, "sample {i} coordinate {j}: {delta} vs {grad}");
        }
    }
}

/// A two-class linear model whose worst case stays correct: PGD must reach the corner of the
/// ball that minimizes the margin, x - eps * sign(w) (Linf) or x - eps * w / ||w|| (L2).
#[test]
fn pgd_reaches_the_analytic_worst_case_of_a_linear_model() {
    let dims = 16;
    let w = pseudo_random(dims, 7, -1.0, 1.0);
    let model = Linear {
        weights: [vec![0.0; dims], w.clone()].concat(),
        bias: vec![0.0, 10.0],
        classes: 2,
        dims,
    };
    let x0 = pseudo_random(2 * dims, 8, 0.3, 0.7);
    let labels = [1, 1];
    let w_norm = w.iter().map(|v| v * v).sum::<f32>().sqrt();

    let linf = PgdConfig { steps: 20, ..Default::default() }.init().unwrap();
    let adversarial = run(&linf, &model, &x0, &labels, Norm::Linf, 0.1);
    for (k, value) in adversarial.iter().enumerate() {
        let optimum = x0[k] - 0.1 * w[k % dims].signum();
        assert!((value - optimum).abs() < 1e-5, "Linf coordinate {k}: {value} vs {optimum}");
    }

    let l2 = PgdConfig {
        steps: 100,
        step_size: StepSize::Relative(0.25),
        ..Default::default()
    }
    .init()
    .unwrap();
    let adversarial = run(&l2, &model, &x0, &labels, Norm::L2, 0.3);
    for (k, value) in adversarial.iter().enumerate() {
        let optimum = x0[k] - 0.3 * w[k % dims] / w_norm;
        assert!((value - optimum).abs() < 1e-4, "L2 coordinate {k}: {value} vs {optimum}");
    }
}
