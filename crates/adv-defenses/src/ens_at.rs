//! Ensemble adversarial training: half the loss on clean examples, half on FGSM examples whose
//! source is drawn per batch among the model being trained and static, pre-trained surrogates,
//! so that the model also learns from perturbations it did not make itself. Tramèr, Kurakin,
//! Papernot, Goodfellow, Boneh & McDaniel, "Ensemble Adversarial Training: Attacks and
//! Defenses", ICLR 2018.
//!
//! As the reference MNIST code (ftramer/ensemble-adv-training, `train_adv.py`, `tf_utils.py`):
//! FGSM of epsilon 0.3 without random start, the source drawn uniformly at random for each
//! batch among the surrogates and the current model, the gradient taken on the source's own
//! predicted labels (to avoid label leaking), and the loss `0.5 CE(clean) + 0.5 CE(adv)`. The
//! surrogates are checkpoints (`X.bpk` beside its `X.json`) for the same input and classes,
//! listed with `+`: `ens-at:surrogates=a.bpk+b.bpk`; they stay frozen (running statistics, no
//! update).
//!
//! ```
//! use adv_defenses::ObjectiveConfig;
//! let ens_at = ObjectiveConfig::parse("ens-at:surrogates=a.bpk+b.bpk,eps=0.1").unwrap();
//! ```

use std::path::PathBuf;

use adv_attacks::{AttackConfig, StepSize};
use adv_core::burn::module::Module;
use adv_core::{Batch, Norm, Setting};
use adv_models::{Model, ModelConfig};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::crafting::{BnMode, Crafter};
use crate::objective::configure;
use crate::{
    DefenseError, Objective, ObjectiveInfo, Result, StepContext, StepLoss, smoothed_cross_entropy,
};

/// Checkpoints of static surrogate models, written `a.bpk+b.bpk` (`none` for none).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Surrogates(pub Vec<PathBuf>);

impl std::str::FromStr for Surrogates {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let text = text.trim();
        if text == "none" {
            return Ok(Self::default());
        }
        let paths: Vec<PathBuf> = text.split('+').map(|path| PathBuf::from(path.trim())).collect();
        if paths.iter().any(|path| path.as_os_str().is_empty()) {
            return Err(format!("'{text}' has an empty path (write a.bpk+b.bpk)"));
        }
        Ok(Self(paths))
    }
}

impl std::fmt::Display for Surrogates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let paths: Vec<String> = self.0.iter().map(|path| path.display().to_string()).collect();
        f.write_str(&paths.join("+"))
    }
}

adv_core::text_option!(Surrogates, "PATH+PATH...");

adv_core::options! {
    /// Configuration of [`EnsAt`].
    pub struct EnsAtConfig {
        /// Checkpoints of the static surrogate models, joined by `+`.
        surrogates: Surrogates [Domain::Any, Label::Changed] = Surrogates::default(),
        /// Radius of the training examples.
        eps: f32 [Domain::Positive, Label::Value] = 0.3,
        /// Norm of the radius.
        norm: Norm [Domain::Any, Label::Changed] = Norm::Linf,
        /// Attack steps (1: FGSM).
        steps: usize [Domain::AtLeast(1.0), Label::Changed] = 1,
        /// Step length (a multiple of epsilon, or absolute).
        step_size: StepSize [Domain::Any, Label::Changed] = StepSize::Relative(1.0),
        /// Start at a uniformly random point of the ball.
        random_start: bool [Domain::Any, Label::Changed] = false,
        /// Take the source's gradient on its own predicted labels instead of the true ones.
        predicted_labels: bool [Domain::Any, Label::Changed] = true,
        /// Weight of the adversarial loss; 1 - mix goes to the clean loss.
        mix: f32 [Domain::Unit, Label::Changed] = 0.5,
        /// Batch statistics of the trained model while it crafts: eval or train.
        bn: BnMode [Domain::Any, Label::Changed] = BnMode::Eval,
    }
}

/// Ensemble adversarial training.
pub struct EnsAt {
    paths: Vec<PathBuf>,
    /// The surrogates, loaded on the training device at the first step.
    surrogates: Vec<Model>,
    own: Crafter,
    frozen: Crafter,
    predicted_labels: bool,
    mix: f32,
}

impl EnsAtConfig {
    /// The objective, or an error if the configuration is invalid. The surrogates are read
    /// when the training starts.
    pub fn init(&self) -> Result<EnsAt> {
        let attack = AttackConfig::new(
            "pgd",
            &[
                Setting::new("steps", self.steps.to_string()),
                Setting::new("step-size", self.step_size.to_string()),
                Setting::new("random-start", self.random_start.to_string()),
            ],
        )?;
        Ok(EnsAt {
            paths: self.surrogates.0.clone(),
            surrogates: Vec::new(),
            own: Crafter::new(&attack, self.norm, self.eps, false, self.bn)?,
            frozen: Crafter::new(&attack, self.norm, self.eps, false, BnMode::Eval)?,
            predicted_labels: self.predicted_labels,
            mix: self.mix,
        })
    }
}

