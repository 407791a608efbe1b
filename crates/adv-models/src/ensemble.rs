//! Ensembles as one classifier: the average of the members' logits, or of their probabilities.
//!
//! Averaging probabilities returns `log(mean softmax)` as logits, so the prediction is the
//! argmax of the mean probability and the cross-entropy an attack climbs is that of the mean
//! probability.

use adv_core::Classifier;
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::{Model, ModelConfig, ModelError, Result};

/// How an [`Ensemble`] combines its members.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Combine {
    /// The mean of the logits.
    Logits,
    /// The log of the mean of the softmax probabilities.
    Probabilities,
}

impl Combine {
    /// Every way of combining, for parsers and listings.
    pub const ALL: [Combine; 2] = [Combine::Logits, Combine::Probabilities];

    /// What is averaged: `logits` or `probabilities` (also the name in files).
    pub fn name(self) -> &'static str {
        match self {
            Combine::Logits => "logits",
            Combine::Probabilities => "probabilities",
        }
    }
}

/// Several models of the same input shape and class count, evaluated as one.
#[derive(Debug)]
pub struct Ensemble {
    members: Vec<Model>,
    combine: Combine,
}

impl Ensemble {
    /// An ensemble of `members`, each with the configuration it was built from; they must take
    /// the same input shape and give the same number of classes.
    pub fn new(
        members: Vec<(Model, ModelConfig)>,
        combine: Combine,
        device: &Device,
    ) -> Result<Self> {
        let Some((_, first)) = members.first() else {
            return Err(ModelError::InvalidConfig(
                "an ensemble needs at least one member".into(),
            ));
        };
        let input = first.input();
        let [c, h, w] = input;
        let probe = Tensor::<4>::zeros([1, c, h, w], device);
        let mut classes = None;
        for (model, config) in &members {
            if config.input() != input {
                return Err(ModelError::InvalidConfig(format!(
                    "ensemble members take different inputs: {input:?} and {:?} ({})",
                    config.input(),
                    config.describe()
                )));
            }
            let count = model.forward(probe.clone()).dims()[1];
            if *classes.get_or_insert(count) != count {
                return Err(ModelError::InvalidConfig(format!(
                    "ensemble members give different class counts: {} and {count} ({})",
                    classes.unwrap_or_default(),
                    config.describe()
                )));
            }
        }
        Ok(Self {
            members: members.into_iter().map(|(model, _)| model).collect(),
            combine,
        })
    }

    /// Combined logits `[n, classes]` of images `[n, c, h, w]` in `[0, 1]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let count = self.members.len() as f64;
        let outputs = self.members.iter().map(|model| {
            let logits = model.forward(images.clone());
            match self.combine {
                Combine::Logits => logits,
                Combine::Probabilities => softmax(logits, 1),
            }
        });
        let mean = outputs
            .reduce(|a, b| a + b)
            .map(|sum| sum.div_scalar(count));
        let mean = mean.unwrap_or_else(|| unreachable!("Ensemble::new requires a member"));
        match self.combine {
            Combine::Logits => mean,
            Combine::Probabilities => mean.log(),
        }
    }
}

impl Classifier for Ensemble {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        Ensemble::forward(self, images)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use adv_core::to_floats;

    fn member(device: &Device) -> (Model, ModelConfig) {
        let config = ModelConfig::from_name("mlp", [1, 4, 4], 3).unwrap();
        (config.init(device).unwrap(), config)
    }

    #[test]
    fn averages_logits_or_probabilities() {
        let device = Device::default();
        let images = Tensor::<4>::ones([2, 1, 4, 4], &device).mul_scalar(0.5);
        let (a, config) = member(&device);
        let (b, _) = member(&device);
        let la = to_floats(a.forward(images.clone()));
        let lb = to_floats(b.forward(images.clone()));
        let members = || vec![(a.clone(), config.clone()), (b.clone(), config.clone())];
        let logits = Ensemble::new(members(), Combine::Logits, &device).unwrap();
        for (got, (x, y)) in to_floats(logits.forward(images.clone()))
            .iter()
            .zip(la.iter().zip(&lb))
        {
            assert!((got - (x + y) / 2.0).abs() < 1e-5);
        }
        let probabilities = Ensemble::new(members(), Combine::Probabilities, &device).unwrap();
        let softmax_row = |row: &[f32]| {
            let total: f32 = row.iter().map(|v| v.exp()).sum();
            row.iter().map(|v| v.exp() / total).collect::<Vec<f32>>()
        };
        let got = to_floats(probabilities.forward(images));
        for r in 0..2 {
            let pa = softmax_row(&la[r * 3..r * 3 + 3]);
            let pb = softmax_row(&lb[r * 3..r * 3 + 3]);
            for k in 0..3 {
                let expected = ((pa[k] + pb[k]) / 2.0).ln();
                assert!(
                    (got[r * 3 + k] - expected).abs() < 1e-5,
                    "{} vs {expected}",
                    got[r * 3 + k]
                );
            }
        }
    }

    #[test]
    fn members_must_agree() {
        let device = Device::default();
        assert!(Ensemble::new(vec![], Combine::Logits, &device).is_err());
        let other = ModelConfig::from_name("mlp", [1, 4, 4], 5).unwrap();
        let members = vec![member(&device), (other.init(&device).unwrap(), other)];
        let error = Ensemble::new(members, Combine::Logits, &device)
            .unwrap_err()
            .to_string();
        assert!(error.contains("class counts: 3 and 5"), "{error}");
        let wide = ModelConfig::from_name("mlp", [1, 5, 5], 3).unwrap();
        let members = vec![member(&device), (wide.init(&device).unwrap(), wide)];
        assert!(Ensemble::new(members, Combine::Logits, &device).is_err());
    }
}
