//! The training loop, one for every objective: data order, optimizer, schedule and warm-ups,
//! replays, per-epoch metrics on a held-out split, early stopping, and checkpoints from which a
//! killed run resumes to the same weights as an uninterrupted one.
//!
//! ```
//! use adv_core::burn::tensor::Device;
//! use adv_defenses::{ObjectiveConfig, TrainConfig, train};
//! use adv_models::ModelConfig;
//!
//! let data = adv_core::data::embedded_digits().take(64);
//! let model = ModelConfig::from_name("mlp", data.shape(), data.num_classes()).unwrap();
//! let config = TrainConfig {
//!     epochs: 1,
//!     objective: ObjectiveConfig::parse("pgd-at:eps=0.1,steps=2").unwrap(),
//!     ..Default::default()
//! };
//! let trained = train(&model, &config, &data, &Device::default(), &mut |_| {}).unwrap();
//! assert_eq!(trained.history.len(), 1);
//! ```

use std::path::{Path, PathBuf};

use adv_attacks::{AttackConfig, Harness, RunOptions};
use adv_core::burn::module::Module;
use adv_core::burn::tensor::Device;
use adv_core::{Dataset, Norm, ThreatModel, to_floats, to_ints};
use adv_models::{Model, ModelConfig};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::{DefenseError, EarlyStopping, Objective, Result, StepContext, TrainConfig};

/// What one epoch measured.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean training loss.
    pub loss: f32,
    /// Fraction of the training inputs (adversarial ones for adversarial training) classified
    /// correctly as they were seen.
    pub accuracy: f32,
    /// Learning rate at the epoch's last step.
    pub learning_rate: f64,
    /// Clean accuracy on the held-out split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout_clean: Option<f32>,
    /// Robust accuracy on the held-out split under the evaluation attack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout_robust: Option<f32>,
}

/// A trained model in evaluation mode, with its training history.
pub struct Trained {
    /// The model, without autodiff: the last epoch's, or the best one under early stopping.
    pub model: Model,
    /// Its architecture: the one asked for, or its backbone with the objective's head of class
    /// centers. Save the checkpoint with this one.
    pub architecture: ModelConfig,
    /// One entry per epoch.
    pub history: Vec<EpochStats>,
    /// The epoch (from 1) whose weights `model` holds.
    pub kept_epoch: usize,
}

/// Where a run keeps its checkpoints (for resuming), if anywhere.
#[derive(Clone, Debug, Default)]
pub struct TrainRun {
    /// A folder for the checkpoint of the last finished epoch; a run finding one for the same
    /// settings and data resumes from it.
    pub checkpoint_dir: Option<PathBuf>,
}

