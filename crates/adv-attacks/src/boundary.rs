//! The Boundary attack: a decision-based random walk along the decision boundary from a point
//! that already fools the model, each step an orthogonal ("spherical") move around the input
//! followed by a move towards it, both step sizes adapted to their recent success rates.
//! Brendel, Rauber & Bethge, "Decision-Based Adversarial Attacks: Reliable Attacks Against
//! Black-Box Machine Learning Models", ICLR 2018.
//!
//! As ARES (`ares/attack/boundary_worker.py`, the `tf1` branch of thu-ml/ares, after Foolbox
//! 2): with `r = x - x'`, a Gaussian `eta` has its component along `r` removed and is scaled to
//! `spherical_step * ||r||`; the spherical candidate is `s = clip(x + (eta - r) / sqrt(1 +
//! spherical_step^2))`, at distance `||r||` from `x`; the full candidate moves `s` towards `x`
//! by `source_step * ||r||` (corrected for the drift off the sphere, floored at 0), then
//! clipped. A step tries up to `directions` candidates, one at a time, and takes the first that
//! fools the model; every 10th step also queries the spherical candidate first, and a spherical
//! candidate that does not fool the model skips its full candidate. Adaptation, on those steps:
//! once the last 100 spherical verdicts are in, a success rate above 0.5 multiplies both steps
//! by `step_adaptation` and one below 0.2 divides them; once the last 30 full-candidate verdicts
//! of those steps are in, the same thresholds multiply or divide the source step; a history is
//! cleared when it changes a step (the source step is capped at 0.5, so that a step never
//! passes the input). A row stops once its source step falls below 1e-7 (Foolbox's
//! convergence threshold). Defaults (ARES's test settings): 25 directions, both steps 0.01,
//! adaptation 1.5, 20,000 queries.
//!
//! As Foolbox 3, a candidate is taken only if it is also closer to the input than the current
//! point, so the distance never increases (the ARES candidate is closer by construction unless
//! clipping intervenes). Start: uniform noise drawn until it fools the model (at most 1,000
//! draws, Foolbox's limit), blended towards the input by binary search to 0.001 (ARES starts
//! from the noise itself, Foolbox 3 from a linear blend search); targeted goals start from noise
//! the model classifies as the target, not from an image of the target class (see
//! [`crate::HopSkipJump`]: an attack sees only its own rows).
//!
//! Queries: one per label, the start search included (ARES bills neither the start nor the
//! check of `x`); a sample stops at `queries` or at the threat model's `Budget::Queries`. Each
//! harness step is one query of every row, the rows' queries in one oracle call; the iterate
//! is each row's current point. Each sample draws its noise from its own generator, keyed by its
//! index and the step. The attack minimizes the distance: the harness projects its result onto
//! the ball. Norm: L2.
//!
//! ```
//! use adv_attacks::BoundaryConfig;
//! let boundary = BoundaryConfig { queries: 5_000, ..Default::default() }.init().unwrap();
//! ```

use std::collections::VecDeque;

use adv_core::burn::tensor::Tensor;
use adv_core::{Bounds, Knowledge, Norm, to_floats};
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};

use crate::hopskipjump::{Judge, Probe, Search, Walk, allowances, ask, distance, step_to};
use crate::{
    AttackError, AttackInfo, Context, DecisionOracle, Decisions, Iterative, Observed, Result,
    Start, Step, StepInfo,
};

/// Noise draws a start search makes at most (Foolbox's limit).
const START_DRAWS: usize = 1_000;
/// Steps between the steps that query spherical candidates and adapt the step sizes.
const STATS_EVERY: usize = 10;
/// Lengths of the spherical and the step success histories.
const SPHERICAL_HISTORY: usize = 100;
const STEP_HISTORY: usize = 30;
/// A row stops once its source step falls below this (Foolbox's `source_step_convergance`).
const CONVERGED: f32 = 1e-7;

adv_core::options! {
    /// Configuration of [`Boundary`].
    pub struct BoundaryConfig {
        /// Label queries per sample, the start search included.
        queries: u64 [Domain::AtLeast(1.0), Label::ValueIfChanged] = 20_000,
        /// Candidates a step tries at most, one query each (two on the steps that query spherical candidates).
        directions: usize [Domain::AtLeast(1.0), Label::Changed] = 25,
        /// Length of the orthogonal move, relative to the distance to the input.
        spherical_step: f32 [Domain::Positive, Label::Changed] = 1e-2,
        /// Length of the move towards the input, relative to the distance to the input.
        source_step: f32 [Domain::Positive, Label::Changed] = 1e-2,
        /// Factor by which the step sizes adapt to their success rates.
        step_adaptation: f32 [Domain::Positive, Label::Changed] = 1.5,
    }
}

