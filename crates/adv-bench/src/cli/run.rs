//! `adv-bench run`: a benchmark suite into a run folder, resumable and shardable.

use std::path::PathBuf;

use adv_bench::{
    BenchError, Result, Shard, Suite, SuiteOutcome, SuiteRunOptions, new_run_dir, run_suite,
};
use clap::Args;

use super::{BackendArgs, print_suite_report};

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The suite file (TOML); see suites/ and docs/benchmarks.md.
    #[arg(required_unless_present = "resume", conflicts_with = "resume")]
    suite: Option<PathBuf>,
    /// Run folder; default a new `runs/<suite name>-<UTC time>`. A folder that already holds
    /// this suite's journal is resumed.
    #[arg(long, conflicts_with = "resume")]
    out: Option<PathBuf>,
    /// Resume the run in this folder (its suite.json), e.g. after a crash or a kill.
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Evaluate only the deterministic slice k of N of the suite's work (1 <= k <= N); combine
    /// the shards' journals with `adv-bench merge`.
    #[arg(long, value_parser = parse_shard)]
    shard: Option<Shard>,
    #[command(flatten)]
    backend: BackendArgs,
}

pub fn run(args: RunArgs) -> Result<()> {
    let (suite, run_dir) = match (&args.suite, &args.resume) {
        (_, Some(dir)) => (Suite::recorded_in(dir)?, dir.clone()),
        (Some(file), None) => {
            let suite = Suite::from_file(file)?;
            let dir = args
                .out
                .clone()
                .unwrap_or_else(|| new_run_dir("runs".as_ref(), &suite.name));
            (suite, dir)
        }
        (None, None) => {
            return Err(BenchError::InvalidArgument(
                "give a suite file or --resume RUN_FOLDER".into(),
            ));
        }
    };
    let options = SuiteRunOptions {
        run_dir: run_dir.clone(),
        shard: args.shard.unwrap_or(Shard::ALL),
        device: args.backend.spec()?,
        progress: true,
    };
    match run_suite(&suite, &options)? {
        SuiteOutcome::Complete(report) => print_suite_report(&report, &run_dir),
        SuiteOutcome::ShardDone { shard, units } => {
            println!(
                "shard {}/{}: {units} units recorded in {}; once every shard is done: \
                 adv-bench merge {}",
                shard.index,
                shard.count,
                run_dir.join(shard.journal_name()).display(),
                run_dir.display()
            );
        }
    }
    Ok(())
}

fn parse_shard(text: &str) -> std::result::Result<Shard, String> {
    Shard::parse(text).map_err(|e| e.to_string())
}
