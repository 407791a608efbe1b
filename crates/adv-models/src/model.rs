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
    Centered, CenteredConfig, CifarResNet, CifarResNetConfig, InceptionV3, InceptionV3Config, Mlp,
    MlpConfig, MnistCnn, MnistCnnConfig, ModelError, Normalization, PreActResNet18,
    PreActResNet18Config, Result, Sequential, SequentialConfig, SmallCnn, SmallCnnConfig,
    TorchvisionResNet, TorchvisionResNetConfig, WideResNet, WideResNetConfig,
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
    /// [`Centered`]: any of the others' backbone with a head of class centers.
    Centered(CenteredConfig),
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
            ModelConfig::Centered(config) => {
                *config.backbone = (*config.backbone)
                    .clone()
                    .with_normalization(normalization)?;
            }
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
            ModelConfig::Centered(config) => config.backbone.key_mapping(),
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
            ModelConfig::Centered(config) => config.backbone.name(),
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
            ModelConfig::Centered(config) => {
                let centers = match config.centers {
                    crate::Centers::MaxMahalanobis { radius } => {
                        format!("Max-Mahalanobis centers (C {radius})")
                    }
                    crate::Centers::Random { radius, .. } => format!("random centers (C {radius})"),
                    crate::Centers::Learned { .. } => "learned centers".to_owned(),
                };
                format!("{} with {centers}", config.backbone.describe())
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
            ModelConfig::Centered(config) => config.backbone.input(),
        }
    }

    /// Number of classes: the width of the logits, the output of [`Model::head`].
    pub fn num_classes(&self) -> usize {
        match self {
            ModelConfig::Mlp(config) => config.num_classes,
            ModelConfig::SmallCnn(config) => config.num_classes,
            ModelConfig::CifarResNet(config) => config.num_classes,
            ModelConfig::MnistCnn(config) => config.num_classes,
            ModelConfig::Sequential(config) => config.num_classes,
            ModelConfig::WideResNet(config) => config.num_classes,
            ModelConfig::PreactResnet18(config) => config.num_classes,
            ModelConfig::TorchvisionResnet(config) => config.num_classes,
            ModelConfig::InceptionV3(config) => config.num_classes,
            ModelConfig::Centered(config) => config.backbone.num_classes(),
        }
    }

    /// Width of [`Model::features`], the input of the head, from the configuration alone.
    ///
    /// An error for a described network without a linear layer, which has no features (see
    /// [`SequentialConfig::feature_dim`]), for one whose layers do not chain, and for a
    /// torchvision ResNet of another depth than 18 or 50. The other checks of
    /// [`init`](Self::init) do not change the width and are left to it.
    pub fn feature_dim(&self) -> Result<usize> {
        Ok(match self {
            ModelConfig::Mlp(config) => config.feature_dim(),
            ModelConfig::SmallCnn(config) => config.feature_dim(),
            ModelConfig::CifarResNet(config) => config.feature_dim(),
            ModelConfig::MnistCnn(config) => config.feature_dim(),
            ModelConfig::Sequential(config) => config.feature_dim()?,
            ModelConfig::WideResNet(config) => config.feature_dim(),
            ModelConfig::PreactResnet18(config) => config.feature_dim(),
            ModelConfig::TorchvisionResnet(config) => config.feature_dim()?,
            ModelConfig::InceptionV3(config) => config.feature_dim(),
            ModelConfig::Centered(config) => config.feature_dim()?,
        })
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
            ModelConfig::Centered(config) => Model::Centered(config.init(device)?),
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
    /// [`Centered`].
    Centered(Centered),
}

