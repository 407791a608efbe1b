//! An evaluation cut into independent units of work, each producing one serializable record.
//!
//! A unit is one batch of the clean pass, one batch of one [`Measurement`] (an attack's robust
//! accuracy at one epsilon, an attack's minimal-epsilon search, ...), or the model sanity
//! checks. Units depend on nothing but the model, the data and the plan (random numbers are
//! keyed by sample index), so they may run in any order, in any process, and be skipped when a
//! journal already holds their record. [`assemble`] turns the records of every unit into the
//! report, so an evaluation run in one go, resumed after a crash, or spread over shards gives
//! the same numbers. The clean pass of a batch is computed once and shared by every
//! measurement.

use std::collections::HashMap;
use std::time::Instant;

use adv_attacks::{CleanPass, FirstSuccess, Harness, Mode, Pick, RunOptions};
use adv_core::burn::tensor::Device;
use adv_core::{Batch, Classifier, CostCounts, Dataset, Knowledge, ModelTraits, Norm};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::checks::{Warning, check_model, check_results};
use crate::curves::{accuracy_at, minimal_epsilons_of_batch};
use crate::evaluate::CheckedPlan;
use crate::report::{AttackResult, EpsilonCurve, EvalReport, PerSample, WorstCase};
use crate::{BenchError, EvalPlan, Progress, Result};

/// One unit of work of an evaluation; `measurement` indexes the plan's measurements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "unit", rename_all = "kebab-case")]
pub(crate) enum Unit {
    Clean { batch: usize },
    Measure { measurement: usize, batch: usize },
    ModelChecks,
}

/// What a unit measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub(crate) enum Outcome {
    Clean {
        /// Whether each prediction is right.
        correct: Vec<bool>,
        /// Predictions and rankings, shared by every attack of the batch.
        clean: CleanPass,
        wall_time_s: f64,
    },
    /// A measurement's record, which only the measurement reads.
    Measure { record: Value },
    ModelChecks {
        warnings: Vec<Warning>,
        /// What the model declared about itself.
        #[serde(default)]
        traits: ModelTraits,
    },
}

/// A unit and its outcome, as a journal stores it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Record {
    /// Index of the evaluation within its suite (0 for a lone [`crate::evaluate`]).
    pub evaluation: usize,
    #[serde(flatten)]
    pub unit: Unit,
    pub outcome: Outcome,
}

/// What a measurement sees of one batch.
pub(crate) struct BatchInput<'a> {
    pub model: &'a dyn Classifier,
    pub batch: &'a Batch,
    pub clean: &'a CleanPass,
    pub plan: &'a CheckedPlan,
}

impl BatchInput<'_> {
    fn options(&self) -> RunOptions {
        RunOptions {
            seed: self.plan.plan.seed,
            confidence: self.plan.plan.confidence,
            ..RunOptions::default()
        }
    }
}

/// The parts of a report that measurements fill in.
pub(crate) struct Assembly<'a> {
    pub plan: &'a EvalPlan,
    pub clean_correct: &'a [bool],
    pub results: Vec<AttackResult>,
    pub epsilon_curves: Vec<EpsilonCurve>,
    /// Per epsilon, whether each sample survived every attack so far.
    pub robust_to_all: Vec<Vec<bool>>,
}

/// Something measured per batch and assembled over batches: robust accuracy at an epsilon,
/// minimal epsilons, and whatever later issues add (certified radii); the runner drives them
/// all the same way.
pub(crate) trait Measurement: Send + Sync {
    /// A short description for progress displays.
    fn describe(&self, plan: &EvalPlan) -> String;
    /// Measures one batch.
    fn run(&self, input: &BatchInput) -> Result<Value>;
    /// Whether `record` is one of this measurement's records for a batch of `len` samples.
    fn fits(&self, record: &Value, len: usize) -> bool;
    /// Adds the result of the records of every batch (in batch order) to `out`.
    fn assemble(&self, records: &[&Value], out: &mut Assembly) -> Result<()>;
}

fn encode<T: Serialize>(record: &T) -> Result<Value> {
    serde_json::to_value(record).map_err(|e| BenchError::InvalidArgument(e.to_string()))
}

fn decode<T: for<'de> Deserialize<'de>>(record: &Value) -> Result<T> {
    serde_json::from_value(record.clone()).map_err(|e| {
        BenchError::InvalidArgument(format!("a record does not fit its measurement: {e}"))
    })
}

