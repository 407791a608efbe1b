//! Running a suite into a run folder: resumable through its journal, shardable, mergeable.
//!
//! A run folder holds `suite.json` (the resolved suite), one journal per shard, the models the
//! suite trained (`models/`), and, once every unit is recorded, the reports: `report.json`,
//! `report.md`, `leaderboard.{md,csv,json}` and `plots/`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use adv_core::burn::tensor::Device;
use adv_core::{Dataset, DeviceSpec};
use adv_defenses::train;
use adv_models::{Combine, Model, ModelConfig, load_checkpoint};

use crate::evaluate::{CheckedPlan, check_model_fits, radius_notes};
use crate::journal::{Header, Journal, Shard, read};
use crate::models::{ArchitectureChoice, LoadedModel, ensemble, load_model, with_normalization};
use crate::report::{RunContext, to_json, write_file};
use crate::suite::{Evaluation, ModelSpec, RECORD, Suite};
use crate::suite_report::{Environment, SuiteEvaluation, SuiteReport};
use crate::work::{CleanCache, Outcome, Record, Unit, assemble, check_outcome, run_units, units};
use crate::{BenchError, Progress, Result};

/// How to run a suite.
#[derive(Clone, Debug)]
pub struct SuiteRunOptions {
    /// The run folder (created, or resumed when it holds this suite's journal).
    pub run_dir: PathBuf,
    /// The slice of the suite's units to evaluate.
    pub shard: Shard,
    /// Backend and device.
    pub device: DeviceSpec,
    /// Draw progress bars.
    pub progress: bool,
}

/// What a run produced.
#[derive(Debug)]
pub enum SuiteOutcome {
    /// Every unit is recorded: the report, also written to the run folder.
    Complete(Box<SuiteReport>),
    /// A shard finished its units; `adv-bench merge` makes the report once all have.
    ShardDone {
        /// The shard.
        shard: Shard,
        /// Units it recorded, in all.
        units: usize,
    },
}

