//! HopSkipJump: a decision-based attack that walks along the decision boundary, estimating the
//! boundary's normal from one-bit queries. Chen, Jordan & Wainwright, "HopSkipJumpAttack: A
//! Query-Efficient Decision-Based Attack", IEEE S&P 2020.
//!
//! As the authors' code (Jianbo-Lab/HSJA, `hsja.py`) with its geometric step search. Start:
//! uniform noise in the box, drawn until it fools the model (at most 10,000 draws), then blended
//! towards the input `x` by binary search on the blend `(1 - a) x + a noise` to a tolerance of
//! 0.001. Then a binary search to the boundary and `iterations` rounds of:
//!
//! - **estimate**: `B_t = min(init_evals * sqrt(t), max_evals)` directions `u_b` (Gaussian at
//!   L2, uniform in `[-1, 1]` at Linf) of unit L2 norm, queried at `clip_box(x' + delta_t u_b)`
//!   (the directions recomputed after clipping), `phi_b = +-1` as the query fools the model or
//!   not; `v = mean((phi_b - mean(phi)) u_b)`, or `+-mean(u_b)` when every `phi_b` agrees,
//!   normalized. `delta_1 = 0.1 (hi - lo)`, then `sqrt(d) theta dist` (L2) or `d theta dist`
//!   (Linf), `dist` the distance after the last binary search;
//! - **step**: along `v` (L2) or `sign(v)` (Linf), of length `||x' - x|| / sqrt(t)` halved until
//!   the point fools the model;
//! - **binary search** back to the boundary between `x` and that point: L2 on the blend `(1 -
//!   a) x + a x'`, to `theta = gamma / (d sqrt(d))`; Linf on the radius `a` of the box `clip(x',
//!   x - a, x + a)`, to `min(dist * theta, theta)` with `theta = gamma / d^2`.
//!
//! Defaults: 64 iterations (the authors' `main.py` and Foolbox), `gamma = 1`, 100 initial and
//! 10,000 maximum evaluations per estimate, and 20,000 queries per sample. Targeted goals start
//! from uniform noise the model classifies as the target (the reference starts from a training
//! image of the target class; the harness gives an attack its batch's rows only, and taking
//! another row's image would make a sample's result depend on its batch), so a targeted run
//! fails for samples whose target no noise draw reaches. Not implemented: the grid step search.
//!
//! Queries: every label query costs one, the start search and every binary-search probe
//! included (HSJA counts none). A sample stops at `queries` or at the threat model's
//! `Budget::Queries`, whichever comes first; an estimate the budget cannot pay for in full uses
//! the directions it can pay for. Each harness step is one round of every row's search (one
//! noise draw, one bisection probe, one step probe, or one whole estimate), with the rows'
//! queries in shared oracle calls; the iterate is each row's latest point that fools the model
//! (before the start is found: its latest noise draw). Each sample draws its noise from its own
//! generator, keyed by its index and the step. Like C&W it minimizes the distance: the harness
//! projects its result onto the ball.
//!
//! ```
//! use adv_attacks::HopSkipJumpConfig;
//! let hsj = HopSkipJumpConfig { iterations: 20, queries: 5_000, ..Default::default() }.init().unwrap();
//! ```

use std::collections::VecDeque;

use adv_core::burn::tensor::Tensor;
use adv_core::{Bounds, Goal, Knowledge, Norm, floats_from, ints_from, to_floats, to_ints};
use rand::Rng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};

use crate::nes::CALL_VALUES;
use crate::{
    AttackError, AttackInfo, Context, DecisionOracle, Decisions, Iterative, Observed, Result,
    Start, Step, StepInfo,
};

/// Noise draws a start search makes at most (HSJA's limit).
const START_DRAWS: usize = 10_000;
/// Tolerance of the start's binary search on the blend (HSJA's).
const BLEND_TOLERANCE: f64 = 1e-3;
/// Halvings of the step length before the step search gives up and stays put (HSJA halves
/// without limit; 2^-40 of the distance is below f32 resolution).
const MAX_HALVINGS: usize = 40;

