//! Classifier architectures for robustness evaluation, and their checkpoints.
//!
//! Every model takes images in `[0, 1]` and normalizes them itself, so attacks always work in
//! input space. Models implement [`adv_core::Classifier`].
//!
//! Built-in architectures: [`Mlp`], [`SmallCnn`], the CIFAR ResNets of He et al. 2016
//! ([`resnet20`] ... [`resnet110`], akamaster layout), the MNIST CNN of Burn's weight-import
//! example ([`MnistCnn`]), WideResNets ([`wrn_28_10`], [`wrn_34_10`]) and PreAct-ResNet-18
//! ([`preact_resnet18`]) in the RobustBench layout, ResNet-18/50 in torchvision's layout
//! ([`resnet18`], [`resnet50`]), Inception-v3 in torchvision's layout ([`inception_v3`]), and
//! small networks described by a JSON/TOML file ([`Sequential`]). [`Ensemble`] averages several models' logits or probabilities.
//! PyTorch weights load through [`load_weights`]; the key mapping is documented in [`weights`].
//!
//! ```
//! use adv_models::ModelConfig;
//! let device = adv_core::burn::tensor::Device::default();
//! let model = ModelConfig::from_name("small-cnn", [1, 8, 8], 10).unwrap().init(&device).unwrap();
//! ```
#![warn(missing_docs)]

mod centers;
mod ensemble;
mod error;
mod inception;
mod layers;
mod mlp;
mod mnist_cnn;
mod model;
mod normalization;
mod preact_resnet;
mod resnet_cifar;
mod resnet_imagenet;
mod sequential;
mod small_cnn;
pub mod weights;
mod wide_resnet;

pub use centers::{CenterLogits, Centered, CenteredConfig, Centers, max_mahalanobis_centers};
pub use ensemble::{Combine, Ensemble};
pub use error::{ModelError, Result};
pub use inception::{
    INCEPTION_MIN_SIZE, InceptionA, InceptionAux, InceptionB, InceptionC, InceptionD, InceptionE,
    InceptionV3, InceptionV3Config, inception_v3, inception_v3_key_mapping,
};
pub use layers::ConvBn;
pub use mlp::{Mlp, MlpConfig};
pub use mnist_cnn::{MnistCnn, MnistCnnConfig, mnist_normalization};
pub use model::{
    ARCHITECTURES, Model, ModelConfig, classes_in_weights, export_weights, load_checkpoint,
    load_weights, read_checkpoint_config, read_checkpoint_training, save_checkpoint,
    save_trained_checkpoint, sidecar_path,
};
pub use normalization::Normalization;
pub use preact_resnet::{
    PreActBlock, PreActResNet18, PreActResNet18Config, preact_resnet_key_mapping, preact_resnet18,
};
pub use resnet_cifar::{
    BasicBlock, CifarResNet, CifarResNetConfig, akamaster_normalization, resnet20, resnet32,
    resnet44, resnet56, resnet110,
};
pub use resnet_imagenet::{
    Block, TorchvisionResNet, TorchvisionResNetConfig, imagenet_normalization, resnet18, resnet50,
    torchvision_resnet_key_mapping,
};
pub use sequential::{LayerSpec, Sequential, SequentialConfig};
pub use small_cnn::{SmallCnn, SmallCnnConfig};
pub use wide_resnet::{
    NetworkBlock, WideBlock, WideResNet, WideResNetConfig, wide_resnet_key_mapping, wrn_28_10,
    wrn_34_10,
};
