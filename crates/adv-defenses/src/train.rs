//! The settings of a training run: the objective, the optimizer, the schedule and warm-ups,
//! weight decay, label smoothing, the held-out split and early stopping, the seed. Every
//! setting that decides the result is a field of [`TrainConfig`], recorded beside the
//! checkpoint. The loop itself is [`crate::train`].
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

use adv_attacks::AttackConfig;
use adv_core::burn::optim::momentum::MomentumConfig;
use adv_core::burn::optim::{AdamConfig, SgdConfig, decay::WeightDecayConfig};
use adv_core::burn::tensor::activation::log_softmax;
use adv_core::burn::tensor::{Int, Tensor};
use serde::{Deserialize, Serialize};

use crate::{DefenseError, ObjectiveConfig, Result};

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
            "sgd" => Ok(Optimizer::Sgd {
                momentum: 0.9,
                nesterov: false,
            }),
            "sgd-nesterov" => Ok(Optimizer::Sgd {
                momentum: 0.9,
                nesterov: true,
            }),
            "sgd-plain" => Ok(Optimizer::Sgd {
                momentum: 0.0,
                nesterov: false,
            }),
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
    /// Triangular: linearly from zero up to the base rate at the middle of training and back to
    /// zero, stepped every iteration (Fast-AT's cyclic rate).
    Cyclic,
}

impl std::str::FromStr for LrSchedule {
    type Err = DefenseError;

    /// `constant`, `cosine`, `cyclic`, or `step:E1,E2,...` (gamma 0.1).
    fn from_str(text: &str) -> Result<Self> {
        match text {
            "constant" => Ok(LrSchedule::Constant),
            "cosine" => Ok(LrSchedule::Cosine),
            "cyclic" => Ok(LrSchedule::Cyclic),
            _ => {
                let bad = || {
                    DefenseError::InvalidConfig(format!(
                        "unknown schedule '{text}' (expected constant, cosine, cyclic or step:E1,E2,...)"
                    ))
                };
                let epochs = text.strip_prefix("step:").ok_or_else(bad)?;
                let milestones = epochs
                    .split(',')
                    .map(|e| e.trim().parse::<usize>().map_err(|_| bad()))
                    .collect::<Result<Vec<_>>>()?;
                Ok(LrSchedule::MultiStep {
                    milestones,
                    gamma: 0.1,
                })
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
            LrSchedule::Cyclic => {
                let progress = iteration as f64 / total.max(1) as f64;
                base * (1.0 - (2.0 * progress - 1.0).abs())
            }
        }
    }
}

/// Which epoch's weights training returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EarlyStopping {
    /// The last epoch's.
    #[default]
    None,
    /// Those of the epoch with the highest held-out robust accuracy (Rice et al. 2020's early
    /// stopping; needs a held-out split and a radius).
    BestRobust,
    /// Those of the epoch with the highest held-out clean accuracy.
    BestClean,
}

impl std::str::FromStr for EarlyStopping {
    type Err = DefenseError;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "none" => Ok(EarlyStopping::None),
            "best-robust" => Ok(EarlyStopping::BestRobust),
            "best-clean" => Ok(EarlyStopping::BestClean),
            other => Err(DefenseError::InvalidConfig(format!(
                "unknown early stopping '{other}' (expected none, best-robust or best-clean)"
            ))),
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
    /// Seed of the weight initialization, the shuffling and the crafting.
    pub seed: u64,
    /// What each step minimizes: `standard`, `pgd-at:eps=0.1`, ... (`adv-bench objectives`).
    pub objective: ObjectiveConfig,
    /// Fraction of the training data held out (its last samples) for per-epoch clean and
    /// robust accuracy, in `[0, 0.5]`; 0 for none.
    pub holdout: f32,
    /// The attack of the held-out robust accuracy, `NAME:key=value,...`.
    pub eval_attack: String,
    /// Its radius (in the objective's norm, Linf for objectives without one); unset: the
    /// objective's radius, and no robust accuracy for objectives without one.
    pub eval_eps: Option<f32>,
    /// Which epoch's weights to keep.
    pub early_stopping: EarlyStopping,
    /// Epochs over which the learning rate rises linearly from 0 to the schedule's rate.
    pub lr_warmup_epochs: usize,
    /// Epochs over which the objective's radius rises linearly from 0 to its value.
    pub eps_warmup_epochs: usize,
}

impl Default for TrainConfig {
    /// The defaults of `adv-bench train` and of suites alike.
    fn default() -> Self {
        Self {
            epochs: 30,
            batch_size: 32,
            optimizer: Optimizer::Adam,
            learning_rate: 1e-3,
            weight_decay: 0.0,
            schedule: LrSchedule::Constant,
            label_smoothing: 0.0,
            seed: 0,
            objective: ObjectiveConfig::default(),
            holdout: 0.0,
            eval_attack: "pgd:steps=10".into(),
            eval_eps: None,
            early_stopping: EarlyStopping::None,
            lr_warmup_epochs: 0,
            eps_warmup_epochs: 0,
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
            return bad(format!(
                "learning rate {} must be finite and positive",
                self.learning_rate
            ));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad(format!(
                "weight decay {} must be finite and non-negative",
                self.weight_decay
            ));
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return bad(format!(
                "label smoothing {} must be in [0, 1)",
                self.label_smoothing
            ));
        }
        if let Optimizer::Sgd { momentum, .. } = self.optimizer
            && !(0.0..1.0).contains(&momentum)
        {
            return bad(format!("momentum {momentum} must be in [0, 1)"));
        }
        if let LrSchedule::MultiStep { gamma, .. } = self.schedule
            && !(gamma.is_finite() && gamma > 0.0)
        {
            return bad(format!(
                "schedule factor {gamma} must be finite and positive"
            ));
        }
        if !(0.0..=0.5).contains(&self.holdout) {
            return bad(format!("holdout {} must be in [0, 0.5]", self.holdout));
        }
        AttackConfig::parse(&self.eval_attack)
            .map_err(|e| DefenseError::InvalidConfig(format!("eval attack: {e}")))?;
        if let Some(eps) = self.eval_eps
            && !(eps.is_finite() && eps > 0.0)
        {
            return bad(format!("eval eps {eps} must be finite and positive"));
        }
        if self.early_stopping != EarlyStopping::None && self.holdout == 0.0 {
            return bad("early stopping needs a held-out split (holdout > 0)".into());
        }
        if self.early_stopping == EarlyStopping::BestRobust
            && self.eval_eps.is_none()
            && self.objective.build()?.radius().is_none()
        {
            return bad(format!(
                "early stopping on robust accuracy needs a radius: set eval_eps (objective {} has none)",
                self.objective.name()
            ));
        }
        Ok(())
    }

