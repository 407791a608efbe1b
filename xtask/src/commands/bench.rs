use clap::Args;

use super::cargo;

#[derive(Args)]
pub struct BenchArgs {
    /// The suite file, e.g. suites/quickstart.toml.
    suite: String,
    /// Passed to `adv-bench run` (--out, --shard, --backend; see `adv-bench run --help`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

pub fn handle(args: BenchArgs) -> Result<(), String> {
    let mut command = vec![
        "run",
        "--release",
        "--quiet",
        "--package",
        "adv-bench",
        "--",
        "run",
        args.suite.as_str(),
    ];
    command.extend(args.args.iter().map(String::as_str));
    cargo(&command)
}
