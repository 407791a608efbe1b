//! Any built-in architecture as one value, and checkpoints: Burn records plus a JSON sidecar
//! that holds the architecture.

use std::path::{Path, PathBuf};

use adv_core::Classifier;
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::{Mlp, MlpConfig, ModelError, Result, SmallCnn, SmallCnnConfig};

/// The configuration of any built-in architecture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "arch", rename_all = "kebab-case")]
pub enum ModelConfig {
    /// [`Mlp`].
    Mlp(MlpConfig),
    /// [`SmallCnn`].
    SmallCnn(SmallCnnConfig),
}

/// Names accepted by [`ModelConfig::from_name`].
pub const ARCHITECTURES: [&str; 2] = ["mlp", "small-cnn"];

impl ModelConfig {
    /// The default configuration of the architecture called `name` for the given input shape.
    pub fn from_name(name: &str, input: [usize; 3], num_classes: usize) -> Result<Self> {
        match name {
            "mlp" => Ok(ModelConfig::Mlp(MlpConfig::new(input, num_classes))),
            "small-cnn" | "cnn" => Ok(ModelConfig::SmallCnn(SmallCnnConfig::new(
                input,
                num_classes,
            ))),
            other => Err(ModelError::InvalidConfig(format!(
                "unknown architecture '{other}' (expected one of {})",
                ARCHITECTURES.join(", ")
            ))),
        }
    }

    /// The architecture name.
    pub fn name(&self) -> &'static str {
        match self {
            ModelConfig::Mlp(_) => "mlp",
            ModelConfig::SmallCnn(_) => "small-cnn",
        }
    }

    /// Input shape `[channels, height, width]`.
    pub fn input(&self) -> [usize; 3] {
        match self {
            ModelConfig::Mlp(config) => config.input,
            ModelConfig::SmallCnn(config) => config.input,
        }
    }

    /// Builds the model with random weights.
    pub fn init(&self, device: &Device) -> Result<Model> {
        Ok(match self {
            ModelConfig::Mlp(config) => Model::Mlp(config.init(device)?),
            ModelConfig::SmallCnn(config) => Model::SmallCnn(config.init(device)?),
        })
    }
}

/// Any built-in architecture.
#[derive(Module, Debug)]
pub enum Model {
    /// [`Mlp`].
    Mlp(Mlp),
    /// [`SmallCnn`].
    SmallCnn(SmallCnn),
}

impl Model {
    /// Logits `[n, classes]` of images `[n, c, h, w]` in `[0, 1]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            Model::Mlp(model) => model.forward(images),
            Model::SmallCnn(model) => model.forward(images),
        }
    }
}

impl Classifier for Model {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        Model::forward(self, images)
    }
}

/// The sidecar file of a checkpoint: `model.bpk` has `model.json`.
pub fn sidecar_path(weights: &Path) -> PathBuf {
    weights.with_extension("json")
}

/// Writes the weights (Burn record) to `path` and the architecture to its JSON sidecar.
pub fn save_checkpoint(model: Model, config: &ModelConfig, path: &Path) -> Result<()> {
    let sidecar = sidecar_path(path);
    let json =
        serde_json::to_string_pretty(config).map_err(|e| ModelError::checkpoint(&sidecar, e))?;
    std::fs::write(&sidecar, json).map_err(|e| ModelError::checkpoint(&sidecar, e))?;
    model
        .save_file(path)
        .map_err(|e| ModelError::checkpoint(path, e))
}

/// Reads the architecture of a checkpoint from its JSON sidecar.
pub fn read_checkpoint_config(path: &Path) -> Result<ModelConfig> {
    let sidecar = sidecar_path(path);
    let text = std::fs::read_to_string(&sidecar).map_err(|e| {
        ModelError::checkpoint(
            &sidecar,
            format!("cannot read the architecture sidecar: {e}"),
        )
    })?;
    serde_json::from_str(&text).map_err(|e| ModelError::checkpoint(&sidecar, e))
}

/// Builds `config` and loads the weights at `path` into it, in evaluation mode.
pub fn load_weights(config: &ModelConfig, path: &Path, device: &Device) -> Result<Model> {
    if !path.is_file() {
        return Err(ModelError::checkpoint(path, "no such file"));
    }
    config
        .init(device)?
        .try_load_file(path)
        .map(|model| model.valid())
        .map_err(|e| ModelError::checkpoint(path, e))
}

/// Loads a checkpoint written by [`save_checkpoint`].
pub fn load_checkpoint(path: &Path, device: &Device) -> Result<(Model, ModelConfig)> {
    let config = read_checkpoint_config(path)?;
    Ok((load_weights(&config, path, device)?, config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use adv_core::to_floats;

    #[test]
    fn checkpoints_round_trip() {
        let device = Device::default();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.bpk");
        for name in ARCHITECTURES {
            let config = ModelConfig::from_name(name, [1, 8, 8], 10).unwrap();
            let model = config.init(&device).unwrap();
            let images = Tensor::<4>::ones([2, 1, 8, 8], &device).mul_scalar(0.5);
            let before = to_floats(model.forward(images.clone()));
            save_checkpoint(model, &config, &path).unwrap();
            let (loaded, loaded_config) = load_checkpoint(&path, &device).unwrap();
            assert_eq!(loaded_config, config);
            assert_eq!(to_floats(loaded.forward(images)), before, "{name}");
        }
    }

    #[test]
    fn bad_configs_and_files_are_errors() {
        let device = Device::default();
        assert!(ModelConfig::from_name("vgg", [1, 8, 8], 10).is_err());
        assert!(
            ModelConfig::from_name("small-cnn", [1, 2, 2], 10)
                .unwrap()
                .init(&device)
                .is_err()
        );
        assert!(
            ModelConfig::from_name("mlp", [1, 8, 8], 1)
                .unwrap()
                .init(&device)
                .is_err()
        );
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.bpk");
        std::fs::write(&garbage, b"not a checkpoint").unwrap();
        let config = ModelConfig::from_name("mlp", [1, 8, 8], 10).unwrap();
        assert!(matches!(
            load_weights(&config, &garbage, &device),
            Err(ModelError::Checkpoint { .. })
        ));
        assert!(load_checkpoint(&garbage, &device).is_err());
        let other = ModelConfig::from_name("mlp", [1, 4, 4], 10).unwrap();
        let path = dir.path().join("small.bpk");
        save_checkpoint(other.init(&device).unwrap(), &other, &path).unwrap();
        assert!(
            load_weights(&config, &path, &device).is_err(),
            "shape mismatch must be an error"
        );
    }
}
