//! `adv-bench merge`: the shards of a suite run into one report.

use std::path::PathBuf;

use adv_bench::{Result, merge};
use clap::Args;

use super::print_suite_report;

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Run folders (every journal*.jsonl in them) or journal files.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Where to write the reports; default the first input folder (or the first journal's).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(args: MergeArgs) -> Result<()> {
    let out = args.out.clone().unwrap_or_else(|| {
        let first = &args.inputs[0];
        if first.is_dir() {
            first.clone()
        } else {
            first.parent().map(PathBuf::from).unwrap_or_default()
        }
    });
    let report = merge(&args.inputs, &out)?;
    print_suite_report(&report, &out);
    Ok(())
}
