use clap::Args;

use super::adv_bench_release;

#[derive(Args)]
pub struct BenchArgs {
    /// The suite file, e.g. suites/quickstart.toml.
    suite: String,
    /// Passed to `adv-bench run` (--out, --shard, --backend; see `adv-bench run --help`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

pub fn handle(args: BenchArgs) -> Result<(), String> {
    adv_bench_release(&["run", &args.suite], &args.args)
}
