//! `adv-bench train`: training with any objective, saved as a checkpoint whose sidecar records
//! every setting; a killed run resumes from its last epoch.

use std::path::{Path, PathBuf};

use adv_bench::{BenchError, DataSource, Progress, Result};
use adv_defenses::{
    EarlyStopping, LrSchedule, ObjectiveConfig, Optimizer, TrainConfig, TrainRun, TrainingRecord,
    apply_shared, train_with,
};
use adv_models::{ModelConfig, save_trained_checkpoint, sidecar_path};
use clap::Args;

use super::BackendArgs;
use super::options::ObjectiveFlags;

/// Every flag but the objective's options defaults to `TrainConfig::default()`, the defaults
/// suites use too.
#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct TrainArgs {
    /// Architecture (see `eval --model`).
    #[arg(long, default_value = "small-cnn")]
    model: String,
    /// Training data (see `eval --data`); default the embedded digits' training split.
    #[arg(long, default_value = "digits:train")]
    data: String,
    /// Labels file, for formats that keep labels apart.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// What each step minimizes: NAME or NAME:key=value,... (`adv-bench objectives`).
    #[arg(long, default_value = "standard")]
    objective: String,
    #[command(flatten)]
    options: ObjectiveFlags,
    /// Passes over the data [default: 30].
    #[arg(long)]
    epochs: Option<usize>,
    /// Samples per step [default: 32].
    #[arg(long)]
    batch_size: Option<usize>,
    /// sgd (momentum 0.9), sgd-nesterov, sgd-plain or adam [default: adam].
    #[arg(long)]
    optimizer: Option<Optimizer>,
    /// Base learning rate [default: 0.001].
    #[arg(long)]
    lr: Option<f64>,
    /// L2 weight decay [default: 0].
    #[arg(long)]
    weight_decay: Option<f32>,
    /// constant, cosine, cyclic, or step:E1,E2 (x0.1 at each listed epoch) [default: constant].
    #[arg(long)]
    schedule: Option<LrSchedule>,
    /// Epochs of linear learning-rate warm-up [default: 0].
    #[arg(long)]
    lr_warmup_epochs: Option<usize>,
    /// Epochs of linear warm-up of the objective's radius [default: 0].
    #[arg(long)]
    eps_warmup_epochs: Option<usize>,
    /// Label smoothing in [0, 1) [default: 0].
    #[arg(long)]
    label_smoothing: Option<f32>,
    /// Fraction of the data held out for per-epoch clean and robust accuracy [default: 0].
    #[arg(long)]
    holdout: Option<f32>,
    /// The attack of the held-out robust accuracy [default: pgd:steps=10].
    #[arg(long)]
    eval_attack: Option<String>,
    /// Its radius [default: the objective's].
    #[arg(long)]
    eval_eps: Option<f32>,
    /// none, best-robust or best-clean (on the held-out split) [default: none].
    #[arg(long)]
    early_stopping: Option<EarlyStopping>,
    /// Seed of initialization, shuffling and crafting [default: 0].
    #[arg(long)]
    seed: Option<u64>,
    /// Checkpoint to write (its .json sidecar records the architecture and every setting).
    #[arg(long, default_value = "model.bpk")]
    out: PathBuf,
    #[command(flatten)]
    backend: BackendArgs,
}

fn config(args: &TrainArgs) -> Result<TrainConfig> {
    let defaults = TrainConfig::default();
    let objective = apply_shared(
        &ObjectiveConfig::parse(&args.objective)?,
        &args.options.settings,
    )?;
    let config = TrainConfig {
        epochs: args.epochs.unwrap_or(defaults.epochs),
        batch_size: args.batch_size.unwrap_or(defaults.batch_size),
        optimizer: args.optimizer.clone().unwrap_or(defaults.optimizer),
        learning_rate: args.lr.unwrap_or(defaults.learning_rate),
        weight_decay: args.weight_decay.unwrap_or(defaults.weight_decay),
        schedule: args.schedule.clone().unwrap_or(defaults.schedule),
        label_smoothing: args.label_smoothing.unwrap_or(defaults.label_smoothing),
        seed: args.seed.unwrap_or(defaults.seed),
        objective,
        holdout: args.holdout.unwrap_or(defaults.holdout),
        eval_attack: args.eval_attack.clone().unwrap_or(defaults.eval_attack),
        eval_eps: args.eval_eps.or(defaults.eval_eps),
        early_stopping: args.early_stopping.unwrap_or(defaults.early_stopping),
        lr_warmup_epochs: args.lr_warmup_epochs.unwrap_or(defaults.lr_warmup_epochs),
        eps_warmup_epochs: args.eps_warmup_epochs.unwrap_or(defaults.eps_warmup_epochs),
    };
    config.check()?;
    Ok(config)
}