adv_core::options! {
    /// Configuration of [`HopSkipJump`].
    pub struct HopSkipJumpConfig {
        /// Label queries per sample, the start search and every binary-search probe included.
        queries: u64 [Domain::AtLeast(1.0), Label::ValueIfChanged] = 20_000,
        /// Rounds of estimate, step and binary search.
        iterations: usize [Domain::AtLeast(1.0), Label::Changed] = 64,
        /// The binary searches' tolerance factor gamma.
        gamma: f32 [Domain::Positive, Label::Changed] = 1.0,
        /// Directions of the first gradient-direction estimate (times sqrt(t) at round t).
        init_evals: usize [Domain::AtLeast(1.0), Label::Changed] = 100,
        /// Directions of one estimate, at most.
        max_evals: usize [Domain::AtLeast(1.0), Label::Changed] = 10_000,
    }
}

impl HopSkipJumpConfig {
    /// The attack, or an error if the configuration is invalid.
    pub fn init(&self) -> Result<HopSkipJump> {
        adv_core::Options::check_domains(self)
            .map_err(|problem| AttackError::config(INFO.name, problem))?;
        Ok(HopSkipJump {
            config: self.clone(),
        })
    }
}

/// HopSkipJump (L2, Linf), decision-based, minimal-distance.
#[derive(Clone, Debug)]
pub struct HopSkipJump {
    config: HopSkipJumpConfig,
}

pub(crate) static INFO: AttackInfo = AttackInfo {
    name: "hopskipjump",
    aliases: &["hsja", "hsj"],
    paper: "Chen, Jordan & Wainwright, IEEE S&P 2020",
    norms: &[Norm::L2, Norm::Linf],
    access: Knowledge::DecisionBased,
    targeted: true,
    minimizes_distance: true,
    config: adv_core::ConfigFns::of::<HopSkipJumpConfig>(),
    build: |settings| {
        Ok(Box::new(
            adv_core::configure::<HopSkipJumpConfig>("hopskipjump", settings)?.init()?,
        ))
    },
};

pub(crate) const ATTACKS: &[&AttackInfo] = &[&INFO];

// ---------------------------------------------------------------------------------------------
// Shared by the decision-based attacks (HopSkipJump, Boundary, Evolutionary).

/// Which labels fool the model, per row, on the host: the target's for the targeted goal, any
/// other than the label's otherwise (as the harness judges labels).
pub(crate) struct Judge {
    labels: Vec<i64>,
    targets: Option<Vec<i64>>,
}

impl Judge {
    pub fn of(ctx: &Context) -> Self {
        let targets = match (ctx.threat().goal, ctx.targets()) {
            (Goal::Targeted(_), Some(targets)) => Some(to_ints(targets.clone())),
            _ => None,
        };
        Self {
            labels: to_ints(ctx.labels().clone()),
            targets,
        }
    }

    pub fn fools(&self, row: usize, label: i64) -> bool {
        match &self.targets {
            Some(targets) => label == targets[row],
            None => label != self.labels[row],
        }
    }
}

/// One round of queries of every row: `query(row, out)` appends a row's next query image to
/// `out`, `answer(row, label)` takes its label, in the order the queries were made.
pub(crate) trait Probe {
    fn query(&mut self, row: usize, out: &mut Vec<f32>);
    fn answer(&mut self, row: usize, label: i64);
}

/// Sends `counts[row]` queries of each row through the oracle, the rows' queries together in
/// calls of at most [`CALL_VALUES`] input values; each row's queries are made and answered in
/// order.
pub(crate) fn ask(
    ctx: &Context,
    model: &DecisionOracle<'_>,
    counts: &[usize],
    probe: &mut dyn Probe,
) -> Result<()> {
    let [_, c, h, w] = ctx.images().dims();
    let d = c * h * w;
    let jobs: Vec<usize> = counts
        .iter()
        .enumerate()
        .flat_map(|(row, &count)| std::iter::repeat_n(row, count))
        .collect();
    let device = ctx.images().device();
    for chunk in jobs.chunks((CALL_VALUES / d.max(1)).max(1)) {
        let mut images = Vec::with_capacity(chunk.len() * d);
        for &row in chunk {
            let before = images.len();
            probe.query(row, &mut images);
            if images.len() != before + d {
                return Err(AttackError::Mismatch(format!(
                    "a query of {} values for images of {d}",
                    images.len() - before
                )));
            }
        }
        let labels = to_ints(model.labels_of(
            floats_from(images, [chunk.len(), c, h, w], &device),
            chunk,
        )?);
        for (&row, label) in chunk.iter().zip(labels) {
            probe.answer(row, label);
        }
    }
    Ok(())
}