impl Model {
    /// Logits `[n, classes]` of images `[n, c, h, w]` in `[0, 1]`; the same operations as
    /// `head(features(images))`.
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
            Model::Centered(model) => model.forward(images),
        }
    }

    /// The penultimate representation `[n, feature_dim]` of images `[n, c, h, w]` in
    /// `[0, 1]`: everything [`forward`](Self::forward) does, the model's own input
    /// normalization included, up to the final classification layer, whose input this is
    /// (`feature_dim` is [`ModelConfig::feature_dim`]). What robust-training objectives that
    /// replace the softmax head (Max-Mahalanobis centers, center loss, L-GM) work on.
    ///
    /// - `mlp`: the last hidden layer after its ReLU (the flattened, normalized images when
    ///   there is no hidden layer);
    /// - `small-cnn`: the hidden dense layer after its ReLU;
    /// - `mnist-cnn`: `fc1` after its ReLU (32 values); the head is `fc2` and the batch norm
    ///   on its logits;
    /// - CIFAR ResNets, WideResNets, PreAct-ResNet-18, torchvision ResNets: the last stage
    ///   (after the final batch norm and ReLU in the pre-activation networks), globally
    ///   average-pooled: 64, `64 * widen_factor`, 512, and 512 or 2048 values;
    /// - `inception-v3`: `Mixed_7c` globally average-pooled, the 2048 inputs of `fc` (the
    ///   auxiliary classifier never runs);
    /// - described networks ([`Sequential`]): the input of the last `linear` layer; the head
    ///   is that layer and the layers after it.
    ///
    /// ```
    /// use adv_core::burn::tensor::{Device, Tensor};
    /// use adv_models::ModelConfig;
    ///
    /// let device = Device::default();
    /// let config = ModelConfig::from_name("resnet20", [3, 32, 32], 10)?;
    /// let model = config.init(&device)?;
    /// let images = Tensor::<4>::ones([2, 3, 32, 32], &device).mul_scalar(0.5);
    /// let features = model.features(images.clone());
    /// assert_eq!(features.dims(), [2, config.feature_dim()?]); // [2, 64]
    /// let logits = model.head(features);
    /// assert_eq!(logits.dims(), [2, config.num_classes()]);
    /// assert_eq!(logits.into_data(), model.forward(images).into_data());
    /// # Ok::<(), adv_models::ModelError>(())
    /// ```
    ///
    /// # Panics
    ///
    /// For a described network without a linear layer, which has no features:
    /// [`ModelConfig::feature_dim`] returns that as an error, so ask it first.
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            Model::Mlp(model) => model.features(images),
            Model::SmallCnn(model) => model.features(images),
            Model::CifarResNet(model) => model.features(images),
            Model::MnistCnn(model) => model.features(images),
            Model::Sequential(model) => model.features(images),
            Model::WideResNet(model) => model.features(images),
            Model::PreactResnet18(model) => model.features(images),
            Model::TorchvisionResnet(model) => model.features(images),
            Model::InceptionV3(model) => model.features(images),
            Model::Centered(model) => model.features(images),
        }
    }

    /// The final classification layer: logits `[n, classes]` of features `[n, feature_dim]`,
    /// so that `head(features(x))` is `forward(x)`, bit for bit.
    ///
    /// # Panics
    ///
    /// For a described network without a linear layer, as [`features`](Self::features).
    pub fn head(&self, features: Tensor<2>) -> Tensor<2> {
        match self {
            Model::Mlp(model) => model.head(features),
            Model::SmallCnn(model) => model.head(features),
            Model::CifarResNet(model) => model.head(features),
            Model::MnistCnn(model) => model.head(features),
            Model::Sequential(model) => model.head(features),
            Model::WideResNet(model) => model.head(features),
            Model::PreactResnet18(model) => model.head(features),
            Model::TorchvisionResnet(model) => model.head(features),
            Model::InceptionV3(model) => model.head(features),
            Model::Centered(model) => model.head(features),
        }
    }
}