/// Robust accuracy of one attack at one epsilon, with its accuracy per iteration and per query.
pub(crate) struct RobustAccuracy {
    pub attack: usize,
    pub epsilon: usize,
}

#[derive(Serialize, Deserialize)]
struct RobustRecord {
    robust: Vec<bool>,
    /// Clean-correct samples of the batch (those attacked).
    attacked: usize,
    /// Perturbation norms of the adversarial examples found, in sample order.
    distances: Vec<f32>,
    /// Per sample, when it was first fooled (iterate, queries), if it was and the model agreed.
    first_success: Vec<Option<FirstSuccess>>,
    /// The attack's queries per sample.
    queries: Vec<u64>,
    /// Iterates the run numbered.
    iterates: u64,
    cost: CostCounts,
    harness_cost: CostCounts,
    wall_time_s: f64,
}

impl Measurement for RobustAccuracy {
    fn describe(&self, plan: &EvalPlan) -> String {
        format!(
            "{} eps={}",
            plan.attacks[self.attack].label(),
            plan.epsilons[self.epsilon]
        )
    }

    fn run(&self, input: &BatchInput) -> Result<Value> {
        let started = Instant::now();
        let epsilon = input.plan.plan.epsilons[self.epsilon];
        let threat = input.plan.plan.threat.clone().with_epsilon(epsilon)?;
        let harness = Harness::new(input.model, &threat, input.options());
        let outcome = harness.run(
            input.plan.attacks[self.attack].as_ref(),
            input.batch,
            input.clean,
        )?;
        let robust = outcome.robust();
        encode(&RobustRecord {
            attacked: outcome.attacked.iter().filter(|&&a| a).count(),
            distances: outcome
                .success
                .iter()
                .zip(&outcome.distances)
                .filter(|(s, _)| **s)
                .map(|(_, d)| *d)
                .collect(),
            // The model's verdict on the returned example decides; a success the tracker did not
            // time counts at the last iterate.
            first_success: outcome
                .success
                .iter()
                .zip(&outcome.first_success)
                .zip(&outcome.queries)
                .map(|((&success, first), &queries)| {
                    success.then(|| {
                        first.unwrap_or(FirstSuccess {
                            step: outcome.iterates.saturating_sub(1),
                            queries,
                        })
                    })
                })
                .collect(),
            queries: outcome.queries,
            iterates: outcome.iterates,
            robust,
            cost: outcome.cost,
            harness_cost: outcome.harness_cost,
            wall_time_s: started.elapsed().as_secs_f64(),
        })
    }

    fn fits(&self, record: &Value, len: usize) -> bool {
        decode::<RobustRecord>(record).is_ok_and(|r| {
            r.robust.len() == len && r.first_success.len() == len && r.queries.len() == len
        })
    }

    fn assemble(&self, records: &[&Value], out: &mut Assembly) -> Result<()> {
        let config = &out.plan.attacks[self.attack];
        let epsilon = out.plan.epsilons[self.epsilon];
        let mut robust = Vec::new();
        let (mut attacked, mut distances, mut first, mut queries) =
            (0, Vec::new(), Vec::new(), Vec::new());
        let (mut cost, mut harness_cost, mut seconds, mut iterates) =
            (CostCounts::default(), CostCounts::default(), 0.0, 0);
        for value in records {
            let record: RobustRecord = decode(value)?;
            robust.extend(record.robust);
            attacked += record.attacked;
            distances.extend(record.distances);
            first.extend(record.first_success);
            queries.extend(record.queries);
            cost = cost + record.cost;
            harness_cost = harness_cost + record.harness_cost;
            seconds += record.wall_time_s;
            iterates = iterates.max(record.iterates);
        }
        for (all, here) in out.robust_to_all[self.epsilon].iter_mut().zip(&robust) {
            *all &= *here;
        }
        let samples = robust.len().max(1) as f32;
        let correct = out.clean_correct.iter().filter(|&&c| c).count();
        let robust_after = |broken: usize| (correct - broken) as f32 / samples;
        let accuracy_per_step: Vec<f32> = (0..iterates.max(1))
            .map(|step| robust_after(first.iter().flatten().filter(|f| f.step <= step).count()))
            .collect();
        let mut at: Vec<u64> = first.iter().flatten().map(|f| f.queries).collect();
        at.sort_unstable();
        at.dedup();
        let accuracy_per_query = at
            .into_iter()
            .map(|q| {
                let broken = first.iter().flatten().filter(|f| f.queries <= q).count();
                (q, robust_after(broken))
            })
            .collect();
        let attacked_queries: Vec<u64> = queries.iter().copied().filter(|&q| q > 0).collect();
        let robust_accuracy = fraction(&robust);
        out.results.push(AttackResult {
            attack: config.label(),
            config: config.clone(),
            epsilon,
            robust_accuracy,
            attacked,
            mean_perturbation: mean(&distances),
            max_perturbation: distances.iter().copied().fold(0.0, f32::max),
            accuracy_per_step,
            accuracy_per_query,
            mean_queries: if attacked_queries.is_empty() {
                0.0
            } else {
                (attacked_queries.iter().sum::<u64>() as f64 / attacked_queries.len() as f64) as f32
            },
            per_sample: PerSample {
                robust,
                queries,
                first_success: first,
            },
            cost,
            harness_cost,
            wall_time_s: seconds,
        });
        Ok(())
    }
}