/// Trains a fresh model built from `architecture` on `data` as `config` says.
///
/// `on_epoch` is called after every epoch (progress display). The result is deterministic for
/// a given seed on a given backend.
pub fn train(
    architecture: &ModelConfig,
    config: &TrainConfig,
    data: &Dataset,
    device: &Device,
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<Trained> {
    train_with(
        architecture,
        config,
        data,
        device,
        &TrainRun::default(),
        on_epoch,
    )
}

/// The state a checkpoint records beside the weights.
#[derive(Serialize, Deserialize)]
struct Checkpoint {
    /// The settings and data the run was started with.
    fingerprint: String,
    /// Epochs finished.
    epochs_done: usize,
    history: Vec<EpochStats>,
    /// The best epoch so far (early stopping), from 1.
    best_epoch: usize,
    best_score: Option<f32>,
    /// The objective's own state (Free-AT's perturbation).
    objective: Option<serde_json::Value>,
}

/// [`train`], keeping a checkpoint after every epoch in `run.checkpoint_dir` and resuming from
/// one left there by a run of the same settings and data.
pub fn train_with(
    architecture: &ModelConfig,
    config: &TrainConfig,
    data: &Dataset,
    device: &Device,
    run: &TrainRun,
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<Trained> {
    config.check()?;
    if data.is_empty() {
        return Err(DefenseError::InvalidConfig(
            "the training set is empty".into(),
        ));
    }
    if data.shape() != architecture.input() {
        return Err(DefenseError::InvalidConfig(format!(
            "the model takes images of shape {:?}, the data has {:?}",
            architecture.input(),
            data.shape()
        )));
    }
    let mut objective = config.objective.build()?;
    let architecture = &objective.architecture(architecture)?;
    let held = ((data.len() as f32) * config.holdout).round() as usize;
    if config.holdout > 0.0 && (held == 0 || held >= data.len()) {
        return Err(DefenseError::InvalidConfig(format!(
            "holdout {} of {} samples leaves no held-out or no training sample",
            config.holdout,
            data.len()
        )));
    }
    let (training, holdout) = data.split(data.len() - held);
    let device = device.clone().autodiff();
    // The objective's own networks (if any) draw their weights after the model's, from the
    // same seeded stream.
    let mut model = seeded(&device, config.seed, || {
        let model = architecture.init(&device)?;
        objective.prepare(architecture, &device)?;
        Ok(model)
    })?;
    let eval = Evaluation::new(config, objective.as_ref())?;
    let mut optimizer = config.optimizer();
    let mut rng = StdRng::seed_from_u64(config.seed);
    let mut order: Vec<usize> = (0..training.len()).collect();
    let steps_per_epoch = training.len().div_ceil(config.batch_size) * objective.replays();
    let total = steps_per_epoch * config.epochs;
    let fingerprint = fingerprint(architecture, config, data)?;

    let mut history = Vec::with_capacity(config.epochs);
    let (mut best_epoch, mut best_score, mut best_model) = (0, None::<f32>, None::<Model>);
    let mut first_epoch = 0;
    if let Some(dir) = &run.checkpoint_dir
        && let Some((state, folder)) = read_checkpoint(dir, &fingerprint)?
    {
        model = model
            .try_load_file(folder.join("model.bpk"))
            .map_err(|e| checkpoint_error(dir, e))?;
        optimizer = optimizer
            .load(folder.join("optimizer.bin"))
            .map_err(|e| checkpoint_error(dir, e))?;
        if state.best_epoch > 0 && config.early_stopping != EarlyStopping::None {
            best_model = Some(
                architecture
                    .init(&device)?
                    .try_load_file(folder.join("best.bpk"))
                    .map_err(|e| checkpoint_error(dir, e))?,
            );
        }
        if let Some(saved) = state.objective {
            objective.load_state(saved, &device)?;
        }
        objective.load_files(&folder)?;
        // The data order of the finished epochs, replayed so the next one is the same.
        for _ in 0..state.epochs_done {
            order.shuffle(&mut rng);
        }
        first_epoch = state.epochs_done;
        history = state.history;
        (best_epoch, best_score) = (state.best_epoch, state.best_score);
    }

    for epoch in first_epoch..config.epochs {
        order.shuffle(&mut rng);
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        let mut learning_rate = config.learning_rate;
        let mut step = epoch * steps_per_epoch;
        for chunk in order.chunks(config.batch_size) {
            let batch = training.batch_of(chunk, &device);
            for _ in 0..objective.replays() {
                learning_rate = config.rate(epoch, step, total);
                let context = StepContext {
                    epoch,
                    epochs: config.epochs,
                    step,
                    seed: config.seed,
                    device: &device,
                    eps_scale: config.eps_scale(step, total),
                    label_smoothing: config.label_smoothing,
                };
                let outcome = objective.loss(&model, &batch, &context)?;
                let predictions = to_ints(
                    outcome
                        .logits
                        .clone()
                        .inner()
                        .argmax(1)
                        .reshape([chunk.len()]),
                );
                let labels = to_ints(batch.labels.clone());
                correct += predictions
                    .iter()
                    .zip(&labels)
                    .filter(|(p, y)| p == y)
                    .count();
                seen += chunk.len();
                loss_sum +=
                    f64::from(to_floats(outcome.loss.clone().inner())[0]) * chunk.len() as f64;
                let grads = outcome.loss.backward();
                objective.after_backward(&grads, &context)?;
                let params = objective.parameter_grads(grads, &model);
                model = optimizer.step(learning_rate, model, params);
                step += 1;
            }
        }
        let (holdout_clean, holdout_robust) = eval.measure(&model, &holdout, epoch)?;
        let stats = EpochStats {
            epoch: epoch + 1,
            loss: (loss_sum / seen.max(1) as f64) as f32,
            accuracy: correct as f32 / seen.max(1) as f32,
            learning_rate,
            holdout_clean,
            holdout_robust,
        };
        if !stats.loss.is_finite() {
            return Err(DefenseError::Diverged { epoch: stats.epoch });
        }
        let score = match config.early_stopping {
            EarlyStopping::None => None,
            EarlyStopping::BestClean => holdout_clean,
            EarlyStopping::BestRobust => holdout_robust,
        };
        if let Some(score) = score
            && best_score.is_none_or(|best| score > best)
        {
            (best_epoch, best_score, best_model) = (stats.epoch, Some(score), Some(model.clone()));
        }
        history.push(stats);
        if let Some(dir) = &run.checkpoint_dir {
            let state = Checkpoint {
                fingerprint: fingerprint.clone(),
                epochs_done: epoch + 1,
                history: history.clone(),
                best_epoch,
                best_score,
                objective: objective.save_state()?,
            };
            write_checkpoint(
                dir,
                &state,
                &model,
                &optimizer,
                best_model.as_ref(),
                objective.as_ref(),
            )?;
        }
        on_epoch(&stats);
    }
    let kept_epoch = if best_model.is_some() {
        best_epoch
    } else {
        config.epochs
    };
    let model = best_model.unwrap_or(model);
    Ok(Trained {
        model: model.valid(),
        architecture: architecture.clone(),
        history,
        kept_epoch,
    })
}

/// The backend's random generator is shared by every thread: seeding it and drawing the initial
/// weights happen under one lock, so concurrent trainings each get the weights of their seed.
static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn seeded<T>(device: &Device, seed: u64, init: impl FnOnce() -> Result<T>) -> Result<T> {
    let _guard = INIT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    device.seed(seed);
    init()
}

/// The held-out measurements after each epoch.
struct Evaluation {
    attack: Option<(Box<dyn adv_attacks::Attack>, ThreatModel)>,
    seed: u64,
    batch_size: usize,
}

impl Evaluation {
    fn new(config: &TrainConfig, objective: &dyn Objective) -> Result<Self> {
        let radius = match (config.eval_eps, objective.radius()) {
            (Some(eps), Some((norm, _))) => Some((norm, eps)),
            (Some(eps), None) => Some((Norm::Linf, eps)),
            (None, radius) => radius,
        };
        let attack = match radius {
            Some((norm, eps)) if config.holdout > 0.0 => {
                let attack = AttackConfig::parse(&config.eval_attack)?;
                let threat = ThreatModel::new(norm, eps)?;
                adv_attacks::check_plan(
                    attack.info(),
                    &threat,
                    &adv_core::Criterion::new(threat.goal),
                )?;
                Some((attack.build()?, threat))
            }
            _ => None,
        };
        Ok(Self {
            attack,
            seed: config.seed,
            batch_size: config.batch_size.max(64),
        })
    }

    /// Clean and robust accuracy of `model` on `holdout` (none when it is empty).
    fn measure(
        &self,
        model: &Model,
        holdout: &Dataset,
        epoch: usize,
    ) -> Result<(Option<f32>, Option<f32>)> {
        if holdout.is_empty() {
            return Ok((None, None));
        }
        let frozen = model.valid();
        let device = Device::default();
        let (mut clean, mut robust) = (0usize, 0usize);
        for batch in holdout.batches(self.batch_size, &device) {
            match &self.attack {
                Some((attack, threat)) => {
                    let options = RunOptions {
                        seed: self.seed ^ epoch as u64,
                        ..RunOptions::default()
                    };
                    let outcome = Harness::new(&frozen, threat, options).run(
                        attack.as_ref(),
                        &batch,
                        &adv_attacks::CleanPass::of(&frozen, batch.images.clone(), &batch.ids),
                    )?;
                    clean += outcome.clean_correct.iter().filter(|&&c| c).count();
                    robust += outcome.robust().iter().filter(|&&r| r).count();
                }
                None => {
                    let clean_pass =
                        adv_attacks::CleanPass::of(&frozen, batch.images.clone(), &batch.ids);
                    let labels: Vec<usize> = to_ints(batch.labels.clone())
                        .into_iter()
                        .map(|y| y as usize)
                        .collect();
                    clean += clean_pass.correct(&labels).iter().filter(|&&c| c).count();
                }
            }
        }
        let n = holdout.len() as f32;
        Ok((
            Some(clean as f32 / n),
            self.attack.as_ref().map(|_| robust as f32 / n),
        ))
    }
}

/// The settings, architecture and data a checkpoint belongs to.
fn fingerprint(architecture: &ModelConfig, config: &TrainConfig, data: &Dataset) -> Result<String> {
    let text = serde_json::to_string(&(architecture, config))
        .map_err(|e| DefenseError::InvalidConfig(e.to_string()))?;
    Ok(format!("{text} data:{:016x}", data_hash(data)))
}

/// FNV-1a over a data set's shape, labels and pixel bits: the same data has the same hash on
/// every machine and version.
pub fn data_hash(data: &Dataset) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &byte in bytes {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for dim in data.shape() {
        feed(&(dim as u64).to_le_bytes());
    }
    for &label in data.labels() {
        feed(&(label as u64).to_le_bytes());
    }
    for &value in data.images() {
        feed(&value.to_bits().to_le_bytes());
    }
    hash
}

fn checkpoint_error(dir: &Path, error: impl std::fmt::Display) -> DefenseError {
    DefenseError::InvalidConfig(format!("checkpoint {}: {error}", dir.display()))
}

/// The folder of the latest complete checkpoint, named by `dir/latest`.
fn latest(dir: &Path) -> Result<Option<PathBuf>> {
    let pointer = dir.join("latest");
    if !pointer.is_file() {
        return Ok(None);
    }
    let name = std::fs::read_to_string(&pointer).map_err(|e| checkpoint_error(dir, e))?;
    Ok(Some(dir.join(name.trim())))
}

fn read_checkpoint(dir: &Path, fingerprint: &str) -> Result<Option<(Checkpoint, PathBuf)>> {
    let Some(folder) = latest(dir)? else {
        return Ok(None);
    };
    let text =
        std::fs::read_to_string(folder.join("state.json")).map_err(|e| checkpoint_error(dir, e))?;
    let state: Checkpoint = serde_json::from_str(&text).map_err(|e| checkpoint_error(dir, e))?;
    if state.fingerprint != fingerprint {
        return Err(checkpoint_error(
            dir,
            "it was written by a run of other settings or data; delete it to start afresh",
        ));
    }
    Ok(Some((state, folder)))
}

/// Writes the epoch's weights, optimizer, best weights and state into a folder of its own,
/// then points `latest` at it with a rename, so a kill at any moment leaves the previous
/// complete checkpoint or this one; older folders are removed afterwards.
fn write_checkpoint(
    dir: &Path,
    state: &Checkpoint,
    model: &Model,
    optimizer: &adv_core::burn::optim::ModuleOptimizer,
    best: Option<&Model>,
    objective: &dyn crate::Objective,
) -> Result<()> {
    let name = format!("epoch-{}", state.epochs_done);
    let folder = dir.join(&name);
    if folder.exists() {
        std::fs::remove_dir_all(&folder).map_err(|e| checkpoint_error(dir, e))?;
    }
    std::fs::create_dir_all(&folder).map_err(|e| checkpoint_error(dir, e))?;
    model
        .clone()
        .save_file(folder.join("model.bpk"))
        .map_err(|e| checkpoint_error(dir, e))?;
    optimizer
        .save(folder.join("optimizer.bin"))
        .map_err(|e| checkpoint_error(dir, e))?;
    if let Some(best) = best {
        best.clone()
            .save_file(folder.join("best.bpk"))
            .map_err(|e| checkpoint_error(dir, e))?;
    }
    objective.save_files(&folder)?;
    let json = serde_json::to_string(state).map_err(|e| checkpoint_error(dir, e))?;
    std::fs::write(folder.join("state.json"), json).map_err(|e| checkpoint_error(dir, e))?;
    let pointer = dir.join("latest.partial");
    std::fs::write(&pointer, &name).map_err(|e| checkpoint_error(dir, e))?;
    std::fs::rename(&pointer, dir.join("latest")).map_err(|e| checkpoint_error(dir, e))?;
    for entry in std::fs::read_dir(dir)
        .map_err(|e| checkpoint_error(dir, e))?
        .flatten()
    {
        let file = entry.file_name();
        let file = file.to_string_lossy();
        if file.starts_with("epoch-") && file != name {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    Ok(())
}
