//! Benchmark suites: models x threat models x attacks x budgets, each model on its data set,
//! described in a TOML file and expanded into one [`EvalPlan`] per model and threat model.
//!
//! ```toml
//! name = "cifar10-resnets"
//! seed = 0
//! batch_size = 100
//!
//! [datasets.cifar-sample]
//! source = "${ADV_SHARED_DATA}/cifar10-sample/x200.npy"
//! labels = "${ADV_SHARED_DATA}/cifar10-sample/y200.npy"
//!
//! [[models]]
//! name = "resnet20"
//! data = "cifar-sample"
//! architecture = "resnet20"
//! weights = "${ADV_SHARED_DATA}/weights/resnet20-12fca82f.th"
//!
//! [[threats]]
//! norm = "linf"
//! epsilons = ["1/255", "2/255", "8/255"]
//! curves = { initial = 0.001, max = 0.1, bisection_steps = 6 }
//!
//! [[attacks]]
//! name = "pgd"
//! options = { steps = 20, step_size = "0.25x" }
//! ```
//!
//! Paths may use `${VARIABLE}` and are relative to the suite file; [`Suite::from_file`] expands
//! and resolves them, so the suite a run records is complete on its own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use adv_attacks::{AttackConfig, check_unique_labels};
use adv_core::Setting;
use adv_core::{Goal, Norm, ThreatModel};
use adv_defenses::TrainConfig;
use adv_models::{Combine, Normalization};
use serde::{Deserialize, Serialize};

use crate::source::DataSource;
use crate::{BenchError, EpsilonSearch, EvalPlan, Result};

/// A benchmark suite.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    /// Name, used for the run folder.
    pub name: String,
    /// Seed of every random choice: training, random starts, targets.
    #[serde(default)]
    pub seed: u64,
    /// Samples per batch: the unit of work that the journal records.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Logit margin an example needs to count as adversarial.
    #[serde(default)]
    pub confidence: f32,
    /// Data sets by name.
    pub datasets: BTreeMap<String, DataSpec>,
    /// The models, each evaluated on its data set.
    pub models: Vec<ModelSpec>,
    /// Threat models, each with its radii.
    pub threats: Vec<ThreatSpec>,
    /// Attacks; each runs under every threat model whose norm it supports.
    pub attacks: Vec<AttackSpec>,
}

/// The file in a run folder that records its suite.
pub(crate) const RECORD: &str = "suite.json";

fn default_batch_size() -> usize {
    128
}

/// A data set: a source as `adv-bench eval --data` reads it, optionally cut.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// `digits`, `digits:train`, `digits:test`, or a file or folder.
    pub source: String,
    /// Labels file, for formats that keep them apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<String>,
    /// Use only the first `limit` samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

impl DataSpec {
    /// Where the data comes from.
    pub fn source(&self) -> DataSource {
        DataSource::parse(&self.source, self.labels.as_deref().map(Path::new))
    }
}

/// A model: pretrained weights, trained by the suite, or an ensemble of the suite's models.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Name in the leaderboard (unique).
    pub name: String,
    /// Name of the data set it is evaluated on.
    pub data: String,
    /// Built-in architecture (see `adv-bench eval --help`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    /// Architecture described by a JSON or TOML file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture_file: Option<String>,
    /// Weights file (Burn record or PyTorch state dict).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<String>,
    /// Replaces the architecture's input normalization: `"none"` or `{ mean, std }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalization: Option<NormalizationSpec>,
    /// Train the architecture first (any objective: `objective = "pgd-at:eps=0.1"`), instead of
    /// loading weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train: Option<TrainSpec>,
    /// Names of earlier models of the suite whose average this model is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// How an ensemble averages its members.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub combine: Option<Combine>,
}

/// `"none"` or per-channel statistics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged, try_from = "serde_json::Value")]
pub enum NormalizationSpec {
    /// `"none"`.
    Off(String),
    /// `{ mean = [...], std = [...] }`.
    On(Normalization),
}

impl TryFrom<serde_json::Value> for NormalizationSpec {
    type Error = String;

