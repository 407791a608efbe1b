//! Any architecture's backbone with a head of class centers instead of its linear layer: the
//! Max-Mahalanobis centers of MMC and MMLDA (Pang, Du & Zhu, ICML 2018; Pang, Xu, Dong, Du,
//! Chen & Zhu, ICLR 2020), random centers, or learned means (L-GM, center loss).
//!
//! The logits are `-||z - mu_k||^2` (nearest-center prediction), `-||z - mu_k||^2 / 2` (L-GM's
//! Gaussian log-likelihoods), or the backbone's own linear head with the centers beside it for a
//! loss only (center loss).
//!
//! Between the backbone and the centers there may be a dense layer (`embedding`): the MMC
//! reference feeds its centers a 256-dimensional linear feature, not the backbone's last
//! activation. Features taken after a ReLU are non-negative and cannot reach the negative
//! coordinates of the Max-Mahalanobis simplex.

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::{Model, ModelConfig, ModelError, Result};

/// Where the centers come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Centers {
    /// The Max-Mahalanobis centers: a regular simplex of norm `radius` (fixed).
    MaxMahalanobis {
        /// `C_MM`, the norm of every center.
        radius: f32,
    },
    /// Centers drawn uniformly on the sphere of norm `radius` (fixed): the MMC paper's
    /// random-center baseline.
    Random {
        /// The norm of every center.
        radius: f32,
        /// The draw.
        seed: u64,
    },
    /// Means learned with the network, starting from a Gaussian draw of scale `scale`.
    Learned {
        /// Standard deviation of the initial means.
        scale: f32,
        /// The draw.
        seed: u64,
    },
}

/// What the logits are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CenterLogits {
    /// `-||z - mu_k||^2`: prediction by the nearest center (MMC, MMLDA).
    NegativeSquaredDistance,
    /// `-||z - mu_k||^2 / 2`: Gaussian log-likelihoods of identity covariance (L-GM).
    HalfNegativeSquaredDistance,
    /// The backbone's own linear head; the centers serve a loss only (center loss).
    BackboneHead,
}

/// A backbone with class centers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CenteredConfig {
    /// The architecture whose features are used.
    pub backbone: Box<ModelConfig>,
    /// The centers.
    pub centers: Centers,
    /// The logits.
    pub logits: CenterLogits,
    /// A dense layer from the backbone's features to this many dimensions before the centers;
    /// `None`: the backbone's features as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<usize>,
}

/// The unit Max-Mahalanobis centers `[classes, dim]` (`dim >= classes`): unit vectors with
/// pairwise inner products `-1 / (classes - 1)`, by the recursion of Pang, Du & Zhu 2018
/// (Algorithm 1; `craft_MMcenters.m` of their code).
pub fn max_mahalanobis_centers(classes: usize, dim: usize) -> Result<Vec<Vec<f64>>> {
    if classes < 2 || dim < classes {
        return Err(ModelError::InvalidConfig(format!(
            "Max-Mahalanobis centers need at least 2 classes and a feature dimension at least the \
             class count (got {classes} classes, dimension {dim})"
        )));
    }
    let off = -1.0 / (classes as f64 - 1.0);
    let mut u = vec![vec![0.0f64; dim]; classes];
    u[0][0] = 1.0;
    for i in 1..classes {
        for j in 0..i {
            let dot: f64 = (0..j).map(|k| u[i][k] * u[j][k]).sum();
            u[i][j] = (off - dot) / u[j][j];
        }
        let norm: f64 = u[i].iter().map(|v| v * v).sum();
        u[i][i] = (1.0 - norm).abs().sqrt();
    }
    Ok(u)
}

impl CenteredConfig {
    /// The dimension of the features the centers live in: the embedding's, or the backbone's.
    pub fn feature_dim(&self) -> Result<usize> {
        match self.embedding {
            Some(dim) => Ok(dim),
            None => self.backbone.feature_dim(),
        }
    }

