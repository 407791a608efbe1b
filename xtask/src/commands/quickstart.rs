use clap::Args;

use super::cargo;

#[derive(Args)]
pub struct QuickstartArgs {
    /// Passed to `adv-bench quickstart` (see `adv-bench quickstart --help`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

pub fn handle(args: QuickstartArgs) -> Result<(), String> {
    let mut command = vec!["run", "--release", "--quiet", "--package", "adv-bench", "--", "quickstart"];
    command.extend(args.args.iter().map(String::as_str));
    cargo(&command)
}
