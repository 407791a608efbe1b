//! Any built-in architecture as one value, and checkpoints: Burn records plus a JSON sidecar
//! that holds the architecture, or PyTorch weights (safetensors, `torch.save` files) imported
//! through [`crate::weights`].

use std::path::{Path, PathBuf};

use adv_core::Classifier;
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::weights::{KeyMapping, WeightFormat, export_safetensors, load_pytorch};
use crate::{
    CifarResNet, CifarResNetConfig, InceptionV3, InceptionV3Config, Mlp, MlpConfig, MnistCnn,
    MnistCnnConfig, ModelError, Normalization, PreActResNet18, PreActResNet18Config, Result,
    Sequential, SequentialConfig, SmallCnn, SmallCnnConfig, TorchvisionResNet,
    TorchvisionResNetConfig, WideResNet, WideResNetConfig,
};

/// The configuration of any built-in architecture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "arch", rename_all = "kebab-case")]
pub enum ModelConfig {
    /// [`Mlp`].
    Mlp(MlpConfig),
    /// [`SmallCnn`].
    SmallCnn(SmallCnnConfig),
    /// [`CifarResNet`].
    #[serde(rename = "resnet-cifar")]
    CifarResNet(CifarResNetConfig),
    /// [`MnistCnn`].
    MnistCnn(MnistCnnConfig),
    /// [`Sequential`], described by a data file.
    Sequential(SequentialConfig),
    /// [`WideResNet`].
    WideResNet(WideResNetConfig),
    /// [`PreActResNet18`].
    PreactResnet18(PreActResNet18Config),
    /// [`TorchvisionResNet`].
    TorchvisionResnet(TorchvisionResNetConfig),
    /// [`InceptionV3`].
    InceptionV3(InceptionV3Config),
}

/// Names accepted by [`ModelConfig::from_name`].
pub const ARCHITECTURES: [&str; 14] = [
    "mlp",
    "small-cnn",
    "resnet20",
    "resnet32",
    "resnet44",
    "resnet56",
    "resnet110",
    "mnist-cnn",
    "wrn-28-10",
    "wrn-34-10",
    "preact-resnet18",
    "torchvision-resnet18",
    "torchvision-resnet50",
    "inception-v3",
];

impl ModelConfig {
    /// The default configuration of the architecture called `name` for the given input shape.
    ///
    /// `wrn-DEPTH-WIDTH` is any WideResNet (`wrn-28-10`, `wrn-34-10`, RobustBench layout) and
    /// `preact-resnet18` the PreAct-ResNet-18; both have no normalization by default, as in
    /// RobustBench.
    ///
    /// `resnet20` ... `resnet110` (any `resnet<6n+2>`), `torchvision-resnet18`,
    /// `torchvision-resnet50`, `inception-v3` and `mnist-cnn` keep the normalization of
    /// their published weights (see [`crate::akamaster_normalization`],
    /// [`crate::mnist_normalization`]) when the input has its channel count, and have none
    /// otherwise; [`with_normalization`](Self::with_normalization) replaces it.
    /// `inception-v3` also keeps torchvision's `transform_input` on 3-channel inputs (see
    /// [`crate::inception_v3`]).
    pub fn from_name(name: &str, input: [usize; 3], num_classes: usize) -> Result<Self> {
        let keep = |normalization: Option<Normalization>| {
            normalization.filter(|n| n.mean.len() == input[0])
        };
        match name {
            "mlp" => Ok(ModelConfig::Mlp(MlpConfig::new(input, num_classes))),
            "small-cnn" | "cnn" => Ok(ModelConfig::SmallCnn(SmallCnnConfig::new(
                input,
                num_classes,
            ))),
            "preact-resnet18" => Ok(ModelConfig::PreactResnet18(PreActResNet18Config::new(
                input,
                num_classes,
            ))),
            "torchvision-resnet18" | "torchvision-resnet50" => {
                let depth = if name.ends_with("18") { 18 } else { 50 };
                Ok(ModelConfig::TorchvisionResnet(TorchvisionResNetConfig {
                    depth,
                    input,
                    num_classes,
                    normalization: keep(TorchvisionResNetConfig::new(depth).normalization),
                }))
            }
            "inception-v3" => {
                let default = crate::inception_v3();
                Ok(ModelConfig::InceptionV3(InceptionV3Config {
                    input,
                    num_classes,
                    transform_input: input[0] == 3,
                    normalization: keep(default.normalization),
                    ..default
                }))
            }
            "mnist-cnn" => {
                let default = MnistCnnConfig::default();
                Ok(ModelConfig::MnistCnn(MnistCnnConfig {
                    input,
                    num_classes,
                    normalization: keep(default.normalization),
                }))
            }
            other if other.starts_with("wrn-") => {
                let numbers: Vec<Option<usize>> =
                    other[4..].split('-').map(|n| n.parse().ok()).collect();
                let [Some(depth), Some(widen_factor)] = numbers[..] else {
                    return Err(ModelError::InvalidConfig(format!(
                        "cannot read '{other}': write wrn-DEPTH-WIDTH, e.g. wrn-28-10"
                    )));
                };
                let config = WideResNetConfig {
                    input,
                    num_classes,
                    ..WideResNetConfig::new(depth, widen_factor)
                };
                config.blocks_per_group()?;
                Ok(ModelConfig::WideResNet(config))
            }
            other => {
                let Some(depth) = other
                    .strip_prefix("resnet")
                    .and_then(|d| d.parse::<usize>().ok())
                else {
                    return Err(ModelError::InvalidConfig(format!(
                        "unknown architecture '{other}' (expected one of {}, or an architecture file)",
                        ARCHITECTURES.join(", ")
                    )));
                };
                let config = CifarResNetConfig {
                    depth,
                    input,
                    num_classes,
                    normalization: keep(CifarResNetConfig::new(depth).normalization),
                };
                config.blocks_per_stage()?;
                Ok(ModelConfig::CifarResNet(config))
            }
        }
    }

