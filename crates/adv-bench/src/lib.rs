//! The benchmark runner of the `adv` workspace: evaluates a model on a data set under a list of
//! attacks and epsilons and writes the report (JSON and Markdown). The `adv-bench` binary is its
//! command line.
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
mod progress;
mod quickstart;
mod report;
mod source;

pub use checks::{Warning, check_model, check_results};
pub use curves::{
    CurveInput, EpsilonSearch, accuracy_at, accuracy_per_iteration, minimal_epsilons,
};
pub use error::{BenchError, Result};
pub use evaluate::{EvalPlan, evaluate};
pub use progress::Progress;
pub use quickstart::{QuickstartOptions, QuickstartOutcome, new_run_dir, run_quickstart};
pub use report::{AttackResult, EpsilonCurve, EvalReport, RunContext, WorstCase};
pub use source::{DIGITS_TRAIN, DataSource, DigitsSplit};