/// Queries each row may still make: the oracle's remaining budget and the attack's own cap
/// less what the row's walk has spent.
pub(crate) fn allowances<'a>(
    model: &DecisionOracle<'_>,
    walks: impl Iterator<Item = &'a Walk>,
    cap: u64,
) -> Vec<u64> {
    model
        .remaining()
        .iter()
        .zip(walks)
        .map(|(remaining, walk)| {
            let own = cap.saturating_sub(walk.spent);
            remaining.map_or(own, |r| r.min(own))
        })
        .collect()
}

/// The distance of `a` from `b` in `norm`.
pub(crate) fn distance(norm: Norm, a: &[f32], b: &[f32]) -> f32 {
    let deltas = a.iter().zip(b).map(|(a, b)| (a - b).abs());
    match norm {
        Norm::Linf => deltas.fold(0.0, f32::max),
        Norm::L2 => deltas.map(|v| v * v).sum::<f32>().sqrt(),
        Norm::L1 => deltas.sum(),
    }
}

/// The blend `(1 - a) x + a p`.
pub(crate) fn blend(x: &[f32], p: &[f32], a: f64) -> Vec<f32> {
    let a = a as f32;
    x.iter().zip(p).map(|(x, p)| (1.0 - a) * x + a * p).collect()
}

/// Where a row's start search is: drawing uniform noise until one fools the model, then
/// bisecting the blend between the input (0) and that noise (1).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Search {
    Draw { tries: usize, noise: Vec<f32> },
    Blend { noise: Vec<f32>, lo: f64, hi: f64 },
    Found,
    Failed,
}

/// A decision-based row: its latest point and that point's label (`None` before its first
/// query), its queries, and its start search.
#[derive(Clone, Debug)]
pub(crate) struct Walk {
    pub point: Vec<f32>,
    pub label: Option<i64>,
    pub spent: u64,
    pub search: Search,
}

impl Walk {
    pub fn new(x: &[f32]) -> Self {
        Self {
            point: x.to_vec(),
            label: None,
            spent: 0,
            search: Search::Draw {
                tries: 0,
                noise: Vec::new(),
            },
        }
    }

    /// Whether the start search still needs queries.
    pub fn searching(&self) -> bool {
        matches!(self.search, Search::Draw { .. } | Search::Blend { .. })
    }

    /// The start search's next query.
    pub fn search_query(&mut self, x: &[f32], rng: &mut StdRng, bounds: Bounds, out: &mut Vec<f32>) {
        match &mut self.search {
            Search::Draw { noise, .. } => {
                *noise = (0..x.len())
                    .map(|_| rng.random_range(bounds.lower..=bounds.upper))
                    .collect();
                out.extend_from_slice(noise);
            }
            Search::Blend { noise, lo, hi } => out.extend(blend(x, noise, (*lo + *hi) / 2.0)),
            Search::Found | Search::Failed => out.extend_from_slice(&self.point),
        }
    }

    /// Takes the label of the start search's query; `max_draws` noise draws at most.
    pub fn search_answer(&mut self, x: &[f32], label: i64, fools: bool, max_draws: usize) {
        match std::mem::replace(&mut self.search, Search::Failed) {
            Search::Draw { tries, noise } => {
                self.point.clone_from(&noise);
                self.label = Some(label);
                self.search = if fools {
                    Search::Blend { noise, lo: 0.0, hi: 1.0 }
                } else if tries + 1 >= max_draws {
                    Search::Failed
                } else {
                    Search::Draw {
                        tries: tries + 1,
                        noise: Vec::new(),
                    }
                };
            }
            Search::Blend { noise, mut lo, mut hi } => {
                let mid = (lo + hi) / 2.0;
                if fools {
                    hi = mid;
                    self.point = blend(x, &noise, mid);
                    self.label = Some(label);
                } else {
                    lo = mid;
                }
                self.search = if hi - lo <= BLEND_TOLERANCE {
                    Search::Found
                } else {
                    Search::Blend { noise, lo, hi }
                };
            }
            done => self.search = done,
        }
    }
}

/// The step of a round to every row's latest point, with the labels there as the harness's
/// verdict; `stop` ends the run.
pub(crate) fn step_to<'a>(
    ctx: &Context,
    walks: impl Iterator<Item = &'a Walk>,
    stop: bool,
) -> Result<Step> {
    let mut points = Vec::new();
    let mut labels = Vec::new();
    for walk in walks {
        points.extend_from_slice(&walk.point);
        labels.push(walk.label.ok_or_else(|| {
            AttackError::Mismatch("a decision-based row reached its verdict unqueried".into())
        })?);
    }
    let device = ctx.images().device();
    Ok(Step {
        at_next: Observed::Labels(ints_from(&labels, &device)),
        stop,
        ..Step::to(floats_from(points, ctx.images().dims(), &device))
    })
}

