//! `cargo xtask fuzz`: the loader fuzz tests (crates/adv-bench/tests/fuzz_loaders.rs) with many
//! more cases than CI runs, in release mode.

use clap::Args;

use std::process::Command;

#[derive(Args)]
pub struct FuzzArgs {
    /// Mutated files per loader (CI runs 300).
    #[arg(long, default_value_t = 20_000)]
    cases: u32,
}

pub fn handle(args: FuzzArgs) -> Result<(), String> {
    if args.cases == 0 {
        return Err("--cases must be at least 1".into());
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let line = [
        "test",
        "--release",
        "--package",
        "adv-bench",
        "--test",
        "fuzz_loaders",
        "--",
        "--include-ignored",
    ];
    let status = Command::new(&cargo)
        .args(line)
        .env("PROPTEST_CASES", args.cases.to_string())
        .status()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed ({status})", line.join(" ")))
    }
}