    /// A string, or a table of exactly `mean` and `std` (an unknown key is named, not lost in
    /// an untagged enum's "did not match any variant").
    fn try_from(value: serde_json::Value) -> std::result::Result<Self, String> {
        match value {
            serde_json::Value::String(text) => Ok(Self::Off(text)),
            serde_json::Value::Object(table) => {
                if let Some(key) = table
                    .keys()
                    .find(|k| !["mean", "std"].contains(&k.as_str()))
                {
                    return Err(format!(
                        "unknown normalization key '{key}' (expected mean and std)"
                    ));
                }
                if let Some((key, _)) = table.iter().find(|(_, v)| {
                    v.as_array()
                        .is_some_and(|values| values.iter().any(serde_json::Value::is_null))
                }) {
                    return Err(format!(
                        "normalization {key} holds a value that is not a finite number"
                    ));
                }
                serde_json::from_value(serde_json::Value::Object(table))
                    .map(Self::On)
                    .map_err(|e| format!("normalization: {e}"))
            }
            other => Err(format!(
                "normalization must be \"none\" or {{ mean = [...], std = [...] }}, not {other}"
            )),
        }
    }
}

/// Training of a model's architecture on a data set, with any objective and every setting of
/// `adv-bench train`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "serde_json::Map<String, serde_json::Value>")]
pub struct TrainSpec {
    /// The training data (`source` syntax of [`DataSpec`]).
    pub data: String,
    /// Train on its first `limit` samples only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// Epochs, batch size, optimizer, learning rate, schedule, seed, ... (defaults of
    /// `adv-bench train`).
    #[serde(flatten)]
    pub config: TrainConfig,
}

impl TryFrom<serde_json::Map<String, serde_json::Value>> for TrainSpec {
    type Error = String;

    /// `data` plus [`TrainConfig`]'s fields; a key that is neither is an error, so that a typo
    /// cannot silently train with a default.
    fn try_from(
        mut table: serde_json::Map<String, serde_json::Value>,
    ) -> std::result::Result<Self, String> {
        let data = match table.remove("data") {
            Some(serde_json::Value::String(data)) => data,
            _ => return Err("train needs data = \"SOURCE\"".into()),
        };
        let limit = match table.remove("limit") {
            None => None,
            Some(value) => match value.as_u64() {
                Some(n) if n > 0 => Some(n as usize),
                _ => {
                    return Err(format!(
                        "train limit must be a positive integer, not {value}"
                    ));
                }
            },
        };
        let known = serde_json::to_value(TrainConfig::default()).map_err(|e| e.to_string())?;
        // TOML's nan and inf have no JSON form and arrive as null: name them (a null is only
        // valid for the settings that are optional, as a recorded suite writes them).
        if let Some((key, _)) = table.iter().find(|(key, value)| {
            value.is_null() && known.get(key.as_str()).is_some_and(|d| !d.is_null())
        }) {
            return Err(format!(
                "training setting '{key}' must be a finite number (nan and inf are not)"
            ));
        }
        if let Some(unknown) = table.keys().find(|key| known.get(key.as_str()).is_none()) {
            return Err(format!("unknown training setting '{unknown}'"));
        }
        let config = serde_json::from_value(serde_json::Value::Object(table))
            .map_err(|e| format!("training settings: {e}"))?;
        Ok(Self {
            data,
            limit,
            config,
        })
    }
}

impl TrainSpec {
    /// The training data, cut to `limit`.
    pub fn load(&self) -> crate::Result<adv_core::Dataset> {
        let data = crate::DataSource::parse(&self.data, None).load()?;
        Ok(match self.limit {
            Some(limit) => data.take(limit),
            None => data,
        })
    }

    /// The training data as a record names it: the source, and the limit if any.
    pub fn describe(&self) -> String {
        let source = crate::DataSource::parse(&self.data, None).describe();
        match self.limit {
            Some(limit) => format!("{source} (first {limit})"),
            None => source,
        }
    }
}

/// A norm, its radii, the goal and, optionally, the accuracy-vs-epsilon search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreatSpec {
    /// `linf`, `l2` or `l1`.
    pub norm: Norm,
    /// Radii: numbers or fractions such as `"8/255"`.
    pub epsilons: Vec<Epsilon>,
    /// Attack goal (default untargeted).
    #[serde(default = "untargeted")]
    pub goal: Goal,
    /// The per-sample minimal-epsilon search behind the accuracy-vs-epsilon curves.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "curves_table"
    )]
    pub curves: Option<EpsilonSearch>,
}

/// A suite's `curves` table: exactly `initial`, `max` and `bisection_steps` (attacks leave the
/// curves with their own `curves = false`).
fn curves_table<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Option<EpsilonSearch>, D::Error> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Curves {
        initial: f32,
        max: f32,
        bisection_steps: usize,
    }
    let table = Option::<Curves>::deserialize(deserializer)?;
    Ok(table.map(|c| EpsilonSearch {
        initial: c.initial,
        max: c.max,
        bisection_steps: c.bisection_steps,
        skip: Vec::new(),
    }))
}

fn untargeted() -> Goal {
    Goal::Untargeted
}

