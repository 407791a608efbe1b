//! Standard training: softmax cross-entropy (optionally label-smoothed) with SGD or Adam,
//! weight decay, a learning-rate schedule and a fixed seed. Every setting that decides the
//! result is a field of [`TrainConfig`], so it can be recorded beside the checkpoint.
//!
//! ```
//! use adv_core::burn::tensor::Device;
//! use adv_defenses::{TrainConfig, train};
//! use adv_models::ModelConfig;
//!
//! let data = adv_core::data::embedded_digits().take(64);
//! let model = ModelConfig::from_name("mlp", data.shape(), data.num_classes()).unwrap();
//! let config = TrainConfig { epochs: 1, ..Default::default() };
//! let trained = train(&model, &config, &data, &Device::default(), &mut |_| {}).unwrap();
//! assert_eq!(trained.history.len(), 1);
//! ```

use adv_core::burn::module::Module;
use adv_core::burn::optim::momentum::MomentumConfig;
use adv_core::burn::optim::{AdamConfig, GradientsParams, SgdConfig, decay::WeightDecayConfig};
use adv_core::burn::tensor::activation::log_softmax;
use adv_core::burn::tensor::{Device, Int, Tensor};
use adv_core::{Dataset, to_floats, to_ints};
use adv_models::{Model, ModelConfig};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::{DefenseError, Result};

/// The optimizer and its own hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Optimizer {
    /// Stochastic gradient descent with (heavy-ball or Nesterov) momentum, as in PyTorch
    /// (no dampening).
    Sgd {
        /// Momentum factor; 0 turns momentum off.
        momentum: f64,
        /// Nesterov momentum.
        nesterov: bool,
    },
    /// Adam (Kingma & Ba 2015) with the usual betas 0.9 and 0.999.
    Adam,
}

impl std::str::FromStr for Optimizer {
    type Err = DefenseError;

    /// `sgd` (momentum 0.9), `sgd-nesterov`, `sgd-plain` (no momentum) or `adam`.
    fn from_str(text: &str) -> Result<Self> {
        match text {
            "sgd" => Ok(Optimizer::Sgd { momentum: 0.9, nesterov: false }),
            "sgd-nesterov" => Ok(Optimizer::Sgd { momentum: 0.9, nesterov: true }),
            "sgd-plain" => Ok(Optimizer::Sgd { momentum: 0.0, nesterov: false }),
            "adam" => Ok(Optimizer::Adam),
            other => Err(DefenseError::InvalidConfig(format!(
                "unknown optimizer '{other}' (expected sgd, sgd-nesterov, sgd-plain or adam)"
            ))),
        }
    }
}

/// How the learning rate changes over training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LrSchedule {
    /// The base rate throughout.
    Constant,
    /// The base rate times `gamma` for every milestone epoch already reached (PyTorch's
    /// `MultiStepLR`; robust training commonly uses milestones at 50% and 75% of the epochs).
    MultiStep {
        /// Epochs (0-based) at which the rate is multiplied by `gamma`.
        milestones: Vec<usize>,
        /// The factor.
        gamma: f64,
    },
    /// Cosine annealing from the base rate to zero over all iterations.
    Cosine,
}

impl std::str::FromStr for LrSchedule {
    type Err = DefenseError;

    /// `constant`, `cosine`, or `step:E1,E2,...` (gamma 0.1).
    fn from_str(text: &str) -> Result<Self> {
        match text {
            "constant" => Ok(LrSchedule::Constant),
            "cosine" => Ok(LrSchedule::Cosine),
            _ => {
                let bad = || {
                    DefenseError::InvalidConfig(format!(
                        "unknown schedule '{text}' (expected constant, cosine or step:E1,E2,...)"
                    ))
                };
                let epochs = text.strip_prefix("step:").ok_or_else(bad)?;
                let milestones = epochs
                    .split(',')
                    .map(|e| e.trim().parse::<usize>().map_err(|_| bad()))
                    .collect::<Result<Vec<_>>>()?;
                Ok(LrSchedule::MultiStep { milestones, gamma: 0.1 })
            }
        }
    }
}

