//! The main job on the embedded default data: train a small CNN on the UCI digits, attack it
//! with FGSM and PGD over a list of epsilons, and write the report into a run folder.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use adv_attacks::AttackConfig;
use adv_core::{DeviceSpec, Norm, Setting, ThreatModel};
use adv_defenses::{EpochStats, TrainConfig, TrainingRecord, train};
use adv_models::{ModelConfig, save_trained_checkpoint};
use serde::Serialize;

use crate::report::write_file;
use crate::source::{DataSource, DigitsSplit};
use crate::{
    BenchError, EpsilonSearch, EvalPlan, EvalReport, Progress, Result, RunContext, evaluate,
};

/// Settings of [`run_quickstart`]; the defaults are the README's.
#[derive(Clone, Debug)]
pub struct QuickstartOptions {
    /// Folder that receives the model, the training log and the reports.
    pub run_dir: PathBuf,
    /// Backend and device.
    pub device: DeviceSpec,
    /// Training epochs.
    pub epochs: usize,
    /// Seed of training and attacks.
    pub seed: u64,
    /// Linf radii to attack at.
    pub epsilons: Vec<f32>,
    /// PGD iterations.
    pub pgd_steps: usize,
    /// Draw progress bars.
    pub progress: bool,
}

impl QuickstartOptions {
    /// The defaults, writing into `run_dir`.
    pub fn new(run_dir: PathBuf) -> Self {
        Self {
            run_dir,
            device: DeviceSpec::default(),
            epochs: 30,
            seed: 0,
            epsilons: vec![0.05, 0.1, 0.2, 0.3],
            pgd_steps: 20,
            progress: true,
        }
    }
}

/// What the quickstart produced.
pub struct QuickstartOutcome {
    /// The robustness report.
    pub report: EvalReport,
    /// Training loss and accuracy per epoch.
    pub history: Vec<EpochStats>,
    /// The run folder.
    pub run_dir: PathBuf,
}

impl QuickstartOutcome {
    /// What a person reads at the end: training result, the table, the run folder.
    pub fn summary(&self) -> String {
        let training = self.history.last().map_or_else(String::new, |last| {
            format!(
                "trained small-cnn on digits:train for {} epochs: loss {:.4}, training accuracy {:.1}%\n\n",
                last.epoch,
                last.loss,
                100.0 * last.accuracy
            )
        });
        format!(
            "{training}robustness on digits:test ({} images, linf):\n\n{}\nrun folder: {}",
            self.report.samples,
            self.report.summary(),
            self.run_dir.display()
        )
    }
}

#[derive(Serialize)]
struct TrainLog<'a> {
    architecture: &'a ModelConfig,
    config: &'a TrainConfig,
    data: String,
    history: &'a [EpochStats],
}

/// Trains on `digits:train`, evaluates on `digits:test`, writes `model.bpk` (+ `model.json`),
/// `train.json`, `report.json` and `report.md` into the run folder.
pub fn run_quickstart(options: &QuickstartOptions) -> Result<QuickstartOutcome> {
    let device = options.device.device()?;
    let train_source = DataSource::Digits(DigitsSplit::Train);
    let test_source = DataSource::Digits(DigitsSplit::Test);
    let (train_data, test_data) = (train_source.load()?, test_source.load()?);
    let architecture =
        ModelConfig::from_name("small-cnn", train_data.shape(), train_data.num_classes())?;
    let train_config = TrainConfig {
        epochs: options.epochs,
        batch_size: 32,
        seed: options.seed,
        ..TrainConfig::default()
    };

    let progress = if options.progress {
        Progress::terminal()
    } else {
        Progress::hidden()
    };
    progress.start("training", options.epochs as u64);
    let trained = train(
        &architecture,
        &train_config,
        &train_data,
        &device,
        &mut |_| progress.advance(),
    )?;
    progress.finish();

    let record = TrainingRecord::new(
        &train_config,
        &architecture.describe(),
        &train_source.describe(),
        &train_data,
        &trained,
    );
    std::fs::create_dir_all(&options.run_dir).map_err(|e| BenchError::io(&options.run_dir, e))?;
    let weights = options.run_dir.join("model.bpk");
    let log = TrainLog {
        architecture: &architecture,
        config: &train_config,
        data: train_source.describe(),
        history: &trained.history,
    };
    write_file(
        &options.run_dir.join("train.json"),
        &serde_json::to_string_pretty(&log)
            .map_err(|e| BenchError::InvalidArgument(e.to_string()))?,
    )?;

    let plan = EvalPlan {
        attacks: vec![
            AttackConfig::named("fgsm")?,
            AttackConfig::new(
                "pgd",
                &[Setting::new("steps", options.pgd_steps.to_string())],
            )?,
        ],
        threat: ThreatModel::new(Norm::Linf, 0.0)?,
        epsilons: options.epsilons.clone(),
        batch_size: 128,
        seed: options.seed,
        confidence: 0.0,
        epsilon_curves: Some(EpsilonSearch {
            initial: 0.01,
            max: 0.4,
            bisection_steps: 6,
            skip: Vec::new(),
        }),
    };
    let mut report = evaluate(&trained.model, &test_data, &plan, &device, &progress)?;
    report.context = RunContext {
        model: format!("small-cnn ({})", weights.display()),
        data: test_source.describe(),
        backend: options.device.describe(),
        version: env!("CARGO_PKG_VERSION").into(),
        training: Some(record.to_value()),
    };
    save_trained_checkpoint(
        trained.model,
        &architecture,
        Some(&record.to_value()),
        &weights,
    )?;
    report.write_json(&options.run_dir.join("report.json"))?;
    report.write_markdown(&options.run_dir.join("report.md"))?;
    Ok(QuickstartOutcome {
        report,
        history: trained.history,
        run_dir: options.run_dir.clone(),
    })
}

/// A new folder name under `root`: `NAME-YYYYMMDD-HHMMSS` (UTC), with a counter appended if
/// that already exists, so that no run overwrites another.
pub fn new_run_dir(root: &Path, name: &str) -> PathBuf {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let stamp = utc_stamp(seconds);
    let mut dir = root.join(format!("{name}-{stamp}"));
    let mut counter = 2;
    while dir.exists() {
        dir = root.join(format!("{name}-{stamp}-{counter}"));
        counter += 1;
    }
    dir
}

/// `YYYYMMDD-HHMMSS` for seconds since the Unix epoch (civil-from-days, Hinnant's algorithm).
fn utc_stamp(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let time = seconds % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        time / 3600,
        time % 3600 / 60,
        time % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_stamps_match_known_dates() {
        assert_eq!(utc_stamp(0), "19700101-000000");
        assert_eq!(utc_stamp(951_782_400), "20000229-000000");
        assert_eq!(utc_stamp(1_798_329_600 + 3_661), "20261227-010101");
    }

    #[test]
    fn run_dirs_never_collide() {
        let root = tempfile::tempdir().unwrap();
        let first = new_run_dir(root.path(), "quickstart");
        std::fs::create_dir_all(&first).unwrap();
        let second = new_run_dir(root.path(), "quickstart");
        assert_ne!(first, second);
    }
}