// ---------------------------------------------------------------------------------------------
// HopSkipJump itself.

/// The binary search between the input `x` (0) and a point `p` that fools the model (`hi`):
/// L2 on the blend, Linf on the radius of the box around `x` that `p` is clipped to.
#[derive(Clone, Debug, PartialEq)]
pub struct Bisection {
    target: Vec<f32>,
    lo: f64,
    hi: f64,
    threshold: f64,
}

impl Bisection {
    /// The search from `x` to `target` in `norm` with tolerance factor `theta`.
    pub fn new(norm: Norm, x: &[f32], target: Vec<f32>, theta: f64) -> Self {
        let (hi, threshold) = match norm {
            Norm::Linf => {
                let hi = f64::from(distance(Norm::Linf, x, &target));
                (hi, (hi * theta).min(theta))
            }
            _ => (1.0, theta),
        };
        Self {
            target,
            lo: 0.0,
            hi,
            threshold,
        }
    }

    /// Whether the bracket is within the tolerance (or below what f64 can halve).
    pub fn done(&self) -> bool {
        let mid = (self.lo + self.hi) / 2.0;
        self.hi - self.lo <= self.threshold || mid <= self.lo || mid >= self.hi
    }

    /// The bracket `[lo, hi]`: `lo` keeps the model's label, `hi` fools it.
    pub fn bracket(&self) -> (f64, f64) {
        (self.lo, self.hi)
    }

    /// The point at `a` between `x` and the target.
    pub fn point(&self, norm: Norm, x: &[f32], a: f64) -> Vec<f32> {
        match norm {
            Norm::Linf => {
                let a = a as f32;
                x.iter()
                    .zip(&self.target)
                    .map(|(x, p)| p.clamp(x - a, x + a))
                    .collect()
            }
            _ => blend(x, &self.target, a),
        }
    }

    /// The next probe's position.
    pub fn mid(&self) -> f64 {
        (self.lo + self.hi) / 2.0
    }

    /// Takes the verdict at [`Bisection::mid`].
    pub fn answer(&mut self, fools: bool) {
        let mid = self.mid();
        if fools {
            self.hi = mid;
        } else {
            self.lo = mid;
        }
    }
}

/// The running sums of one gradient-direction estimate: `sum phi_b u_b`, `sum u_b`, `sum
/// phi_b` and the count.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DirectionSums {
    signed: Vec<f64>,
    plain: Vec<f64>,
    phi: i64,
    count: usize,
}

impl DirectionSums {
    /// Empty sums for directions of `d` coordinates.
    pub fn new(d: usize) -> Self {
        Self {
            signed: vec![0.0; d],
            plain: vec![0.0; d],
            phi: 0,
            count: 0,
        }
    }

    /// Adds direction `u` and whether `x' + delta u` fools the model.
    pub fn add(&mut self, u: &[f32], fools: bool) {
        let phi = if fools { 1.0 } else { -1.0 };
        for ((s, p), &u) in self.signed.iter_mut().zip(&mut self.plain).zip(u) {
            *s += phi * f64::from(u);
            *p += f64::from(u);
        }
        self.phi += if fools { 1 } else { -1 };
        self.count += 1;
    }

    /// HSJA's estimate of the boundary's normal, of unit L2 norm (0 without samples):
    /// `mean((phi - mean(phi)) u)`, or `+-mean(u)` when every `phi` agrees.
    pub fn direction(&self) -> Vec<f32> {
        let n = self.count as f64;
        if self.count == 0 {
            return vec![0.0; self.plain.len()];
        }
        let mean_phi = self.phi as f64 / n;
        let v: Vec<f64> = if self.phi.unsigned_abs() as usize == self.count {
            self.plain.iter().map(|p| mean_phi * p / n).collect()
        } else {
            self.signed
                .iter()
                .zip(&self.plain)
                .map(|(s, p)| s / n - mean_phi * p / n)
                .collect()
        };
        let length = v.iter().map(|v| v * v).sum::<f64>().sqrt();
        if length == 0.0 {
            return vec![0.0; v.len()];
        }
        v.iter().map(|v| (v / length) as f32).collect()
    }
}

