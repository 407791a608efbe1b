//! Sanity checks that flag evaluations whose robust accuracy cannot be trusted (after
//! Carlini et al. 2019, "On Evaluating Adversarial Robustness", and AutoAttack's checks).
//! Each check returns warnings as values; the report lists them.

use adv_core::burn::tensor::Tensor;
use adv_core::{Classifier, Dataset, Knowledge, Loss, draw_keys, to_floats};
use serde::{Deserialize, Serialize};

use crate::report::AttackResult;

/// Relative slack under which two accuracies count as equal.
const ACCURACY_SLACK: f32 = 1e-6;

/// One reason to distrust an evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "check", rename_all = "kebab-case")]
pub enum Warning {
    /// An attack's robust accuracy rises with epsilon: a larger ball contains the smaller one,
    /// so a working attack can only do better. Suggests gradient masking or too few steps.
    AccuracyRisesWithEpsilon {
        /// The attack.
        attack: String,
        /// The smaller radius and its accuracy.
        smaller: (f32, f32),
        /// The larger radius and its (higher) accuracy.
        larger: (f32, f32),
    },
    /// A stronger configuration of the same attack (more iterations) scores higher than a
    /// weaker one at the same epsilon.
    MoreIterationsHigherAccuracy {
        /// The weaker attack and its accuracy.
        weaker: (String, f32),
        /// The stronger attack and its (higher) accuracy.
        stronger: (String, f32),
        /// The radius.
        epsilon: f32,
    },
    /// A black-box or transfer attack beats every white-box attack at the same epsilon: the
    /// gradients the white-box attacks follow are probably masked.
    BlackBoxBeatsWhiteBox {
        /// The black-box attack and its accuracy.
        black_box: (String, f32),
        /// The best white-box accuracy.
        white_box: f32,
        /// The radius.
        epsilon: f32,
    },
    /// The largest epsilon evaluated reaches across the whole input box, yet some samples stay
    /// robust: an attack that can reach any input must break every sample.
    UnboundedAttackFails {
        /// The attack.
        attack: String,
        /// The radius.
        epsilon: f32,
        /// The accuracy left.
        robust_accuracy: f32,
    },
    /// The input gradient of the loss is zero (or vanishing) for many samples: gradient attacks
    /// are blind there (shattered or saturated gradients).
    VanishingGradients {
        /// Fraction of probed samples whose gradient norm is below the threshold.
        fraction: f32,
        /// The threshold on the L2 norm of the gradient.
        threshold: f32,
    },
    /// The model returns different outputs for the same input: it is randomized, so attacks
    /// need expectation over transformation (EOT) and accuracy needs repeated evaluation.
    RandomizedOutputs {
        /// The largest difference between two forward passes on the same inputs.
        max_difference: f32,
    },
    /// The model's outputs are non-negative and sum to one: they look like probabilities, not
    /// logits. Cross-entropy and margin losses on probabilities saturate and weaken attacks.
    OutputsLookLikeProbabilities,
}

impl Warning {
    /// One sentence for a person.
    pub fn describe(&self) -> String {
        match self {
            Warning::AccuracyRisesWithEpsilon { attack, smaller, larger } => format!(
                "{attack}: robust accuracy rises from {:.1}% at eps {} to {:.1}% at eps {}; a larger ball cannot help the model (gradient masking or too weak an attack)",
                100.0 * smaller.1, smaller.0, 100.0 * larger.1, larger.0
            ),
            Warning::MoreIterationsHigherAccuracy { weaker, stronger, epsilon } => format!(
                "at eps {epsilon}, {} ({:.1}%) leaves more accuracy than the weaker {} ({:.1}%)",
                stronger.0, 100.0 * stronger.1, weaker.0, 100.0 * weaker.1
            ),
            Warning::BlackBoxBeatsWhiteBox { black_box, white_box, epsilon } => format!(
                "at eps {epsilon}, black-box {} ({:.1}%) beats every white-box attack ({:.1}%): gradients are probably masked",
                black_box.0, 100.0 * black_box.1, 100.0 * white_box
            ),
            Warning::UnboundedAttackFails { attack, epsilon, robust_accuracy } => format!(
                "{attack} at eps {epsilon} (enough to reach any input) leaves {:.1}% accuracy; an unbounded attack must reach 0%",
                100.0 * robust_accuracy
            ),
            Warning::VanishingGradients { fraction, threshold } => format!(
                "{:.1}% of probed samples have an input gradient of norm below {threshold:e}: gradient attacks are blind there (try BPDA or a score-based attack)",
                100.0 * fraction
            ),
            Warning::RandomizedOutputs { max_difference } => format!(
                "the model gives different outputs for identical inputs (up to {max_difference:e}): attack it with EOT and average accuracy over runs"
            ),
            Warning::OutputsLookLikeProbabilities => "the model's outputs are non-negative and sum to 1: they look like probabilities; attacks expect logits".into(),
        }
    }
}