    /// The learning rate at `iteration` of `total` (epoch `epoch`), warm-up included.
    pub fn rate(&self, epoch: usize, iteration: usize, total: usize) -> f64 {
        let rate = self
            .schedule
            .rate(self.learning_rate, epoch, iteration, total);
        let warmup = self.lr_warmup_epochs * total / self.epochs.max(1);
        if iteration < warmup {
            rate * (iteration + 1) as f64 / warmup as f64
        } else {
            rate
        }
    }

    /// The fraction of the objective's radius in effect at `iteration` of `total`.
    pub fn eps_scale(&self, iteration: usize, total: usize) -> f32 {
        let warmup = self.eps_warmup_epochs * total / self.epochs.max(1);
        if iteration < warmup {
            (iteration + 1) as f32 / warmup as f32
        } else {
            1.0
        }
    }

    pub(crate) fn optimizer(&self) -> adv_core::burn::optim::ModuleOptimizer {
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

/// Mean cross-entropy against labels smoothed by `smoothing` (0 gives plain cross-entropy).
pub fn smoothed_cross_entropy(
    logits: Tensor<2>,
    labels: Tensor<1, Int>,
    smoothing: f32,
) -> Tensor<1> {
    let [n, classes] = logits.dims();
    let log_probs = log_softmax(logits, 1);
    let nll = log_probs
        .clone()
        .gather(1, labels.reshape([n, 1]))
        .neg()
        .mean();
    if smoothing == 0.0 {
        return nll;
    }
    let uniform = log_probs
        .neg()
        .sum_dim(1)
        .mean()
        .div_scalar(classes as f32)
        .reshape([1]);
    nll.mul_scalar(1.0 - smoothing) + uniform.mul_scalar(smoothing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use adv_core::burn::tensor::{Device, TensorData};
    use adv_core::to_floats;

    #[test]
    fn invalid_settings_are_errors() {
        let ok = TrainConfig::default();
        assert!(ok.check().is_ok());
        for bad in [
            TrainConfig {
                epochs: 0,
                ..ok.clone()
            },
            TrainConfig {
                batch_size: 0,
                ..ok.clone()
            },
            TrainConfig {
                learning_rate: f64::NAN,
                ..ok.clone()
            },
            TrainConfig {
                weight_decay: -1.0,
                ..ok.clone()
            },
            TrainConfig {
                label_smoothing: 1.0,
                ..ok.clone()
            },
            TrainConfig {
                optimizer: Optimizer::Sgd {
                    momentum: 1.5,
                    nesterov: false,
                },
                ..ok.clone()
            },
            TrainConfig {
                holdout: 0.9,
                ..ok.clone()
            },
            TrainConfig {
                eval_attack: "pgd:decay=1".into(),
                ..ok.clone()
            },
            TrainConfig {
                early_stopping: EarlyStopping::BestClean,
                ..ok.clone()
            },
            TrainConfig {
                early_stopping: EarlyStopping::BestRobust,
                holdout: 0.1,
                ..ok.clone()
            },
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
        let cyclic: LrSchedule = "cyclic".parse().unwrap();
        assert_eq!(cyclic.rate(0.2, 0, 0, 10), 0.0);
        assert!((cyclic.rate(0.2, 0, 5, 10) - 0.2).abs() < 1e-12);
        assert!((cyclic.rate(0.2, 0, 8, 10) - 0.08).abs() < 1e-12);
        let warm = TrainConfig {
            epochs: 10,
            lr_warmup_epochs: 2,
            eps_warmup_epochs: 5,
            learning_rate: 1.0,
            ..TrainConfig::default()
        };
        // 100 iterations, warm-ups of 20 and 50.
        assert!((warm.rate(0, 9, 100) - 0.5).abs() < 1e-12);
        assert_eq!(warm.rate(2, 20, 100), 1.0);
        assert!((warm.eps_scale(24, 100) - 0.5).abs() < 1e-6);
        assert_eq!(warm.eps_scale(50, 100), 1.0);
    }

    #[test]
    fn label_smoothing_matches_closed_form() {
        let device = Device::default();
        let logits =
            Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0], [1, 3]), &device);
        let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64], [1]), &device);
        let lse = (1f32.exp() + 2f32.exp() + 3f32.exp()).ln();
        let nll = lse - 1.0;
        let uniform = (3.0 * lse - 6.0) / 3.0;
        let got = to_floats(smoothed_cross_entropy(logits.clone(), labels.clone(), 0.0))[0];
        assert!((got - nll).abs() < 1e-5);
        let got = to_floats(smoothed_cross_entropy(logits, labels, 0.2))[0];
        assert!((got - (0.8 * nll + 0.2 * uniform)).abs() < 1e-5);
    }
}