/// A unit-L2 direction of `d` coordinates: Gaussian (L2) or uniform in `[-1, 1]` (Linf).
pub fn hsj_direction(norm: Norm, rng: &mut StdRng, d: usize) -> Vec<f32> {
    let raw: Vec<f32> = match norm {
        Norm::Linf => (0..d).map(|_| rng.random_range(-1.0f32..=1.0)).collect(),
        _ => (0..d).map(|_| StandardNormal.sample(rng)).collect(),
    };
    let length = raw.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
    raw.into_iter().map(|v| v / length).collect()
}

/// Where a row's HopSkipJump is after its start.
#[derive(Clone, Debug, PartialEq)]
enum Phase {
    /// The start search (in the row's [`Walk`]).
    Start,
    /// The binary search to the boundary ending round `round` (0: after the start).
    Bisect { search: Bisection, round: usize },
    /// The gradient-direction estimate of round `round` (from 1).
    Estimate { round: usize },
    /// The step search of round `round` along `update`, at length `size`.
    StepSearch {
        round: usize,
        update: Vec<f32>,
        size: f32,
        halvings: usize,
    },
    /// Every round done, or no start found.
    Done,
}

/// One HopSkipJump row.
#[derive(Clone, Debug)]
pub struct HsjRow {
    walk: Walk,
    phase: Phase,
    /// The distance after the last binary search.
    dist_post: f32,
    /// The estimate's sums, its delta, and its directions sent but not answered.
    sums: DirectionSums,
    delta: f32,
    pending: VecDeque<Vec<f32>>,
}

crate::row_state! {
    /// HopSkipJump's state: each row's walk.
    pub struct HsjState {
        rows: Vec<HsjRow>,
    }
}

impl HopSkipJump {
    fn theta(&self, norm: Norm, d: usize) -> f64 {
        let (gamma, d) = (f64::from(self.config.gamma), d as f64);
        match norm {
            Norm::Linf => gamma / (d * d),
            _ => gamma / (d * d.sqrt()),
        }
    }

    fn evals(&self, round: usize) -> usize {
        let evals = (self.config.init_evals as f64 * (round as f64).sqrt()) as usize;
        evals.clamp(1, self.config.max_evals)
    }

    /// Moves `row` through the phases that need no query; the queries its next phase wants.
    fn settle(&self, row: &mut HsjRow, x: &[f32], norm: Norm, bounds: Bounds) -> usize {
        let d = x.len();
        loop {
            match &row.phase {
                Phase::Start if row.walk.searching() => return 1,
                Phase::Start if row.walk.search == Search::Found => {
                    let target = row.walk.point.clone();
                    row.phase = Phase::Bisect {
                        search: Bisection::new(norm, x, target, self.theta(norm, d)),
                        round: 0,
                    };
                }
                Phase::Start => row.phase = Phase::Done,
                Phase::Bisect { search, round } => {
                    if !search.done() {
                        return 1;
                    }
                    let round = *round;
                    row.dist_post = distance(norm, &row.walk.point, x);
                    row.phase = if round >= self.config.iterations {
                        Phase::Done
                    } else {
                        Phase::Estimate { round: round + 1 }
                    };
                }
                Phase::Estimate { round } => {
                    let round = *round;
                    if row.sums.count == 0 && row.pending.is_empty() {
                        row.sums = DirectionSums::new(d);
                        row.delta = if round == 1 {
                            0.1 * (bounds.upper - bounds.lower)
                        } else {
                            let theta = self.theta(norm, d) as f32;
                            let scale = match norm {
                                Norm::Linf => d as f32,
                                _ => (d as f32).sqrt(),
                            };
                            (scale * theta * row.dist_post).max(1e-10)
                        };
                        return self.evals(round);
                    }
                    // The estimate was answered: step along it.
                    let v = row.sums.direction();
                    row.sums = DirectionSums::default();
                    let update = match norm {
                        Norm::Linf => v.iter().map(|&v| crate::nes::sign(v)).collect(),
                        _ => v,
                    };
                    let size = distance(norm, &row.walk.point, x) / (round as f32).sqrt();
                    row.phase = Phase::StepSearch {
                        round,
                        update,
                        size,
                        halvings: 0,
                    };
                }
                Phase::StepSearch { .. } => return 1,
                Phase::Done => return 0,
            }
        }
    }
}

/// The round's queries and answers of every row.
struct Round<'a> {
    attack: &'a HopSkipJump,
    rows: &'a mut [HsjRow],
    rngs: Vec<StdRng>,
    x0: &'a [f32],
    d: usize,
    norm: Norm,
    bounds: Bounds,
    judge: Judge,
}