    /// The configuration of a network described by a `.json` or `.toml` file
    /// (see [`crate::SequentialConfig`]).
    pub fn from_file(path: &Path) -> Result<Self> {
        let config = SequentialConfig::from_file(path)?;
        config.check()?;
        Ok(ModelConfig::Sequential(config))
    }

    /// The same architecture with the input normalization replaced (`None` removes it).
    pub fn with_normalization(mut self, normalization: Option<Normalization>) -> Result<Self> {
        if let Some(normalization) = &normalization {
            normalization.check(Some(self.input()[0]))?;
        }
        match &mut self {
            ModelConfig::Mlp(config) => config.normalization = normalization,
            ModelConfig::SmallCnn(config) => config.normalization = normalization,
            ModelConfig::CifarResNet(config) => config.normalization = normalization,
            ModelConfig::MnistCnn(config) => config.normalization = normalization,
            ModelConfig::Sequential(config) => config.normalization = normalization,
            ModelConfig::WideResNet(config) => config.normalization = normalization,
            ModelConfig::PreactResnet18(config) => config.normalization = normalization,
            ModelConfig::TorchvisionResnet(config) => config.normalization = normalization,
            ModelConfig::InceptionV3(config) => config.normalization = normalization,
        }
        Ok(self)
    }

    /// How PyTorch checkpoint keys map onto this architecture (see [`crate::weights`]).
    pub fn key_mapping(&self) -> KeyMapping {
        match self {
            ModelConfig::Sequential(_) => KeyMapping::sequential("layers"),
            ModelConfig::WideResNet(_) => crate::wide_resnet_key_mapping(),
            ModelConfig::PreactResnet18(_) => crate::preact_resnet_key_mapping(),
            ModelConfig::TorchvisionResnet(_) => crate::torchvision_resnet_key_mapping(),
            ModelConfig::InceptionV3(_) => crate::inception_v3_key_mapping(),
            _ => KeyMapping::identity(),
        }
    }