pub fn run(args: TrainArgs) -> Result<()> {
    // Every setting is checked before any file is read.
    let config = config(&args)?;
    if adv_models::weights::WeightFormat::of(&args.out).ok()
        != Some(adv_models::weights::WeightFormat::Burn)
    {
        return Err(BenchError::InvalidArgument(format!(
            "--out {}: a checkpoint is a Burn record, name it NAME.bpk (its settings go into \
             NAME.json beside it)",
            args.out.display()
        )));
    }
    let sidecar = sidecar_path(&args.out);
    let mut inputs: Vec<(&str, &Path)> = vec![("--data", Path::new(&args.data))];
    inputs.extend(args.labels.as_deref().map(|p| ("--labels", p)));
    adv_bench::check_distinct(
        &inputs,
        &[("--out", &args.out), ("--out's settings file", &sidecar)],
    )?;
    let spec = args.backend.spec()?;
    let device = spec.device()?;
    let source = DataSource::parse(&args.data, args.labels.as_deref());
    let data = source.load()?;
    let architecture = ModelConfig::from_name(&args.model, data.shape(), data.num_classes())?;
    let checkpoint_dir = checkpoint_dir(&args.out)?;
    let resuming = checkpoint_dir.join("latest").is_file();
    let progress = Progress::terminal();
    progress.start("training", config.epochs as u64);
    if resuming {
        progress.set_stage(&format!("resuming from {}", checkpoint_dir.display()));
    }
    let run = TrainRun {
        checkpoint_dir: Some(checkpoint_dir.clone()),
    };
    let started = std::time::Instant::now();
    let trained = train_with(&architecture, &config, &data, &device, &run, &mut |stats| {
        progress.advance();
        let holdout = match (stats.holdout_clean, stats.holdout_robust) {
            (Some(clean), Some(robust)) => {
                format!(
                    ", held out {:.1}% / robust {:.1}%",
                    100.0 * clean,
                    100.0 * robust
                )
            }
            (Some(clean), None) => format!(", held out {:.1}%", 100.0 * clean),
            _ => String::new(),
        };
        progress.set_stage(&format!(
            "loss {:.3} acc {:.1}%{holdout}",
            stats.loss,
            100.0 * stats.accuracy
        ));
    })?;
    progress.finish();
    let seconds = started.elapsed().as_secs_f64();
    if let Some(last) = trained.history.last() {
        println!(
            "trained {} on {} ({} samples) with {}: epoch {} loss {:.4}, training accuracy {:.1}%",
            trained.architecture.describe(),
            source.describe(),
            data.len(),
            config.objective.spec(),
            last.epoch,
            last.loss,
            100.0 * last.accuracy
        );
        for stats in &trained.history {
            if let Some(robust) = stats.holdout_robust {
                println!(
                    "  epoch {}: held-out clean {:.1}%, robust {:.1}%",
                    stats.epoch,
                    100.0 * stats.holdout_clean.unwrap_or(0.0),
                    100.0 * robust
                );
            }
        }
        // `cargo xtask train-speed` reads this line.
        println!("training took {seconds:.2} s (this run's epochs, data loading excluded)");
        if trained.kept_epoch != last.epoch {
            println!(
                "kept the weights of epoch {} (early stopping)",
                trained.kept_epoch
            );
        }
    }
    let record = TrainingRecord::new(
        &config,
        &trained.architecture.describe(),
        &source.describe(),
        &data,
        &trained,
    );
    // The trained architecture: the center objectives replace the head.
    save_trained_checkpoint(
        trained.model,
        &trained.architecture,
        Some(&record.to_value()),
        &args.out,
    )?;
    // The run is complete: its checkpoint is no longer needed.
    if checkpoint_dir.exists() {
        std::fs::remove_dir_all(&checkpoint_dir).map_err(|e| BenchError::io(&checkpoint_dir, e))?;
    }
    println!(
        "wrote {} and {} (architecture and training settings)",
        args.out.display(),
        sidecar_path(&args.out).display()
    );
    Ok(())
}

/// `OUT.checkpoint/` beside the output: where a killed run resumes from.
fn checkpoint_dir(out: &std::path::Path) -> Result<PathBuf> {
    let name = out.file_name().ok_or_else(|| {
        BenchError::InvalidArgument(format!("--out {} names no file", out.display()))
    })?;
    Ok(out.with_file_name(format!("{}.checkpoint", name.to_string_lossy())))
}
