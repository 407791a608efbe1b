//! Foundations of the `adv` workspace: the threat model, norm geometry, the classifier
//! abstraction, success criteria, attack losses, datasets and backend selection.
//!
//! Everything is written once for every Burn backend: tensors are `Tensor<D>` and the backend
//! is chosen at run time through a [`Device`](burn::tensor::Device).
//!
//! ```
//! use adv_core::{Norm, ThreatModel};
//! let threat = ThreatModel::new(Norm::Linf, 8.0 / 255.0).unwrap();
//! assert_eq!(threat.norm, Norm::Linf);
//! assert!(ThreatModel::new(Norm::L2, f32::NAN).is_err());
//! ```
#![warn(missing_docs)]

mod backend;
mod classifier;
mod criterion;
pub mod data;
mod error;
mod loss;
mod norm;
pub mod options;
mod rng;
mod tensor_ext;
mod threat;

pub use backend::{BackendKind, DeviceSpec};
pub use classifier::{
    Classifier, CostCounts, Counted, DrawKey, ModelTraits, ValueAndGrad, draw_keys,
};
pub use criterion::Criterion;
pub use data::{Batch, Dataset};
pub use error::{CoreError, Result};
pub use loss::{Loss, cross_entropy, kl_divergence};
pub use norm::{Bounds, Norm};
pub use options::{
    ConfigFns, Domain, Label, OptionError, OptionSpec, OptionValue, Options, Setting, Spec, apply,
    canonical, configure, kebab, label, option_keys, options_table, resolved,
};
pub use rng::sample_rng;
pub use tensor_ext::{
    bools_from, floats_from, ints_from, per_sample, to_bools, to_floats, to_ints,
};
pub use threat::{Budget, Goal, Knowledge, TargetSelection, ThreatModel, check_epsilons};

/// Re-export of the Burn version this workspace is built on.
pub use burn;

/// The Burn version the workspace pins (`burn = "=…"` in the workspace manifest), for reports.
pub const BURN_VERSION: &str = "0.22.1";

#[cfg(test)]
mod tests {
    #[test]
    fn burn_version_matches_the_workspace_pin() {
        let manifest = include_str!("../../../Cargo.toml");
        let pin = format!("burn = {{ version = \"={}\"", super::BURN_VERSION);
        assert!(
            manifest.contains(&pin),
            "update BURN_VERSION to the pin in Cargo.toml"
        );
    }
}
