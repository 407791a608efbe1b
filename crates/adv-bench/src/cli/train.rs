//! `adv-bench train`: standard training of a small model, saved as a checkpoint.

use std::path::PathBuf;

use adv_bench::{DataSource, Progress, Result};
use adv_defenses::{LrSchedule, Optimizer, TrainConfig, train};
use adv_models::{ModelConfig, save_checkpoint, sidecar_path};
use clap::Args;

use super::BackendArgs;

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct TrainArgs {
    /// Architecture: mlp or small-cnn.
    #[arg(long, default_value = "small-cnn")]
    model: String,
    /// Training data (see `eval --data`); default the embedded digits' training split.
    #[arg(long, default_value = "digits:train")]
    data: String,
    /// Labels file, for formats that keep labels apart.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Passes over the data.
    #[arg(long, default_value_t = 30)]
    epochs: usize,
    /// Samples per step.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// sgd (momentum 0.9), sgd-nesterov, sgd-plain or adam.
    #[arg(long, default_value = "adam")]
    optimizer: Optimizer,
    /// Base learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// L2 weight decay.
    #[arg(long, default_value_t = 0.0)]
    weight_decay: f32,
    /// constant, cosine, or step:E1,E2 (x0.1 at each listed epoch).
    #[arg(long, default_value = "constant")]
    schedule: LrSchedule,
    /// Label smoothing in [0, 1).
    #[arg(long, default_value_t = 0.0)]
    label_smoothing: f32,
    /// Seed of initialization and shuffling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Checkpoint to write (the architecture goes to the .json beside it).
    #[arg(long, default_value = "model.bpk")]
    out: PathBuf,
    #[command(flatten)]
    backend: BackendArgs,
}

pub fn run(args: TrainArgs) -> Result<()> {
    let spec = args.backend.spec()?;
    let device = spec.device()?;
    let source = DataSource::parse(&args.data, args.labels.as_deref());
    let data = source.load()?;
    let architecture = ModelConfig::from_name(&args.model, data.shape(), data.num_classes())?;
    let config = TrainConfig {
        epochs: args.epochs,
        batch_size: args.batch_size,
        optimizer: args.optimizer,
        learning_rate: args.lr,
        weight_decay: args.weight_decay,
        schedule: args.schedule,
        label_smoothing: args.label_smoothing,
        seed: args.seed,
    };
    config.check()?;
    let progress = Progress::terminal();
    progress.start("training", config.epochs as u64);
    let trained = train(&architecture, &config, &data, &device, &mut |stats| {
        progress.advance();
        progress.set_stage(&format!("loss {:.3} acc {:.1}%", stats.loss, 100.0 * stats.accuracy));
    })?;
    progress.finish();
    if let Some(last) = trained.history.last() {
        println!(
            "trained {} on {} ({} samples): epoch {} loss {:.4}, training accuracy {:.1}%",
            architecture.name(),
            source.describe(),
            data.len(),
            last.epoch,
            last.loss,
            100.0 * last.accuracy
        );
    }
    save_checkpoint(trained.model, &architecture, &args.out)?;
    println!("wrote {} and {}", args.out.display(), sidecar_path(&args.out).display());
    Ok(())
}
