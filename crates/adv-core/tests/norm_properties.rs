//! Property tests of the norm geometry: projections and random starts for every norm.

use adv_core::burn::tensor::{Device, Tensor, TensorData};
use adv_core::{Norm, ThreatModel, sample_rng, to_floats};
use proptest::prelude::*;

fn norm_of(norm: Norm, delta: &[f32]) -> f64 {
    let abs = delta.iter().map(|v| (*v as f64).abs());
    match norm {
        Norm::Linf => abs.fold(0.0, f64::max),
        Norm::L2 => abs.map(|v| v * v).sum::<f64>().sqrt(),
        Norm::L1 => abs.sum(),
    }
}

fn norm_strategy() -> impl Strategy<Value = Norm> {
    prop_oneof![Just(Norm::Linf), Just(Norm::L2), Just(Norm::L1)]
}

fn within(norm: Norm, delta: &[f32], eps: f32) -> bool {
    norm_of(norm, delta) <= eps as f64 * (1.0 + 1e-6) + 1e-7
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn projection_is_inside_and_idempotent(
        rows in prop::collection::vec(prop::collection::vec(-3.0f32..3.0, 12), 1..4),
        eps in 0.0f32..4.0,
        norm in norm_strategy(),
    ) {
        let device = Device::default();
        let n = rows.len();
        let delta = Tensor::<2>::from_data(TensorData::new(rows.concat(), [n, 12]), &device);
        let radii = Tensor::<1>::from_data(TensorData::new(vec![eps; n], [n]), &device);
        let once = norm.project(delta, radii.clone());
        let twice = to_floats(norm.project(once.clone(), radii));
        let once = to_floats(once);
        for (row, original) in once.chunks(12).zip(&rows) {
            prop_assert!(within(norm, row, eps), "{norm}: {} > {eps}", norm_of(norm, row));
            if norm_of(norm, original) <= eps as f64 {
                prop_assert_eq!(row, original.as_slice());
            }
        }
        for (a, b) in once.iter().zip(&twice) {
            prop_assert!((a - b).abs() <= 1e-6 * (1.0 + a.abs()));
        }
    }

    #[test]
    fn threat_projection_respects_ball_and_box(
        x0 in prop::collection::vec(0.0f32..=1.0, 16),
        x_adv in prop::collection::vec(-1.0f32..2.0, 16),
        eps in 0.0f32..2.0,
        norm in norm_strategy(),
    ) {
        let device = Device::default();
        let threat = ThreatModel::new(norm, eps).unwrap();
        let tensor = |values: &Vec<f32>| Tensor::<4>::from_data(TensorData::new(values.clone(), [1, 1, 4, 4]), &device);
        let radii = Tensor::<1>::from_data(TensorData::new(vec![eps], [1]), &device);
        let projected = to_floats(threat.project(tensor(&x_adv), tensor(&x0), radii));
        prop_assert!(projected.iter().all(|v| (0.0..=1.0).contains(v)));
        let delta: Vec<f32> = projected.iter().zip(&x0).map(|(a, b)| a - b).collect();
        prop_assert!(norm_of(norm, &delta) <= eps as f64 * (1.0 + 1e-6) + 1e-6);
    }

    #[test]
    fn random_starts_are_inside_the_ball(seed in any::<u64>(), eps in 0.0f32..3.0, len in 1usize..200, norm in norm_strategy()) {
        let sample = norm.sample_ball(&mut sample_rng(seed, 0, 0), eps, len);
        prop_assert_eq!(sample.len(), len);
        prop_assert!(within(norm, &sample, eps));
    }
}