/// A radius, written as a number or as a fraction such as `"8/255"`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "EpsilonText", into = "f32")]
pub struct Epsilon(pub f32);

#[derive(Deserialize)]
#[serde(untagged)]
enum EpsilonText {
    Number(f32),
    Text(String),
}

impl TryFrom<EpsilonText> for Epsilon {
    type Error = String;

    fn try_from(value: EpsilonText) -> std::result::Result<Self, String> {
        match value {
            EpsilonText::Number(number) if number.is_finite() && number >= 0.0 => {
                Ok(Epsilon(number))
            }
            EpsilonText::Number(number) => {
                Err(format!("epsilon {number} must be finite and non-negative"))
            }
            EpsilonText::Text(text) => parse_epsilon(&text).map(Epsilon),
        }
    }
}

impl From<Epsilon> for f32 {
    fn from(epsilon: Epsilon) -> f32 {
        epsilon.0
    }
}

/// Reads an epsilon written as a decimal (`0.031`) or a fraction (`8/255`).
pub fn parse_epsilon(text: &str) -> std::result::Result<f32, String> {
    let bad = || format!("cannot read epsilon '{text}' (write 0.03 or 8/255)");
    let value = match text.split_once('/') {
        Some((numerator, denominator)) => {
            let numerator: f32 = numerator.trim().parse().map_err(|_| bad())?;
            let denominator: f32 = denominator.trim().parse().map_err(|_| bad())?;
            if denominator == 0.0 {
                return Err(bad());
            }
            numerator / denominator
        }
        None => text.trim().parse().map_err(|_| bad())?,
    };
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(format!("epsilon {text} must be finite and non-negative"))
    }
}

/// An attack by name (`adv-bench attacks` lists them) with settings of its options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttackSpec {
    /// The attack.
    pub name: String,
    /// Its options, as `adv-bench attacks` lists them (`steps = 20`, `step_size = "0.25x"`;
    /// kebab- or snake-case keys). An option the attack lacks is an error.
    #[serde(default)]
    pub options: BTreeMap<String, OptionText>,
    /// Whether the threat models' accuracy-vs-epsilon searches include this attack (default
    /// true; a search costs several runs of the attack, which matters for black-box attacks).
    #[serde(default = "yes")]
    pub curves: bool,
}

fn yes() -> bool {
    true
}

/// An option's value in a suite file: a string, a number or a boolean, kept as its text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "OptionLiteral", into = "String")]
pub struct OptionText(pub String);

#[derive(Deserialize)]
#[serde(untagged)]
enum OptionLiteral {
    Bool(bool),
    Integer(i64),
    Float(f64),
    Text(String),
}

impl From<OptionLiteral> for OptionText {
    fn from(literal: OptionLiteral) -> Self {
        OptionText(match literal {
            OptionLiteral::Bool(value) => value.to_string(),
            OptionLiteral::Integer(value) => value.to_string(),
            OptionLiteral::Float(value) => value.to_string(),
            OptionLiteral::Text(value) => value,
        })
    }
}

impl From<OptionText> for String {
    fn from(text: OptionText) -> Self {
        text.0
    }
}

impl AttackSpec {
    /// The attack's configuration.
    pub fn config(&self) -> Result<AttackConfig> {
        let settings: Vec<Setting> = self
            .options
            .iter()
            .map(|(key, value)| Setting::new(key.as_str(), value.0.as_str()))
            .collect();
        Ok(AttackConfig::new(&self.name, &settings)?)
    }
}

/// One model under one threat model: the unit a report section and a leaderboard row describe.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// Index of the model in the suite.
    pub model: usize,
    /// Index of the threat model in the suite.
    pub threat: usize,
    /// Attacks (those supporting the norm), radii and settings.
    pub plan: EvalPlan,
}