/// An attack's minimal epsilon per sample, behind its accuracy-vs-epsilon curve.
pub(crate) struct MinimalEpsilon {
    pub attack: usize,
}

#[derive(Serialize, Deserialize)]
struct MinimalRecord {
    /// `None`: not broken up to the search's largest radius.
    minimal: Vec<Option<f32>>,
    cost: CostCounts,
    wall_time_s: f64,
}

impl Measurement for MinimalEpsilon {
    fn describe(&self, plan: &EvalPlan) -> String {
        format!("{} minimal eps", plan.attacks[self.attack].label())
    }

    fn run(&self, input: &BatchInput) -> Result<Value> {
        let started = Instant::now();
        let plan = &input.plan.plan;
        let search = plan.epsilon_curves.as_ref().ok_or_else(|| {
            BenchError::InvalidArgument("the plan asks for no epsilon curves".into())
        })?;
        let (minimal, cost) = minimal_epsilons_of_batch(
            input.plan.attacks[self.attack].as_ref(),
            input.model,
            input.batch,
            input.clean,
            &plan.threat,
            &input.options(),
            search,
        )?;
        encode(&MinimalRecord {
            minimal: minimal
                .into_iter()
                .map(|m| m.is_finite().then_some(m))
                .collect(),
            cost,
            wall_time_s: started.elapsed().as_secs_f64(),
        })
    }

    fn fits(&self, record: &Value, len: usize) -> bool {
        decode::<MinimalRecord>(record).is_ok_and(|r| r.minimal.len() == len)
    }

    fn assemble(&self, records: &[&Value], out: &mut Assembly) -> Result<()> {
        let search = out.plan.epsilon_curves.as_ref().ok_or_else(|| {
            BenchError::InvalidArgument("the plan asks for no epsilon curves".into())
        })?;
        let grid: Vec<f32> = (0..=20).map(|k| search.max * k as f32 / 20.0).collect();
        let mut minimal: Vec<Option<f32>> = Vec::new();
        let (mut cost, mut seconds) = (CostCounts::default(), 0.0);
        for value in records {
            let record: MinimalRecord = decode(value)?;
            minimal.extend(record.minimal);
            cost = cost + record.cost;
            seconds += record.wall_time_s;
        }
        let finite: Vec<f32> = minimal.iter().map(|m| m.unwrap_or(f32::INFINITY)).collect();
        out.epsilon_curves.push(EpsilonCurve {
            attack: out.plan.attacks[self.attack].label(),
            accuracy: grid
                .iter()
                .copied()
                .zip(accuracy_at(&finite, &grid))
                .collect(),
            minimal_epsilons: minimal,
            cost,
            wall_time_s: seconds,
        });
        Ok(())
    }
}

/// Every unit of `plan` on `samples` samples, in a fixed order: clean batches, each
/// measurement by batch, model checks.
pub(crate) fn units(plan: &CheckedPlan, samples: usize) -> Vec<Unit> {
    let batches = samples.div_ceil(plan.plan.batch_size.max(1));
    let mut units: Vec<Unit> = (0..batches).map(|batch| Unit::Clean { batch }).collect();
    for measurement in 0..plan.measurements.len() {
        units.extend((0..batches).map(|batch| Unit::Measure { measurement, batch }));
    }
    units.push(Unit::ModelChecks);
    units
}

/// A short description of `unit` for progress displays.
pub(crate) fn describe(plan: &CheckedPlan, unit: Unit) -> String {
    match unit {
        Unit::Clean { .. } => "clean".into(),
        Unit::Measure { measurement, .. } => plan.measurements[measurement].describe(&plan.plan),
        Unit::ModelChecks => "sanity checks".into(),
    }
}