    /// The architecture name.
    pub fn name(&self) -> &'static str {
        match self {
            ModelConfig::Mlp(_) => "mlp",
            ModelConfig::SmallCnn(_) => "small-cnn",
            ModelConfig::CifarResNet(_) => "resnet-cifar",
            ModelConfig::MnistCnn(_) => "mnist-cnn",
            ModelConfig::Sequential(_) => "sequential",
            ModelConfig::WideResNet(_) => "wide-resnet",
            ModelConfig::PreactResnet18(_) => "preact-resnet18",
            ModelConfig::TorchvisionResnet(_) => "torchvision-resnet",
            ModelConfig::InceptionV3(_) => "inception-v3",
        }
    }

    /// The architecture as reports name it: [`name`](Self::name) with the depth of a ResNet
    /// (`resnet56`) or the layer count of a described network (`sequential (8 layers)`).
    pub fn describe(&self) -> String {
        match self {
            ModelConfig::CifarResNet(config) => format!("resnet{}", config.depth),
            ModelConfig::TorchvisionResnet(config) => format!("torchvision-resnet{}", config.depth),
            ModelConfig::WideResNet(config) => {
                format!("wrn-{}-{}", config.depth, config.widen_factor)
            }
            ModelConfig::Sequential(config) => {
                format!("sequential ({} layers)", config.layers.len())
            }
            other => other.name().to_owned(),
        }
    }

    /// Input shape `[channels, height, width]`.
    pub fn input(&self) -> [usize; 3] {
        match self {
            ModelConfig::Mlp(config) => config.input,
            ModelConfig::SmallCnn(config) => config.input,
            ModelConfig::CifarResNet(config) => config.input,
            ModelConfig::MnistCnn(config) => config.input,
            ModelConfig::Sequential(config) => config.input,
            ModelConfig::WideResNet(config) => config.input,
            ModelConfig::PreactResnet18(config) => config.input,
            ModelConfig::TorchvisionResnet(config) => config.input,
            ModelConfig::InceptionV3(config) => config.input,
        }
    }

    /// Builds the model with random weights.
    pub fn init(&self, device: &Device) -> Result<Model> {
        Ok(match self {
            ModelConfig::Mlp(config) => Model::Mlp(config.init(device)?),
            ModelConfig::SmallCnn(config) => Model::SmallCnn(config.init(device)?),
            ModelConfig::CifarResNet(config) => Model::CifarResNet(config.init(device)?),
            ModelConfig::MnistCnn(config) => Model::MnistCnn(config.init(device)?),
            ModelConfig::Sequential(config) => Model::Sequential(config.init(device)?),
            ModelConfig::WideResNet(config) => Model::WideResNet(config.init(device)?),
            ModelConfig::PreactResnet18(config) => Model::PreactResnet18(config.init(device)?),
            ModelConfig::TorchvisionResnet(config) => {
                Model::TorchvisionResnet(config.init(device)?)
            }
            ModelConfig::InceptionV3(config) => Model::InceptionV3(config.init(device)?),
        })
    }
}

/// Any built-in architecture.
// A model is built once per run, so the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Model {
    /// [`Mlp`].
    Mlp(Mlp),
    /// [`SmallCnn`].
    SmallCnn(SmallCnn),
    /// [`CifarResNet`].
    CifarResNet(CifarResNet),
    /// [`MnistCnn`].
    MnistCnn(MnistCnn),
    /// [`Sequential`].
    Sequential(Sequential),
    /// [`WideResNet`].
    WideResNet(WideResNet),
    /// [`PreActResNet18`].
    PreactResnet18(PreActResNet18),
    /// [`TorchvisionResNet`].
    TorchvisionResnet(TorchvisionResNet),
    /// [`InceptionV3`].
    InceptionV3(InceptionV3),
}

