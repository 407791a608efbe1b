//! `adv-bench`: evaluate, train, list attacks and run benchmark suites from the command line.
//!
//! Every error is one line on standard error and a non-zero exit status.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Adversarial robustness evaluation of image classifiers.
#[derive(Parser)]
#[command(name = "adv-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Evaluate a model on a data set under attacks and epsilons; print and save the table.
    Eval(Box<cli::eval::EvalArgs>),
    /// Train a model with any objective (standard, PGD-AT, TRADES, ...) and save a checkpoint
    /// recording every setting.
    Train(Box<cli::train::TrainArgs>),
    /// List every attack with its threat models and options.
    Attacks(cli::attacks::AttacksArgs),
    /// List every training objective with its options.
    Objectives(cli::objectives::ObjectivesArgs),
    /// Train on the embedded digits, attack with FGSM and PGD, write a run folder.
    Quickstart(cli::quickstart::QuickstartArgs),
    /// Run a benchmark suite (TOML) into a resumable, shardable run folder.
    Run(cli::run::RunArgs),
    /// Combine the journals of a sharded suite run into its report.
    Merge(cli::merge::MergeArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => error.exit(),
        Err(error)
            if error.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
        {
            // `adv-bench` alone: the help on standard output, as `--help`, and a usage exit.
            println!("{}", <Cli as clap::CommandFactory>::command().render_help());
            return ExitCode::from(2);
        }
        Err(error) => {
            // clap's message runs until its first blank line (then usage and hints follow).
            let message = error.to_string();
            let lines: Vec<&str> = message
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect();
            eprintln!("{} (see adv-bench --help)", lines.join(" "));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Eval(args) => cli::eval::run(*args),
        Command::Train(args) => cli::train::run(*args),
        Command::Attacks(args) => cli::attacks::run(args),
        Command::Objectives(args) => cli::objectives::run(args),
        Command::Quickstart(args) => cli::quickstart::run(args),
        Command::Run(args) => cli::run::run(args),
        Command::Merge(args) => cli::merge::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", error.to_string().replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
