//! An evaluation cut into independent units of work, each producing one serializable record.
//!
//! A unit is one batch of the clean pass, of one attack at one epsilon, or of one attack's
//! minimal-epsilon search, or the model sanity checks. Units depend on nothing but the model, the
//! data and the plan (random numbers are keyed by sample index), so they may run in any order,
//! in any process, and be skipped when a journal already holds their record. [`assemble`] turns
//! the records of every unit into the report, so an evaluation run in one go, resumed after a
//! crash, or spread over shards gives the same numbers.

use std::collections::HashMap;
use std::time::Instant;

use adv_attacks::{RunOptions, attack_batch};
use adv_core::burn::tensor::Device;
use adv_core::{Classifier, CostCounts, Counted, Dataset, Norm, to_ints};
use serde::{Deserialize, Serialize};

use crate::checks::{Warning, check_model, check_results};
use crate::curves::{StepCounts, StepCurve, accuracy_at, minimal_epsilons_of_batch};
use crate::report::{AttackResult, EpsilonCurve, EvalReport, WorstCase};
use crate::{BenchError, EvalPlan, Progress, Result};

/// One unit of work of an evaluation; `attack` and `epsilon` index the plan's lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "unit", rename_all = "kebab-case")]
pub(crate) enum Unit {
    Clean {
        batch: usize,
    },
    Attack {
        attack: usize,
        epsilon: usize,
        batch: usize,
    },
    MinimalEpsilon {
        attack: usize,
        batch: usize,
    },
    ModelChecks,
}

/// What a unit measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub(crate) enum Outcome {
    Clean {
        correct: Vec<bool>,
        wall_time_s: f64,
    },
    Attack {
        robust: Vec<bool>,
        /// Clean-correct samples of the batch (those attacked).
        attacked: usize,
        /// Perturbation norms of the adversarial examples found, in sample order.
        distances: Vec<f32>,
        /// Samples broken after each step.
        broken_per_step: Vec<usize>,
        cost: CostCounts,
        wall_time_s: f64,
    },
    MinimalEpsilon {
        /// `None`: not broken up to the search's largest radius.
        minimal: Vec<Option<f32>>,
        cost: CostCounts,
        wall_time_s: f64,
    },
    ModelChecks {
        warnings: Vec<Warning>,
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

/// Every unit of `plan` on `samples` samples, in a fixed order: clean batches, attacks by
/// epsilon by batch, minimal-epsilon searches by batch, model checks.
pub(crate) fn units(plan: &EvalPlan, samples: usize) -> Vec<Unit> {
    let batches = samples.div_ceil(plan.batch_size.max(1));
    let mut units: Vec<Unit> = (0..batches).map(|batch| Unit::Clean { batch }).collect();
    for attack in 0..plan.attacks.len() {
        for epsilon in 0..plan.epsilons.len() {
            units.extend((0..batches).map(|batch| Unit::Attack {
                attack,
                epsilon,
                batch,
            }));
        }
    }
    if let Some(search) = &plan.epsilon_curves {
        for (attack, config) in plan.attacks.iter().enumerate() {
            if search.covers(&config.label()) {
                units.extend((0..batches).map(|batch| Unit::MinimalEpsilon { attack, batch }));
            }
        }
    }
    units.push(Unit::ModelChecks);
    units
}

/// A short description of `unit` for progress displays.
pub(crate) fn describe(plan: &EvalPlan, unit: Unit) -> String {
    match unit {
        Unit::Clean { .. } => "clean".into(),
        Unit::Attack {
            attack, epsilon, ..
        } => format!(
            "{} eps={}",
            plan.attacks[attack].label(),
            plan.epsilons[epsilon]
        ),
        Unit::MinimalEpsilon { attack, .. } => {
            format!("{} minimal eps", plan.attacks[attack].label())
        }
        Unit::ModelChecks => "sanity checks".into(),
    }
}

/// Runs `units` of `plan` in order and hands each outcome to `record` as soon as it is known;
/// the task bar follows the units' descriptions.
pub(crate) fn run_units(
    model: &dyn Classifier,
    data: &Dataset,
    plan: &EvalPlan,
    units: &[Unit],
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
            record(unit, run_unit(model, data, plan, unit, device)?)?;
            progress.advance();
        }
        first += group;
    }
    Ok(())
}