/// Warnings from the results of an evaluation: accuracy rising with epsilon, more iterations
/// scoring higher, black-box beating white-box, an unbounded radius leaving accuracy.
/// `knowledge` gives each attack label's attacker knowledge; `diameter` is the largest
/// distance between two inputs of the box in the evaluation's norm (the box width for Linf,
/// times `sqrt(d)` for L2 and `d` for L1, `d` values per image).
pub fn check_results(
    results: &[AttackResult],
    knowledge: &dyn Fn(&AttackResult) -> Knowledge,
    diameter: f32,
) -> Vec<Warning> {
    let mut warnings = Vec::new();
    let mut labels: Vec<&str> = results.iter().map(|r| r.attack.as_str()).collect();
    labels.dedup();
    for label in &labels {
        let mut rows: Vec<&AttackResult> = results.iter().filter(|r| r.attack == *label).collect();
        rows.sort_by(|a, b| a.epsilon.total_cmp(&b.epsilon));
        for pair in rows.windows(2) {
            if pair[1].robust_accuracy > pair[0].robust_accuracy + ACCURACY_SLACK {
                warnings.push(Warning::AccuracyRisesWithEpsilon {
                    attack: label.to_string(),
                    smaller: (pair[0].epsilon, pair[0].robust_accuracy),
                    larger: (pair[1].epsilon, pair[1].robust_accuracy),
                });
            }
        }
        if let Some(largest) = rows.last()
            && largest.epsilon >= diameter
            && largest.robust_accuracy > 0.0
        {
            warnings.push(Warning::UnboundedAttackFails {
                attack: label.to_string(),
                epsilon: largest.epsilon,
                robust_accuracy: largest.robust_accuracy,
            });
        }
    }
    for weaker in results {
        for stronger in results {
            if weaker.epsilon == stronger.epsilon
                && is_strengthening(weaker, stronger)
                && stronger.robust_accuracy > weaker.robust_accuracy + ACCURACY_SLACK
            {
                warnings.push(Warning::MoreIterationsHigherAccuracy {
                    weaker: (weaker.attack.clone(), weaker.robust_accuracy),
                    stronger: (stronger.attack.clone(), stronger.robust_accuracy),
                    epsilon: weaker.epsilon,
                });
            }
        }
    }
    let mut epsilons: Vec<f32> = results.iter().map(|r| r.epsilon).collect();
    epsilons.sort_by(f32::total_cmp);
    epsilons.dedup();
    for epsilon in epsilons {
        let at: Vec<&AttackResult> = results.iter().filter(|r| r.epsilon == epsilon).collect();
        let white_box = at
            .iter()
            .filter(|r| knowledge(r) == Knowledge::WhiteBox)
            .map(|r| r.robust_accuracy)
            .fold(f32::INFINITY, f32::min);
        for r in at.iter().filter(|r| knowledge(r) != Knowledge::WhiteBox) {
            if white_box.is_finite() && r.robust_accuracy + ACCURACY_SLACK < white_box {
                warnings.push(Warning::BlackBoxBeatsWhiteBox {
                    black_box: (r.attack.clone(), r.robust_accuracy),
                    white_box,
                    epsilon,
                });
            }
        }
    }
    warnings
}

