//! Attacks against closed forms on linear models.

mod common;

use adv_attacks::{
    Attack, CarliniWagnerConfig, DeepFoolConfig, FgsmConfig, Mode, PgdConfig, Pick, RunOptions,
    StepSize, attack_batch,
};
use adv_core::{Norm, ThreatModel, to_floats};
use common::{Linear, batch, pseudo_random};

fn softmax(z: &[f32]) -> Vec<f32> {
    let max = z.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = z.iter().map(|v| (v - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|v| v / sum).collect()
}

fn run(
    attack: &dyn Attack,
    model: &Linear,
    x0: &[f32],
    labels: &[usize],
    norm: Norm,
    eps: f32,
) -> Vec<f32> {
    let threat = ThreatModel::new(norm, eps).unwrap();
    let outcome = attack_batch(
        attack,
        model,
        &batch(x0, labels, model.dims),
        &threat,
        &RunOptions::default(),
    )
    .unwrap();
    assert!(
        outcome.attacked.iter().all(|&a| a),
        "every sample must be attacked"
    );
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
    let adversarial = run(
        &FgsmConfig::default().init().unwrap(),
        &model,
        &x0,
        &labels,
        Norm::Linf,
        eps,
    );
    for i in 0..n {
        let x = &x0[i * dims..(i + 1) * dims];
        let p = softmax(&model.logits_host(x));
        for j in 0..dims {
            let grad: f32 = (0..classes)
                .map(|k| model.weights[k * dims + j] * (p[k] - (k == labels[i]) as u8 as f32))
                .sum();
            let delta = adversarial[i * dims + j] - x[j];
            assert!(
                (delta - eps * grad.signum()).abs() < 1e-6,
                "sample {i} coordinate {j}: {delta} vs {grad}"
            );
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

    let linf = PgdConfig {
        steps: 20,
        ..Default::default()
    }
    .init()
    .unwrap();
    let adversarial = run(&linf, &model, &x0, &labels, Norm::Linf, 0.1);
    for (k, value) in adversarial.iter().enumerate() {
        let optimum = x0[k] - 0.1 * w[k % dims].signum();
        assert!(
            (value - optimum).abs() < 1e-5,
            "Linf coordinate {k}: {value} vs {optimum}"
        );
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
        assert!(
            (value - optimum).abs() < 1e-4,
            "L2 coordinate {k}: {value} vs {optimum}"
        );
    }
}

/// Runs a minimal-distance attack under an effectively unbounded L2 or Linf ball and returns
/// the distances found and the successes.
fn minimal(attack: &dyn Attack, model: &Linear, x0: &[f32], norm: Norm) -> (Vec<f32>, Vec<bool>) {
    let labels: Vec<usize> = x0
        .chunks(model.dims)
        .map(|x| model.predict_host(x))
        .collect();
    let threat = ThreatModel::new(norm, 1e6).unwrap();
    let generate = RunOptions {
        mode: Mode::Generate(Pick::Best),
        ..RunOptions::default()
    };
    let outcome = attack_batch(
        attack,
        model,
        &batch(x0, &labels, model.dims),
        &threat,
        &generate,
    )
    .unwrap();
    assert!(
        outcome.attacked.iter().all(|&a| a),
        "every sample must be attacked"
    );
    (outcome.distances, outcome.success)
}

/// A binary linear classifier `sign(w.x + b)` and points at signed distances `offsets` from its
/// boundary (inside the box): the minimal L2 perturbation has length `|w.x + b| / ||w||`.
fn binary_case(offsets: &[f32]) -> (Linear, Vec<f32>) {
    let dims = 16;
    let w = pseudo_random(dims, 21, -1.0, 1.0);
    let w_norm = w.iter().map(|v| v * v).sum::<f32>().sqrt();
    let mut x0 = Vec::new();
    let mut bias = 0.0;
    for (i, &offset) in offsets.iter().enumerate() {
        let on_boundary = pseudo_random(dims, 22 + i as u32, 0.45, 0.55);
        if i == 0 {
            bias = -on_boundary.iter().zip(&w).map(|(p, w)| p * w).sum::<f32>();
        }
        // Every base point is moved onto the same hyperplane w.x + b = 0 first.
        let gap = (on_boundary.iter().zip(&w).map(|(p, w)| p * w).sum::<f32>() + bias) / w_norm;
        x0.extend(
            on_boundary
                .iter()
                .zip(&w)
                .map(|(p, w)| p + (offset - gap) * w / w_norm),
        );
    }
    let model = Linear {
        weights: [vec![0.0; dims], w].concat(),
        bias: vec![0.0, bias],
        classes: 2,
        dims,
    };
    (model, x0)
}

#[test]
fn deepfool_and_cw_find_the_minimal_l2_distance_of_a_binary_linear_classifier() {
    let offsets = [0.1, -0.2, 0.15, -0.05];
    let (model, x0) = binary_case(&offsets);
    let exact = DeepFoolConfig {
        overshoot: 0.0,
        ..Default::default()
    }
    .init()
    .unwrap();
    let cw = CarliniWagnerConfig {
        steps: 1000,
        ..Default::default()
    }
    .init()
    .unwrap();
    for attack in [&exact as &dyn Attack, &cw] {
        let (distances, success) = minimal(attack, &model, &x0, Norm::L2);
        for (i, offset) in offsets.iter().enumerate() {
            let minimal = offset.abs();
            assert!(success[i], "{} sample {i}", attack.info().name);
            assert!(
                distances[i] >= minimal * 0.999 && distances[i] <= minimal * 1.01,
                "{} sample {i}: {} vs {minimal}",
                attack.info().name,
                distances[i]
            );
        }
    }
    // The default overshoot lengthens the step by 2%.
    let default = DeepFoolConfig::default().init().unwrap();
    let (distances, _) = minimal(&default, &model, &x0, Norm::L2);
    for (distance, offset) in distances.iter().zip(&offsets) {
        assert!(
            (distance / offset.abs() - 1.02).abs() < 1e-3,
            "{distance} vs {offset}"
        );
    }
}

/// On a multi-class linear model the minimal distance to a wrong class is the distance to the
/// nearest of the hyperplanes `z_k = z_y`: `min_k |z_k - z_y| / ||w_k - w_y||_*` with the dual
/// norm (L2 for L2, L1 for Linf). DeepFool reaches it in one step, lengthened by the overshoot.
#[test]
fn deepfool_reaches_the_nearest_boundary_of_a_multiclass_linear_model() {
    let (classes, dims, n) = (5, 12, 24);
    let model = Linear {
        weights: pseudo_random(classes * dims, 31, -3.0, 3.0),
        bias: pseudo_random(classes, 32, -0.5, 0.5),
        classes,
        dims,
    };
    let x0 = pseudo_random(n * dims, 33, 0.4, 0.6);
    let deepfool = DeepFoolConfig::default().init().unwrap();
    for norm in [Norm::L2, Norm::Linf] {
        let (distances, success) = minimal(&deepfool, &model, &x0, norm);
        let mut checked = 0;
        for (i, x) in x0.chunks(dims).enumerate() {
            let z = model.logits_host(x);
            let y = model.predict_host(x);
            let nearest = (0..classes)
                .filter(|&k| k != y)
                .map(|k| {
                    let w: Vec<f32> = (0..dims)
                        .map(|j| model.weights[k * dims + j] - model.weights[y * dims + j])
                        .collect();
                    let dual = match norm {
                        Norm::Linf => w.iter().map(|v| v.abs()).sum::<f32>(),
                        _ => w.iter().map(|v| v * v).sum::<f32>().sqrt(),
                    };
                    (z[y] - z[k]) / dual
                })
                .fold(f32::INFINITY, f32::min);
            // Far points may meet the box first; their minimal distance is not the closed form.
            if nearest * 1.02 > 0.4 {
                continue;
            }
            checked += 1;
            assert!(success[i], "{norm} sample {i}");
            assert!(
                distances[i] >= nearest * 0.999,
                "{norm} sample {i}: {} beats {nearest}",
                distances[i]
            );
            assert!(
                distances[i] <= nearest * 1.02 + 1e-4,
                "{norm} sample {i}: {} vs {nearest}",
                distances[i]
            );
        }
        assert!(
            checked >= 8,
            "{norm}: only {checked} samples inside the box"
        );
    }
}
