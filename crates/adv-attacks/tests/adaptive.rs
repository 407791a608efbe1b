//! Adaptive attacks: BPDA through a non-differentiable quantization, EOT over a randomized
//! model.

mod common;

use adv_attacks::{Bpda, Eot, PgdConfig, RunOptions, attack_batch};
use adv_core::burn::tensor::{Int, Tensor};
use adv_core::{
    Classifier, DrawKey, Loss, ModelTraits, Norm, ThreatModel, bools_from, draw_keys, ints_from,
    sample_rng, to_floats,
};
use common::{Linear, image_batch, pseudo_random};
use rand::Rng;

const DIMS: usize = 12;
const CLASSES: usize = 3;

fn linear() -> Linear {
    Linear {
        weights: pseudo_random(CLASSES * DIMS, 41, -1.0, 1.0),
        bias: vec![0.0; CLASSES],
        classes: CLASSES,
        dims: DIMS,
    }
}

/// Bit-depth reduction to 5 levels: its gradient is zero almost everywhere.
fn quantize(x: Tensor<4>) -> Tensor<4> {
    x.mul_scalar(4.0).round().div_scalar(4.0)
}

/// The defended model as a plain classifier: autodiff sees the rounding and returns zeros.
struct Quantized(Linear);

impl Classifier for Quantized {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.0.forward(quantize(images))
    }
}

fn inputs(n: usize) -> (Vec<f32>, Vec<usize>) {
    let model = linear();
    let x0 = pseudo_random(n * DIMS, 42, 0.0, 1.0);
    let labels = x0
        .chunks(DIMS)
        .map(|x| model.predict_host(&quantize_host(x)))
        .collect();
    (x0, labels)
}

fn quantize_host(x: &[f32]) -> Vec<f32> {
    x.iter().map(|v| (v * 4.0).round() / 4.0).collect()
}

/// Draw keys of `n` rows numbered from 0.
fn keys(n: usize) -> Vec<DrawKey> {
    draw_keys(&(0..n as u64).collect::<Vec<_>>(), 0)
}

fn max_abs(values: &[f32]) -> f32 {
    values.iter().fold(0.0, |m, v| m.max(v.abs()))
}

#[test]
fn bpda_recovers_the_gradient_that_quantization_hides() {
    let (x0, labels) = inputs(4);
    let batch = image_batch(&x0, &labels, [1, 1, DIMS]);
    let objective = |logits| Loss::CrossEntropy.objective(logits, &batch.labels, None);

    let hidden = to_floats(
        Quantized(linear())
            .value_and_grad(batch.images.clone(), &keys(batch.ids.len()), &objective)
            .grad,
    );
    assert!(
        hidden.iter().all(|&g| g == 0.0),
        "rounding has a zero gradient"
    );

    let bpda = Bpda::new(linear(), quantize);
    let through_identity = to_floats(
        bpda.value_and_grad(batch.images.clone(), &keys(batch.ids.len()), &objective)
            .grad,
    );
    let at_quantized = to_floats(
        linear()
            .value_and_grad(
                quantize(batch.images.clone()),
                &keys(batch.ids.len()),
                &objective,
            )
            .grad,
    );
    assert_eq!(through_identity, at_quantized);
    assert!(max_abs(&through_identity) > 1e-2);

    let doubled =
        Bpda::new(linear(), quantize).with_surrogate(Box::new(|x: Tensor<4>| x.mul_scalar(2.0)));
    let through_surrogate = to_floats(
        doubled
            .value_and_grad(batch.images.clone(), &keys(batch.ids.len()), &objective)
            .grad,
    );
    for (s, g) in through_surrogate.iter().zip(&at_quantized) {
        assert!((s - 2.0 * g).abs() < 1e-6);
    }
}

#[test]
fn pgd_breaks_the_quantized_model_only_through_bpda() {
    let n = 16;
    let (x0, labels) = inputs(n);
    let batch = image_batch(&x0, &labels, [1, 1, DIMS]);
    let threat = ThreatModel::new(Norm::Linf, 0.3).unwrap();
    let pgd = PgdConfig {
        steps: 20,
        random_start: false,
        ..Default::default()
    }
    .init()
    .unwrap();
    let run = |model: &dyn Classifier| {
        let outcome = attack_batch(&pgd, model, &batch, &threat, &RunOptions::default()).unwrap();
        outcome.success.iter().filter(|&&s| s).count()
    };
    let plain = run(&Quantized(linear()));
    let adaptive = run(&Bpda::new(linear(), quantize));
    assert_eq!(plain, 0, "a zero gradient never moves PGD");
    assert!(adaptive >= n / 2, "BPDA breaks {adaptive} of {n}");
}

/// A random defense: each row's features are reversed with probability 1/2, drawn from the
/// row's key, so a sample gets the same draws in any batch.
struct RandomFlip {
    linear: Linear,
}

