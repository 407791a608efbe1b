//! `cargo xtask reproduce STUDY`: regenerates a study of docs/ from its suite file.

use clap::Args;

use super::adv_bench_release;

#[derive(Args)]
pub struct ReproduceArgs {
    /// The study: `training` (the seed's training findings on Fashion-MNIST,
    /// suites/fashion-mnist-training.toml; needs dataset-fashion-mnist) or `training-quick` (the
    /// same on a tenth of the data, suites/fashion-mnist-training-quick.toml).
    study: String,
    /// Passed to `adv-bench run` (--out, --shard, --resume, --backend).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

pub fn handle(args: ReproduceArgs) -> Result<(), String> {
    let suite = match args.study.as_str() {
        "training" => "suites/fashion-mnist-training.toml",
        "training-quick" => "suites/fashion-mnist-training-quick.toml",
        other => {
            return Err(format!(
                "unknown study '{other}' (expected: training, training-quick)"
            ));
        }
    };
    adv_bench_release(&["run", suite], &args.args)
}
