//! The training objective: what one step minimizes. Each objective is one file with its
//! options declared once (`adv_core::options!`) and one [`ObjectiveInfo`]; the registry
//! ([`crate::objectives`]) lists them, and the command line, suites, listings and docs derive
//! from it, as for attacks.

use adv_core::burn::optim::GradientsParams;
use adv_core::burn::tensor::Gradients;
use adv_core::burn::tensor::{Device, Tensor};
use adv_core::{ConfigFns, Norm, OptionSpec, Setting, Spec};
use adv_models::Model;
use serde::{Deserialize, Serialize};

use crate::{DefenseError, Result};

/// An objective's declaration.
pub struct ObjectiveInfo {
    /// The name used on the command line and in records, e.g. `pgd-at`.
    pub name: &'static str,
    /// Other accepted names.
    pub aliases: &'static [&'static str],
    /// The paper it implements.
    pub paper: &'static str,
    /// Its options.
    pub config: ConfigFns,
    /// Builds it from settings.
    pub build: fn(&[Setting]) -> Result<Box<dyn Objective>>,
}

impl std::fmt::Debug for ObjectiveInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectiveInfo")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Where a training step is, and what it may use.
pub struct StepContext<'a> {
    /// Epoch, from 0.
    pub epoch: usize,
    /// Epochs in all.
    pub epochs: usize,
    /// Optimizer step, from 0, over the whole run.
    pub step: usize,
    /// The run's seed.
    pub seed: u64,
    /// The training device (autodiff).
    pub device: &'a Device,
    /// Fraction of the objective's radius in effect (epsilon warm-up), in `(0, 1]`.
    pub eps_scale: f32,
    /// Label smoothing of every cross-entropy the objective takes (the training setting).
    pub label_smoothing: f32,
}

impl StepContext<'_> {
    /// A seed for the random choices of this step (random starts), distinct per step and run.
    pub fn step_seed(&self) -> u64 {
        self.seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(self.step as u64)
    }
}

/// What a step computed: the scalar loss to minimize, and the logits its prediction counts
/// for training accuracy.
pub struct StepLoss {
    /// The loss `[1]`, differentiable through the model's parameters.
    pub loss: Tensor<1>,
    /// Logits `[n, classes]` of the inputs the objective trains on (adversarial ones for
    /// adversarial training).
    pub logits: Tensor<2>,
}

/// A training objective.
pub trait Objective: Send {
    /// Its declaration.
    fn info(&self) -> &'static ObjectiveInfo;

    /// Optimizer steps per minibatch (Free-AT's replays); 1 for every other objective.
    fn replays(&self) -> usize {
        1
    }

    /// The architecture it trains, from the one asked for: the same, or its backbone with a
    /// head of class centers (MMC, MMLDA, center loss, L-GM).
    fn architecture(&self, base: &adv_models::ModelConfig) -> Result<adv_models::ModelConfig> {
        Ok(base.clone())
    }

    /// Builds what it trains beside the model (ADT-EXPAM's generator, ADT-IMPAM's generator and
    /// encoder) for `architecture` on the training `device`; called once, before the first step
    /// and before a checkpoint is read, with the device's generator seeded from the run's seed.
    fn prepare(&mut self, architecture: &adv_models::ModelConfig, device: &Device) -> Result<()> {
        let _ = (architecture, device);
        Ok(())
    }

    /// Writes the networks and optimizer states it trains beside the model into a checkpoint
    /// `folder` (which exists).
    fn save_files(&self, folder: &std::path::Path) -> Result<()> {
        let _ = folder;
        Ok(())
    }

    /// Reads what [`Objective::save_files`] wrote into `folder`.
    fn load_files(&mut self, folder: &std::path::Path) -> Result<()> {
        let _ = folder;
        Ok(())
    }

    /// The norm and radius its adversarial examples use, if it crafts any: the held-out robust
    /// accuracy is measured there.
    fn radius(&self) -> Option<(Norm, f32)> {
        None
    }