/// Runs `suite` (or one shard of it) into `options.run_dir`, skipping every unit its journal
/// already holds; writes the reports when the run covers the whole suite.
pub fn run_suite(suite: &Suite, options: &SuiteRunOptions) -> Result<SuiteOutcome> {
    suite.check()?;
    let run_dir = &options.run_dir;
    if run_dir.exists() && !run_dir.is_dir() {
        return Err(BenchError::InvalidArgument(format!(
            "{} is a file: name a folder for the run",
            run_dir.display()
        )));
    }
    // Journals, trained models and reports of one folder belong to one suite.
    let recorded = run_dir.join(RECORD);
    if recorded.is_file() && Suite::recorded_in(run_dir)? != *suite {
        return Err(BenchError::InvalidArgument(format!(
            "{} was written for another suite; resume with the same suite, or start a new run \
             folder",
            run_dir.display()
        )));
    }
    let backend = options.device.describe();
    let header = Header::new(suite, options.shard, &backend);
    let (mut journal, records) =
        Journal::open(&run_dir.join(options.shard.journal_name()), &header)?;
    // Written atomically, so that a kill never leaves half a suite.json to refuse on resume.
    write_file(&recorded, &to_json(suite)?)?;

    let datasets = load_datasets(suite)?;
    let evaluations = suite.evaluations()?;
    let plans = checked_plans(&evaluations)?;
    let mut notes: Vec<String> = evaluations
        .iter()
        .flat_map(|e| radius_notes(&e.plan, &datasets[&suite.models[e.model].data]))
        .collect();
    notes.dedup();
    for note in notes {
        eprintln!("note: {note}");
    }
    let mut done = collect(suite, &evaluations, &plans, &datasets, records)?;
    // Positions count every unit of the suite, so that shards partition the whole grid.
    let mut position = 0;
    let mut pending = Vec::new();
    for (e, evaluation) in evaluations.iter().enumerate() {
        let samples = datasets[&suite.models[evaluation.model].data].len();
        let all = suite_units(&evaluations, &plans, e, samples);
        let first = position;
        position += all.len();
        let mine: Vec<Unit> = all
            .into_iter()
            .enumerate()
            .filter(|(k, _)| options.shard.owns(first + k))
            .map(|(_, unit)| unit)
            .collect();
        let owned = mine.len();
        let todo: Vec<Unit> = mine
            .into_iter()
            .filter(|unit| !done[e].contains_key(unit))
            .collect();
        pending.push((owned, todo));
    }

    let progress = if options.progress {
        Progress::terminal()
    } else {
        Progress::hidden()
    };
    let device = options.device.device()?;
    let total: usize = pending.iter().map(|(_, todo)| todo.len()).sum();
    progress.start(&suite.name, total as u64);
    let mut models = ModelCache::default();
    // Every model with pending work whose weights exist (not those the suite trains) is loaded,
    // and so checked against its data, now: a bad file or label is reported before any attack.
    for (e, evaluation) in evaluations.iter().enumerate() {
        let spec = &suite.models[evaluation.model];
        if pending[e].1.is_empty() || spec.train.is_some() || !spec.members.is_empty() {
            continue;
        }
        models.get(
            suite,
            evaluation.model,
            &datasets,
            run_dir,
            &device,
            &progress,
        )?;
    }
    // The clean pass of each model's batches, shared by all its evaluations.
    let mut clean: HashMap<usize, CleanCache> = HashMap::new();
    for (e, evaluation) in evaluations.iter().enumerate() {
        let cache = clean.entry(evaluation.model).or_default();
        for (unit, outcome) in &done[first_of_model(&evaluations, e)] {
            if let (Unit::Clean { batch }, Outcome::Clean { clean, .. }) = (unit, outcome) {
                cache.insert(*batch, clean.clone());
            }
        }
    }
    for (e, evaluation) in evaluations.iter().enumerate() {
        let todo = &pending[e].1;
        if todo.is_empty() {
            continue;
        }
        let spec = &suite.models[evaluation.model];
        progress.set_stage(&spec.name);
        let data = &datasets[&spec.data];
        let model = models.get(
            suite,
            evaluation.model,
            &datasets,
            run_dir,
            &device,
            &progress,
        )?;
        run_units(
            model,
            data,
            &plans[e],
            todo,
            clean.entry(evaluation.model).or_default(),
            &device,
            &progress,
            &mut |unit, outcome| {
                let record = Record {
                    evaluation: e,
                    unit,
                    outcome,
                };
                journal.append(&record)?;
                done[e].insert(unit, record.outcome);
                Ok(())
            },
        )?;
    }
    progress.finish();

    if options.shard != Shard::ALL {
        return Ok(SuiteOutcome::ShardDone {
            shard: options.shard,
            units: pending.iter().map(|(owned, _)| owned).sum(),
        });
    }
    let report = report(
        suite,
        &evaluations,
        &plans,
        &datasets,
        &done,
        &backend,
        std::slice::from_ref(run_dir),
    )?;
    report.write(run_dir)?;
    Ok(SuiteOutcome::Complete(Box::new(report)))
}

/// Combines the journals of the shards of one suite (files, or run folders whose
/// `journal*.jsonl` files are read) into its report, written to `out`. An error names the
/// first unit no journal holds.
pub fn merge(inputs: &[PathBuf], out: &Path) -> Result<SuiteReport> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(input)
                .map_err(|e| BenchError::io(input, e))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|path| {
                    path.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("journal") && n.ends_with(".jsonl"))
                })
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(input.clone());
        }
    }
    let mut header: Option<Header> = None;
    let mut records = Vec::new();
    for file in &files {
        let (found, file_records, _) = read(file)?;
        let first = header.get_or_insert_with(|| found.clone());
        if found.suite != first.suite || found.backend != first.backend {
            return Err(BenchError::InvalidArgument(format!(
                "{} and {} belong to different suites or backends",
                files[0].display(),
                file.display()
            )));
        }
        records.extend(file_records);
    }
    let header = header.ok_or_else(|| {
        BenchError::InvalidArgument(
            "no journal to merge (give run folders or journal-*.jsonl files)".into(),
        )
    })?;
    let suite = &header.suite;
    let datasets = load_datasets(suite)?;
    let evaluations = suite.evaluations()?;
    let plans = checked_plans(&evaluations)?;
    let done = collect(suite, &evaluations, &plans, &datasets, records)?;
    let report = report(
        suite,
        &evaluations,
        &plans,
        &datasets,
        &done,
        &header.backend,
        inputs,
    )?;
    report.write(out)?;
    Ok(report)
}