impl LrSchedule {
    /// The rate at `iteration` of `total` (epoch `epoch`), given the base rate.
    pub fn rate(&self, base: f64, epoch: usize, iteration: usize, total: usize) -> f64 {
        match self {
            LrSchedule::Constant => base,
            LrSchedule::MultiStep { milestones, gamma } => {
                let passed = milestones.iter().filter(|&&m| epoch >= m).count();
                base * gamma.powi(passed as i32)
            }
            LrSchedule::Cosine => {
                let progress = iteration as f64 / total.max(1) as f64;
                base * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
    }
}

/// Every setting of a standard training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainConfig {
    /// Passes over the training data (at least 1).
    pub epochs: usize,
    /// Samples per gradient step (at least 1).
    pub batch_size: usize,
    /// The optimizer.
    pub optimizer: Optimizer,
    /// Base learning rate (finite, positive).
    pub learning_rate: f64,
    /// L2 penalty added to the gradient of every parameter (0 for none).
    pub weight_decay: f32,
    /// The learning-rate schedule.
    pub schedule: LrSchedule,
    /// Label smoothing in `[0, 1)`: the target puts `1 - s` on the label and spreads `s`
    /// uniformly over all classes.
    pub label_smoothing: f32,
    /// Seed of the weight initialization and of the shuffling.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 64,
            optimizer: Optimizer::Adam,
            learning_rate: 1e-3,
            weight_decay: 0.0,
            schedule: LrSchedule::Constant,
            label_smoothing: 0.0,
            seed: 0,
        }
    }
}

impl TrainConfig {
    /// Checks every field.
    pub fn check(&self) -> Result<()> {
        let bad = |problem: String| Err(DefenseError::InvalidConfig(problem));
        if self.epochs == 0 || self.batch_size == 0 {
            return bad(format!(
                "epochs ({}) and batch size ({}) must be at least 1",
                self.epochs, self.batch_size
            ));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad(format!("learning rate {} must be finite and positive", self.learning_rate));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad(format!("weight decay {} must be finite and non-negative", self.weight_decay));
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return bad(format!("label smoothing {} must be in [0, 1)", self.label_smoothing));
        }
        if let Optimizer::Sgd { momentum, .. } = self.optimizer
            && !(0.0..1.0).contains(&momentum)
        {
            return bad(format!("momentum {momentum} must be in [0, 1)"));
        }
        if let LrSchedule::MultiStep { gamma, .. } = self.schedule
            && !(gamma.is_finite() && gamma > 0.0)
        {
            return bad(format!("schedule factor {gamma} must be finite and positive"));
        }
        Ok(())
    }

    fn optimizer(&self) -> adv_core::burn::optim::ModuleOptimizer {
        let decay = (self.weight_decay > 0.0).then(|| WeightDecayConfig::new(self.weight_decay));
        match self.optimizer {
            Optimizer::Sgd { momentum, nesterov } => SgdConfig::new()
                .with_weight_decay(decay)
                .with_momentum((momentum > 0.0).then(|| {
                    MomentumConfig::new()
                        .with_momentum(momentum)
                        .with_dampening(0.0)
                        .with_nesterov(nesterov)
                }))
                .init(),
            Optimizer::Adam => AdamConfig::new().with_weight_decay(decay).init(),
        }
    }
}

/// Loss and accuracy of one epoch, measured on the training batches as they were seen.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean training loss.
    pub loss: f32,
    /// Fraction of training samples classified correctly during the epoch.
    pub accuracy: f32,
    /// Learning rate at the epoch's last step.
    pub learning_rate: f64,
}

/// A trained model in evaluation mode, with its training history.
pub struct Trained {
    /// The model, without autodiff.
    pub model: Model,
    /// One entry per epoch.
    pub history: Vec<EpochStats>,
}