impl Model {
    /// Logits `[n, classes]` of images `[n, c, h, w]` in `[0, 1]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            Model::Mlp(model) => model.forward(images),
            Model::SmallCnn(model) => model.forward(images),
            Model::CifarResNet(model) => model.forward(images),
            Model::MnistCnn(model) => model.forward(images),
            Model::Sequential(model) => model.forward(images),
            Model::WideResNet(model) => model.forward(images),
            Model::PreactResnet18(model) => model.forward(images),
            Model::TorchvisionResnet(model) => model.forward(images),
            Model::InceptionV3(model) => model.forward(images),
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

/// Builds `config` and loads the weights at `path` into it, in evaluation mode (batch norms use
/// their running statistics).
///
/// `.safetensors`, `.pt`, `.pth`, `.th`, `.model`, `.bin` and `.ckpt` files are PyTorch state
/// dicts, imported strictly with the architecture's [`key_mapping`](ModelConfig::key_mapping);
/// anything else is a Burn record written by [`save_checkpoint`].
pub fn load_weights(config: &ModelConfig, path: &Path, device: &Device) -> Result<Model> {
    if !path.is_file() {
        return Err(ModelError::checkpoint(path, "no such file"));
    }
    let model = config.init(device)?;
    match WeightFormat::of(path) {
        Ok(WeightFormat::Safetensors | WeightFormat::Pytorch) => {
            load_pytorch(model, path, &config.key_mapping()).map(|model| model.valid())
        }
        _ => model
            .try_load_file(path)
            .map(|model| model.valid())
            .map_err(|e| ModelError::checkpoint(path, e)),
    }
}

/// Writes the weights of `model` (built from `config`) to `path` as a safetensors file with
/// PyTorch's names and layout, which [`load_weights`] and PyTorch's `load_state_dict` both read.
pub fn export_weights(model: &Model, config: &ModelConfig, path: &Path) -> Result<()> {
    export_safetensors(model, path, &config.key_mapping())
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
        // The wide networks as a narrow WRN-16-2, the torchvision ones as ResNet-18 on 32x32
        // images and Inception-v3 on its smallest input, to keep the files small.
        let small = |name: &&&str| {
            !["wrn-", "torchvision-", "inception-"]
                .iter()
                .any(|prefix| name.starts_with(prefix))
        };
        let mut configs: Vec<ModelConfig> = ARCHITECTURES
            .iter()
            .filter(small)
            .chain(&["wrn-16-2"])
            .map(|name| ModelConfig::from_name(name, [1, 8, 8], 10).unwrap())
            .collect();
        configs.push(ModelConfig::from_name("torchvision-resnet18", [1, 32, 32], 10).unwrap());
        configs.push(ModelConfig::from_name("inception-v3", [3, 75, 75], 10).unwrap());
        let described = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/architectures/cifar_cnn_a.json"
        );
        configs.push(ModelConfig::from_file(Path::new(described)).unwrap());
        for config in configs {
            let model = config.init(&device).unwrap();
            let images = Tensor::<4>::ones(
                [2, config.input()[0], config.input()[1], config.input()[2]],
                &device,
            )
            .mul_scalar(0.5);
            let before = to_floats(model.forward(images.clone()));
            save_checkpoint(model, &config, &path).unwrap();
            let (loaded, loaded_config) = load_checkpoint(&path, &device).unwrap();
            assert_eq!(loaded_config, config);
            assert_eq!(
                to_floats(loaded.forward(images)),
                before,
                "{}",
                config.describe()
            );
        }
    }

    #[test]
    fn names_parse_and_impossible_depths_are_errors() {
        let config = ModelConfig::from_name("wrn-34-10", [3, 32, 32], 10).unwrap();
        assert_eq!(config.describe(), "wrn-34-10");
        assert_eq!(
            ModelConfig::from_name("resnet110", [3, 32, 32], 10)
                .unwrap()
                .describe(),
            "resnet110"
        );
        for bad in [
            "wrn-30-10",
            "wrn-28",
            "wrn-x-10",
            "resnet21",
            "resnet",
            "preact-resnet34",
        ] {
            assert!(
                ModelConfig::from_name(bad, [3, 32, 32], 10).is_err(),
                "{bad}"
            );
        }
        let inception = ModelConfig::from_name("inception-v3", [3, 299, 299], 1000).unwrap();
        assert_eq!(inception, ModelConfig::InceptionV3(crate::inception_v3()));
        assert!(matches!(
            ModelConfig::from_name("inception-v3", [1, 299, 299], 10).unwrap(),
            ModelConfig::InceptionV3(InceptionV3Config {
                normalization: None,
                transform_input: false,
                ..
            })
        ));
        // Published normalizations only where the channel count fits.
        let grey = ModelConfig::from_name("resnet20", [1, 32, 32], 10).unwrap();
        assert!(matches!(
            grey,
            ModelConfig::CifarResNet(CifarResNetConfig {
                normalization: None,
                ..
            })
        ));
        assert!(
            config
                .with_normalization(Some(Normalization::new(vec![0.5], vec![0.5]).unwrap()))
                .is_err()
        );
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
            ModelConfig::from_name("inception-v3", [3, 64, 299], 10)
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