/// Per evaluation, the outcome of each recorded unit.
type Outcomes = Vec<HashMap<Unit, Outcome>>;

fn checked_plans(evaluations: &[Evaluation]) -> Result<Vec<CheckedPlan>> {
    evaluations.iter().map(|e| e.plan.check()).collect()
}

/// The first evaluation of the model of evaluation `e`: it holds the model's clean pass.
fn first_of_model(evaluations: &[Evaluation], e: usize) -> usize {
    evaluations
        .iter()
        .position(|other| other.model == evaluations[e].model)
        .unwrap_or(e)
}

/// The units of evaluation `e` in a suite: the clean pass only in the model's first evaluation.
fn suite_units(
    evaluations: &[Evaluation],
    plans: &[CheckedPlan],
    e: usize,
    samples: usize,
) -> Vec<Unit> {
    let first = first_of_model(evaluations, e) == e;
    units(&plans[e], samples)
        .into_iter()
        .filter(|unit| first || !matches!(unit, Unit::Clean { .. }))
        .collect()
}

/// The records as a map, checked against the suite; a unit recorded twice keeps its first
/// record (shards and resumed runs compute the same one).
fn collect(
    suite: &Suite,
    evaluations: &[Evaluation],
    plans: &[CheckedPlan],
    datasets: &BTreeMap<String, Dataset>,
    records: Vec<Record>,
) -> Result<Outcomes> {
    let mut done: Outcomes = vec![HashMap::new(); evaluations.len()];
    for record in records {
        let evaluation = evaluations.get(record.evaluation).ok_or_else(|| {
            BenchError::InvalidArgument(format!(
                "a journal record names evaluation {}, the suite has {}",
                record.evaluation,
                evaluations.len()
            ))
        })?;
        let samples = datasets[&suite.models[evaluation.model].data].len();
        check_outcome(
            &plans[record.evaluation],
            samples,
            record.unit,
            &record.outcome,
        )?;
        done[record.evaluation]
            .entry(record.unit)
            .or_insert(record.outcome);
    }
    Ok(done)
}

fn report(
    suite: &Suite,
    evaluations: &[Evaluation],
    plans: &[CheckedPlan],
    datasets: &BTreeMap<String, Dataset>,
    done: &Outcomes,
    backend: &str,
    run_dirs: &[PathBuf],
) -> Result<SuiteReport> {
    let mut sections = Vec::with_capacity(evaluations.len());
    for (e, evaluation) in evaluations.iter().enumerate() {
        let spec = &suite.models[evaluation.model];
        let data = &datasets[&spec.data];
        let [c, h, w] = data.shape();
        // The model's clean pass is recorded with its first evaluation.
        let mut outcomes = done[e].clone();
        for (unit, outcome) in &done[first_of_model(evaluations, e)] {
            if matches!(unit, Unit::Clean { .. }) {
                outcomes.entry(*unit).or_insert_with(|| outcome.clone());
            }
        }
        let mut report =
            assemble(&plans[e], data.len(), c * h * w, &outcomes).map_err(|error| {
                BenchError::InvalidArgument(format!(
                    "model '{}', threat {}: {error}",
                    spec.name,
                    evaluation.threat + 1
                ))
            })?;
        report.context = RunContext {
            model: describe_model(spec),
            data: suite.datasets[&spec.data].source().describe(),
            backend: backend.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            training: training_record(spec, run_dirs),
        };
        sections.push(SuiteEvaluation {
            model: spec.name.clone(),
            data: spec.data.clone(),
            threat: evaluation.threat,
            report,
        });
    }
    Ok(SuiteReport::new(
        suite.clone(),
        Environment::current(backend),
        sections,
    ))
}