impl BoundaryConfig {
    /// The attack, or an error if the configuration is invalid.
    pub fn init(&self) -> Result<Boundary> {
        adv_core::Options::check_domains(self)
            .map_err(|problem| AttackError::config(INFO.name, problem))?;
        if self.step_adaptation <= 1.0 {
            return Err(AttackError::config(
                INFO.name,
                format!(
                    "step-adaptation must exceed 1, got {}",
                    self.step_adaptation
                ),
            ));
        }
        if self.source_step >= 1.0 {
            return Err(AttackError::config(
                INFO.name,
                format!(
                    "source-step must be below 1 (a step would pass the input), got {}",
                    self.source_step
                ),
            ));
        }
        Ok(Boundary {
            config: self.clone(),
        })
    }
}

/// The Boundary attack (L2), decision-based, minimal-distance.
#[derive(Clone, Debug)]
pub struct Boundary {
    config: BoundaryConfig,
}

pub(crate) static INFO: AttackInfo = AttackInfo {
    name: "boundary",
    aliases: &["boundary-attack"],
    paper: "Brendel, Rauber & Bethge, ICLR 2018",
    norms: &[Norm::L2],
    access: Knowledge::DecisionBased,
    targeted: true,
    minimizes_distance: true,
    config: adv_core::ConfigFns::of::<BoundaryConfig>(),
    build: |settings| {
        Ok(Box::new(
            adv_core::configure::<BoundaryConfig>("boundary", settings)?.init()?,
        ))
    },
};

pub(crate) const ATTACKS: &[&AttackInfo] = &[&INFO];

/// The spherical and the full candidate from the current point `point` around the input `x`,
/// given a raw Gaussian draw `eta` (before clipping to `bounds`): the spherical one at distance
/// `||x - point||` from `x` with its move orthogonal to `x - point`, the full one
/// `source_step * ||x - point||` closer (before clipping).
pub fn boundary_candidates(
    x: &[f32],
    point: &[f32],
    eta: &[f32],
    spherical_step: f32,
    source_step: f32,
    bounds: Bounds,
) -> (Vec<f32>, Vec<f32>) {
    let r: Vec<f32> = x.iter().zip(point).map(|(x, p)| x - p).collect();
    let norm = |v: &[f32]| v.iter().map(|v| v * v).sum::<f32>().sqrt();
    let source_norm = norm(&r);
    let unit: Vec<f32> = r.iter().map(|v| v / source_norm.max(1e-12)).collect();
    let along: f32 = eta.iter().zip(&unit).map(|(e, u)| e * u).sum();
    let mut orthogonal: Vec<f32> = eta.iter().zip(&unit).map(|(e, u)| e - along * u).collect();
    let scale = spherical_step * source_norm / norm(&orthogonal).max(1e-12);
    orthogonal.iter_mut().for_each(|v| *v *= scale);
    let shrink = 1.0 / (spherical_step * spherical_step + 1.0).sqrt();
    let spherical: Vec<f32> = x
        .iter()
        .zip(orthogonal.iter().zip(&r))
        .map(|(x, (e, r))| (x + shrink * (e - r)).clamp(bounds.lower, bounds.upper))
        .collect();
    let towards: Vec<f32> = x.iter().zip(&spherical).map(|(x, s)| x - s).collect();
    let towards_norm = norm(&towards);
    let length = (source_step * source_norm + towards_norm - source_norm).max(0.0);
    let fraction = length / towards_norm.max(1e-12);
    let full = spherical
        .iter()
        .zip(&towards)
        .map(|(s, t)| (s + fraction * t).clamp(bounds.lower, bounds.upper))
        .collect();
    (spherical, full)
}

/// A step's candidate being tried: the full candidate, and whether the round's query is its
/// spherical one.
#[derive(Clone, Debug)]
struct Trial {
    spherical: Vec<f32>,
    full: Vec<f32>,
    asking_spherical: bool,
}

