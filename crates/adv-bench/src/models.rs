//! Models as the command line and suites name them: an architecture (built-in name, data file,
//! or the JSON sidecar of our own checkpoints), a weights file and an optional replacement of
//! the input normalization; or an ensemble of such models.

use std::path::Path;

use adv_core::Classifier;
use adv_core::Dataset;
use adv_core::burn::tensor::{Device, Tensor};
use adv_models::{
    Combine, Ensemble, Model, ModelConfig, load_weights, read_checkpoint_config, sidecar_path,
};

use crate::suite::NormalizationSpec;
use crate::{BenchError, Result};

/// Where a model's architecture comes from and what replaces its normalization.
#[derive(Clone, Debug, Default)]
pub struct ArchitectureChoice {
    /// A built-in architecture name (`resnet20`, `wrn-28-10`, ...).
    pub name: Option<String>,
    /// A JSON or TOML file describing the layers.
    pub file: Option<std::path::PathBuf>,
    /// Replaces the architecture's default normalization.
    pub normalization: Option<NormalizationSpec>,
}

/// A single model or an ensemble, as one classifier.
#[derive(Debug)]
pub enum LoadedModel {
    /// One network.
    Single(Box<Model>),
    /// The average of several.
    Ensemble(Ensemble),
}

impl Classifier for LoadedModel {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            LoadedModel::Single(model) => model.forward(images),
            LoadedModel::Ensemble(ensemble) => ensemble.forward(images),
        }
    }
}

/// The model of `weights`: the architecture comes from `choice.file`, else from the
/// checkpoint's JSON sidecar when there is one (and must then agree with `choice.name`), else
/// from `choice.name` and the data's shape; `choice.normalization` then replaces its
/// normalization. The model must take the data's image shape.
pub fn load_model(
    choice: &ArchitectureChoice,
    weights: &Path,
    data: &Dataset,
    device: &Device,
) -> Result<(Model, ModelConfig)> {
    let config = if let Some(file) = &choice.file {
        ModelConfig::from_file(file)?
    } else if sidecar_path(weights).is_file() {
        let config = read_checkpoint_config(weights)?;
        if let Some(name) = &choice.name
            && ModelConfig::from_name(name, data.shape(), data.num_classes())?.name()
                != config.name()
        {
            return Err(BenchError::InvalidArgument(format!(
                "architecture {name} disagrees with the checkpoint's architecture {} ({})",
                config.name(),
                sidecar_path(weights).display()
            )));
        }
        config
    } else {
        let name = choice.name.as_deref().ok_or_else(|| {
            BenchError::InvalidArgument(format!(
                "{} has no architecture file beside it: name its architecture",
                weights.display()
            ))
        })?;
        // The class count the weights were saved with, when they say: the largest label of the
        // data is only a lower bound.
        let classes = adv_models::classes_in_weights(name, data.shape(), weights, device)?
            .unwrap_or(data.num_classes());
        ModelConfig::from_name(name, data.shape(), classes)?
    };
    if let Some(note) = adv_models::weights::float_conversion_note(weights)? {
        eprintln!("note: {note}");
    }
    let config = with_normalization(config, choice.normalization.as_ref())?;
    if config.input() != data.shape() {
        return Err(BenchError::InvalidArgument(format!(
            "the model takes images of shape {:?}, the data has {:?}",
            config.input(),
            data.shape()
        )));
    }
    Ok((load_weights(&config, weights, device)?, config))
}

/// `config` with its input normalization replaced as `normalization` says (kept when `None`).
pub fn with_normalization(
    config: ModelConfig,
    normalization: Option<&NormalizationSpec>,
) -> Result<ModelConfig> {
    Ok(match normalization {
        None => config,
        Some(NormalizationSpec::Off(text)) if text == "none" => config.with_normalization(None)?,
        Some(NormalizationSpec::Off(text)) => {
            return Err(BenchError::InvalidArgument(format!(
                "unknown normalization '{text}' (expected \"none\" or a mean and std)"
            )));
        }
        Some(NormalizationSpec::On(normalization)) => {
            config.with_normalization(Some(normalization.clone()))?
        }
    })
}

/// An ensemble of `members`, described for reports.
pub fn ensemble(
    members: Vec<(Model, ModelConfig)>,
    combine: Combine,
    device: &Device,
) -> Result<(LoadedModel, String)> {
    let names: Vec<String> = members.iter().map(|(_, c)| c.describe()).collect();
    let description = format!(
        "ensemble of {} ({} averaged)",
        names.join(", "),
        combine.name()
    );
    Ok((
        LoadedModel::Ensemble(Ensemble::new(members, combine, device)?),
        description,
    ))
}
