pub mod bench;
pub mod fuzz;
pub mod quickstart;
pub mod reproduce;
pub mod train_speed;
pub mod validate;

use std::process::Command;

/// Runs `adv-bench COMMAND ARGS` built in release mode.
pub fn adv_bench_release(command: &[&str], args: &[String]) -> Result<(), String> {
    let mut line = vec![
        "run",
        "--release",
        "--quiet",
        "--package",
        "adv-bench",
        "--",
    ];
    line.extend_from_slice(command);
    line.extend(args.iter().map(String::as_str));
    cargo(&line)
}

/// Runs `cargo ARGS` in the workspace, failing with the command line if it fails.
pub fn cargo(args: &[&str]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .args(args)
        .status()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed ({status})", args.join(" ")))
    }
}
