use clap::Args;

use super::adv_bench_release;

#[derive(Args)]
pub struct QuickstartArgs {
    /// Passed to `adv-bench quickstart` (see `adv-bench quickstart --help`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

pub fn handle(args: QuickstartArgs) -> Result<(), String> {
    adv_bench_release(&["quickstart"], &args.args)
}
