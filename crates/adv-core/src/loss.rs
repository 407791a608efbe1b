//! The objectives gradient attacks maximize.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor};
use serde::{Deserialize, Serialize};

use crate::criterion::margin;

/// The loss an attack climbs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Loss {
    /// Softmax cross-entropy.
    #[default]
    CrossEntropy,
    /// The Carlini & Wagner margin on logits (`max_{j != y} z_j - z_y`): PGD with it is the
    /// "CW" attack of leaderboards.
    Margin,
}

impl Loss {
    /// The per-sample objective to maximize: move away from `labels`, or, with `targets`,
    /// towards the targets.
    pub fn objective(
        self,
        logits: Tensor<2>,
        labels: &Tensor<1, Int>,
        targets: Option<&Tensor<1, Int>>,
    ) -> Tensor<1> {
        match (self, targets) {
            (Loss::CrossEntropy, None) => cross_entropy(logits, labels.clone()),
            (Loss::CrossEntropy, Some(targets)) => cross_entropy(logits, targets.clone()).neg(),
            (Loss::Margin, None) => margin(logits, labels.clone()),
            (Loss::Margin, Some(targets)) => margin(logits, targets.clone()).neg(),
        }
    }
}

impl std::str::FromStr for Loss {
    type Err = crate::CoreError;

    fn from_str(text: &str) -> crate::Result<Self> {
        match text {
            "ce" | "cross-entropy" => Ok(Loss::CrossEntropy),
            "cw" | "margin" => Ok(Loss::Margin),
            other => Err(crate::CoreError::InvalidArgument(format!(
                "unknown loss '{other}' (expected ce or cw)"
            ))),
        }
    }
}

impl std::fmt::Display for Loss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Loss::CrossEntropy => "ce",
            Loss::Margin => "cw",
        })
    }
}

crate::text_option!(Loss, "ce|cw");

/// `KL(softmax(reference) || softmax(logits))` per row `[n]`: how far the prediction moved from
/// a reference prediction (TRADES' and MART's divergence).
pub fn kl_divergence(reference: Tensor<2>, logits: Tensor<2>) -> Tensor<1> {
    let n = logits.dims()[0];
    let log_p = log_softmax(reference, 1);
    let log_q = log_softmax(logits, 1);
    (log_p.clone().exp() * (log_p - log_q))
        .sum_dim(1)
        .reshape([n])
}

/// Per-sample softmax cross-entropy `[n]` of logits `[n, classes]` against `labels`.
pub fn cross_entropy(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    let n = logits.dims()[0];
    log_softmax(logits, 1)
        .gather(1, labels.reshape([n, 1]))
        .reshape([n])
        .neg()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::to_floats;
    use burn::tensor::{Device, TensorData};

    #[test]
    fn kl_divergence_matches_closed_form_and_vanishes_on_equal_logits() {
        let device = Device::default();
        let p = Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 1.0, 2.0], [1, 3]), &device);
        let q = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 0.0, 0.5], [1, 3]), &device);
        let softmax = |z: [f32; 3]| {
            let total: f32 = z.iter().map(|v| v.exp()).sum();
            z.map(|v| v.exp() / total)
        };
        let (sp, sq) = (softmax([0.0, 1.0, 2.0]), softmax([1.0, 0.0, 0.5]));
        let expected: f32 = (0..3).map(|k| sp[k] * (sp[k] / sq[k]).ln()).sum();
        let got = to_floats(kl_divergence(p.clone(), q))[0];
        assert!((got - expected).abs() < 1e-5, "{got} vs {expected}");
        assert!(to_floats(kl_divergence(p.clone(), p))[0].abs() < 1e-6);
    }

    #[test]
    fn cross_entropy_matches_closed_form() {
        let device = Device::default();
        let logits =
            Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0], [1, 3]), &device);
        let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64], [1]), &device);
        let expected = (1f32.exp() + 2f32.exp() + 3f32.exp()).ln() - 1.0;
        let got = to_floats(Loss::CrossEntropy.objective(logits.clone(), &labels, None));
        assert!((got[0] - expected).abs() < 1e-5);
        let targeted = to_floats(Loss::CrossEntropy.objective(logits, &labels, Some(&labels)));
        assert!((targeted[0] + expected).abs() < 1e-5);
    }
}