/// The training record of a model: from the checkpoint the suite trained (in a run folder), or
/// from the sidecar of its weights when this project trained them.
fn training_record(spec: &ModelSpec, run_dirs: &[PathBuf]) -> Option<serde_json::Value> {
    let checkpoint = match &spec.weights {
        Some(weights) => PathBuf::from(weights),
        None => run_dirs
            .iter()
            .map(|dir| dir.join("models").join(format!("{}.bpk", spec.name)))
            .find(|path| adv_models::sidecar_path(path).is_file())?,
    };
    adv_models::read_checkpoint_training(&checkpoint)
        .ok()
        .flatten()
}

/// The model as reports name it, from its description in the suite alone.
fn describe_model(spec: &ModelSpec) -> String {
    if !spec.members.is_empty() {
        return format!(
            "ensemble of {} ({} averaged)",
            spec.members.join(", "),
            spec.combine.unwrap_or(Combine::Logits).name()
        );
    }
    let architecture = spec
        .architecture
        .clone()
        .or_else(|| spec.architecture_file.clone())
        .unwrap_or_else(|| "checkpoint".into());
    match (&spec.train, &spec.weights) {
        (Some(train), _) => format!(
            "{architecture} trained on {} for {} epochs (seed {})",
            train.data, train.config.epochs, train.config.seed
        ),
        (None, Some(weights)) => format!("{architecture} ({weights})"),
        (None, None) => architecture,
    }
}

fn load_datasets(suite: &Suite) -> Result<BTreeMap<String, Dataset>> {
    suite
        .datasets
        .iter()
        .map(|(name, spec)| {
            let mut data = spec.source().load()?;
            if let Some(limit) = spec.limit {
                data = data.take(limit);
            }
            if data.is_empty() {
                return Err(BenchError::InvalidArgument(format!(
                    "data set '{name}' is empty"
                )));
            }
            Ok((name.clone(), data))
        })
        .collect()
}

/// Models loaded (or trained) once, on first use.
#[derive(Default)]
struct ModelCache {
    loaded: HashMap<usize, (LoadedModel, Option<ModelConfig>)>,
}

impl ModelCache {
    fn get(
        &mut self,
        suite: &Suite,
        index: usize,
        datasets: &BTreeMap<String, Dataset>,
        run_dir: &Path,
        device: &Device,
        progress: &Progress,
    ) -> Result<&LoadedModel> {
        if !self.loaded.contains_key(&index) {
            let spec = &suite.models[index];
            let entry = if spec.members.is_empty() {
                let target = suite
                    .threats
                    .iter()
                    .filter_map(|t| match t.goal.target_selection() {
                        Some(adv_core::TargetSelection::Fixed(class)) => Some(class),
                        _ => None,
                    })
                    .max();
                let (model, config) = single_model(
                    spec,
                    &datasets[&spec.data],
                    target,
                    run_dir,
                    device,
                    progress,
                )?;
                (LoadedModel::Single(Box::new(model)), Some(config))
            } else {
                let mut members = Vec::new();
                for name in &spec.members {
                    let member = suite
                        .models
                        .iter()
                        .position(|m| &m.name == name)
                        .ok_or_else(|| {
                            BenchError::InvalidArgument(format!("no model named '{name}'"))
                        })?;
                    self.get(suite, member, datasets, run_dir, device, progress)?;
                    match &self.loaded[&member] {
                        (LoadedModel::Single(model), Some(config)) => {
                            members.push((model.as_ref().clone(), config.clone()))
                        }
                        _ => {
                            return Err(BenchError::InvalidArgument(format!(
                                "ensemble '{}' has member '{name}', itself an ensemble",
                                spec.name
                            )));
                        }
                    }
                }
                let combine = spec.combine.unwrap_or(Combine::Logits);
                (ensemble(members, combine, device)?.0, None)
            };
            // Checked once, when loaded: the model takes its data's images and has a class for
            // every label.
            check_model_fits(&entry.0, &datasets[&spec.data], device).map_err(|error| {
                BenchError::InvalidArgument(format!("model '{}': {error}", spec.name))
            })?;
            self.loaded.insert(index, entry);
        }
        Ok(&self.loaded[&index].0)
    }
}