impl RandomFlip {
    fn flips(keys: &[DrawKey]) -> Vec<bool> {
        keys.iter()
            .map(|key| sample_rng(7, key.sample, key.draw).random_bool(0.5))
            .collect()
    }
}

impl Classifier for RandomFlip {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let ids: Vec<u64> = (0..images.dims()[0] as u64).collect();
        self.forward_keyed(images, &draw_keys(&ids, 0))
    }

    fn traits(&self) -> ModelTraits {
        ModelTraits {
            randomized: true,
            ..ModelTraits::DETERMINISTIC
        }
    }

    fn forward_keyed(&self, images: Tensor<4>, keys: &[DrawKey]) -> Tensor<2> {
        let n = images.dims()[0];
        let flip = bools_from(&Self::flips(keys), &images.device());
        let straight = self.linear.forward(images.clone());
        let flipped = self.linear.forward(images.flip([3]));
        let classes = straight.dims()[1];
        straight.mask_where(flip.reshape([n, 1]).expand([n, classes]), flipped)
    }
}

/// One draw of [`RandomFlip`].
struct Fixed<'a> {
    linear: &'a Linear,
    flip: bool,
}

impl Classifier for Fixed<'_> {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.linear
            .forward(if self.flip { images.flip([3]) } else { images })
    }
}

#[test]
fn eot_averages_the_gradient_of_a_randomized_model() {
    assert!(Eot::new(linear(), 0).is_err());
    let (x0, labels) = inputs(3);
    let batch = image_batch(&x0, &labels, [1, 1, DIMS]);
    let labels: Tensor<1, Int> = ints_from(
        &labels.iter().map(|&l| l as i64).collect::<Vec<_>>(),
        &batch.images.device(),
    );
    let objective = |logits| Loss::CrossEntropy.objective(logits, &labels, None);
    let model = linear();
    let draw = |flip| {
        to_floats(
            Fixed {
                linear: &model,
                flip,
            }
            .value_and_grad(batch.images.clone(), &keys(batch.ids.len()), &objective)
            .grad,
        )
    };
    let (straight, flipped) = (draw(false), draw(true));
    let expected: Vec<f32> = straight
        .iter()
        .zip(&flipped)
        .map(|(a, b)| (a + b) / 2.0)
        .collect();
    let spread = max_abs(
        &straight
            .iter()
            .zip(&flipped)
            .map(|(a, b)| a - b)
            .collect::<Vec<_>>(),
    );
    assert!(spread > 1e-2, "the two draws must disagree");

    let randomized = RandomFlip { linear: linear() };
    let eot = Eot::new(randomized, 400).unwrap();
    let averaged = to_floats(
        eot.value_and_grad(batch.images.clone(), &keys(3), &objective)
            .grad,
    );
    let error = max_abs(
        &averaged
            .iter()
            .zip(&expected)
            .map(|(a, b)| a - b)
            .collect::<Vec<_>>(),
    );
    // One draw is off by spread / 2; 400 draws by |share of flips - 1/2| * spread.
    assert!(error <= 0.1 * spread, "{error} vs {spread}");

    let outcome = attack_batch(
        &PgdConfig::default().init().unwrap(),
        &eot,
        &batch,
        &ThreatModel::new(Norm::L2, 0.5).unwrap(),
        &RunOptions::default(),
    );
    assert!(outcome.is_ok(), "every gradient attack takes the wrapper");
}

#[test]
fn a_randomized_model_gives_each_sample_its_own_draws_in_any_batch() {
    let (x0, labels) = inputs(4);
    let model = Eot::new(RandomFlip { linear: linear() }, 3).unwrap();
    let threat = ThreatModel::new(Norm::Linf, 0.2).unwrap();
    let options = RunOptions {
        seed: 3,
        ..RunOptions::default()
    };
    let pgd = PgdConfig::default().init().unwrap();
    let whole = attack_batch(
        &pgd,
        &model,
        &image_batch(&x0, &labels, [1, 1, DIMS]),
        &threat,
        &options,
    )
    .unwrap();
    for i in 0..4 {
        let mut row = image_batch(
            &x0[i * DIMS..(i + 1) * DIMS],
            &labels[i..i + 1],
            [1, 1, DIMS],
        );
        row.ids = vec![i as u64];
        let alone = attack_batch(&pgd, &model, &row, &threat, &options).unwrap();
        assert_eq!(alone.success[0], whole.success[i], "row {i}");
        assert_eq!(alone.queries[0], whole.queries[i], "row {i}");
        let (a, b) = (
            to_floats(alone.adversarials),
            to_floats(whole.adversarials.clone()),
        );
        assert_eq!(a, b[i * DIMS..(i + 1) * DIMS].to_vec(), "row {i}");
    }
}