/// Runs one unit of `plan` on `model` and `data`.
pub(crate) fn run_unit(
    model: &dyn Classifier,
    data: &Dataset,
    plan: &EvalPlan,
    unit: Unit,
    device: &Device,
) -> Result<Outcome> {
    let batch_of = |index: usize| {
        let start = index * plan.batch_size;
        data.batch(start, start + plan.batch_size, device)
    };
    let options = RunOptions {
        seed: plan.seed,
        confidence: plan.confidence,
        candidates: None,
    };
    let started = Instant::now();
    Ok(match unit {
        Unit::Clean { batch } => {
            let batch = batch_of(batch);
            let predictions = to_ints(
                model
                    .forward(batch.images)
                    .argmax(1)
                    .reshape([batch.ids.len()]),
            );
            let labels = to_ints(batch.labels);
            Outcome::Clean {
                correct: predictions
                    .iter()
                    .zip(&labels)
                    .map(|(p, y)| p == y)
                    .collect(),
                wall_time_s: started.elapsed().as_secs_f64(),
            }
        }
        Unit::Attack {
            attack,
            epsilon,
            batch,
        } => {
            let epsilon = plan.epsilons[epsilon];
            let threat = plan.threat.clone().with_epsilon(epsilon)?;
            let counted = Counted::new(model);
            let mut counts = StepCounts::default();
            let outcome = attack_batch(
                plan.attacks[attack].build()?.as_ref(),
                &counted,
                &batch_of(batch),
                &threat,
                &[epsilon],
                &options,
                &mut counts,
            )?;
            Outcome::Attack {
                robust: outcome.robust(),
                attacked: outcome.attacked.iter().filter(|&&a| a).count(),
                distances: outcome
                    .success
                    .iter()
                    .zip(&outcome.distances)
                    .filter(|(s, _)| **s)
                    .map(|(_, d)| *d)
                    .collect(),
                broken_per_step: counts.into_broken(),
                cost: counted.counts(),
                wall_time_s: started.elapsed().as_secs_f64(),
            }
        }
        Unit::MinimalEpsilon { attack, batch } => {
            let search = plan.epsilon_curves.as_ref().ok_or_else(|| {
                BenchError::InvalidArgument("the plan asks for no epsilon curves".into())
            })?;
            let counted = Counted::new(model);
            let minimal = minimal_epsilons_of_batch(
                plan.attacks[attack].build()?.as_ref(),
                &counted,
                &batch_of(batch),
                &plan.threat,
                &options,
                search,
            )?;
            Outcome::MinimalEpsilon {
                minimal: minimal
                    .into_iter()
                    .map(|m| m.is_finite().then_some(m))
                    .collect(),
                cost: counted.counts(),
                wall_time_s: started.elapsed().as_secs_f64(),
            }
        }
        Unit::ModelChecks => Outcome::ModelChecks {
            warnings: check_model(model, data, plan.batch_size.min(data.len()), device),
        },
    })
}

