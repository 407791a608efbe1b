//! `cargo xtask`: project automation. Each command is one file under `commands/`.

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Project automation for the adv workspace.
#[derive(Parser)]
#[command(name = "cargo xtask")]
struct Xtask {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a small CNN on the embedded digits, attack it with FGSM and PGD over a list of
    /// epsilons, print the table and write a run folder (arguments go to `adv-bench quickstart`).
    Quickstart(commands::quickstart::QuickstartArgs),
    /// Run a benchmark suite (TOML) with `adv-bench run` in release mode: leaderboard, curves,
    /// plots and sanity checks in a run folder.
    Bench(commands::bench::BenchArgs),
    /// Regenerate a study of docs/ from its suite (`training`: the seed's training findings on
    /// Fashion-MNIST); arguments after it go to `adv-bench run`.
    Reproduce(commands::reproduce::ReproduceArgs),
    /// One epoch of PGD-AT on the small CNN, ours and PyTorch eager side by side (needs
    /// dataset-fashion-mnist and a Python with torch).
    TrainSpeed(commands::train_speed::TrainSpeedArgs),
    /// The loader fuzz tests with many cases (default 20,000 mutated files per loader; CI runs
    /// 300), in release mode.
    Fuzz(commands::fuzz::FuzzArgs),
    /// The checks a change must pass, cheapest first: format, lints, tests.
    Validate(commands::validate::ValidateArgs),
}

fn main() -> ExitCode {
    let result = match Xtask::parse().command {
        Command::Quickstart(args) => commands::quickstart::handle(args),
        Command::Bench(args) => commands::bench::handle(args),
        Command::Validate(args) => commands::validate::handle(args),
        Command::Reproduce(args) => commands::reproduce::handle(args),
        Command::TrainSpeed(args) => commands::train_speed::handle(args),
        Command::Fuzz(args) => commands::fuzz::handle(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
