//! The benchmark runner of the `adv` workspace: evaluates a model on a data set under a list of
//! attacks and epsilons and writes the report (JSON and Markdown); runs whole suites (models x
//! threat models x attacks x budgets) into resumable, shardable run folders with leaderboards
//! and plots. The `adv-bench` binary is its command line.
//!
//! ```no_run
//! use adv_bench::{QuickstartOptions, run_quickstart};
//! let outcome = run_quickstart(&QuickstartOptions::new("runs/quickstart".into())).unwrap();
//! println!("{}", outcome.report.summary_table());
//! ```
#![warn(missing_docs)]

mod checks;
mod curves;
mod error;
mod evaluate;
mod journal;
mod models;
mod paths;
mod plot;
mod progress;
mod quickstart;
mod report;
mod runner;
mod source;
mod suite;
mod suite_report;
mod work;

pub use checks::{Warning, check_model, check_results};
pub use curves::{EpsilonSearch, accuracy_at};
pub use error::{BenchError, Result};
pub use evaluate::{CheckedPlan, EvalPlan, check_labels, check_model_fits, evaluate};
pub use journal::Shard;
pub use models::{ArchitectureChoice, LoadedModel, ensemble, load_model, with_normalization};
pub use paths::{check_distinct, check_output};
pub use progress::Progress;
pub use quickstart::{QuickstartOptions, QuickstartOutcome, new_run_dir, run_quickstart};
pub use report::{AttackResult, EpsilonCurve, EvalReport, PerSample, RunContext, WorstCase};
pub use runner::{SuiteOutcome, SuiteRunOptions, merge, run_suite};
pub use source::{DIGITS_TRAIN, DataSource, DigitsSplit};
pub use suite::{
    AttackSpec, DataSpec, Epsilon, Evaluation, ModelSpec, NormalizationSpec, OptionText, Suite,
    ThreatSpec, TrainSpec, parse_epsilon,
};
pub use suite_report::{Environment, Leaderboard, LeaderboardRow, SuiteEvaluation, SuiteReport};
