//! The evaluation report: a serde value written as JSON, rendered as Markdown.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use adv_attacks::{AttackConfig, FirstSuccess};
use adv_core::{CostCounts, Goal, ModelTraits, Norm, ThreatModel};
use serde::{Deserialize, Serialize};

use crate::checks::Warning;
use crate::{BenchError, Result};

/// Everything one evaluation measured. Accuracies are fractions in `[0, 1]` of all samples.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Samples evaluated.
    pub samples: usize,
    /// Fraction classified correctly without attack.
    pub clean_accuracy: f32,
    /// Seconds spent on the clean pass.
    pub clean_wall_time_s: f64,
    /// The norm of every attack.
    pub norm: Norm,
    /// The goal of every attack.
    pub goal: Goal,
    /// The full threat model (its epsilon is replaced by each radius of the results): box,
    /// attacker knowledge and budget included.
    pub threat: ThreatModel,
    /// Seed of every random choice.
    pub seed: u64,
    /// Samples per batch.
    pub batch_size: usize,
    /// Logit margin an example needed to count as adversarial.
    pub confidence: f32,
    /// One entry per attack and epsilon, attacks in plan order.
    pub results: Vec<AttackResult>,
    /// Per epsilon, the fraction of samples no attack broke.
    pub worst_case: Vec<WorstCase>,
    /// Accuracy against epsilon per attack, when the plan asked for them.
    #[serde(default)]
    pub epsilon_curves: Vec<EpsilonCurve>,
    /// Reasons to distrust these numbers, from the sanity checks (empty when all pass).
    #[serde(default)]
    pub warnings: Vec<Warning>,
    /// What the model declared about itself: differentiable, randomized.
    #[serde(default)]
    pub model_traits: ModelTraits,
    /// What was evaluated, where and how.
    pub context: RunContext,
}

/// One attack at one epsilon.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttackResult {
    /// Short label, e.g. `pgd-10`: the name and every option its declaration shows (labels
    /// are unique within a report).
    pub attack: String,
    /// The attack and the settings given.
    pub config: AttackConfig,
    /// The radius.
    pub epsilon: f32,
    /// Fraction of all samples that are clean-correct and were not made adversarial.
    pub robust_accuracy: f32,
    /// Samples attacked (the clean-correct ones).
    pub attacked: usize,
    /// Mean norm of the perturbation of the adversarial examples found (0 if none): for
    /// minimal-distance attacks (DeepFool, C&W) the mean distance to the decision boundary.
    pub mean_perturbation: f32,
    /// Largest such norm (never above epsilon).
    pub max_perturbation: f32,
    /// Robust accuracy after each iteration (entry 0: the starting point), from the same run;
    /// an attack that stopped early because every sample was broken reports fewer entries.
    #[serde(default)]
    pub accuracy_per_step: Vec<f32>,
    /// Robust accuracy against the attack's queries per sample: `(q, accuracy)` where the
    /// accuracy changes, for the samples first fooled within `q` queries.
    #[serde(default)]
    pub accuracy_per_query: Vec<(u64, f32)>,
    /// The attack's mean queries per attacked sample (gradient passes included).
    #[serde(default)]
    pub mean_queries: f32,
    /// Per sample, in data order: whether it stayed robust, the attack's queries of it, and when
    /// it was first fooled (iterate and queries), if it was.
    #[serde(default)]
    pub per_sample: PerSample,
    /// The attack's forward and backward work (its verdicts included).
    pub cost: CostCounts,
    /// The harness's own work: the final verification of every returned example.
    #[serde(default)]
    pub harness_cost: CostCounts,
    /// Seconds spent.
    pub wall_time_s: f64,
}

/// One attack's per-sample outcome at one epsilon, in data order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PerSample {
    /// Clean-correct and not made adversarial.
    pub robust: Vec<bool>,
    /// The attack's queries (0 for samples not attacked).
    pub queries: Vec<u64>,
    /// When the sample was first fooled within the radius (`null`: never).
    pub first_success: Vec<Option<FirstSuccess>>,
}