pub(crate) static INFO: ObjectiveInfo = ObjectiveInfo {
    name: "ens-at",
    aliases: &["ensemble-at"],
    paper: "Tramèr et al., ICLR 2018",
    config: adv_core::ConfigFns::of::<EnsAtConfig>(),
    build: |settings| Ok(Box::new(configure::<EnsAtConfig>("ens-at", settings)?.init()?)),
};

pub(crate) const OBJECTIVES: &[&ObjectiveInfo] = &[&INFO];

impl EnsAt {
    /// The source of this step's examples: 0 is the trained model, `k` the `k`-th surrogate.
    fn source(&self, step: &StepContext) -> usize {
        let mut rng = StdRng::seed_from_u64(step.step_seed() ^ 0x454E_535F_4154);
        rng.random_range(0..=self.paths.len())
    }
}

impl Objective for EnsAt {
    fn info(&self) -> &'static ObjectiveInfo {
        &INFO
    }

    /// The architecture asked for, once every surrogate is found to take its input and predict
    /// its classes.
    fn architecture(&self, base: &ModelConfig) -> Result<ModelConfig> {
        if self.paths.is_empty() {
            return Err(DefenseError::InvalidConfig(
                "ens-at needs surrogates=A.bpk+B.bpk (checkpoints of pre-trained models)".into(),
            ));
        }
        for path in &self.paths {
            let config = adv_models::read_checkpoint_config(path)?;
            if config.input() != base.input() || config.num_classes() != base.num_classes() {
                return Err(DefenseError::InvalidConfig(format!(
                    "surrogate {} takes {:?} inputs with {} classes, the trained model {:?} with {}",
                    path.display(),
                    config.input(),
                    config.num_classes(),
                    base.input(),
                    base.num_classes()
                )));
            }
        }
        Ok(base.clone())
    }

    fn radius(&self) -> Option<(Norm, f32)> {
        Some(self.own.radius())
    }

    fn loss(&mut self, model: &Model, batch: &Batch, step: &StepContext) -> Result<StepLoss> {
        if self.surrogates.len() < self.paths.len() {
            self.surrogates = self
                .paths
                .iter()
                .map(|path| Ok(adv_models::load_checkpoint(path, step.device)?.0))
                .collect::<Result<_>>()?;
        }
        let source = self.source(step);
        let (crafter, source_model) = match source {
            0 => (&self.own, model),
            k => (&self.frozen, &self.surrogates[k - 1]),
        };
        let inner = if self.predicted_labels {
            let logits = source_model.valid().forward(batch.images.clone().without_autodiff());
            let [n, _] = logits.dims();
            Batch {
                images: batch.images.clone(),
                labels: logits.argmax(1).reshape([n]),
                ids: batch.ids.clone(),
            }
        } else {
            Batch {
                images: batch.images.clone(),
                labels: batch.labels.clone(),
                ids: batch.ids.clone(),
            }
        };
        let adversarial = crafter.craft(source_model, &inner, step)?;
        let logits = model.forward(adversarial);
        let smoothing = step.label_smoothing;
        let clean = model.forward(batch.images.clone());
        let loss = smoothed_cross_entropy(logits.clone(), batch.labels.clone(), smoothing)
            .mul_scalar(self.mix)
            + smoothed_cross_entropy(clean, batch.labels.clone(), smoothing)
                .mul_scalar(1.0 - self.mix);
        Ok(StepLoss { loss, logits })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use adv_core::burn::tensor::{Device, Tensor};
    use adv_core::to_floats;

    fn context(device: &Device, step: usize) -> StepContext<'_> {
        StepContext {
            epoch: 0,
            epochs: 1,
            step,
            seed: 7,
            device,
            eps_scale: 1.0,
            label_smoothing: 0.0,
        }
    }

    /// FGSM by hand: `clip(x + eps sign grad CE(source(x), argmax source(x)), 0, 1)`.
    fn fgsm(source: &Model, images: Tensor<4>, eps: f32) -> Tensor<4> {
        let x = images.without_autodiff().autodiff().require_grad();
        let logits = source.forward(x.clone());
        let [n, _] = logits.dims();
        let predicted = logits.clone().argmax(1).reshape([n]);
        let grads = crate::smoothed_cross_entropy(logits, predicted, 0.0).backward();
        let grad = x.grad(&grads).unwrap();
        (x.without_autodiff() + grad.sign().mul_scalar(eps)).clamp(0.0, 1.0)
    }

    /// The step's examples are the FGSM examples of its source, on the source's predicted
    /// labels, whether the source is a surrogate or the trained model itself; the loss is half
    /// clean, half adversarial.
    #[test]
    fn examples_are_fgsm_of_the_drawn_source() {
        let device = Device::default().autodiff();
        let data = adv_core::data::embedded_digits().take(16);
        let architecture = ModelConfig::from_name("mlp", data.shape(), 10).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("surrogate.bpk");
        adv_models::save_checkpoint(architecture.init(&device).unwrap(), &architecture, &path)
            .unwrap();
        let mut objective = EnsAtConfig {
            surrogates: Surrogates(vec![path.clone()]),
            eps: 0.2,
            ..EnsAtConfig::default()
        }
        .init()
        .unwrap();
        assert_eq!(objective.architecture(&architecture).unwrap(), architecture);
        let model = architecture.init(&device).unwrap();
        let surrogate = adv_models::load_checkpoint(&path, &device).unwrap().0;
        let batch = data.batch(0, 16, &device);
        for wanted in [0, 1] {
            let step = (0..)
                .find(|&step| objective.source(&context(&device, step)) == wanted)
                .unwrap();
            let out = objective.loss(&model, &batch, &context(&device, step)).unwrap();
            let source = if wanted == 0 { &model } else { &surrogate };
            let adversarial = fgsm(source, batch.images.clone(), 0.2);
            let expected = model.forward(adversarial.clone());
            let (got, want) = (to_floats(out.logits), to_floats(expected.clone()));
            assert!(
                got.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-5),
                "source {wanted}"
            );
            let loss = crate::smoothed_cross_entropy(expected, batch.labels.clone(), 0.0)
                .mul_scalar(0.5)
                + crate::smoothed_cross_entropy(
                    model.forward(batch.images.clone()),
                    batch.labels.clone(),
                    0.0,
                )
                .mul_scalar(0.5);
            let (got, want) = (to_floats(out.loss)[0], to_floats(loss)[0]);
            assert!((got - want).abs() < 1e-5, "source {wanted}: {got} vs {want}");
        }
    }

    #[test]
    fn missing_or_mismatched_surrogates_are_errors() {
        let data = adv_core::data::embedded_digits().take(4);
        let architecture = ModelConfig::from_name("mlp", data.shape(), 10).unwrap();
        let none = EnsAtConfig::default().init().unwrap();
        let error = none.architecture(&architecture).unwrap_err().to_string();
        assert!(error.contains("ens-at needs surrogates="), "{error}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("five.bpk");
        let five = ModelConfig::from_name("mlp", data.shape(), 5).unwrap();
        adv_models::save_checkpoint(five.init(&Device::default()).unwrap(), &five, &path).unwrap();
        let mismatched = EnsAtConfig {
            surrogates: Surrogates(vec![path]),
            ..EnsAtConfig::default()
        }
        .init()
        .unwrap();
        let error = mismatched.architecture(&architecture).unwrap_err().to_string();
        assert!(error.contains("with 5 classes"), "{error}");
        let missing = EnsAtConfig {
            surrogates: Surrogates(vec![dir.path().join("absent.bpk")]),
            ..EnsAtConfig::default()
        }
        .init()
        .unwrap();
        assert!(missing.architecture(&architecture).is_err());
    }

    #[test]
    fn surrogates_read_and_show_as_written() {
        let surrogates: Surrogates = "a.bpk + dir/b.bpk".parse().unwrap();
        assert_eq!(
            surrogates.0,
            vec![PathBuf::from("a.bpk"), PathBuf::from("dir/b.bpk")]
        );
        assert_eq!(surrogates.to_string(), "a.bpk+dir/b.bpk");
        assert_eq!("none".parse::<Surrogates>().unwrap(), Surrogates::default());
        assert!("a.bpk++b.bpk".parse::<Surrogates>().is_err());
    }

    #[test]
    fn sources_cover_the_model_and_every_surrogate() {
        let objective = EnsAtConfig {
            surrogates: "a.bpk+b.bpk".parse().unwrap(),
            ..EnsAtConfig::default()
        }
        .init()
        .unwrap();
        let device = Device::default();
        let mut seen = [0usize; 3];
        for step in 0..300 {
            seen[objective.source(&context(&device, step))] += 1;
        }
        // Uniform over three sources: each near 100 of 300.
        assert!(seen.iter().all(|&count| (70..=130).contains(&count)), "{seen:?}");
    }
}
