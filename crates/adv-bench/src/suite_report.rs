//! The report of a suite: the leaderboard, one evaluation report per model and threat model,
//! the sanity checks, plots, and what is needed to reproduce it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use adv_core::{CostCounts, Norm};
use serde::{Deserialize, Serialize};

use crate::plot::write_plots;
use crate::report::{format_epsilon, percent, to_json, write_file};
use crate::suite::Suite;
use crate::{EvalReport, Result};

/// Everything a suite run measured, and how.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuiteReport {
    /// The full configuration (paths resolved).
    pub suite: Suite,
    /// Versions and machine.
    pub environment: Environment,
    /// Per-model leaderboard rows.
    pub leaderboard: Leaderboard,
    /// One evaluation per model and threat model, in suite order.
    pub evaluations: Vec<SuiteEvaluation>,
}

/// One model under one threat model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuiteEvaluation {
    /// The model's name in the suite.
    pub model: String,
    /// Its data set's name.
    pub data: String,
    /// Index of the threat model in the suite.
    pub threat: usize,
    /// The evaluation.
    pub report: EvalReport,
}

/// Software and machine a report comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    /// Version of `adv-bench`.
    pub adv_bench: String,
    /// Version of Burn.
    pub burn: String,
    /// Backend and device.
    pub backend: String,
    /// Operating system and CPU architecture.
    pub platform: String,
}

impl Environment {
    /// This build on this machine, computing on `backend`.
    pub fn current(backend: &str) -> Self {
        Self {
            adv_bench: env!("CARGO_PKG_VERSION").into(),
            burn: adv_core::BURN_VERSION.into(),
            backend: backend.into(),
            platform: format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH),
        }
    }
}

/// Robust accuracy per model, RobustBench style: one row per model, threat model and epsilon.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Leaderboard {
    /// Attack columns, in suite order.
    pub attacks: Vec<String>,
    /// Rows grouped by threat model and epsilon, best worst case first within a group.
    pub rows: Vec<LeaderboardRow>,
}

/// One model at one radius.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LeaderboardRow {
    /// The model.
    pub model: String,
    /// Its data set.
    pub data: String,
    /// The norm.
    pub norm: Norm,
    /// The goal.
    pub goal: String,
    /// The radius.
    pub epsilon: f32,
    /// Samples evaluated.
    pub samples: usize,
    /// Accuracy without attack.
    pub clean_accuracy: f32,
    /// Robust accuracy per attack that ran under this threat model.
    pub robust_accuracy: BTreeMap<String, f32>,
    /// Fraction of samples no attack broke: the model's robust accuracy.
    pub worst_case: f32,
}

impl SuiteReport {
    /// Builds the leaderboard from the evaluations.
    pub fn new(suite: Suite, environment: Environment, evaluations: Vec<SuiteEvaluation>) -> Self {
        let leaderboard = Leaderboard::new(&evaluations);
        Self {
            suite,
            environment,
            leaderboard,
            evaluations,
        }
    }

    /// Every sanity-check warning, with the evaluation it concerns.
    pub fn warnings(&self) -> Vec<String> {
        self.evaluations
            .iter()
            .flat_map(|e| {
                e.report
                    .warnings
                    .iter()
                    .map(move |w| format!("{} ({}): {}", e.model, e.report.norm, w.describe()))
            })
            .collect()
    }

    /// The Markdown report.
    pub fn to_markdown(&self, plots: &[String]) -> String {
        let mut out = String::new();
        let env = &self.environment;
        let _ = writeln!(out, "# Benchmark `{}`\n", self.suite.name);
        let _ = writeln!(
            out,
            "Seed {}, batch size {}, backend {}, adv-bench {}, Burn {}, {}. The full \
             configuration is in `suite.json`; every unit of work is in the journal.\n",
            self.suite.seed,
            self.suite.batch_size,
            env.backend,
            env.adv_bench,
            env.burn,
            env.platform
        );
        let _ = writeln!(out, "## Leaderboard\n");
        out.push_str(&self.leaderboard.to_markdown());
        let _ = writeln!(out, "\n## Sanity checks\n");
        let warnings = self.warnings();
        if warnings.is_empty() {
            let _ = writeln!(out, "All passed for every model and threat model.");
        }
        for warning in warnings {
            let _ = writeln!(out, "- **warning**: {warning}");
        }
        let _ = writeln!(out, "\n## Cost\n");
        let _ = writeln!(
            out,
            "Forward and backward passes in samples, for the fixed-radius attacks and for the \
             minimal-epsilon searches of the curves.\n"
        );
        let _ = writeln!(
            out,
            "| model | norm | attacks: forward | backward | time (s) | searches: forward | backward | time (s) |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        for e in &self.evaluations {
            let r = &e.report;
            let attacks = r.results.iter().map(|a| (a.cost, a.wall_time_s));
            let searches = r.epsilon_curves.iter().map(|c| (c.cost, c.wall_time_s));
            let [attacks, searches] = [total(attacks), total(searches)];
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {:.1} | {} | {} | {:.1} |",
                e.model,
                r.norm,
                attacks.0.forward_samples,
                attacks.0.backward_samples,
                attacks.1,
                searches.0.forward_samples,
                searches.0.backward_samples,
                searches.1
            );
        }
        if !plots.is_empty() {
            let _ = writeln!(out, "\n## Plots\n");
            for plot in plots {
                let _ = writeln!(out, "![{plot}]({plot})");
            }
        }
        for e in &self.evaluations {
            let _ = writeln!(out, "\n## {} under {}\n", e.model, e.report.norm);
            // The evaluation's own report, one heading level down and without its title.
            let markdown = e.report.to_markdown();
            for line in markdown.lines().skip(1).skip_while(|l| l.is_empty()) {
                if line.starts_with('#') {
                    let _ = writeln!(out, "##{line}");
                } else {
                    let _ = writeln!(out, "{line}");
                }
            }
        }
        out
    }

    /// Writes `report.json`, `report.md`, `leaderboard.{md,csv,json}` and `plots/` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let plots = write_plots(self, &dir.join("plots"))?;
        let plots: Vec<String> = plots
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "svg"))
            .filter_map(|p| p.strip_prefix(dir).ok())
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        write_file(&dir.join("report.json"), &to_json(self)?)?;
        write_file(&dir.join("report.md"), &self.to_markdown(&plots))?;
        write_file(&dir.join("leaderboard.md"), &self.leaderboard.to_markdown())?;
        write_file(&dir.join("leaderboard.csv"), &self.leaderboard.to_csv())?;
        write_file(&dir.join("leaderboard.json"), &to_json(&self.leaderboard)?)
    }
}