impl Round<'_> {
    fn x(&self, row: usize) -> &[f32] {
        &self.x0[row * self.d..(row + 1) * self.d]
    }
}

impl Probe for Round<'_> {
    fn query(&mut self, r: usize, out: &mut Vec<f32>) {
        let x = &self.x0[r * self.d..(r + 1) * self.d];
        let (bounds, norm) = (self.bounds, self.norm);
        let row = &mut self.rows[r];
        match &row.phase {
            Phase::Start => row.walk.search_query(x, &mut self.rngs[r], bounds, out),
            Phase::Bisect { search, .. } => out.extend(search.point(norm, x, search.mid())),
            Phase::Estimate { .. } => {
                let u = hsj_direction(norm, &mut self.rngs[r], self.d);
                let at = &row.walk.point;
                let query: Vec<f32> = at
                    .iter()
                    .zip(&u)
                    .map(|(p, u)| (p + row.delta * u).clamp(bounds.lower, bounds.upper))
                    .collect();
                // The direction the clipped query actually took, as HSJA recomputes it.
                let taken = query
                    .iter()
                    .zip(at)
                    .map(|(q, p)| (q - p) / row.delta)
                    .collect();
                row.pending.push_back(taken);
                out.extend(query);
            }
            Phase::StepSearch { update, size, .. } => out.extend(
                row.walk
                    .point
                    .iter()
                    .zip(update)
                    .map(|(p, u)| (p + size * u).clamp(bounds.lower, bounds.upper)),
            ),
            Phase::Done => out.extend_from_slice(&row.walk.point),
        }
    }

    fn answer(&mut self, r: usize, label: i64) {
        let fools = self.judge.fools(r, label);
        let x = self.x(r).to_vec();
        let norm = self.norm;
        let row = &mut self.rows[r];
        match &mut row.phase {
            Phase::Start => row.walk.search_answer(&x, label, fools, START_DRAWS),
            Phase::Bisect { search, .. } => {
                if fools {
                    row.walk.point = search.point(norm, &x, search.mid());
                    row.walk.label = Some(label);
                }
                search.answer(fools);
            }
            Phase::Estimate { .. } => {
                if let Some(u) = row.pending.pop_front() {
                    row.sums.add(&u, fools);
                }
            }
            Phase::StepSearch {
                round,
                update,
                size,
                halvings,
            } => {
                let moved: Vec<f32> = row
                    .walk
                    .point
                    .iter()
                    .zip(update.iter())
                    .map(|(p, u)| {
                        (p + *size * u).clamp(self.bounds.lower, self.bounds.upper)
                    })
                    .collect();
                let round = *round;
                let target = if fools {
                    Some(moved)
                } else if *halvings + 1 >= MAX_HALVINGS {
                    Some(row.walk.point.clone())
                } else {
                    *size /= 2.0;
                    *halvings += 1;
                    None
                };
                if let Some(target) = target {
                    let theta = self.attack.theta(norm, self.d);
                    row.phase = Phase::Bisect {
                        search: Bisection::new(norm, &x, target, theta),
                        round,
                    };
                }
            }
            Phase::Done => {}
        }
    }
}

impl Iterative for HopSkipJump {
    type Access = Decisions;
    type State = HsjState;