/// The clean passes known so far, by batch.
pub(crate) type CleanCache = HashMap<usize, CleanPass>;

/// Runs `units` of `plan` in order and hands each outcome to `record` as soon as it is known;
/// the task bar follows the units' descriptions. The clean pass of a batch comes from `clean`
/// (journalled or computed earlier) or is computed once and kept there.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_units(
    model: &dyn Classifier,
    data: &Dataset,
    plan: &CheckedPlan,
    units: &[Unit],
    clean: &mut CleanCache,
    device: &Device,
    progress: &Progress,
    record: &mut dyn FnMut(Unit, Outcome) -> Result<()>,
) -> Result<()> {
    let mut first = 0;
    while first < units.len() {
        let label = describe(plan, units[first]);
        let group = units[first..]
            .iter()
            .take_while(|&&unit| describe(plan, unit) == label)
            .count();
        progress.task(&label, group as u64);
        for &unit in &units[first..first + group] {
            record(unit, run_unit(model, data, plan, unit, clean, device)?)?;
            progress.advance();
        }
        first += group;
    }
    Ok(())
}

fn batch_of(data: &Dataset, plan: &EvalPlan, index: usize, device: &Device) -> Batch {
    let start = index * plan.batch_size;
    data.batch(start, start + plan.batch_size, device)
}

/// The clean outcome of batch `index`.
fn clean_outcome(model: &dyn Classifier, batch: &Batch) -> Result<Outcome> {
    let started = Instant::now();
    let clean = CleanPass::checked(model, batch.images.clone(), &batch.ids)?;
    let labels: Vec<usize> = adv_core::to_ints(batch.labels.clone())
        .into_iter()
        .map(|y| y as usize)
        .collect();
    Ok(Outcome::Clean {
        correct: clean.correct(&labels),
        clean,
        wall_time_s: started.elapsed().as_secs_f64(),
    })
}

/// Runs one unit of `plan` on `model` and `data`.
fn run_unit(
    model: &dyn Classifier,
    data: &Dataset,
    plan: &CheckedPlan,
    unit: Unit,
    cache: &mut CleanCache,
    device: &Device,
) -> Result<Outcome> {
    Ok(match unit {
        Unit::Clean { batch } => {
            let outcome = clean_outcome(model, &batch_of(data, &plan.plan, batch, device))?;
            if let Outcome::Clean { clean, .. } = &outcome {
                cache.insert(batch, clean.clone());
            }
            outcome
        }
        Unit::Measure { measurement, batch } => {
            let images = batch_of(data, &plan.plan, batch, device);
            if !cache.contains_key(&batch)
                && let Outcome::Clean { clean, .. } = clean_outcome(model, &images)?
            {
                cache.insert(batch, clean);
            }
            let input = BatchInput {
                model,
                batch: &images,
                clean: &cache[&batch],
                plan,
            };
            Outcome::Measure {
                record: plan.measurements[measurement].run(&input)?,
            }
        }
        Unit::ModelChecks => Outcome::ModelChecks {
            warnings: check_model(model, data, plan.plan.batch_size.min(data.len()), device),
            traits: model.traits(),
        },
    })
}