impl Suite {
    /// Reads a suite file, expands `${VARIABLES}`, resolves relative paths against the file's
    /// folder and checks it.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| BenchError::io(path, e))?;
        let mut suite: Suite = toml::from_str(&text).map_err(|e| {
            BenchError::InvalidArgument(format!(
                "{}: {}",
                path.display(),
                e.to_string().replace('\n', " ")
            ))
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        suite.resolve_paths(base)?;
        suite.check()?;
        Ok(suite)
    }

    /// The suite a run folder records in its `suite.json` (paths already resolved).
    pub fn recorded_in(run_dir: &Path) -> Result<Self> {
        let path = run_dir.join(RECORD);
        let text = std::fs::read_to_string(&path).map_err(|e| BenchError::io(&path, e))?;
        serde_json::from_str(&text)
            .map_err(|e| BenchError::InvalidArgument(format!("{}: {e}", path.display())))
    }

    fn resolve_paths(&mut self, base: &Path) -> Result<()> {
        for data in self.datasets.values_mut() {
            if !data.source().is_named() {
                data.source = resolve(&data.source, base)?;
            }
            if let Some(labels) = &mut data.labels {
                *labels = resolve(labels, base)?;
            }
        }
        for model in &mut self.models {
            for path in [&mut model.weights, &mut model.architecture_file]
                .into_iter()
                .flatten()
            {
                *path = resolve(path, base)?;
            }
            if let Some(train) = &mut model.train
                && !DataSource::parse(&train.data, None).is_named()
            {
                train.data = resolve(&train.data, base)?;
            }
        }
        Ok(())
    }

    /// Checks everything that can be checked without loading data or models.
    pub fn check(&self) -> Result<()> {
        let bad = |message: String| Err(BenchError::InvalidArgument(message));
        if self.models.is_empty() || self.threats.is_empty() || self.attacks.is_empty() {
            return bad(format!(
                "suite '{}' needs at least one model, threat and attack",
                self.name
            ));
        }
        for (k, model) in self.models.iter().enumerate() {
            if self.models[..k].iter().any(|m| m.name == model.name) {
                return bad(format!("two models are named '{}'", model.name));
            }
            if !self.datasets.contains_key(&model.data) {
                return bad(format!(
                    "model '{}' uses data set '{}', which the suite does not define",
                    model.name, model.data
                ));
            }
            for member in &model.members {
                if !self.models[..k].iter().any(|m| &m.name == member) {
                    return bad(format!(
                        "ensemble '{}' names '{member}', which is not an earlier model",
                        model.name
                    ));
                }
            }
            let sources = [
                model.weights.is_some(),
                model.train.is_some(),
                !model.members.is_empty(),
            ];
            if sources.iter().filter(|&&s| s).count() != 1 {
                return bad(format!(
                    "model '{}' needs exactly one of weights, train or members",
                    model.name
                ));
            }
            if model.train.is_some()
                && model.architecture.is_none()
                && model.architecture_file.is_none()
            {
                return bad(format!(
                    "model '{}' is trained by the suite: name its architecture or \
                     architecture_file",
                    model.name
                ));
            }
        }
        let configs = self
            .attacks
            .iter()
            .map(AttackSpec::config)
            .collect::<Result<Vec<_>>>()?;
        check_unique_labels(&configs)?;
        for config in &configs {
            let norms = config.info().norms;
            if !self.threats.iter().any(|t| norms.contains(&t.norm)) {
                return bad(format!(
                    "attack '{}' supports none of the suite's norms",
                    config.label()
                ));
            }
        }
        for (t, threat) in self.threats.iter().enumerate() {
            if !configs
                .iter()
                .any(|c| c.info().norms.contains(&threat.norm))
            {
                return bad(format!(
                    "no attack of the suite supports threat {} ({})",
                    t + 1,
                    threat.norm
                ));
            }
        }
        for evaluation in self.evaluations()? {
            evaluation.plan.check()?;
        }
        Ok(())
    }

    /// Every model under every threat model, in suite order.
    pub fn evaluations(&self) -> Result<Vec<Evaluation>> {
        let mut evaluations = Vec::new();
        for model in 0..self.models.len() {
            for (t, threat) in self.threats.iter().enumerate() {
                let mut attacks = Vec::new();
                let mut curves = threat.curves.clone();
                for spec in &self.attacks {
                    let config = spec.config()?;
                    if config.info().norms.contains(&threat.norm) {
                        if let Some(search) = curves.as_mut().filter(|_| !spec.curves) {
                            search.skip.push(config.label());
                        }
                        attacks.push(config);
                    }
                }
                evaluations.push(Evaluation {
                    model,
                    threat: t,
                    plan: EvalPlan {
                        attacks,
                        threat: ThreatModel::new(threat.norm, 0.0)?.with_goal(threat.goal),
                        epsilons: threat.epsilons.iter().map(|e| e.0).collect(),
                        batch_size: self.batch_size,
                        seed: self.seed,
                        confidence: self.confidence,
                        epsilon_curves: curves,
                    },
                });
            }
        }
        Ok(evaluations)
    }
}

/// Expands `${VARIABLE}`s and makes a relative path relative to `base`.
fn resolve(text: &str, base: &Path) -> Result<String> {
    let mut expanded = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let end = rest[start..].find('}').ok_or_else(|| {
            BenchError::InvalidArgument(format!("unclosed '${{' in path '{text}'"))
        })? + start;
        let name = &rest[start + 2..end];
        let value = std::env::var(name).map_err(|_| {
            BenchError::InvalidArgument(format!("path '{text}' uses ${{{name}}}, which is not set"))
        })?;
        expanded.push_str(&rest[..start]);
        expanded.push_str(&value);
        rest = &rest[end + 1..];
    }
    expanded.push_str(rest);
    let path = PathBuf::from(&expanded);
    Ok(if path.is_absolute() {
        expanded
    } else {
        base.join(path).to_string_lossy().into_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUITE: &str = r#"
name = "tiny"
seed = 3
batch_size = 16

[datasets.test]
source = "digits:test"
limit = 40

[[models]]
name = "mlp"
data = "test"
architecture = "mlp"
train = { data = "digits:train", epochs = 2 }

[[threats]]
norm = "linf"
epsilons = [0.1, "8/255"]

[[threats]]
norm = "l1"
epsilons = [12]
goal = { kind = "targeted", targets = "random" }
curves = { initial = 0.5, max = 20.0, bisection_steps = 4 }

[[attacks]]
name = "fgsm"

[[attacks]]
name = "pgd"
options = { steps = 5, step_size = "0.25x" }
"#;

    fn parse(text: &str) -> Result<Suite> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("suite.toml");
        std::fs::write(&path, text).unwrap();
        Suite::from_file(&path)
    }

    #[test]
    fn suites_expand_into_one_plan_per_model_and_threat() {
        let suite = parse(SUITE).unwrap();
        let evaluations = suite.evaluations().unwrap();
        assert_eq!(evaluations.len(), 2);
        let linf = &evaluations[0].plan;
        assert_eq!(linf.epsilons, vec![0.1, 8.0 / 255.0]);
        assert_eq!(linf.attacks.len(), 2);
        assert_eq!(linf.seed, 3);
        // FGSM has no L1 form, so the L1 threat runs PGD alone.
        let l1 = &evaluations[1].plan;
        assert_eq!(l1.attacks.len(), 1);
        assert_eq!(l1.attacks[0].label(), "pgd-5-step-size=0.25x");
        assert!(l1.epsilon_curves.is_some());
        assert_eq!(
            l1.threat.goal,
            Goal::Targeted(adv_core::TargetSelection::Random)
        );
        let train = suite.models[0].train.as_ref().unwrap();
        assert_eq!(
            (train.config.epochs, train.data.as_str()),
            (2, "digits:train")
        );
    }

    #[test]
    fn bad_suites_are_clear_errors() {
        let cases = [
            (
                SUITE.replace("data = \"test\"", "data = \"nope\""),
                "does not define",
            ),
            (SUITE.replace("name = \"pgd\"", "name = \"nope\""), "nope"),
            (SUITE.replace("steps = 5", "stepz = 5"), "stepz"),
            (SUITE.replace("0.1, \"8/255\"", "\"1/0\""), "epsilon"),
            (
                SUITE.replace(
                    "architecture = \"mlp\"",
                    "architecture = \"mlp\"\nweights = \"w.bpk\"",
                ),
                "exactly one of",
            ),
            (
                SUITE.replace(
                    "source = \"digits:test\"",
                    "source = \"${ADV_NOT_SET_ANYWHERE}/x\"",
                ),
                "ADV_NOT_SET_ANYWHERE",
            ),
            (SUITE.replace("seed = 3", "sead = 3"), "sead"),
            (SUITE.replace("epochs = 2", "epoch = 2"), "epoch"),
            (
                SUITE.replace("architecture = \"mlp\"\n", ""),
                "name its architecture",
            ),
        ];
        for (text, expected) in cases {
            let error = parse(&text).unwrap_err().to_string();
            assert!(error.contains(expected), "{expected}: {error}");
        }
    }

    #[test]
    fn epsilons_parse_as_decimals_or_fractions() {
        assert_eq!(parse_epsilon("0.5"), Ok(0.5));
        assert_eq!(parse_epsilon("8/255"), Ok(8.0 / 255.0));
        assert!(parse_epsilon("1/0").is_err());
        assert!(parse_epsilon("-0.1").is_err());
        assert!(parse_epsilon("big").is_err());
    }

    #[test]
    fn relative_paths_resolve_against_the_suite_folder() {
        let base = Path::new("/suites");
        assert_eq!(resolve("w/model.th", base).unwrap(), "/suites/w/model.th");
        assert_eq!(resolve("/abs/x.npy", base).unwrap(), "/abs/x.npy");
        let home = std::env::var("HOME").unwrap();
        assert_eq!(resolve("${HOME}/x", base).unwrap(), format!("{home}/x"));
    }
}