    /// The loss of `batch` (on the training device) for `model` (in training mode).
    fn loss(
        &mut self,
        model: &Model,
        batch: &adv_core::Batch,
        step: &StepContext,
    ) -> Result<StepLoss>;

    /// Told the gradients of the step's backward pass, before the optimizer step (Free-AT reads
    /// its perturbation's gradient here).
    fn after_backward(&mut self, grads: &Gradients, step: &StepContext) -> Result<()> {
        let _ = (grads, step);
        Ok(())
    }

    /// The objective's own state, for a checkpoint (Free-AT's perturbation); `None` for a
    /// stateless objective.
    fn save_state(&self) -> Result<Option<serde_json::Value>> {
        Ok(None)
    }

    /// Restores what [`Objective::save_state`] returned.
    fn load_state(&mut self, state: serde_json::Value, device: &Device) -> Result<()> {
        let _ = (state, device);
        Ok(())
    }

    /// The parameter gradients to step with (an objective with parameters of its own beside the
    /// model's may take its share first).
    fn parameter_grads(&mut self, grads: Gradients, model: &Model) -> GradientsParams {
        GradientsParams::from_grads(grads, model)
    }
}

/// The objective called `name` (or an alias).
pub fn find(name: &str) -> Result<&'static ObjectiveInfo> {
    let name = name.trim().to_ascii_lowercase();
    crate::objectives()
        .into_iter()
        .find(|info| info.name == name || info.aliases.contains(&name.as_str()))
        .ok_or_else(|| {
            DefenseError::InvalidConfig(format!(
                "unknown objective '{name}' (run `adv-bench objectives` for the list)"
            ))
        })
}

/// An objective and its settings, as a training record, a suite and the command line write it:
/// `pgd-at` or `pgd-at:eps=0.1,steps=7`. Built through [`ObjectiveConfig::new`], which checks
/// every setting.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ObjectiveConfig {
    name: &'static str,
    settings: Vec<Setting>,
}

impl Default for ObjectiveConfig {
    fn default() -> Self {
        Self::named("standard").expect("the standard objective is registered")
    }
}

impl ObjectiveConfig {
    /// The objective called `name` with `settings`; an unknown objective or option, or a value
    /// outside its range, is an error naming the objective and its options.
    pub fn new(name: &str, settings: &[Setting]) -> Result<Self> {
        let info = find(name)?;
        let settings = (info.config.canonical)(info.name, settings).map_err(option_error)?;
        let config = Self {
            name: info.name,
            settings,
        };
        config.build()?;
        Ok(config)
    }

    /// The default configuration of `name`.
    pub fn named(name: &str) -> Result<Self> {
        Self::new(name, &[])
    }

    /// Reads `NAME` or `NAME:key=value,...`.
    pub fn parse(text: &str) -> Result<Self> {
        let spec: Spec = text.parse().map_err(option_error)?;
        Self::new(&spec.name, &spec.settings)
    }

    /// This configuration with `extra` settings on top.
    pub fn with(&self, extra: &[Setting]) -> Result<Self> {
        let mut settings = self.settings.clone();
        settings.extend_from_slice(extra);
        Self::new(self.name, &settings)
    }

    /// The declaration.
    pub fn info(&self) -> &'static ObjectiveInfo {
        find(self.name).expect("an ObjectiveConfig names a registered objective")
    }

    /// The name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The settings given, in canonical form.
    pub fn settings(&self) -> &[Setting] {
        &self.settings
    }

    /// Every option with its value, defaults included: what a training record keeps.
    pub fn options(&self) -> Vec<Setting> {
        (self.info().config.resolved)(self.name, &self.settings)
            .expect("an ObjectiveConfig's settings are valid")
    }

    /// The objective.
    pub fn build(&self) -> Result<Box<dyn Objective>> {
        (self.info().build)(&self.settings)
    }

    /// `NAME:key=value,...`.
    pub fn spec(&self) -> String {
        Spec {
            name: self.name.to_owned(),
            settings: self.settings.clone(),
        }
        .to_string()
    }
}

