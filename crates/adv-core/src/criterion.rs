//! When an example counts as adversarial.

use burn::tensor::{Bool, Int, Tensor};
use serde::{Deserialize, Serialize};

use crate::{CoreError, Goal, Result};

/// The success rule of an attack: its goal plus a confidence margin (ARES's rule).
///
/// Untargeted: the prediction differs from the label and the best other logit beats the label's
/// by at least `confidence`. Targeted: the prediction is the target and beats every other logit
/// by at least `confidence`. With `confidence = 0` this is exactly "the argmax is wrong" (resp.
/// "the argmax is the target").
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Criterion {
    /// What counts as success.
    pub goal: Goal,
    /// Required logit margin (non-negative).
    pub confidence: f32,
}

impl Criterion {
    /// A criterion with a zero margin.
    pub fn new(goal: Goal) -> Self {
        Self {
            goal,
            confidence: 0.0,
        }
    }

    /// Requires a logit margin of `confidence` (finite, non-negative).
    pub fn with_confidence(mut self, confidence: f32) -> Result<Self> {
        if !(confidence.is_finite() && confidence >= 0.0) {
            return Err(CoreError::InvalidArgument(format!(
                "confidence {confidence} must be finite and non-negative"
            )));
        }
        self.confidence = confidence;
        Ok(self)
    }

    /// Which samples are adversarial, from their logits `[n, classes]`.
    ///
    /// `targets` are required by the targeted goals.
    pub fn is_adversarial(
        &self,
        logits: Tensor<2>,
        labels: Tensor<1, Int>,
        targets: Option<&Tensor<1, Int>>,
    ) -> Result<Tensor<1, Bool>> {
        let misclassified = || {
            let predictions = logits.clone().argmax(1).squeeze_dim::<1>(1);
            let wrong = predictions.not_equal(labels.clone());
            wrong.bool_and(
                margin(logits.clone(), labels.clone()).greater_equal_elem(self.confidence),
            )
        };
        let on_target = |targets: &Tensor<1, Int>| {
            let predictions = logits.clone().argmax(1).squeeze_dim::<1>(1);
            let hit = predictions.equal(targets.clone());
            hit.bool_and(
                margin(logits.clone(), targets.clone())
                    .neg()
                    .greater_equal_elem(self.confidence),
            )
        };
        match self.goal {
            Goal::Untargeted => Ok(misclassified()),
            Goal::Targeted(_) => Ok(on_target(
                targets.ok_or(CoreError::MissingTargets("targeted"))?,
            )),
            Goal::TargetedOrMisclassified(_) => Ok(misclassified()),
        }
    }
}

impl Criterion {
    /// How close each sample is to success, as a logit margin that is positive once the goal's
    /// prediction is reached: `max_{j != y} z_j - z_y` (untargeted, targeted-or-misclassified)
    /// or `z_t - max_{j != t} z_j` (targeted). Success also needs it to reach the confidence.
    pub fn success_margin(
        &self,
        logits: Tensor<2>,
        labels: Tensor<1, Int>,
        targets: Option<&Tensor<1, Int>>,
    ) -> Result<Tensor<1>> {
        match self.goal {
            Goal::Untargeted | Goal::TargetedOrMisclassified(_) => Ok(margin(logits, labels)),
            Goal::Targeted(_) => Ok(margin(
                logits,
                targets
                    .ok_or(CoreError::MissingTargets("targeted"))?
                    .clone(),
            )
            .neg()),
        }
    }
}

/// `max_{j != y} z_j - z_y` per sample: positive exactly when some other class beats `y`.
pub(crate) fn margin(logits: Tensor<2>, classes: Tensor<1, Int>) -> Tensor<1> {
    let [n, k] = logits.dims();
    let index = classes.reshape([n, 1]);
    let own = logits.clone().gather(1, index.clone());
    let mask = index.one_hot_like(k);
    let others = logits.mask_fill(mask, f32::NEG_INFINITY).max_dim(1);
    (others - own).reshape([n])
}

trait OneHotLike {
    fn one_hot_like(self, classes: usize) -> Tensor<2, Bool>;
}

impl OneHotLike for Tensor<2, Int> {
    fn one_hot_like(self, classes: usize) -> Tensor<2, Bool> {
        let [n, _] = self.dims();
        let columns = Tensor::<1, Int>::arange(0..classes as i64, &self.device())
            .reshape([1, classes])
            .expand([n, classes]);
        columns.equal(self.expand([n, classes]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TargetSelection, to_bools, to_floats};
    use burn::tensor::{Device, TensorData};

    fn logits() -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(vec![2.0f32, 1.0, 0.0, 0.0, 1.0, 1.5], [2, 3]),
            &Device::default(),
        )
    }

    fn ints(values: Vec<i64>) -> Tensor<1, Int> {
        Tensor::from_data(TensorData::new(values, [2]), &Device::default())
    }

    #[test]
    fn margin_is_best_other_minus_own() {
        assert_eq!(
            to_floats(margin(logits(), ints(vec![0, 2]))),
            vec![-1.0, -0.5]
        );
        assert_eq!(
            to_floats(margin(logits(), ints(vec![1, 1]))),
            vec![1.0, 0.5]
        );
    }

    #[test]
    fn untargeted_success_needs_wrong_argmax_and_margin() {
        let criterion = Criterion::new(Goal::Untargeted);
        let adv = criterion
            .is_adversarial(logits(), ints(vec![1, 1]), None)
            .unwrap();
        assert_eq!(to_bools(adv), vec![true, true]);
        let strict = criterion.with_confidence(0.75).unwrap();
        let adv = strict
            .is_adversarial(logits(), ints(vec![1, 1]), None)
            .unwrap();
        assert_eq!(to_bools(adv), vec![true, false]);
    }

    #[test]
    fn targeted_success_needs_the_target() {
        let criterion = Criterion::new(Goal::Targeted(TargetSelection::Next));
        assert!(matches!(
            criterion.is_adversarial(logits(), ints(vec![1, 1]), None),
            Err(CoreError::MissingTargets(_))
        ));
        let targets = ints(vec![1, 2]);
        let adv = criterion
            .is_adversarial(logits(), ints(vec![2, 0]), Some(&targets))
            .unwrap();
        assert_eq!(to_bools(adv), vec![false, true]);
        assert!(
            Criterion::new(Goal::Untargeted)
                .with_confidence(-1.0)
                .is_err()
        );
    }
}