    fn info(&self) -> &'static AttackInfo {
        &INFO
    }

    /// At most one round per query.
    fn steps(&self) -> usize {
        self.config.queries as usize
    }

    /// The least a round spends; a round spends at most what the row has left.
    fn queries_per_step(&self) -> u64 {
        1
    }

    /// From the clean image, whose verdict the clean pass gave.
    fn start(
        &self,
        ctx: &Context,
        _model: &DecisionOracle<'_>,
        _run: usize,
        _previous: Option<HsjState>,
    ) -> Result<Start<HsjState>> {
        let clean = to_floats(ctx.images().clone());
        let d = clean.len() / ctx.len().max(1);
        let rows = clean
            .chunks(d.max(1))
            .take(ctx.len())
            .map(|x| HsjRow {
                walk: Walk::new(x),
                phase: Phase::Start,
                dist_post: 0.0,
                sums: DirectionSums::default(),
                delta: 0.0,
                pending: VecDeque::new(),
            })
            .collect();
        Ok(Start {
            state: HsjState { rows },
            iterate: ctx.images().clone(),
            observed: Observed::Clean,
        })
    }

    /// One round of every row: a noise draw or blend probe of the start, a bisection probe, a
    /// whole direction estimate, or a step probe; the rows' queries in shared oracle calls.
    fn step(
        &self,
        ctx: &Context,
        model: &DecisionOracle<'_>,
        state: &mut HsjState,
        _x: Tensor<4>,
        info: StepInfo,
    ) -> Result<Step> {
        let x0 = to_floats(ctx.images().clone());
        let d = x0.len() / ctx.len().max(1);
        let (norm, bounds) = (ctx.norm(), ctx.bounds());
        let allowed = allowances(model, state.rows.iter().map(|r| &r.walk), self.config.queries);
        let counts: Vec<usize> = state
            .rows
            .iter_mut()
            .enumerate()
            .map(|(r, row)| {
                let want = self.settle(row, &x0[r * d..(r + 1) * d], norm, bounds);
                want.min(allowed[r] as usize)
            })
            .collect();
        if counts.iter().all(|&c| c == 0) {
            return step_to(ctx, state.rows.iter().map(|r| &r.walk), true);
        }
        let mut round = Round {
            attack: self,
            rows: &mut state.rows,
            rngs: (0..ctx.len())
                .map(|r| ctx.rng(r, info.step as u64 + 1))
                .collect(),
            x0: &x0,
            d,
            norm,
            bounds,
            judge: Judge::of(ctx),
        };
        ask(ctx, model, &counts, &mut round)?;
        for (r, row) in state.rows.iter_mut().enumerate() {
            row.walk.spent += counts[r] as u64;
            // An estimate cut short by the budget: keep what was answered.
            row.pending.clear();
            self.settle(row, &x0[r * d..(r + 1) * d], norm, bounds);
        }
        step_to(ctx, state.rows.iter().map(|r| &r.walk), false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// A linear decision `w'z + b > 0` and a point on its boundary.
    fn linear(d: usize) -> (Vec<f32>, f32, Vec<f32>) {
        let w: Vec<f32> = (0..d).map(|i| ((i as f32) * 1.7 + 0.3).sin()).collect();
        let mut z: Vec<f32> = (0..d).map(|i| 0.5 + 0.2 * ((i as f32) * 0.7).cos()).collect();
        let b = 0.1;
        // Move z onto the boundary along w.
        let value: f32 = w.iter().zip(&z).map(|(w, z)| w * z).sum::<f32>() + b;
        let ww: f32 = w.iter().map(|w| w * w).sum();
        for (z, w) in z.iter_mut().zip(&w) {
            *z -= value * w / ww;
        }
        (w, b, z)
    }

    fn side(w: &[f32], b: f32, z: &[f32]) -> bool {
        w.iter().zip(z).map(|(w, z)| w * z).sum::<f32>() + b > 0.0
    }

    /// HSJ's sign check: at a boundary point of a linear model, 1,000 directions and a small
    /// delta give an estimate with a large positive cosine with `w / ||w||`, and its signs match
    /// `sign(w)` on most coordinates, for both norms' direction distributions.
    #[test]
    fn the_direction_estimate_points_along_the_linear_models_gradient() {
        let d = 30;
        let (w, b, z) = linear(d);
        let length = w.iter().map(|w| w * w).sum::<f32>().sqrt();
        for norm in [Norm::L2, Norm::Linf] {
            let mut rng = StdRng::seed_from_u64(3);
            let mut sums = DirectionSums::new(d);
            let delta = 1e-3;
            for _ in 0..1000 {
                let u = hsj_direction(norm, &mut rng, d);
                let probe: Vec<f32> = z.iter().zip(&u).map(|(z, u)| z + delta * u).collect();
                sums.add(&u, side(&w, b, &probe));
            }
            let v = sums.direction();
            let cosine: f32 = v.iter().zip(&w).map(|(v, w)| v * w).sum::<f32>() / length;
            assert!(cosine > 0.8, "{norm}: cosine {cosine}");
            let agree = v.iter().zip(&w).filter(|(v, w)| v.signum() == w.signum()).count();
            assert!(agree >= d * 8 / 10, "{norm}: {agree} of {d} signs");
        }
        // Every probe on one side: the mean direction, signed by the side.
        let mut sums = DirectionSums::new(2);
        sums.add(&[1.0, 0.0], false);
        sums.add(&[0.0, 1.0], false);
        let v = sums.direction();
        let half = 0.5f32.sqrt();
        assert!((v[0] + half).abs() < 1e-6 && (v[1] + half).abs() < 1e-6, "{v:?}");
    }

    /// The binary search lands within its tolerance of the known boundary: L2 on the blend
    /// (the boundary's blend coefficient has a closed form), Linf on the clipping radius; the
    /// upper end always fools the model and the lower end never does.
    #[test]
    fn the_binary_search_lands_within_tolerance_of_the_boundary() {
        let d = 12;
        let (w, b, z) = linear(d);
        // The clean point on the negative side, the target on the positive side.
        let x: Vec<f32> = z.iter().zip(&w).map(|(z, w)| z - 0.3 * w).collect();
        let p: Vec<f32> = z.iter().zip(&w).map(|(z, w)| z + 0.2 * w).collect();
        assert!(!side(&w, b, &x) && side(&w, b, &p));
        let dot = |v: &[f32]| w.iter().zip(v).map(|(w, v)| w * v).sum::<f32>() + b;
        for norm in [Norm::L2, Norm::Linf] {
            let theta = match norm {
                Norm::Linf => 1.0 / (d * d) as f64,
                _ => 1.0 / (d as f64 * (d as f64).sqrt()),
            };
            let mut search = Bisection::new(norm, &x, p.clone(), theta);
            let mut probes = 0;
            while !search.done() {
                let point = search.point(norm, &x, search.mid());
                search.answer(side(&w, b, &point));
                probes += 1;
            }
            let (lo, hi) = search.bracket();
            assert!(side(&w, b, &search.point(norm, &x, hi)), "{norm}");
            assert!(!side(&w, b, &search.point(norm, &x, lo)), "{norm}");
            match norm {
                Norm::L2 => {
                    // w'((1 - a) x + a p) + b = 0 at a* = f(x) / (f(x) - f(p)).
                    let exact = f64::from(dot(&x) / (dot(&x) - dot(&p)));
                    assert!(lo <= exact + 1e-6 && exact <= hi + 1e-6, "{lo} {exact} {hi}");
                    assert!(hi - exact <= theta, "{norm}: {} > {theta}", hi - exact);
                }
                _ => {
                    let start = f64::from(distance(Norm::Linf, &x, &p));
                    assert!(hi - lo <= (start * theta).min(theta), "{norm}: {lo} {hi}");
                }
            }
            // About log2(range / tolerance) probes.
            assert!(probes <= 20, "{norm}: {probes} probes");
        }
    }

    #[test]
    fn the_start_search_blends_its_noise_towards_the_input() {
        let x = vec![0.2f32; 4];
        let mut walk = Walk::new(&x);
        let bounds = Bounds::new(0.0, 1.0).unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        let mut out = Vec::new();
        walk.search_query(&x, &mut rng, bounds, &mut out);
        assert_eq!(out.len(), 4);
        // The model: "adversarial" once the first coordinate passes 0.5.
        let noise = vec![0.9f32, 0.3, 0.6, 0.1];
        walk.search = Search::Draw {
            tries: 0,
            noise: noise.clone(),
        };
        walk.search_answer(&x, 1, true, 10);
        assert_eq!(walk.point, noise);
        while walk.searching() {
            let mut probe = Vec::new();
            walk.search_query(&x, &mut rng, bounds, &mut probe);
            let fools = probe[0] > 0.5;
            walk.search_answer(&x, i64::from(fools), fools, 10);
        }
        assert_eq!(walk.search, Search::Found);
        // The first coordinate crosses 0.5 at blend 3/7.
        assert!(walk.point[0] > 0.5 && walk.point[0] - 0.5 < 0.7 * 2e-3, "{:?}", walk.point);
        // A search that never fools the model gives up after its draws.
        let mut walk = Walk::new(&x);
        for _ in 0..3 {
            let mut probe = Vec::new();
            walk.search_query(&x, &mut rng, bounds, &mut probe);
            walk.search_answer(&x, 0, false, 3);
        }
        assert_eq!(walk.search, Search::Failed);
    }

    #[test]
    fn invalid_configs_are_errors() {
        let bad = [
            HopSkipJumpConfig {
                queries: 0,
                ..Default::default()
            },
            HopSkipJumpConfig {
                iterations: 0,
                ..Default::default()
            },
            HopSkipJumpConfig {
                gamma: 0.0,
                ..Default::default()
            },
            HopSkipJumpConfig {
                init_evals: 0,
                ..Default::default()
            },
        ];
        for config in bad {
            assert!(config.init().is_err(), "{config:?}");
        }
        assert!(HopSkipJumpConfig::default().init().is_ok());
    }
}
