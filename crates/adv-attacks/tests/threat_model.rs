//! Property tests: every attack stays inside its threat model, whatever the inputs, budgets
//! and seeds.

mod common;

use adv_attacks::{Attack, AttackConfig, AttackOverrides, NoObserver, RunOptions, attack_batch};
use adv_core::{Norm, ThreatModel, to_floats};
use common::{Linear, batch};
use proptest::prelude::*;

const CLASSES: usize = 3;

fn attacks() -> Vec<Box<dyn Attack>> {
    ["fgsm", "pgd"]
        .iter()
        .map(|name| {
            AttackConfig::from_name(name, &AttackOverrides { steps: Some(5), ..Default::default() })
                .unwrap()
                .build()
                .unwrap()
        })
        .collect()
}

fn norm_strategy() -> impl Strategy<Value = Norm> {
    prop_oneof![Just(Norm::Linf), Just(Norm::L2), Just(Norm::L1)]
}

fn case() -> impl Strategy<Value = (usize, usize, Vec<f32>, Vec<f32>, f32, Norm, u64)> {
    (1usize..4, 2usize..10).prop_flat_map(|(n, dims)| {
        (
            Just(n),
            Just(dims),
            prop::collection::vec(0.0f32..=1.0, n * dims),
            prop::collection::vec(-2.0f32..2.0, CLASSES * dims),
            0.0f32..1.5,
            norm_strategy(),
            any::<u64>(),
        )
    })
}

fn linear(weights: Vec<f32>, dims: usize) -> Linear {
    Linear {
        weights,
        bias: vec![0.0; CLASSES],
        classes: CLASSES,
        dims,
    }
}

fn norm_of(norm: Norm, delta: &[f32]) -> f64 {
    let abs = delta.iter().map(|v| (*v as f64).abs());
    match norm {
        Norm::Linf => abs.fold(0.0, f64::max),
        Norm::L2 => abs.map(|v| v * v).sum::<f64>().sqrt(),
        Norm::L1 => abs.sum(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn examples_stay_in_the_ball_and_the_box((n, dims, x0, weights, eps, norm, seed) in case()) {
        let model = linear(weights, dims);
        let labels: Vec<usize> = x0.chunks(dims).map(|x| model.predict_host(x)).collect();
        let threat = ThreatModel::new(norm, eps).unwrap();
        let options = RunOptions { seed, ..Default::default() };
        for attack in attacks().iter().filter(|a| a.norms().contains(&norm)) {
            let outcome = attack_batch(attack.as_ref(), &model, &batch(&x0, &labels, dims), &threat, &[eps], &options, &mut NoObserver).unwrap();
            let adversarial = to_floats(outcome.adversarials.clone());
            prop_assert!(adversarial.iter().all(|v| (0.0..=1.0).contains(v)), "{} left the box", attack.name());
            for i in 0..n {
                let delta: Vec<f32> = (0..dims).map(|j| adversarial[i * dims + j] - x0[i * dims + j]).collect();
                let size = norm_of(norm, &delta);
                prop_assert!(size <= eps as f64 * (1.0 + 1e-5) + 1e-6, "{} {norm}: {size} > {eps}", attack.name());
                prop_assert!((outcome.distances[i] as f64 - size).abs() <= 1e-5 + 1e-5 * size);
                // The reported success is the model's own verdict on the returned example.
                let predicted = model.predict_host(&adversarial[i * dims..(i + 1) * dims]);
                prop_assert_eq!(outcome.success[i], outcome.attacked[i] && predicted != labels[i]);
            }
        }
    }

    #[test]
    fn zero_epsilon_returns_the_input((_n, dims, x0, weights, _eps, norm, seed) in case()) {
        let model = linear(weights, dims);
        let labels: Vec<usize> = x0.chunks(dims).map(|x| model.predict_host(x)).collect();
        let threat = ThreatModel::new(norm, 0.0).unwrap();
        let options = RunOptions { seed, ..Default::default() };
        for attack in attacks().iter().filter(|a| a.norms().contains(&norm)) {
            let outcome = attack_batch(attack.as_ref(), &model, &batch(&x0, &labels, dims), &threat, &[0.0], &options, &mut NoObserver).unwrap();
            prop_assert_eq!(to_floats(outcome.adversarials), x0.clone());
            prop_assert!(outcome.success.iter().all(|s| !s));
        }
    }

    #[test]
    fn a_batch_attacked_whole_equals_each_row_alone((n, dims, x0, weights, eps, norm, seed) in case()) {
        let model = linear(weights, dims);
        let labels: Vec<usize> = x0.chunks(dims).map(|x| model.predict_host(x)).collect();
        let threat = ThreatModel::new(norm, eps).unwrap();
        let options = RunOptions { seed, ..Default::default() };
        for attack in attacks().iter().filter(|a| a.norms().contains(&norm)) {
            let whole = attack_batch(attack.as_ref(), &model, &batch(&x0, &labels, dims), &threat, &[eps], &options, &mut NoObserver).unwrap();
            let whole = to_floats(whole.adversarials);
            for i in 0..n {
                let mut row = batch(&x0[i * dims..(i + 1) * dims], &labels[i..i + 1], dims);
                row.ids = vec![i as u64];
                let alone = attack_batch(attack.as_ref(), &model, &row, &threat, &[eps], &options, &mut NoObserver).unwrap();
                let alone = to_floats(alone.adversarials);
                for j in 0..dims {
                    prop_assert!((alone[j] - whole[i * dims + j]).abs() <= 1e-6, "{} row {i}", attack.name());
                }
            }
        }
    }
}