    /// The initial (or fixed) centers `[classes, dim]`.
    fn centers(&self) -> Result<Vec<f32>> {
        let classes = self.backbone.num_classes();
        let dim = self.feature_dim()?;
        let sphere = |radius: f32, seed: u64| -> Vec<f32> {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..classes)
                .flat_map(|_| {
                    let draw: Vec<f32> =
                        (0..dim).map(|_| StandardNormal.sample(&mut rng)).collect();
                    let norm = draw.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
                    draw.into_iter().map(move |v| radius * v / norm)
                })
                .collect()
        };
        Ok(match &self.centers {
            Centers::MaxMahalanobis { radius } => max_mahalanobis_centers(classes, dim)?
                .into_iter()
                .flat_map(|row| row.into_iter().map(|v| (v * f64::from(*radius)) as f32))
                .collect(),
            Centers::Random { radius, seed } => sphere(*radius, *seed),
            Centers::Learned { scale, seed } => {
                let mut rng = StdRng::seed_from_u64(*seed);
                (0..classes * dim)
                    .map(|_| {
                        let draw: f32 = StandardNormal.sample(&mut rng);
                        scale * draw
                    })
                    .collect::<Vec<f32>>()
            }
        })
    }

    /// Checks the settings.
    pub fn check(&self) -> Result<()> {
        let radius = match &self.centers {
            Centers::MaxMahalanobis { radius } | Centers::Random { radius, .. } => *radius,
            Centers::Learned { scale, .. } => *scale,
        };
        if !(radius.is_finite() && radius > 0.0) {
            return Err(ModelError::InvalidConfig(format!(
                "the centers' norm or scale {radius} must be finite and positive"
            )));
        }
        match (self.embedding, self.logits) {
            (Some(0), _) => {
                return Err(ModelError::InvalidConfig(
                    "the embedding before the centers needs at least one dimension".into(),
                ));
            }
            (Some(_), CenterLogits::BackboneHead) => {
                return Err(ModelError::InvalidConfig(
                    "an embedding before the centers cannot feed the backbone's own head".into(),
                ));
            }
            _ => {}
        }
        self.centers().map(|_| ())
    }

    /// Builds the network (the backbone with random weights).
    pub fn init(&self, device: &Device) -> Result<Centered> {
        self.check()?;
        let backbone = self.backbone.init(device)?;
        let embed = match self.embedding {
            Some(dim) => Some(LinearConfig::new(self.backbone.feature_dim()?, dim).init(device)),
            None => None,
        };
        let classes = self.backbone.num_classes();
        let dim = self.feature_dim()?;
        let values =
            Tensor::<2>::from_data(TensorData::new(self.centers()?, [classes, dim]), device);
        let (fixed, learned) = match self.centers {
            Centers::Learned { .. } => (None, Some(Param::from_tensor(values))),
            _ => (Some(values), None),
        };
        Ok(Centered {
            backbone: vec![backbone],
            embed,
            fixed,
            learned,
            logits: self.logits,
        })
    }
}

/// A backbone with class centers (see [`CenteredConfig`]).
#[derive(Module, Debug)]
pub struct Centered {
    /// The backbone (exactly one: `Module` is not implemented for `Box`).
    backbone: Vec<Model>,
    /// The dense layer between the backbone's features and the centers, if any.
    embed: Option<Linear>,
    /// Fixed centers `[classes, dim]`, rebuilt from the configuration, never trained.
    fixed: Option<Tensor<2>>,
    /// Learned centers `[classes, dim]`.
    learned: Option<Param<Tensor<2>>>,
    #[module(skip)]
    logits: CenterLogits,
}

impl Centered {
    fn backbone(&self) -> &Model {
        &self.backbone[0]
    }

    /// The centers `[classes, dim]`.
    pub fn centers(&self) -> Tensor<2> {
        match (&self.fixed, &self.learned) {
            (Some(fixed), _) => fixed.clone(),
            (None, Some(learned)) => learned.val(),
            (None, None) => unreachable!("a Centered network holds its centers"),
        }
    }