/// One Boundary row: its walk, the step it is on, the candidate being tried, the step sizes and
/// the success histories.
#[derive(Clone, Debug)]
pub struct BoundaryRow {
    walk: Walk,
    step: usize,
    tried: usize,
    trial: Option<Trial>,
    spherical_step: f32,
    source_step: f32,
    spherical_history: VecDeque<bool>,
    step_history: VecDeque<bool>,
    converged: bool,
}

impl BoundaryRow {
    fn new(x: &[f32], config: &BoundaryConfig) -> Self {
        Self {
            walk: Walk::new(x),
            step: 0,
            tried: 0,
            trial: None,
            spherical_step: config.spherical_step,
            source_step: config.source_step,
            spherical_history: VecDeque::new(),
            step_history: VecDeque::new(),
            converged: false,
        }
    }

    /// Whether the row has more to do (else it spends nothing).
    fn active(&self) -> bool {
        self.walk.searching() || (self.walk.search == Search::Found && !self.converged)
    }

    fn stats_step(&self) -> bool {
        self.step.is_multiple_of(STATS_EVERY)
    }

    /// The round's query of the row.
    fn query(&mut self, x: &[f32], rng: &mut StdRng, bounds: Bounds, out: &mut Vec<f32>) {
        if self.walk.searching() {
            self.walk.search_query(x, rng, bounds, out);
            return;
        }
        if self.trial.is_none() {
            let eta: Vec<f32> = (0..x.len()).map(|_| StandardNormal.sample(rng)).collect();
            let (spherical, full) = boundary_candidates(
                x,
                &self.walk.point,
                &eta,
                self.spherical_step,
                self.source_step,
                bounds,
            );
            self.trial = Some(Trial {
                spherical,
                full,
                asking_spherical: self.stats_step(),
            });
        }
        if let Some(trial) = &self.trial {
            out.extend_from_slice(if trial.asking_spherical {
                &trial.spherical
            } else {
                &trial.full
            });
        }
    }

    /// Takes the label of the round's query.
    fn answer(&mut self, x: &[f32], label: i64, fools: bool, config: &BoundaryConfig) {
        if self.walk.searching() {
            self.walk.search_answer(x, label, fools, START_DRAWS);
            return;
        }
        let Some(trial) = self.trial.take() else {
            return;
        };
        let stats = self.stats_step();
        if trial.asking_spherical {
            push(&mut self.spherical_history, fools, SPHERICAL_HISTORY);
            if fools {
                self.trial = Some(Trial {
                    asking_spherical: false,
                    ..trial
                });
                return;
            }
        } else {
            if stats {
                push(&mut self.step_history, fools, STEP_HISTORY);
            }
            let closer = distance(Norm::L2, &trial.full, x) < distance(Norm::L2, &self.walk.point, x);
            if fools && closer {
                self.walk.point = trial.full;
                self.walk.label = Some(label);
                self.end_step(config);
                return;
            }
        }
        self.tried += 1;
        if self.tried >= config.directions {
            self.end_step(config);
        }
    }

    fn end_step(&mut self, config: &BoundaryConfig) {
        if self.stats_step() {
            self.adapt(config.step_adaptation);
        }
        self.step += 1;
        self.tried = 0;
        self.trial = None;
        self.converged = self.source_step < CONVERGED;
    }

    /// ARES's adaptation of the step sizes to the full histories' success rates.
    fn adapt(&mut self, factor: f32) {
        if let Some(rate) = full_rate(&self.spherical_history, SPHERICAL_HISTORY) {
            if rate > 0.5 {
                self.spherical_step *= factor;
                self.source_step *= factor;
            } else if rate < 0.2 {
                self.spherical_step /= factor;
                self.source_step /= factor;
            }
            if !(0.2..=0.5).contains(&rate) {
                self.spherical_history.clear();
            }
        }
        if let Some(rate) = full_rate(&self.step_history, STEP_HISTORY) {
            if rate > 0.5 {
                self.source_step *= factor;
            } else if rate < 0.2 {
                self.source_step /= factor;
            }
            if !(0.2..=0.5).contains(&rate) {
                self.step_history.clear();
            }
        }
        // A source step of 1 or more would pass the input.
        self.source_step = self.source_step.min(0.5);
    }
}

fn push(history: &mut VecDeque<bool>, value: bool, length: usize) {
    history.push_back(value);
    if history.len() > length {
        history.pop_front();
    }
}

/// The success rate of a history once it holds `length` verdicts.
fn full_rate(history: &VecDeque<bool>, length: usize) -> Option<f32> {
    (history.len() == length)
        .then(|| history.iter().filter(|&&s| s).count() as f32 / length as f32)
}

