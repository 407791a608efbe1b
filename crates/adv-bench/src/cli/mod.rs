//! The subcommands, one file each, and the argument types they share.

pub mod attacks;
pub mod eval;
pub mod merge;
pub mod objectives;
pub mod options;
pub mod quickstart;
pub mod run;
pub mod train;

use adv_bench::{BenchError, Result};
use adv_core::DeviceSpec;
use clap::Args;

/// `--backend` and `--device`, shared by every command that computes.
#[derive(Args, Clone, Debug)]
pub struct BackendArgs {
    /// Backend: flex (default, pure Rust CPU), tch (LibTorch; build with --features tch) or
    /// wgpu (build with --features wgpu).
    #[arg(long, default_value = "flex")]
    pub backend: String,
    /// Device on the backend: cpu, cuda[:N] (tch), gpu[:N] or default (wgpu).
    #[arg(long)]
    pub device: Option<String>,
}

impl BackendArgs {
    pub fn spec(&self) -> Result<DeviceSpec> {
        Ok(DeviceSpec::parse(&self.backend, self.device.as_deref())?)
    }
}

/// Prints a suite's leaderboard, its warnings and where the files are.
pub fn print_suite_report(report: &adv_bench::SuiteReport, folder: &std::path::Path) {
    println!("{}", report.leaderboard.to_markdown());
    for warning in report.warnings() {
        println!("warning: {warning}");
    }
    println!(
        "\nrun folder: {} (report.md, leaderboard.*, plots/)",
        folder.display()
    );
}

/// Serializes `value` as pretty JSON for a file.
pub fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string_pretty(value).map_err(|e| BenchError::InvalidArgument(e.to_string()))
}
