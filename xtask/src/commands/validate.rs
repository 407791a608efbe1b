use clap::Args;

use super::cargo;

#[derive(Args)]
pub struct ValidateArgs {
    /// Stop after format and lints.
    #[arg(long)]
    no_tests: bool,
}

pub fn handle(args: ValidateArgs) -> Result<(), String> {
    cargo(&["fmt", "--all", "--check"])?;
    cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;
    if !args.no_tests {
        cargo(&["test", "--workspace"])?;
    }
    Ok(())
}