    /// The features the centers live in `[n, dim]`: the backbone's, through the embedding if
    /// there is one.
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        let features = self.backbone().features(images);
        match &self.embed {
            Some(embed) => embed.forward(features),
            None => features,
        }
    }

    /// `||z_i - mu_k||^2` for every sample and center, `[n, classes]`.
    pub fn squared_distances(&self, features: Tensor<2>) -> Tensor<2> {
        let [n, dim] = features.dims();
        let centers = self.centers();
        let classes = centers.dims()[0];
        let difference = features.reshape([n, 1, dim]).expand([n, classes, dim])
            - centers.reshape([1, classes, dim]).expand([n, classes, dim]);
        difference.square().sum_dim(2).reshape([n, classes])
    }

    /// The logits from the features.
    pub fn head(&self, features: Tensor<2>) -> Tensor<2> {
        match self.logits {
            CenterLogits::NegativeSquaredDistance => self.squared_distances(features).neg(),
            CenterLogits::HalfNegativeSquaredDistance => {
                self.squared_distances(features).mul_scalar(-0.5)
            }
            CenterLogits::BackboneHead => self.backbone().head(features),
        }
    }

    /// Logits `[n, classes]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.head(self.features(images))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use adv_core::to_floats;

    #[test]
    fn max_mahalanobis_centers_are_a_regular_simplex() {
        let (classes, dim) = (10, 12);
        let u = max_mahalanobis_centers(classes, dim).unwrap();
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        for i in 0..classes {
            assert!((dot(&u[i], &u[i]) - 1.0).abs() < 1e-9, "unit norm");
            for j in 0..i {
                assert!(
                    (dot(&u[i], &u[j]) + 1.0 / 9.0).abs() < 1e-9,
                    "inner product -1/(L-1)"
                );
            }
        }
        for k in 0..dim {
            assert!(
                u.iter().map(|row| row[k]).sum::<f64>().abs() < 1e-9,
                "the centers sum to 0"
            );
        }
        // The reference's first entries for L = 10, and the last center's L-th entry is 0.
        assert!((u[1][0] + 0.1111).abs() < 1e-4 && (u[1][1] - 0.9938).abs() < 1e-4);
        assert!((u[2][0] + 0.1111).abs() < 1e-4 && (u[2][1] + 0.1242).abs() < 1e-4);
        assert!((u[2][2] - 0.9860).abs() < 1e-4);
        assert!(u[9][9].abs() < 1e-6);
        assert!(max_mahalanobis_centers(10, 9).is_err());
    }

    fn config(centers: Centers, logits: CenterLogits) -> CenteredConfig {
        CenteredConfig {
            backbone: Box::new(ModelConfig::from_name("mlp", [1, 4, 4], 4).unwrap()),
            centers,
            logits,
            embedding: None,
        }
    }

    #[test]
    fn scaled_centers_have_norm_c_and_the_nearest_center_wins() {
        let device = Device::default();
        let model = config(
            Centers::MaxMahalanobis { radius: 10.0 },
            CenterLogits::NegativeSquaredDistance,
        )
        .init(&device)
        .unwrap();
        let centers = model.centers();
        let [classes, dim] = centers.dims();
        let values = to_floats(centers.clone());
        for k in 0..classes {
            let row = &values[k * dim..(k + 1) * dim];
            assert!((row.iter().map(|v| v * v).sum::<f32>().sqrt() - 10.0).abs() < 1e-4);
        }
        // At a center the distance to it is 0, its logit the largest.
        let logits = to_floats(model.head(centers.clone()));
        for k in 0..classes {
            let row = &logits[k * classes..(k + 1) * classes];
            assert!(row[k].abs() < 1e-3);
            assert!(row.iter().enumerate().all(|(j, &v)| j == k || v < row[k]));
        }
        let half = config(
            Centers::MaxMahalanobis { radius: 10.0 },
            CenterLogits::HalfNegativeSquaredDistance,
        )
        .init(&device)
        .unwrap();
        let full = to_floats(model.head(centers.clone().mul_scalar(0.5)));
        let halved = to_floats(half.head(centers.mul_scalar(0.5)));
        assert!(
            full.iter()
                .zip(&halved)
                .all(|(f, h)| (f - 2.0 * h).abs() < 1e-3)
        );
        assert!(
            config(
                Centers::Random {
                    radius: 0.0,
                    seed: 1
                },
                CenterLogits::NegativeSquaredDistance
            )
            .check()
            .is_err()
        );
    }

    #[test]
    fn learned_centers_round_trip_through_a_checkpoint() {
        let device = Device::default();
        let architecture = ModelConfig::Centered(config(
            Centers::Learned {
                scale: 1.0,
                seed: 3,
            },
            CenterLogits::HalfNegativeSquaredDistance,
        ));
        let model = architecture.init(&device).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("centered.bpk");
        let centers = to_floats(model.centers().unwrap());
        crate::save_checkpoint(model, &architecture, &path).unwrap();
        let (loaded, config) = crate::load_checkpoint(&path, &device).unwrap();
        assert_eq!(config, architecture);
        assert_eq!(to_floats(loaded.centers().unwrap()), centers);
    }

    #[test]
    fn an_embedding_gives_signed_features_of_its_dimension_and_round_trips() {
        let device = Device::default();
        let mut centered = config(
            Centers::MaxMahalanobis { radius: 10.0 },
            CenterLogits::NegativeSquaredDistance,
        );
        centered.embedding = Some(6);
        assert_eq!(centered.feature_dim().unwrap(), 6);
        let architecture = ModelConfig::Centered(centered.clone());
        let model = architecture.init(&device).unwrap();
        let images = Tensor::<4>::from_data(
            TensorData::new((0..32).map(|v| v as f32 / 32.0).collect(), [2, 1, 4, 4]),
            &device,
        );
        let features = model.features(images.clone());
        assert_eq!(features.dims(), [2, 6]);
        let values = to_floats(features);
        // A linear layer after the backbone's ReLU reaches negative coordinates (the simplex's).
        assert!(values.iter().any(|&v| v < 0.0), "{values:?}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("embedded.bpk");
        let logits = to_floats(model.forward(images.clone()));
        crate::save_checkpoint(model, &architecture, &path).unwrap();
        let (loaded, loaded_config) = crate::load_checkpoint(&path, &device).unwrap();
        assert_eq!(loaded_config, architecture);
        assert_eq!(to_floats(loaded.forward(images)), logits);
        // A configuration written before the embedding existed reads as none.
        let mut json = serde_json::to_value(&centered).unwrap();
        json.as_object_mut().unwrap().remove("embedding");
        let old: CenteredConfig = serde_json::from_value(json).unwrap();
        assert_eq!(old.embedding, None);
        centered.embedding = Some(0);
        assert!(centered.check().is_err());
        centered.embedding = Some(4);
        centered.logits = CenterLogits::BackboneHead;
        assert!(centered.check().is_err());
    }
}
