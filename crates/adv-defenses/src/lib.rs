//! Training and defenses for adversarial robustness.
//!
//! Today: standard training ([`train`]) with every setting that decides robustness recorded in
//! [`TrainConfig`] (optimizer, weight decay, label smoothing, learning-rate schedule, seed).
#![warn(missing_docs)]

mod error;
mod train;

pub use error::{DefenseError, Result};
pub use train::{
    EpochStats, LrSchedule, Optimizer, TrainConfig, Trained, smoothed_cross_entropy, train,
};