/// Trains a fresh model built from `architecture` on `data`.
///
/// `on_epoch` is called after every epoch (progress display, early stopping by the caller's
/// own bookkeeping). The result is deterministic for a given seed on a given backend.
pub fn train(
    architecture: &ModelConfig,
    config: &TrainConfig,
    data: &Dataset,
    device: &Device,
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<Trained> {
    config.check()?;
    if data.is_empty() {
        return Err(DefenseError::InvalidConfig("the training set is empty".into()));
    }
    if data.shape() != architecture.input() {
        return Err(DefenseError::InvalidConfig(format!(
            "the model takes images of shape {:?}, the data has {:?}",
            architecture.input(),
            data.shape()
        )));
    }
    let device = device.clone().autodiff();
    device.seed(config.seed);
    let mut model = architecture.init(&device)?;
    let mut optimizer = config.optimizer();
    let mut rng = StdRng::seed_from_u64(config.seed);
    let mut order: Vec<usize> = (0..data.len()).collect();
    let steps_per_epoch = data.len().div_ceil(config.batch_size);
    let total = steps_per_epoch * config.epochs;
    let mut history = Vec::with_capacity(config.epochs);
    for epoch in 0..config.epochs {
        order.shuffle(&mut rng);
        let (mut loss_sum, mut correct) = (0.0f64, 0usize);
        let mut learning_rate = config.learning_rate;
        for (step, chunk) in order.chunks(config.batch_size).enumerate() {
            learning_rate =
                config.schedule.rate(config.learning_rate, epoch, epoch * steps_per_epoch + step, total);
            let batch = data.batch_of(chunk, &device);
            let logits = model.forward(batch.images);
            let loss = smoothed_cross_entropy(logits.clone(), batch.labels.clone(), config.label_smoothing);
            let predictions = to_ints(logits.inner().argmax(1).reshape([chunk.len()]));
            let labels = to_ints(batch.labels);
            correct += predictions.iter().zip(&labels).filter(|(p, y)| p == y).count();
            loss_sum += f64::from(to_floats(loss.clone().inner())[0]) * chunk.len() as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(learning_rate, model, grads);
        }
        let stats = EpochStats {
            epoch: epoch + 1,
            loss: (loss_sum / data.len() as f64) as f32,
            accuracy: correct as f32 / data.len() as f32,
            learning_rate,
        };
        if !stats.loss.is_finite() {
            return Err(DefenseError::Diverged { epoch: stats.epoch });
        }
        on_epoch(&stats);
        history.push(stats);
    }
    Ok(Trained { model: model.valid(), history })
}

/// Mean cross-entropy against labels smoothed by `smoothing` (0 gives plain cross-entropy).
pub fn smoothed_cross_entropy(logits: Tensor<2>, labels: Tensor<1, Int>, smoothing: f32) -> Tensor<1> {
    let [n, classes] = logits.dims();
    let log_probs = log_softmax(logits, 1);
    let nll = log_probs.clone().gather(1, labels.reshape([n, 1])).neg().mean();
    if smoothing == 0.0 {
        return nll;
    }
    let uniform = log_probs.neg().sum_dim(1).mean().div_scalar(classes as f32).reshape([1]);
    nll.mul_scalar(1.0 - smoothing) + uniform.mul_scalar(smoothing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use adv_core::burn::tensor::TensorData;

    #[test]
    fn invalid_settings_are_errors() {
        let ok = TrainConfig::default();
        assert!(ok.check().is_ok());
        for bad in [
            TrainConfig { epochs: 0, ..ok.clone() },
            TrainConfig { batch_size: 0, ..ok.clone() },
            TrainConfig { learning_rate: f64::NAN, ..ok.clone() },
            TrainConfig { weight_decay: -1.0, ..ok.clone() },
            TrainConfig { label_smoothing: 1.0, ..ok.clone() },
            TrainConfig { optimizer: Optimizer::Sgd { momentum: 1.5, nesterov: false }, ..ok.clone() },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
        assert!("rmsprop".parse::<Optimizer>().is_err());
        assert!("step:a".parse::<LrSchedule>().is_err());
    }

    #[test]
    fn schedules_follow_their_formulas() {
        let step: LrSchedule = "step:2,4".parse().unwrap();
        assert_eq!(step.rate(1.0, 1, 0, 10), 1.0);
        assert!((step.rate(1.0, 2, 0, 10) - 0.1).abs() < 1e-12);
        assert!((step.rate(1.0, 5, 0, 10) - 0.01).abs() < 1e-12);
        assert_eq!(LrSchedule::Cosine.rate(2.0, 0, 0, 10), 2.0);
        assert!((LrSchedule::Cosine.rate(2.0, 0, 5, 10) - 1.0).abs() < 1e-12);
        assert_eq!(LrSchedule::Constant.rate(0.3, 9, 9, 10), 0.3);
    }

    #[test]
    fn label_smoothing_matches_closed_form() {
        let device = Device::default();
        let logits = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0], [1, 3]), &device);
        let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64], [1]), &device);
        let lse = (1f32.exp() + 2f32.exp() + 3f32.exp()).ln();
        let nll = lse - 1.0;
        let uniform = (3.0 * lse - 6.0) / 3.0;
        let got = to_floats(smoothed_cross_entropy(logits.clone(), labels.clone(), 0.0))[0];
        assert!((got - nll).abs() < 1e-5);
        let got = to_floats(smoothed_cross_entropy(logits, labels, 0.2))[0];
        assert!((got - (0.8 * nll + 0.2 * uniform)).abs() < 1e-5);
    }

    #[test]
    fn shape_mismatch_is_an_error() {
        let data = adv_core::data::embedded_digits().take(8);
        let model = ModelConfig::from_name("mlp", [1, 4, 4], 10).unwrap();
        let result = train(&model, &TrainConfig::default(), &data, &Device::default(), &mut |_| {});
        assert!(matches!(result, Err(DefenseError::InvalidConfig(_))));
    }
}
