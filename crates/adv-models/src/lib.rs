//! Classifier architectures for robustness evaluation, and their checkpoints.
//!
//! Every model takes images in `[0, 1]` and normalizes them itself, so attacks always work in
//! input space. Models implement [`adv_core::Classifier`].
//!
//! ```
//! use adv_models::ModelConfig;
//! let device = adv_core::burn::tensor::Device::default();
//! let model = ModelConfig::from_name("small-cnn", [1, 8, 8], 10).unwrap().init(&device).unwrap();
//! ```
#![warn(missing_docs)]

mod error;
mod mlp;
mod model;
mod normalization;
mod small_cnn;

pub use error::{ModelError, Result};
pub use mlp::{Mlp, MlpConfig};
pub use model::{
    ARCHITECTURES, Model, ModelConfig, load_checkpoint, load_weights, read_checkpoint_config,
    save_checkpoint, sidecar_path,
};
pub use normalization::Normalization;
pub use small_cnn::{SmallCnn, SmallCnnConfig};