/// Whether `stronger` is the same attack as `weaker` with more steps and otherwise the same
/// settings.
fn is_strengthening(weaker: &AttackResult, stronger: &AttackResult) -> bool {
    let (a, b) = (&weaker.config, &stronger.config);
    if a.name() != b.name() {
        return false;
    }
    let steps = |options: &[adv_core::Setting]| {
        options
            .iter()
            .find(|s| s.key == "steps")
            .and_then(|s| s.value.parse::<u64>().ok())
    };
    let (options_a, options_b) = (a.options(), b.options());
    let others_equal = options_a
        .iter()
        .zip(&options_b)
        .all(|(x, y)| x.key == "steps" || x == y);
    matches!((steps(&options_a), steps(&options_b)), (Some(s), Some(t)) if t > s) && others_equal
}

/// Warnings from probing the model itself on the first `probe` samples of `data`: vanishing
/// input gradients, randomized outputs, probability-like outputs.
pub fn check_model(
    model: &dyn Classifier,
    data: &Dataset,
    probe: usize,
    device: &adv_core::burn::tensor::Device,
) -> Vec<Warning> {
    let mut warnings = Vec::new();
    if data.is_empty() || probe == 0 {
        return warnings;
    }
    let batch = data.batch(0, probe, device);
    let n = batch.ids.len();
    // Two draws of the same inputs: a randomized model differs between them.
    let first = model.forward_keyed(batch.images.clone(), &draw_keys(&batch.ids, 0));
    let second = model.forward_keyed(batch.images.clone(), &draw_keys(&batch.ids, 1));
    let max_difference = to_floats((first.clone() - second).abs().max())
        .first()
        .copied()
        .unwrap_or(0.0);
    if max_difference > 1e-5 {
        warnings.push(Warning::RandomizedOutputs { max_difference });
    }
    if looks_like_probabilities(first) {
        warnings.push(Warning::OutputsLookLikeProbabilities);
    }
    let threshold = 1e-10;
    let labels = batch.labels.clone();
    let objective = |logits: Tensor<2>| Loss::CrossEntropy.objective(logits, &labels, None);
    let gradient = model
        .value_and_grad(batch.images, &draw_keys(&batch.ids, 0), &objective)
        .grad;
    let norms = to_floats(adv_core::Norm::L2.norms(gradient));
    let vanishing = norms
        .iter()
        .filter(|&&g| g.is_nan() || g <= threshold)
        .count();
    // A handful of saturated, confidently correct samples is normal; a large share is not.
    if vanishing * 10 > n {
        warnings.push(Warning::VanishingGradients {
            fraction: vanishing as f32 / n as f32,
            threshold,
        });
    }
    warnings
}