impl Model {
    /// The class centers `[classes, feature_dim]` of a network with a center head.
    pub fn centers(&self) -> Option<Tensor<2>> {
        match self {
            Model::Centered(model) => Some(model.centers()),
            _ => None,
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
    save_trained_checkpoint(model, config, None, path)
}

/// The key of a sidecar that holds the record of how the model was trained.
const TRAINING_KEY: &str = "training";

/// [`save_checkpoint`], with `training` (the settings and history of the run that trained the
/// model) recorded in the sidecar beside the architecture, under `"training"`.
pub fn save_trained_checkpoint(
    model: Model,
    config: &ModelConfig,
    training: Option<&serde_json::Value>,
    path: &Path,
) -> Result<()> {
    if WeightFormat::of(path)? != WeightFormat::Burn {
        return Err(ModelError::checkpoint(
            path,
            "a checkpoint is a Burn record: its name must end in .bpk (its architecture goes \
             into the .json beside it)",
        ));
    }
    let sidecar = sidecar_path(path);
    let mut value =
        serde_json::to_value(config).map_err(|e| ModelError::checkpoint(&sidecar, e))?;
    if let (Some(training), Some(object)) = (training, value.as_object_mut()) {
        object.insert(TRAINING_KEY.into(), training.clone());
    }
    let json =
        serde_json::to_string_pretty(&value).map_err(|e| ModelError::checkpoint(&sidecar, e))?;
    // Both files written under temporary names beside their places and renamed, the weights
    // last: a kill or a full disk never leaves a truncated checkpoint, nor truncates an
    // earlier one.
    let partial = path.with_extension(format!("{}.partial.bpk", std::process::id()));
    let partial_sidecar = sidecar_path(&partial);
    let result = std::fs::write(&partial_sidecar, json)
        .map_err(|e| ModelError::checkpoint(&sidecar, e))
        .and_then(|()| {
            model
                .save_file(&partial)
                .map_err(|e| ModelError::checkpoint(path, e))
        })
        .and_then(|()| {
            std::fs::rename(&partial_sidecar, &sidecar)
                .map_err(|e| ModelError::checkpoint(&sidecar, e))
        })
        .and_then(|()| {
            std::fs::rename(&partial, path).map_err(|e| ModelError::checkpoint(path, e))
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
        let _ = std::fs::remove_file(&partial_sidecar);
    }
    result
}

fn read_sidecar(path: &Path) -> Result<serde_json::Value> {
    let sidecar = sidecar_path(path);
    let text = std::fs::read_to_string(&sidecar).map_err(|e| {
        ModelError::checkpoint(
            &sidecar,
            format!("cannot read the architecture sidecar: {e}"),
        )
    })?;
    serde_json::from_str(&text).map_err(|e| ModelError::checkpoint(&sidecar, e))
}

/// Reads the architecture of a checkpoint from its JSON sidecar.
pub fn read_checkpoint_config(path: &Path) -> Result<ModelConfig> {
    let mut value = read_sidecar(path)?;
    if let Some(object) = value.as_object_mut() {
        object.remove(TRAINING_KEY);
    }
    serde_json::from_value(value).map_err(|e| ModelError::checkpoint(sidecar_path(path), e))
}

/// The training record of a checkpoint's sidecar, if the model was trained by this project.
pub fn read_checkpoint_training(path: &Path) -> Result<Option<serde_json::Value>> {
    Ok(read_sidecar(path)?.get(TRAINING_KEY).cloned())
}

/// Builds `config` and loads the weights at `path` into it, in evaluation mode (batch norms use
/// their running statistics).
///
/// `.safetensors`, `.pt`, `.pth`, `.th`, `.model`, `.bin` and `.ckpt` files are PyTorch state
/// dicts, imported strictly with the architecture's [`key_mapping`](ModelConfig::key_mapping);
/// anything else is a Burn record written by [`save_checkpoint`].
pub fn load_weights(config: &ModelConfig, path: &Path, device: &Device) -> Result<Model> {
    crate::weights::check_readable(path)?;
    let format = WeightFormat::of(path)?;
    let model = config.init(device)?;
    match format {
        WeightFormat::Safetensors | WeightFormat::Pytorch => {
            load_pytorch(model, path, &config.key_mapping()).map(|model| model.valid())
        }
        WeightFormat::Burn => model
            .try_load_file(path)
            .map(|model| model.valid())
            .map_err(|e| {
                ModelError::checkpoint(path, format!("not a Burn record of this architecture: {e}"))
            }),
    }
}

/// The class count the PyTorch weights file `path` was saved with for the built-in
/// architecture `name` on images of shape `input`, read from the tensors whose shape follows
/// the class count (the head); `None` when the file does not say (a Burn record, or no such
/// tensor). Data whose labels stop short of the model's last class then still loads.
pub fn classes_in_weights(
    name: &str,
    input: [usize; 3],
    path: &Path,
    device: &Device,
) -> Result<Option<usize>> {
    if WeightFormat::of(path)? == WeightFormat::Burn {
        return Ok(None);
    }
    let two = ModelConfig::from_name(name, input, 2)?;
    let three = ModelConfig::from_name(name, input, 3)?;
    crate::weights::class_count_in_file(
        &two.init(device)?,
        &three.init(device)?,
        path,
        &two.key_mapping(),
    )
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
    use crate::INCEPTION_MIN_SIZE;
    use adv_core::to_floats;
    use burn::tensor::Distribution;

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

    /// The bits of every value of `tensor`, so that comparisons are exact (and `-0.0` differs).
    fn bits<const D: usize>(tensor: Tensor<D>) -> Vec<u32> {
        to_floats(tensor).iter().map(|v| v.to_bits()).collect()
    }

    /// `features` has `[n, feature_dim]` values, all of them ReLU outputs (so non-negative,
    /// which logits are not), `head(features)` is `forward` bit for bit and has
    /// `num_classes` logits.
    fn check_backbone_and_head(config: &ModelConfig, device: &Device) {
        let name = config.describe();
        let model = config.init(device).unwrap();
        let [c, h, w] = config.input();
        let images = Tensor::<4>::random([2, c, h, w], Distribution::Default, device);
        let features = model.features(images.clone());
        assert_eq!(
            features.dims(),
            [2, config.feature_dim().unwrap()],
            "{name}"
        );
        let values = to_floats(features.clone());
        assert!(values.iter().all(|v| *v >= 0.0), "{name}: {values:?}");
        assert!(values.iter().any(|v| *v > 0.0), "{name}: all zero");
        let logits = model.forward(images);
        assert_eq!(logits.dims(), [2, config.num_classes()], "{name}");
        assert_eq!(bits(model.head(features)), bits(logits), "{name}");
    }

    #[test]
    fn every_architecture_is_a_backbone_and_a_head() {
        let device = Device::default();
        for name in ARCHITECTURES {
            // The smallest usual input of each: CIFAR images, MNIST digits, and the smallest
            // images Inception-v3 and the torchvision ResNets accept.
            let input = match name {
                "mnist-cnn" => [1, 28, 28],
                "inception-v3" => [3, INCEPTION_MIN_SIZE, INCEPTION_MIN_SIZE],
                _ => [3, 32, 32],
            };
            let config = ModelConfig::from_name(name, input, 7).unwrap();
            check_backbone_and_head(&config, &device);
        }
        let described = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/architectures/cifar_cnn_a.json"
        );
        let config = ModelConfig::from_file(Path::new(described)).unwrap();
        assert_eq!(
            (config.feature_dim().unwrap(), config.num_classes()),
            (100, 10)
        );
        check_backbone_and_head(&config, &device);
    }

    #[test]
    fn feature_dims_follow_the_configuration() {
        let dim = |name: &str, input| {
            ModelConfig::from_name(name, input, 10)
                .unwrap()
                .feature_dim()
                .unwrap()
        };
        assert_eq!(dim("wrn-16-2", [3, 32, 32]), 128);
        assert_eq!(dim("torchvision-resnet50", [3, 224, 224]), 2048);
        assert_eq!(dim("inception-v3", [3, 299, 299]), 2048);
        let no_hidden = ModelConfig::Mlp(MlpConfig {
            hidden: vec![],
            ..MlpConfig::new([2, 3, 4], 5)
        });
        assert_eq!(
            (no_hidden.feature_dim().unwrap(), no_hidden.num_classes()),
            (24, 5)
        );
        check_backbone_and_head(&no_hidden, &Device::default());
        let depth_34 = ModelConfig::TorchvisionResnet(TorchvisionResNetConfig::new(34));
        assert!(matches!(
            depth_34.feature_dim(),
            Err(ModelError::InvalidConfig(_))
        ));
    }

    #[test]
    fn a_described_network_ending_in_a_convolution_has_no_features() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("all-conv.json");
        std::fs::write(
            &path,
            r#"{
              "input": [1, 8, 8],
              "num_classes": 3,
              "layers": [
                { "type": "conv2d", "in_channels": 1, "out_channels": 4, "kernel_size": 3, "padding": 1 },
                { "type": "relu" },
                { "type": "conv2d", "in_channels": 4, "out_channels": 3, "kernel_size": 8 },
                { "type": "flatten" }
              ]
            }"#,
        )
        .unwrap();
        // It still classifies: only its features are undefined.
        let config = ModelConfig::from_file(&path).unwrap();
        assert_eq!(config.num_classes(), 3);
        let device = Device::default();
        let model = config.init(&device).unwrap();
        assert_eq!(
            model
                .forward(Tensor::<4>::ones([2, 1, 8, 8], &device))
                .dims(),
            [2, 3]
        );
        let error = config.feature_dim().unwrap_err();
        assert!(matches!(error, ModelError::InvalidConfig(_)), "{error}");
        let message = error.to_string();
        assert!(
            message.contains("linear layer") && message.contains("layer 2 (Conv2d"),
            "{message}"
        );
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
