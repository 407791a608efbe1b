//! `adv-bench quickstart`: the main job on the embedded digits.

use std::path::PathBuf;

use adv_bench::{QuickstartOptions, Result, new_run_dir, run_quickstart};
use clap::Args;

use adv_bench::parse_epsilon;

use super::BackendArgs;

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct QuickstartArgs {
    /// Run folder; default a new `runs/quickstart-<UTC time>`.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Training epochs.
    #[arg(long, default_value_t = 30)]
    epochs: usize,
    /// Linf radii (repeatable); default 0.05, 0.1, 0.2, 0.3.
    #[arg(long = "eps", value_parser = parse_epsilon)]
    epsilons: Vec<f32>,
    /// PGD iterations.
    #[arg(long, default_value_t = 20)]
    steps: usize,
    /// Seed of training and attacks.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    backend: BackendArgs,
}

pub fn run(args: QuickstartArgs) -> Result<()> {
    let run_dir = args
        .out
        .unwrap_or_else(|| new_run_dir("runs".as_ref(), "quickstart"));
    let mut options = QuickstartOptions::new(run_dir);
    options.device = args.backend.spec()?;
    options.epochs = args.epochs;
    options.seed = args.seed;
    options.pgd_steps = args.steps;
    if !args.epsilons.is_empty() {
        options.epsilons = args.epsilons;
    }
    let outcome = run_quickstart(&options)?;
    println!("{}", outcome.summary());
    Ok(())
}