fn looks_like_probabilities(outputs: Tensor<2>) -> bool {
    let [n, _] = outputs.dims();
    let non_negative = to_floats(outputs.clone().min())
        .first()
        .is_some_and(|&m| m >= 0.0);
    let sums = to_floats(outputs.sum_dim(1).reshape([n]));
    non_negative && sums.iter().all(|s| (s - 1.0).abs() < 1e-3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use adv_attacks::AttackConfig;
    use adv_core::burn::tensor::Device;
    use adv_core::{CostCounts, Setting};

    fn result(config: AttackConfig, epsilon: f32, robust_accuracy: f32) -> AttackResult {
        AttackResult {
            attack: config.label(),
            config,
            epsilon,
            robust_accuracy,
            attacked: 10,
            mean_perturbation: 0.0,
            max_perturbation: 0.0,
            accuracy_per_step: vec![],
            accuracy_per_query: vec![],
            mean_queries: 0.0,
            per_sample: Default::default(),
            cost: CostCounts::default(),
            harness_cost: CostCounts::default(),
            wall_time_s: 0.0,
        }
    }

    fn pgd(steps: usize) -> AttackConfig {
        AttackConfig::new("pgd", &[Setting::new("steps", steps.to_string())]).unwrap()
    }

    #[test]
    fn healthy_results_give_no_warning() {
        let results = vec![
            result(AttackConfig::named("fgsm").unwrap(), 0.1, 0.5),
            result(pgd(10), 0.1, 0.4),
            result(pgd(100), 0.1, 0.3),
            result(pgd(100), 1.0, 0.0),
        ];
        assert!(check_results(&results, &|_| Knowledge::WhiteBox, 1.0).is_empty());
    }

    #[test]
    fn each_result_check_fires() {
        let results = vec![
            result(pgd(10), 0.1, 0.2),
            result(pgd(10), 0.2, 0.3),
            result(pgd(100), 0.1, 0.25),
            result(pgd(100), 1.0, 0.1),
        ];
        let warnings = check_results(
            &results,
            &|r| {
                if r.attack == "pgd-100" {
                    Knowledge::ScoreBased
                } else {
                    Knowledge::WhiteBox
                }
            },
            1.0,
        );
        let has = |wanted: fn(&Warning) -> bool| warnings.iter().any(wanted);
        assert!(
            has(|w| matches!(w, Warning::AccuracyRisesWithEpsilon { .. })),
            "{warnings:?}"
        );
        assert!(
            has(|w| matches!(w, Warning::MoreIterationsHigherAccuracy { .. })),
            "{warnings:?}"
        );
        assert!(
            has(|w| matches!(w, Warning::UnboundedAttackFails { .. })),
            "{warnings:?}"
        );
        let black_box = check_results(
            &[result(pgd(10), 0.1, 0.4), result(pgd(100), 0.1, 0.2)],
            &|r| {
                if r.attack == "pgd-100" {
                    Knowledge::ScoreBased
                } else {
                    Knowledge::WhiteBox
                }
            },
            1.0,
        );
        assert!(matches!(
            black_box.as_slice(),
            [Warning::BlackBoxBeatsWhiteBox { .. }]
        ));
        assert!(warnings.iter().all(|w| !w.describe().is_empty()));
    }

    /// Softmax outputs, a constant function (zero gradient) and a noisy function.
    struct Probe {
        softmax: bool,
        noise: bool,
    }

    impl Classifier for Probe {
        fn forward(&self, images: Tensor<4>) -> Tensor<2> {
            let n = images.dims()[0];
            let device = images.device();
            let flat = images.reshape([n as i32, -1]);
            let logits = if self.softmax {
                adv_core::burn::tensor::activation::softmax(flat.slice([0..n, 0..3]), 1)
            } else {
                flat.slice([0..n, 0..3]).mul_scalar(0.0).add_scalar(1.0)
            };
            if self.noise {
                logits
                    + Tensor::random(
                        [n, 3],
                        adv_core::burn::tensor::Distribution::Default,
                        &device,
                    )
            } else {
                logits
            }
        }
    }

    #[test]
    fn each_model_check_fires() {
        let device = Device::default();
        let data = Dataset::new(
            (0..32).map(|i| i as f32 / 32.0).collect(),
            vec![0, 1],
            [1, 4, 4],
            3,
        )
        .unwrap();
        let warnings = check_model(
            &Probe {
                softmax: true,
                noise: false,
            },
            &data,
            2,
            &device,
        );
        assert_eq!(warnings, vec![Warning::OutputsLookLikeProbabilities]);
        let warnings = check_model(
            &Probe {
                softmax: false,
                noise: false,
            },
            &data,
            2,
            &device,
        );
        assert!(
            matches!(warnings.as_slice(), [Warning::VanishingGradients { fraction, .. }] if *fraction == 1.0)
        );
        let warnings = check_model(
            &Probe {
                softmax: false,
                noise: true,
            },
            &data,
            2,
            &device,
        );
        assert!(
            warnings
                .iter()
                .any(|w| matches!(w, Warning::RandomizedOutputs { .. }))
        );
    }
}