/// Accuracy against the perturbation budget of one attack (ARES's security-evaluation curve).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpsilonCurve {
    /// The attack.
    pub attack: String,
    /// `(epsilon, accuracy)` on an even grid from 0 to the search's largest radius.
    pub accuracy: Vec<(f32, f32)>,
    /// Per sample, the smallest radius found that breaks it (0: misclassified without attack;
    /// `null`: not broken up to the largest radius).
    pub minimal_epsilons: Vec<Option<f32>>,
    /// Forward and backward work of the search.
    #[serde(default)]
    pub cost: CostCounts,
    /// Seconds the search took.
    #[serde(default)]
    pub wall_time_s: f64,
}

/// The per-sample worst case over every attack at one epsilon.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorstCase {
    /// The radius.
    pub epsilon: f32,
    /// Fraction of samples that are clean-correct and robust to every attack.
    pub robust_accuracy: f32,
}

/// Where a report comes from, for reproduction.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunContext {
    /// The model (architecture and weights file).
    pub model: String,
    /// The data set.
    pub data: String,
    /// Backend and device, e.g. `flex/cpu`.
    pub backend: String,
    /// Version of `adv-bench`.
    pub version: String,
    /// How the model was trained, when this project trained it: the training record of its
    /// checkpoint (objective and options, every setting, data hash, history).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<serde_json::Value>,
}