impl Serialize for ObjectiveConfig {
    fn serialize<S: serde::Serializer>(&self, out: S) -> std::result::Result<S::Ok, S::Error> {
        out.serialize_str(&self.spec())
    }
}

impl<'de> Deserialize<'de> for ObjectiveConfig {
    fn deserialize<D: serde::Deserializer<'de>>(input: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(input)?;
        ObjectiveConfig::parse(&text).map_err(serde::de::Error::custom)
    }
}

fn option_error(error: adv_core::OptionError) -> DefenseError {
    DefenseError::InvalidConfig(error.to_string())
}

/// An options error as a [`DefenseError`] (for objectives' `build`).
pub(crate) fn configure<C: adv_core::Options>(name: &str, settings: &[Setting]) -> Result<C> {
    adv_core::configure(name, settings).map_err(option_error)
}

/// Applies shared settings (command-line flags) to `config`, an error when the objective lacks
/// one.
pub fn apply_shared(config: &ObjectiveConfig, settings: &[Setting]) -> Result<ObjectiveConfig> {
    let mut all = settings.to_vec();
    all.extend_from_slice(&config.settings);
    ObjectiveConfig::new(config.name, &all)
}

/// Every option key of every objective, once, with its first declaration.
pub fn all_objective_options() -> Vec<OptionSpec> {
    let mut all: Vec<OptionSpec> = Vec::new();
    for info in crate::objectives() {
        for spec in (info.config.specs)() {
            if !all.iter().any(|s| s.key == spec.key) {
                all.push(spec);
            }
        }
    }
    all
}

/// The Markdown reference of every objective (as docs/training.md includes it).
pub fn markdown_reference() -> String {
    let mut out = String::from("| objective | paper |\n| --- | --- |\n");
    let objectives = crate::objectives();
    for info in &objectives {
        out += &format!("| `{}` | {} |\n", info.name, info.paper);
    }
    for info in &objectives {
        out += &format!("\n### `{}`", info.name);
        if !info.aliases.is_empty() {
            out += &format!(" (also {})", info.aliases.join(", "));
        }
        out += "\n\n";
        let specs = (info.config.specs)();
        if specs.is_empty() {
            out += "No options.\n";
        } else {
            out += &adv_core::options_table(&specs);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEGIN: &str = "<!-- BEGIN GENERATED: adv-bench objectives --markdown -->\n";
    const END: &str = "<!-- END GENERATED -->";

    /// docs/training.md holds the reference the declarations generate; `ADV_UPDATE_DOCS=1 cargo
    /// test -p adv-defenses docs` rewrites it.
    #[test]
    fn docs_hold_the_generated_reference() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/training.md");
        let text = std::fs::read_to_string(path).unwrap();
        let start = text.find(BEGIN).expect("the generated block's start") + BEGIN.len();
        let end = text.find(END).expect("the generated block's end");
        let expected = markdown_reference();
        if std::env::var_os("ADV_UPDATE_DOCS").is_some() {
            std::fs::write(
                path,
                format!("{}{expected}{}", &text[..start], &text[end..]),
            )
            .unwrap();
            return;
        }
        assert!(
            text[start..end] == expected,
            "docs/training.md is out of date: run `ADV_UPDATE_DOCS=1 cargo test -p adv-defenses docs`"
        );
    }

    #[test]
    fn every_objective_builds_by_name_with_unique_names() {
        let all = crate::objectives();
        for (k, info) in all.iter().enumerate() {
            assert_eq!(
                ObjectiveConfig::named(info.name)
                    .unwrap()
                    .build()
                    .unwrap()
                    .info()
                    .name,
                info.name
            );
            for other in &all[..k] {
                assert_ne!(info.name, other.name);
                assert!(
                    info.aliases
                        .iter()
                        .all(|a| !other.aliases.contains(a) && *a != other.name)
                );
            }
        }
    }
}