/// The report of `plan` on `samples` images of `image_len` values from the outcome of each of
/// its units; an error names the first unit without one.
pub(crate) fn assemble(
    plan: &CheckedPlan,
    samples: usize,
    image_len: usize,
    outcomes: &HashMap<Unit, Outcome>,
) -> Result<EvalReport> {
    let batches = samples.div_ceil(plan.plan.batch_size.max(1));
    let get = |unit: Unit| {
        outcomes.get(&unit).ok_or_else(|| {
            BenchError::InvalidArgument(format!(
                "the results are incomplete: nothing recorded for {}{}",
                describe(plan, unit),
                batch_index(unit).map_or_else(String::new, |b| format!(", batch {b}"))
            ))
        })
    };

    let mut clean_correct = Vec::with_capacity(samples);
    let mut clean_seconds = 0.0;
    for batch in 0..batches {
        if let Outcome::Clean {
            correct,
            wall_time_s,
            ..
        } = get(Unit::Clean { batch })?
        {
            clean_correct.extend(correct);
            clean_seconds += wall_time_s;
        }
    }

    let p = &plan.plan;
    let mut assembly = Assembly {
        plan: p,
        clean_correct: &clean_correct,
        results: Vec::new(),
        epsilon_curves: Vec::new(),
        robust_to_all: vec![clean_correct.clone(); p.epsilons.len()],
    };
    for (m, measurement) in plan.measurements.iter().enumerate() {
        let mut records = Vec::with_capacity(batches);
        for batch in 0..batches {
            match get(Unit::Measure {
                measurement: m,
                batch,
            })? {
                Outcome::Measure { record } => records.push(record),
                _ => {
                    return Err(BenchError::InvalidArgument(format!(
                        "the record of {}, batch {batch}, is of another kind",
                        measurement.describe(p)
                    )));
                }
            }
        }
        measurement.assemble(&records, &mut assembly)?;
    }
    let Assembly {
        results,
        epsilon_curves,
        robust_to_all,
        ..
    } = assembly;

    let (mut warnings, model_traits) = match get(Unit::ModelChecks)? {
        Outcome::ModelChecks { warnings, traits } => (warnings.clone(), *traits),
        _ => (Vec::new(), ModelTraits::default()),
    };
    let knowledge = |result: &AttackResult| -> Knowledge { result.config.info().access };
    let width = p.threat.bounds.upper - p.threat.bounds.lower;
    let diameter = match p.threat.norm {
        Norm::Linf => width,
        Norm::L2 => width * (image_len as f32).sqrt(),
        Norm::L1 => width * image_len as f32,
    };
    warnings.extend(check_results(&results, &knowledge, diameter));
    let worst_case = p
        .epsilons
        .iter()
        .zip(&robust_to_all)
        .map(|(&epsilon, robust)| WorstCase {
            epsilon,
            robust_accuracy: fraction(robust),
        })
        .collect();
    Ok(EvalReport {
        samples,
        clean_accuracy: fraction(&clean_correct),
        clean_wall_time_s: clean_seconds,
        norm: p.threat.norm,
        goal: p.threat.goal,
        threat: p.threat.clone(),
        seed: p.seed,
        batch_size: p.batch_size,
        confidence: p.confidence,
        results,
        worst_case,
        epsilon_curves,
        warnings,
        model_traits,
        context: Default::default(),
    })
}

/// Checks that `outcome` is the kind of record `unit` produces and has one entry per sample
/// of its batch, so that a damaged or foreign journal cannot bend the numbers.
pub(crate) fn check_outcome(
    plan: &CheckedPlan,
    samples: usize,
    unit: Unit,
    outcome: &Outcome,
) -> Result<()> {
    let batches = samples.div_ceil(plan.plan.batch_size.max(1));
    let batch_len = |batch: usize| {
        let start = batch * plan.plan.batch_size;
        samples
            .min(start + plan.plan.batch_size)
            .saturating_sub(start)
    };
    let fits = match (unit, outcome) {
        (Unit::Clean { batch }, Outcome::Clean { correct, clean, .. }) => {
            batch < batches
                && correct.len() == batch_len(batch)
                && clean.predictions.len() == batch_len(batch)
                && clean.ranking.len() == batch_len(batch)
        }
        (Unit::Measure { measurement, batch }, Outcome::Measure { record }) => {
            batch < batches
                && plan
                    .measurements
                    .get(measurement)
                    .is_some_and(|m| m.fits(record, batch_len(batch)))
        }
        (Unit::ModelChecks, Outcome::ModelChecks { .. }) => true,
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        Err(BenchError::InvalidArgument(format!(
            "a record does not fit its evaluation ({unit:?}); was the journal written for another suite?"
        )))
    }
}

fn batch_index(unit: Unit) -> Option<usize> {
    match unit {
        Unit::Clean { batch } | Unit::Measure { batch, .. } => Some(batch),
        Unit::ModelChecks => None,
    }
}

fn fraction(flags: &[bool]) -> f32 {
    if flags.is_empty() {
        return 0.0;
    }
    flags.iter().filter(|&&f| f).count() as f32 / flags.len() as f32
}

fn mean(values: &[f32]) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    (values.iter().map(|&v| f64::from(v)).sum::<f64>() / values.len() as f64) as f32
}

/// The generation settings of the minimal-distance measurement: every step of every run,
/// keeping the closest adversarial iterate.
pub(crate) fn minimal_distance_options(options: &RunOptions) -> RunOptions {
    RunOptions {
        mode: Mode::Generate(Pick::Best),
        ..options.clone()
    }
}