impl EvalReport {
    /// The Markdown report: a summary table (attacks by epsilon) and the details.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Robustness evaluation\n");
        let _ = writeln!(
            out,
            "Model `{}` on `{}` ({} samples), {} {}, seed {}, backend {}.\n",
            self.context.model,
            self.context.data,
            self.samples,
            self.goal.name(),
            self.norm,
            self.seed,
            self.context.backend,
        );
        out.push_str(&self.summary_table());
        let _ = writeln!(
            out,
            "\n## Details\n\n| attack | eps | robust acc | attacked | mean pert. | max pert. | queries/sample | forward | backward | time (s) |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        for r in &self.results {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {:.4} | {:.4} | {:.1} | {} | {} | {:.2} |",
                r.attack,
                format_epsilon(r.epsilon),
                percent(r.robust_accuracy),
                r.attacked,
                r.mean_perturbation,
                r.max_perturbation,
                r.mean_queries,
                r.cost.forward_samples,
                r.cost.backward_samples,
                r.wall_time_s,
            );
        }
        out.push_str(&self.curves_markdown());
        let _ = writeln!(out, "\n## Sanity checks\n");
        if self.warnings.is_empty() {
            let _ = writeln!(
                out,
                "All passed: accuracy falls with epsilon, stronger attacks score lower, no \
                 black-box attack beats the white-box ones, input gradients are non-zero, \
                 outputs are deterministic logits."
            );
        }
        for warning in &self.warnings {
            let _ = writeln!(out, "- **warning**: {}", warning.describe());
        }
        let _ = writeln!(
            out,
            "\nRobust accuracy counts a sample when it is classified correctly and the attack \
             found no adversarial example; the worst case counts it when no attack did. Queries \
             are the attack's own per attacked sample; forward and backward are the attack's work \
             in samples (the harness's clean pass and final verification apart); perturbations \
             in the {} norm. The model declares itself {} and {}.",
            self.norm,
            if self.model_traits.differentiable {
                "differentiable"
            } else {
                "non-differentiable"
            },
            if self.model_traits.randomized {
                "randomized"
            } else {
                "deterministic"
            }
        );
        out
    }

    /// The accuracy-vs-iterations lines (steps 0, 1, 2, 5, 10, 20, 50, ... and the last) and,
    /// when computed, the accuracy-vs-epsilon table.
    fn curves_markdown(&self) -> String {
        let mut out = String::new();
        let iterative: Vec<&AttackResult> = self
            .results
            .iter()
            .filter(|r| r.accuracy_per_step.len() > 2)
            .collect();
        if !iterative.is_empty() {
            let _ = writeln!(out, "\n## Accuracy vs iterations\n");
            for r in iterative {
                let last = r.accuracy_per_step.len() - 1;
                let shown: Vec<String> = (0..=last)
                    .filter(|&s| s == last || [0, 1, 2].contains(&s) || is_one_two_five(s))
                    .map(|s| format!("{} @{s}", percent(r.accuracy_per_step[s])))
                    .collect();
                let _ = writeln!(
                    out,
                    "- {} at eps {}: {}",
                    r.attack,
                    format_epsilon(r.epsilon),
                    shown.join(", ")
                );
            }
        }
        if let Some(first) = self.epsilon_curves.first() {
            let _ = writeln!(out, "\n## Accuracy vs epsilon (minimal-epsilon search)\n");
            let names: Vec<&str> = self
                .epsilon_curves
                .iter()
                .map(|c| c.attack.as_str())
                .collect();
            let _ = writeln!(out, "| eps | {} |", names.join(" | "));
            let _ = writeln!(out, "| ---: |{}", " ---: |".repeat(names.len()));
            for (k, (epsilon, _)) in first.accuracy.iter().enumerate() {
                let cells: Vec<String> = self
                    .epsilon_curves
                    .iter()
                    .map(|c| {
                        c.accuracy
                            .get(k)
                            .map_or_else(|| "-".into(), |(_, a)| percent(*a))
                    })
                    .collect();
                let _ = writeln!(
                    out,
                    "| {} | {} |",
                    format_epsilon(*epsilon),
                    cells.join(" | ")
                );
            }
        }
        out
    }

    /// Clean accuracy, then robust accuracy per attack (rows) and epsilon (columns), then the
    /// worst case over attacks.
    pub fn summary_table(&self) -> String {
        let epsilons: Vec<f32> = self.worst_case.iter().map(|w| w.epsilon).collect();
        let mut out = String::new();
        let header: Vec<String> = epsilons
            .iter()
            .map(|&e| format!("eps={}", format_epsilon(e)))
            .collect();
        let _ = writeln!(out, "| attack | clean | {} |", header.join(" | "));
        let _ = writeln!(out, "| --- | ---: |{}", " ---: |".repeat(epsilons.len()));
        let mut labels: Vec<&str> = Vec::new();
        for r in &self.results {
            if !labels.contains(&r.attack.as_str()) {
                labels.push(&r.attack);
            }
        }
        let clean = percent(self.clean_accuracy);
        for label in labels {
            let cells: Vec<String> = epsilons
                .iter()
                .map(|&e| {
                    self.results
                        .iter()
                        .find(|r| r.attack == label && r.epsilon == e)
                        .map_or_else(|| "-".into(), |r| percent(r.robust_accuracy))
                })
                .collect();
            let _ = writeln!(out, "| {label} | {clean} | {} |", cells.join(" | "));
        }
        let worst: Vec<String> = self
            .worst_case
            .iter()
            .map(|w| percent(w.robust_accuracy))
            .collect();
        let _ = writeln!(out, "| **worst case** | {clean} | {} |", worst.join(" | "));
        out
    }

    /// The summary table followed by one line per sanity-check warning: what a terminal shows.
    pub fn summary(&self) -> String {
        let mut out = self.summary_table();
        for warning in &self.warnings {
            let _ = writeln!(out, "warning: {}", warning.describe());
        }
        out
    }

    /// Writes the report as pretty JSON.
    pub fn write_json(&self, path: &Path) -> Result<()> {
        write_file(path, &to_json(self)?)
    }

    /// Writes the Markdown report.
    pub fn write_markdown(&self, path: &Path) -> Result<()> {
        write_file(path, &self.to_markdown())
    }
}

/// `value` as pretty JSON.
pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string_pretty(value)
        .map_err(|e| BenchError::InvalidArgument(format!("cannot serialize: {e}")))
}

/// Writes `text` to `path` atomically, creating its folder: into a temporary file beside it,
/// flushed to disk, then renamed over `path`. A full disk or a kill leaves the earlier file (or
/// none), never a truncated one.
pub(crate) fn write_file(path: &Path, text: &str) -> Result<()> {
    write_atomically(path, |partial| {
        std::fs::write(partial, text).map_err(|e| BenchError::io(partial, e))
    })
}