/// The report of `plan` on `samples` images of `image_len` values from the outcome of each of
/// its units; an error names the first unit without one.
pub(crate) fn assemble(
    plan: &EvalPlan,
    samples: usize,
    image_len: usize,
    outcomes: &HashMap<Unit, Outcome>,
) -> Result<EvalReport> {
    let batches = samples.div_ceil(plan.batch_size.max(1));
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
        } = get(Unit::Clean { batch })?
        {
            clean_correct.extend(correct);
            clean_seconds += wall_time_s;
        }
    }

    let mut results = Vec::new();
    let mut robust_to_all = vec![clean_correct.clone(); plan.epsilons.len()];
    for (a, config) in plan.attacks.iter().enumerate() {
        for (e, &epsilon) in plan.epsilons.iter().enumerate() {
            let mut robust = Vec::with_capacity(samples);
            let (mut attacked, mut distances) = (0, Vec::new());
            let (mut cost, mut seconds) = (CostCounts::default(), 0.0);
            let mut steps = StepCurve::default();
            for batch in 0..batches {
                let unit = Unit::Attack {
                    attack: a,
                    epsilon: e,
                    batch,
                };
                if let Outcome::Attack {
                    robust: batch_robust,
                    attacked: batch_attacked,
                    distances: batch_distances,
                    broken_per_step,
                    cost: batch_cost,
                    wall_time_s,
                } = get(unit)?
                {
                    steps.add(batch_robust.len(), *batch_attacked, broken_per_step.clone());
                    robust.extend(batch_robust);
                    attacked += batch_attacked;
                    distances.extend(batch_distances);
                    cost = cost + *batch_cost;
                    seconds += wall_time_s;
                }
            }
            for (all, here) in robust_to_all[e].iter_mut().zip(&robust) {
                *all &= *here;
            }
            results.push(AttackResult {
                attack: config.label(),
                config: config.clone(),
                epsilon,
                robust_accuracy: fraction(&robust),
                attacked,
                mean_perturbation: mean(&distances),
                max_perturbation: distances.iter().copied().fold(0.0, f32::max),
                accuracy_per_step: steps.accuracy(),
                cost,
                wall_time_s: seconds,
            });
        }
    }

    let mut epsilon_curves = Vec::new();
    if let Some(search) = &plan.epsilon_curves {
        let grid: Vec<f32> = (0..=20).map(|k| search.max * k as f32 / 20.0).collect();
        for (a, config) in plan.attacks.iter().enumerate() {
            if !search.covers(&config.label()) {
                continue;
            }
            let mut minimal: Vec<Option<f32>> = Vec::with_capacity(samples);
            let (mut cost, mut seconds) = (CostCounts::default(), 0.0);
            for batch in 0..batches {
                if let Outcome::MinimalEpsilon {
                    minimal: found,
                    cost: batch_cost,
                    wall_time_s,
                } = get(Unit::MinimalEpsilon { attack: a, batch })?
                {
                    minimal.extend(found);
                    cost = cost + *batch_cost;
                    seconds += wall_time_s;
                }
            }
            let finite: Vec<f32> = minimal.iter().map(|m| m.unwrap_or(f32::INFINITY)).collect();
            epsilon_curves.push(EpsilonCurve {
                attack: config.label(),
                accuracy: grid
                    .iter()
                    .copied()
                    .zip(accuracy_at(&finite, &grid))
                    .collect(),
                minimal_epsilons: minimal,
                cost,
                wall_time_s: seconds,
            });
        }
    }

    let mut warnings = match get(Unit::ModelChecks)? {
        Outcome::ModelChecks { warnings } => warnings.clone(),
        _ => Vec::new(),
    };
    let knowledge = |result: &AttackResult| {
        result
            .config
            .build()
            .map(|attack| attack.knowledge())
            .unwrap_or_default()
    };
    let width = plan.threat.bounds.upper - plan.threat.bounds.lower;
    let diameter = match plan.threat.norm {
        Norm::Linf => width,
        Norm::L2 => width * (image_len as f32).sqrt(),
        Norm::L1 => width * image_len as f32,
    };
    warnings.extend(check_results(&results, &knowledge, diameter));
    let worst_case = plan
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
        norm: plan.threat.norm,
        goal: plan.threat.goal,
        seed: plan.seed,
        batch_size: plan.batch_size,
        confidence: plan.confidence,
        results,
        worst_case,
        epsilon_curves,
        warnings,
        context: Default::default(),
    })
}

/// Checks that `outcome` is the kind of record `unit` produces and has one entry per sample
/// of its batch, so that a damaged or foreign journal cannot bend the numbers.
pub(crate) fn check_outcome(
    plan: &EvalPlan,
    samples: usize,
    unit: Unit,
    outcome: &Outcome,
) -> Result<()> {
    let batches = samples.div_ceil(plan.batch_size.max(1));
    let in_range = match unit {
        Unit::Clean { batch } => batch < batches,
        Unit::Attack {
            attack,
            epsilon,
            batch,
        } => attack < plan.attacks.len() && epsilon < plan.epsilons.len() && batch < batches,
        Unit::MinimalEpsilon { attack, batch } => {
            attack < plan.attacks.len()
                && batch < batches
                && plan
                    .epsilon_curves
                    .as_ref()
                    .is_some_and(|search| search.covers(&plan.attacks[attack].label()))
        }
        Unit::ModelChecks => true,
    };
    let batch_len = |batch: usize| {
        let start = batch * plan.batch_size;
        samples.min(start + plan.batch_size).saturating_sub(start)
    };
    let fits = in_range
        && match (unit, outcome) {
            (Unit::Clean { batch }, Outcome::Clean { correct, .. }) => {
                correct.len() == batch_len(batch)
            }
            (Unit::Attack { batch, .. }, Outcome::Attack { robust, .. }) => {
                robust.len() == batch_len(batch)
            }
            (Unit::MinimalEpsilon { batch, .. }, Outcome::MinimalEpsilon { minimal, .. }) => {
                minimal.len() == batch_len(batch)
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
        Unit::Clean { batch } | Unit::Attack { batch, .. } | Unit::MinimalEpsilon { batch, .. } => {
            Some(batch)
        }
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