crate::row_state! {
    /// The Boundary attack's state: each row's walk.
    pub struct BoundaryState {
        rows: Vec<BoundaryRow>,
    }
}

/// The round's queries and answers of every row.
struct Round<'a> {
    config: &'a BoundaryConfig,
    rows: &'a mut [BoundaryRow],
    rngs: Vec<StdRng>,
    x0: &'a [f32],
    d: usize,
    bounds: Bounds,
    judge: Judge,
}

impl Probe for Round<'_> {
    fn query(&mut self, r: usize, out: &mut Vec<f32>) {
        let x = &self.x0[r * self.d..(r + 1) * self.d];
        self.rows[r].query(x, &mut self.rngs[r], self.bounds, out);
    }

    fn answer(&mut self, r: usize, label: i64) {
        let x = &self.x0[r * self.d..(r + 1) * self.d];
        let fools = self.judge.fools(r, label);
        self.rows[r].answer(x, label, fools, self.config);
    }
}

impl Iterative for Boundary {
    type Access = Decisions;
    type State = BoundaryState;

    fn info(&self) -> &'static AttackInfo {
        &INFO
    }

    /// One query per round.
    fn steps(&self) -> usize {
        self.config.queries as usize
    }

    /// From the clean image, whose verdict the clean pass gave.
    fn start(
        &self,
        ctx: &Context,
        _model: &DecisionOracle<'_>,
        _run: usize,
        _previous: Option<BoundaryState>,
    ) -> Result<Start<BoundaryState>> {
        let clean = to_floats(ctx.images().clone());
        let d = clean.len() / ctx.len().max(1);
        let rows = clean
            .chunks(d.max(1))
            .take(ctx.len())
            .map(|x| BoundaryRow::new(x, &self.config))
            .collect();
        Ok(Start {
            state: BoundaryState { rows },
            iterate: ctx.images().clone(),
            observed: Observed::Clean,
        })
    }

    /// One query of every row that still searches or walks: a start probe, or one spherical or
    /// full candidate; the rows' queries in one oracle call.
    fn step(
        &self,
        ctx: &Context,
        model: &DecisionOracle<'_>,
        state: &mut BoundaryState,
        _x: Tensor<4>,
        info: StepInfo,
    ) -> Result<Step> {
        let x0 = to_floats(ctx.images().clone());
        let d = x0.len() / ctx.len().max(1);
        let allowed = allowances(model, state.rows.iter().map(|r| &r.walk), self.config.queries);
        let counts: Vec<usize> = state
            .rows
            .iter()
            .zip(&allowed)
            .map(|(row, &allowed)| usize::from(row.active() && allowed > 0))
            .collect();
        let stop = counts.iter().all(|&c| c == 0);
        if !stop {
            let mut round = Round {
                config: &self.config,
                rows: &mut state.rows,
                rngs: (0..ctx.len())
                    .map(|r| ctx.rng(r, info.step as u64 + 1))
                    .collect(),
                x0: &x0,
                d,
                bounds: ctx.bounds(),
                judge: Judge::of(ctx),
            };
            ask(ctx, model, &counts, &mut round)?;
            for (row, &count) in state.rows.iter_mut().zip(&counts) {
                row.walk.spent += count as u64;
            }
        }
        step_to(ctx, state.rows.iter().map(|r| &r.walk), stop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn norm(v: &[f32]) -> f32 {
        v.iter().map(|v| v * v).sum::<f32>().sqrt()
    }

    /// Before clipping (a box wide enough), the spherical candidate lies at the current
    /// distance with its move orthogonal to `x - x'`, and the full candidate `source_step`
    /// of that distance closer.
    #[test]
    fn candidates_have_the_references_geometry() {
        let wide = Bounds::new(-100.0, 100.0).unwrap();
        let x = [0.2f32, 0.5, 0.1, 0.9];
        let point = [0.8f32, 0.1, 0.4, 0.3];
        let eta = [0.3f32, -1.2, 0.7, 2.0];
        let (spherical, full) = boundary_candidates(&x, &point, &eta, 0.1, 0.05, wide);
        let r: Vec<f32> = x.iter().zip(&point).map(|(x, p)| x - p).collect();
        let before = norm(&r);
        let moved: Vec<f32> = spherical.iter().zip(&x).map(|(s, x)| s - x).collect();
        assert!((norm(&moved) - before).abs() < 1e-5, "{} vs {before}", norm(&moved));
        // x + D (eta' - r): eta' = moved / D + r is orthogonal to r and of length 0.1 ||r||.
        let shrink = 1.0 / (1.0f32 + 0.01).sqrt();
        let eta_taken: Vec<f32> = moved.iter().zip(&r).map(|(m, r)| m / shrink + r).collect();
        let dot: f32 = eta_taken.iter().zip(&r).map(|(e, r)| e * r).sum();
        assert!(dot.abs() < 1e-5, "{dot}");
        assert!((norm(&eta_taken) - 0.1 * before).abs() < 1e-5);
        let towards: Vec<f32> = full.iter().zip(&x).map(|(f, x)| f - x).collect();
        assert!((norm(&towards) - 0.95 * before).abs() < 1e-5, "{}", norm(&towards));
    }

    /// The walk on a linear model: from its start on, every accepted point fools the model and
    /// the distance to the input never increases, while it does decrease overall.
    #[test]
    fn the_distance_to_the_input_never_increases() {
        let d = 10;
        let w: Vec<f32> = (0..d).map(|i| ((i as f32) * 1.3 + 0.2).sin()).collect();
        let fools = |z: &[f32]| w.iter().zip(z).map(|(w, z)| w * (z - 0.5)).sum::<f32>() > 0.3;
        let x: Vec<f32> = (0..d).map(|i| 0.5 - 0.2 * w[i]).collect();
        assert!(!fools(&x));
        let config = BoundaryConfig::default();
        let bounds = Bounds::new(0.0, 1.0).unwrap();
        let mut row = BoundaryRow::new(&x, &config);
        let mut rng = StdRng::seed_from_u64(5);
        let mut distances = Vec::new();
        for _ in 0..3_000 {
            let mut query = Vec::new();
            row.query(&x, &mut rng, bounds, &mut query);
            let verdict = fools(&query);
            row.answer(&x, i64::from(verdict), verdict, &config);
            if row.walk.search == Search::Found {
                assert!(fools(&row.walk.point));
                distances.push(distance(Norm::L2, &row.walk.point, &x));
            }
        }
        assert!(distances.len() > 2_000);
        for pair in distances.windows(2) {
            assert!(pair[1] <= pair[0], "{} after {}", pair[1], pair[0]);
        }
        // The boundary's distance is 0.3 / ||w|| plus x's own margin.
        let gap = (0.3 + 0.2 * norm(&w).powi(2)) / norm(&w);
        let last = *distances.last().unwrap();
        assert!(last < distances[0] && last < 1.5 * gap, "{} -> {last}, boundary {gap}", distances[0]);
    }

    /// A history changes the steps only once full, and is cleared when it does.
    #[test]
    fn step_sizes_adapt_to_full_histories() {
        let config = BoundaryConfig::default();
        let mut row = BoundaryRow::new(&[0.0; 2], &config);
        for _ in 0..SPHERICAL_HISTORY - 1 {
            push(&mut row.spherical_history, true, SPHERICAL_HISTORY);
        }
        row.adapt(1.5);
        assert_eq!((row.spherical_step, row.source_step), (0.01, 0.01));
        push(&mut row.spherical_history, true, SPHERICAL_HISTORY);
        row.adapt(1.5);
        assert!((row.spherical_step - 0.015).abs() < 1e-7 && (row.source_step - 0.015).abs() < 1e-7);
        assert!(row.spherical_history.is_empty());
        for _ in 0..STEP_HISTORY {
            push(&mut row.step_history, false, STEP_HISTORY);
        }
        row.adapt(1.5);
        assert!((row.source_step - 0.01).abs() < 1e-7 && (row.spherical_step - 0.015).abs() < 1e-7);
        assert!(row.step_history.is_empty());
    }

    #[test]
    fn invalid_configs_are_errors() {
        let bad = [
            BoundaryConfig {
                directions: 0,
                ..Default::default()
            },
            BoundaryConfig {
                spherical_step: 0.0,
                ..Default::default()
            },
            BoundaryConfig {
                source_step: 1.0,
                ..Default::default()
            },
            BoundaryConfig {
                step_adaptation: 1.0,
                ..Default::default()
            },
            BoundaryConfig {
                queries: 0,
                ..Default::default()
            },
        ];
        for config in bad {
            assert!(config.init().is_err(), "{config:?}");
        }
        assert!(BoundaryConfig::default().init().is_ok());
    }
}