impl Leaderboard {
    /// Rows from the evaluations.
    pub fn new(evaluations: &[SuiteEvaluation]) -> Self {
        let mut attacks: Vec<String> = Vec::new();
        let mut groups: BTreeMap<(usize, usize), Vec<LeaderboardRow>> = BTreeMap::new();
        for e in evaluations {
            let report = &e.report;
            for r in &report.results {
                if !attacks.contains(&r.attack) {
                    attacks.push(r.attack.clone());
                }
            }
            for (k, worst) in report.worst_case.iter().enumerate() {
                groups
                    .entry((e.threat, k))
                    .or_default()
                    .push(LeaderboardRow {
                        model: e.model.clone(),
                        data: e.data.clone(),
                        norm: report.norm,
                        goal: report.goal.name().into(),
                        epsilon: worst.epsilon,
                        samples: report.samples,
                        clean_accuracy: report.clean_accuracy,
                        robust_accuracy: report
                            .results
                            .iter()
                            .filter(|r| r.epsilon == worst.epsilon)
                            .map(|r| (r.attack.clone(), r.robust_accuracy))
                            .collect(),
                        worst_case: worst.robust_accuracy,
                    });
            }
        }
        let mut rows = Vec::new();
        for (_, mut group) in groups {
            group.sort_by(|a, b| b.worst_case.total_cmp(&a.worst_case));
            rows.extend(group);
        }
        Self { attacks, rows }
    }

    /// One table per threat model and radius, ranked by worst-case robust accuracy.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let mut rank = 0;
        for (k, row) in self.rows.iter().enumerate() {
            let previous = k.checked_sub(1).map(|p| &self.rows[p]);
            let new_group = previous
                .is_none_or(|p| (p.norm, p.epsilon, &p.goal) != (row.norm, row.epsilon, &row.goal));
            if new_group {
                rank = 0;
                let _ = writeln!(
                    out,
                    "{}### {} eps = {} ({})\n",
                    if k == 0 { "" } else { "\n" },
                    row.norm,
                    format_epsilon(row.epsilon),
                    row.goal
                );
                let _ = writeln!(
                    out,
                    "| rank | model | data | clean | {} | **robust (worst case)** |",
                    self.attacks.join(" | ")
                );
                let _ = writeln!(
                    out,
                    "| ---: | --- | --- | ---: |{} ---: |",
                    " ---: |".repeat(self.attacks.len())
                );
            }
            rank += 1;
            let _ = writeln!(
                out,
                "| {rank} | {} | {} ({}) | {} | {} | **{}** |",
                row.model,
                row.data,
                row.samples,
                percent(row.clean_accuracy),
                self.cells(row, percent).join(" | "),
                percent(row.worst_case)
            );
        }
        out
    }

    /// One line per row: model, data, samples, norm, goal, epsilon, clean, each attack, worst
    /// case; accuracies as fractions, `""` where an attack did not run.
    pub fn to_csv(&self) -> String {
        let mut out = format!(
            "model,data,samples,norm,goal,epsilon,clean,{},worst_case\n",
            self.attacks.join(",")
        );
        for row in &self.rows {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{},{}",
                csv_field(&row.model),
                csv_field(&row.data),
                row.samples,
                row.norm,
                row.goal,
                row.epsilon,
                row.clean_accuracy,
                self.cells(row, |a| a.to_string()).join(","),
                row.worst_case
            );
        }
        out
    }

    fn cells(&self, row: &LeaderboardRow, format: fn(f32) -> String) -> Vec<String> {
        self.attacks
            .iter()
            .map(|a| {
                row.robust_accuracy
                    .get(a)
                    .map_or_else(String::new, |&v| format(v))
            })
            .collect()
    }
}

fn total(items: impl Iterator<Item = (CostCounts, f64)>) -> (CostCounts, f64) {
    items.fold((CostCounts::default(), 0.0), |(cost, seconds), (c, s)| {
        (cost + c, seconds + s)
    })
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}