/// A model from its weights, or trained by the suite: the trained checkpoint is saved in the
/// run folder and reloaded on resume, so a resumed run attacks the very same weights.
fn single_model(
    spec: &ModelSpec,
    data: &Dataset,
    fixed_target: Option<usize>,
    run_dir: &Path,
    device: &Device,
    progress: &Progress,
) -> Result<(Model, ModelConfig)> {
    let choice = ArchitectureChoice {
        name: spec.architecture.clone(),
        file: spec.architecture_file.as_ref().map(PathBuf::from),
        normalization: spec.normalization.clone(),
    };
    let (Some(train_spec), None) = (&spec.train, &spec.weights) else {
        let weights = spec.weights.as_deref().unwrap_or_default();
        return load_model(&choice, Path::new(weights), data, device);
    };
    let checkpoint = run_dir.join("models").join(format!("{}.bpk", spec.name));
    if checkpoint.is_file() {
        return Ok(load_checkpoint(&checkpoint, device)?);
    }
    let train_data = train_spec.load()?;
    // The trained model has the training data's classes: a fixed target it lacks is refused
    // before the training, not after it.
    if let Some(target) = fixed_target.filter(|&t| t >= train_data.num_classes()) {
        return Err(BenchError::InvalidArgument(format!(
            "model '{}': a threat targets class {target}, but the model trains on data with {} \
             classes (0..{}); nothing was trained",
            spec.name,
            train_data.num_classes(),
            train_data.num_classes() - 1
        )));
    }
    let config = match &choice.file {
        Some(file) => ModelConfig::from_file(file)?,
        None => {
            let name = choice.name.as_deref().ok_or_else(|| {
                BenchError::InvalidArgument(format!("model '{}' names no architecture", spec.name))
            })?;
            ModelConfig::from_name(name, train_data.shape(), train_data.num_classes())?
        }
    };
    let config = with_normalization(config, spec.normalization.as_ref())?;
    progress.task(
        &format!("training {}", spec.name),
        train_spec.config.epochs as u64,
    );
    let trained = train(
        &config,
        &train_spec.config,
        &train_data,
        device,
        &mut |_| progress.advance_task(),
    )?;
    // Written under a temporary name and renamed, so a killed run never leaves half a file.
    let folder = run_dir.join("models");
    std::fs::create_dir_all(&folder).map_err(|e| BenchError::io(&folder, e))?;
    let partial = checkpoint.with_extension("partial.bpk");
    let record = adv_defenses::TrainingRecord::new(
        &train_spec.config,
        &trained.architecture.describe(),
        &train_spec.describe(),
        &train_data,
        &trained,
    );
    // The trained architecture: the center objectives replace the head.
    adv_models::save_trained_checkpoint(
        trained.model,
        &trained.architecture,
        Some(&record.to_value()),
        &partial,
    )?;
    rename_checkpoint(&partial, &checkpoint)?;
    Ok(load_checkpoint(&checkpoint, device)?)
}

fn rename_checkpoint(from: &Path, to: &Path) -> Result<()> {
    let sidecar = |path: &Path| adv_models::sidecar_path(path);
    std::fs::rename(sidecar(from), sidecar(to)).map_err(|e| BenchError::io(to, e))?;
    std::fs::rename(from, to).map_err(|e| BenchError::io(to, e))
}
