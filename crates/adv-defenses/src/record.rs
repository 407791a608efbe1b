//! The record of a training run, written beside the checkpoint (`X.bpk` -> `X.json`, under
//! `"training"`) and carried into every report that evaluates the model.

use adv_core::{Dataset, Setting};
use serde::{Deserialize, Serialize};

use crate::{EpochStats, TrainConfig, Trained, data_hash};

/// Every setting that decided the model, the data it saw and what each epoch measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingRecord {
    /// The objective's name.
    pub objective: String,
    /// Every option of the objective, defaults included (radius, steps and step size of the
    /// inner attack, batch-norm mode while crafting, weights of the terms).
    pub objective_options: Vec<Setting>,
    /// The run's settings: epochs, batch size, optimizer, learning rate and schedule, warm-ups,
    /// weight decay, label smoothing, held-out split, evaluation attack, early stopping, seed.
    pub settings: TrainConfig,
    /// The architecture, as reports name it.
    pub architecture: String,
    /// The training data, as its source names it.
    pub data: String,
    /// FNV-1a hash of the data's shape, labels and pixels ([`data_hash`]).
    pub data_hash: String,
    /// Samples the data set holds (held-out ones included).
    pub samples: usize,
    /// One entry per epoch.
    pub history: Vec<EpochStats>,
    /// The epoch whose weights were kept (the last one, or the best under early stopping).
    pub kept_epoch: usize,
    /// Version of the `adv` crates that trained it.
    pub code_version: String,
    /// The Burn version.
    pub burn_version: String,
}

impl TrainingRecord {
    /// The record of `trained`, trained with `config` on `data` (described as `source`) for an
    /// architecture described as `architecture`.
    pub fn new(
        config: &TrainConfig,
        architecture: &str,
        source: &str,
        data: &Dataset,
        trained: &Trained,
    ) -> Self {
        Self {
            objective: config.objective.name().to_owned(),
            objective_options: config.objective.options(),
            settings: config.clone(),
            architecture: architecture.to_owned(),
            data: source.to_owned(),
            data_hash: format!("{:016x}", data_hash(data)),
            samples: data.len(),
            history: trained.history.clone(),
            kept_epoch: trained.kept_epoch,
            code_version: env!("CARGO_PKG_VERSION").to_owned(),
            burn_version: adv_core::BURN_VERSION.to_owned(),
        }
    }

    /// As JSON, for the checkpoint's sidecar.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a training record serializes")
    }
}
