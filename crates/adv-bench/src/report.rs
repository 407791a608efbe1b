//! The evaluation report: a serde value written as JSON, rendered as Markdown.

use std::fmt::Write as _;
use std::path::Path;

use adv_attacks::AttackConfig;
use adv_core::{CostCounts, Goal, Norm};
use serde::{Deserialize, Serialize};

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
    /// What was evaluated, where and how.
    pub context: RunContext,
}

/// One attack at one epsilon.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttackResult {
    /// Short label, e.g. `pgd-10`.
    pub attack: String,
    /// The full configuration.
    pub config: AttackConfig,
    /// The radius.
    pub epsilon: f32,
    /// Fraction of all samples that are clean-correct and were not made adversarial.
    pub robust_accuracy: f32,
    /// Samples attacked (the clean-correct ones).
    pub attacked: usize,
    /// Mean norm of the perturbation of the returned examples, over attacked samples.
    pub mean_perturbation: f32,
    /// Largest such norm (never above epsilon).
    pub max_perturbation: f32,
    /// Forward and backward work, clean check of each batch included.
    pub cost: CostCounts,
    /// Seconds spent.
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
            "\n## Details\n\n| attack | eps | robust acc | attacked | mean pert. | max pert. | forward | backward | time (s) |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        for r in &self.results {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {:.4} | {:.4} | {} | {} | {:.2} |",
                r.attack,
                format_epsilon(r.epsilon),
                percent(r.robust_accuracy),
                r.attacked,
                r.mean_perturbation,
                r.max_perturbation,
                r.cost.forward_samples,
                r.cost.backward_samples,
                r.wall_time_s,
            );
        }
        let _ = writeln!(
            out,
            "\nRobust accuracy counts a sample when it is classified correctly and the attack \
             found no adversarial example; the worst case counts it when no attack did. Forward \
             and backward are in samples; perturbations in the {} norm.",
            self.norm
        );
        out
    }

    /// Clean accuracy, then robust accuracy per attack (rows) and epsilon (columns), then the
    /// worst case over attacks.
    pub fn summary_table(&self) -> String {
        let epsilons: Vec<f32> = self.worst_case.iter().map(|w| w.epsilon).collect();
        let mut out = String::new();
        let header: Vec<String> = epsilons.iter().map(|&e| format!("eps={}", format_epsilon(e))).collect();
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
        let worst: Vec<String> = self.worst_case.iter().map(|w| percent(w.robust_accuracy)).collect();
        let _ = writeln!(out, "| **worst case** | {clean} | {} |", worst.join(" | "));
        out
    }

    /// Writes the report as pretty JSON.
    pub fn write_json(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self)
            .map_err(|e| BenchError::InvalidArgument(format!("cannot serialize the report: {e}")))?;
        write_file(path, &json)
    }

    /// Writes the Markdown report.
    pub fn write_markdown(&self, path: &Path) -> Result<()> {
        write_file(path, &self.to_markdown())
    }
}

/// Writes `text` to `path`, creating its folder.
pub(crate) fn write_file(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| BenchError::io(parent, e))?;
    }
    std::fs::write(path, text).map_err(|e| BenchError::io(path, e))
}

fn percent(fraction: f32) -> String {
    format!("{:.1}%", 100.0 * fraction)
}

/// Epsilons as short decimals (`0.05`), or as `k/255` when they are such a fraction and no
/// short decimal.
fn format_epsilon(epsilon: f32) -> String {
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
    use adv_attacks::AttackOverrides;

    fn report() -> EvalReport {
        let fgsm = AttackConfig::from_name("fgsm", &AttackOverrides::default()).unwrap();
        let result = |epsilon, robust_accuracy| AttackResult {
            attack: "fgsm".into(),
            config: fgsm.clone(),
            epsilon,
            robust_accuracy,
            attacked: 9,
            mean_perturbation: epsilon,
            max_perturbation: epsilon,
            cost: CostCounts::default(),
            wall_time_s: 0.5,
        };
        EvalReport {
            samples: 10,
            clean_accuracy: 0.9,
            clean_wall_time_s: 0.1,
            norm: Norm::Linf,
            goal: Goal::Untargeted,
            seed: 0,
            batch_size: 4,
            confidence: 0.0,
            results: vec![result(0.1, 0.5), result(8.0 / 255.0, 0.7)],
            worst_case: vec![
                WorstCase { epsilon: 0.1, robust_accuracy: 0.5 },
                WorstCase { epsilon: 8.0 / 255.0, robust_accuracy: 0.7 },
            ],
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