/// Runs `write` on a temporary path beside `path` (same folder, same extension), syncs the file
/// and renames it to `path`; the temporary file is removed if anything fails.
pub(crate) fn write_atomically(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(parent) = parent {
        std::fs::create_dir_all(parent).map_err(|e| BenchError::io(parent, e))?;
    }
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let extension = path
        .extension()
        .map_or_else(String::new, |e| format!(".{}", e.to_string_lossy()));
    let partial_name = format!(".{name}.{}.partial{extension}", std::process::id());
    let partial = parent.map_or_else(|| PathBuf::from(&partial_name), |p| p.join(&partial_name));
    let result = write(&partial).and_then(|()| {
        std::fs::File::open(&partial)
            .and_then(|file| file.sync_all())
            .map_err(|e| BenchError::io(&partial, e))?;
        std::fs::rename(&partial, path).map_err(|e| BenchError::io(path, e))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// 5, 10, 20, 50, 100, 200, ...
fn is_one_two_five(step: usize) -> bool {
    let mut scale = 1;
    while scale <= step {
        if [5 * scale, 10 * scale, 20 * scale].contains(&step) {
            return true;
        }
        scale *= 10;
    }
    false
}

pub(crate) fn percent(fraction: f32) -> String {
    format!("{:.1}%", 100.0 * fraction)
}

/// Epsilons as short decimals (`0.05`), or as `k/255` when they are such a fraction and no
/// short decimal.
pub(crate) fn format_epsilon(epsilon: f32) -> String {
    let decimal = (epsilon * 1e4).round() / 1e4;
    let k = epsilon * 255.0;
    if (decimal - epsilon).abs() > 1e-7 && (k - k.round()).abs() < 1e-3 {
        format!("{}/255", k.round())
    } else {
        format!("{decimal}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn report() -> EvalReport {
        let fgsm = AttackConfig::named("fgsm").unwrap();
        let result = |epsilon, robust_accuracy| AttackResult {
            attack: "fgsm".into(),
            config: fgsm.clone(),
            epsilon,
            robust_accuracy,
            attacked: 9,
            mean_perturbation: epsilon,
            max_perturbation: epsilon,
            accuracy_per_step: vec![1.0, robust_accuracy],
            accuracy_per_query: vec![(1, robust_accuracy)],
            mean_queries: 1.0,
            per_sample: PerSample::default(),
            cost: CostCounts::default(),
            harness_cost: CostCounts::default(),
            wall_time_s: 0.5,
        };
        EvalReport {
            samples: 10,
            clean_accuracy: 0.9,
            clean_wall_time_s: 0.1,
            norm: Norm::Linf,
            goal: Goal::Untargeted,
            threat: ThreatModel::new(Norm::Linf, 0.0).unwrap(),
            seed: 0,
            batch_size: 4,
            confidence: 0.0,
            results: vec![result(0.1, 0.5), result(8.0 / 255.0, 0.7)],
            worst_case: vec![
                WorstCase {
                    epsilon: 0.1,
                    robust_accuracy: 0.5,
                },
                WorstCase {
                    epsilon: 8.0 / 255.0,
                    robust_accuracy: 0.7,
                },
            ],
            epsilon_curves: vec![EpsilonCurve {
                attack: "fgsm".into(),
                accuracy: vec![(0.0, 0.9), (0.5, 0.0)],
                minimal_epsilons: vec![Some(0.0), Some(0.25), None],
                cost: CostCounts::default(),
                wall_time_s: 0.0,
            }],
            warnings: vec![],
            model_traits: ModelTraits::default(),
            context: RunContext::default(),
        }
    }

    #[test]
    fn summary_table_has_one_row_per_attack_and_a_worst_case() {
        let table = report().summary_table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "| attack | clean | eps=0.1 | eps=8/255 |");
        assert_eq!(lines[2], "| fgsm | 90.0% | 50.0% | 70.0% |");
        assert_eq!(lines[3], "| **worst case** | 90.0% | 50.0% | 70.0% |");
    }

    #[test]
    fn epsilons_print_as_decimals_or_fractions_of_255() {
        assert_eq!(format_epsilon(0.2), "0.2");
        assert_eq!(format_epsilon(8.0 / 255.0), "8/255");
        assert_eq!(format_epsilon(0.0), "0");
        assert_eq!(format_epsilon(0.123456), "0.1235");
    }

    #[test]
    fn json_round_trips() {
        let report = report();
        let json = serde_json::to_string(&report).unwrap();
        assert_eq!(serde_json::from_str::<EvalReport>(&json).unwrap(), report);
        assert!(json.contains("\"clean_accuracy\":0.9"));
        assert!(json.contains("\"robust_accuracy\":0.5"));
    }
}
