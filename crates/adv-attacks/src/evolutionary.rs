//! The Evolutionary attack: a decision-based (1+1) evolution strategy on the decision
//! boundary, whose Gaussian search noise lives in a reduced space with a diagonal covariance
//! that learns which coordinates matter. Dong, Su, Wu, Li, Liu, Zhang & Zhu, "Efficient
//! Decision-based Black-box Adversarial Attacks on Face Recognition", CVPR 2019.
//!
//! As ARES (`ares/attack/evolutionary_worker.py`, the `tf1` branch of thu-ml/ares): with `N`
//! the search dimension and `K = floor(N / 20)` (at least 1), each step samples `K` coordinates
//! with probability proportional to the diagonal covariance `C` (initially ones), draws `z ~
//! N(0, 1)` on those only, scales it by `sqrt(C)`, and upsamples it bilinearly to the input; the
//! candidate is `b + sigma ||x - x'|| z / ||z||` around the bias `b = x' + mu (x - x')`,
//! rescaled to distance `(1 - mu) ||x - x'||` from the input, then clipped. A candidate that
//! fools the model (and, as a guard against clipping, is closer) replaces the current point and
//! updates the evolution path and the covariance: `p <- decay p + sqrt(1 - decay^2) z` and `C
//! <- (1 - c) C + c p^2` (`z` the scaled reduced-space draw). Every 30 queries `mu <- mu *
//! exp(p_succ - 0.2)`, `p_succ` the success rate of the last 30 candidates. Defaults (ARES):
//! `mu = 0.01`, `sigma = 0.03`, `decay = 0.99`, `c = 0.001`, 20,000 queries; `reduced-size`
//! draws the noise at that height and width per channel (ARES's test uses 24; 0, the default,
//! searches the input's own dimension).
//!
//! Start, queries and targets as the Boundary attack ([`crate::Boundary`]): uniform noise that
//! fools the model (at most 1,000 draws) blended towards the input by binary search; every label
//! query billed, the start search included; a sample stops at `queries` or at the threat
//! model's `Budget::Queries`; targeted goals start from noise the model classifies as the
//! target. Each harness step is one candidate of every row, in one oracle call. Each sample
//! draws its noise from its own generator, keyed by its index and the step. The attack
//! minimizes the distance: the harness projects its result onto the ball. Norm: L2.
//!
//! ```
//! use adv_attacks::EvolutionaryConfig;
//! let evolutionary = EvolutionaryConfig { queries: 5_000, ..Default::default() }.init().unwrap();
//! ```

use std::collections::VecDeque;

use adv_core::burn::tensor::Tensor;
use adv_core::{Bounds, Knowledge, Norm, to_floats};
use rand::Rng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};

use crate::hopskipjump::{Judge, Probe, Search, Walk, allowances, ask, distance, step_to};
use crate::{
    AttackError, AttackInfo, Context, DecisionOracle, Decisions, Iterative, Observed, Result,
    Start, Step, StepInfo,
};

/// Noise draws a start search makes at most (as the Boundary attack).
const START_DRAWS: usize = 1_000;
/// Candidates between two adaptations of `mu`, and the success history's length (ARES's).
const ADAPT_EVERY: usize = 30;

adv_core::options! {
    /// Configuration of [`Evolutionary`].
    pub struct EvolutionaryConfig {
        /// Label queries per sample, the start search included.
        queries: u64 [Domain::AtLeast(1.0), Label::ValueIfChanged] = 20_000,
        /// Fraction of the distance each candidate moves towards the input (adapted).
        mu: f32 [Domain::OpenUnit, Label::Changed] = 1e-2,
        /// Length of the search noise, relative to the distance to the input.
        sigma: f32 [Domain::Positive, Label::Changed] = 3e-2,
        /// Decay of the evolution path.
        decay: f32 [Domain::OpenUnit, Label::Changed] = 0.99,
        /// Learning rate of the diagonal covariance.
        ccov: f32 [Domain::OpenUnit, Label::Changed] = 1e-3,
        /// Height and width of the search space per channel (0: the input's own).
        reduced_size: usize [Domain::AtLeast(0.0), Label::Changed] = 0,
    }
}

impl EvolutionaryConfig {
    /// The attack, or an error if the configuration is invalid.
    pub fn init(&self) -> Result<Evolutionary> {
        adv_core::Options::check_domains(self)
            .map_err(|problem| AttackError::config(INFO.name, problem))?;
        Ok(Evolutionary {
            config: self.clone(),
        })
    }
}

/// The Evolutionary attack (L2), decision-based, minimal-distance.
#[derive(Clone, Debug)]
pub struct Evolutionary {
    config: EvolutionaryConfig,
}

pub(crate) static INFO: AttackInfo = AttackInfo {
    name: "evolutionary",
    aliases: &["evolution"],
    paper: "Dong, Su, Wu, Li, Liu, Zhang & Zhu, CVPR 2019",
    norms: &[Norm::L2],
    access: Knowledge::DecisionBased,
    targeted: true,
    minimizes_distance: true,
    config: adv_core::ConfigFns::of::<EvolutionaryConfig>(),
    build: |settings| {
        Ok(Box::new(
            adv_core::configure::<EvolutionaryConfig>("evolutionary", settings)?.init()?,
        ))
    },
};

pub(crate) const ATTACKS: &[&AttackInfo] = &[&INFO];

/// The search space: `[c, h, w]` of the input and `[c, rh, rw]` of the noise.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SearchSpace {
    image: [usize; 3],
    reduced: [usize; 3],
}

impl SearchSpace {
    /// The space of images `[c, h, w]` searched at `size x size` per channel (0, or a size not
    /// below the image's: no reduction).
    pub fn new([c, h, w]: [usize; 3], size: usize) -> Self {
        let reduced = if size == 0 || (size >= h && size >= w) {
            [c, h, w]
        } else {
            [c, size.min(h), size.min(w)]
        };
        Self {
            image: [c, h, w],
            reduced,
        }
    }

    /// The search dimension `N`.
    pub fn dimension(&self) -> usize {
        self.reduced.iter().product()
    }

    /// Coordinates drawn per step, `K = floor(N / 20)`, at least 1.
    pub fn coordinates(&self) -> usize {
        (self.dimension() / 20).max(1)
    }

    /// `noise` (`[c, rh, rw]`) upsampled bilinearly to the image (half-pixel centers, edges
    /// clamped); the identity without reduction.
    pub fn upsample(&self, noise: &[f32]) -> Vec<f32> {
        let ([c, h, w], [_, rh, rw]) = (self.image, self.reduced);
        if (rh, rw) == (h, w) {
            return noise.to_vec();
        }
        let source = |i: usize, out: usize, inp: usize| {
            let y = ((i as f32 + 0.5) * inp as f32 / out as f32 - 0.5).clamp(0.0, (inp - 1) as f32);
            let low = y.floor() as usize;
            (low, (low + 1).min(inp - 1), y - low as f32)
        };
        let mut out = Vec::with_capacity(c * h * w);
        for k in 0..c {
            let plane = &noise[k * rh * rw..(k + 1) * rh * rw];
            for i in 0..h {
                let (y0, y1, fy) = source(i, h, rh);
                for j in 0..w {
                    let (x0, x1, fx) = source(j, w, rw);
                    let top = plane[y0 * rw + x0] * (1.0 - fx) + plane[y0 * rw + x1] * fx;
                    let bottom = plane[y1 * rw + x0] * (1.0 - fx) + plane[y1 * rw + x1] * fx;
                    out.push(top * (1.0 - fy) + bottom * fy);
                }
            }
        }
        out
    }
}

/// The reduced-space noise of one step: `K` coordinates drawn without replacement with
/// probability proportional to `covariance` (Efraimidis-Spirakis keys `u^(1/C_i)`), a standard
/// normal on each scaled by `sqrt(C_i)`, zero elsewhere.
pub fn evolutionary_noise(rng: &mut StdRng, covariance: &[f32], k: usize) -> Vec<f32> {
    let mut keys: Vec<(f32, usize)> = covariance
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let u: f32 = rng.random_range(f32::MIN_POSITIVE..1.0);
            (u.ln() / c.max(1e-30), i)
        })
        .collect();
    keys.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut noise = vec![0.0f32; covariance.len()];
    for &(_, i) in keys.iter().take(k) {
        let z: f32 = StandardNormal.sample(rng);
        // A zero draw would leave fewer than K coordinates moving.
        noise[i] = if z == 0.0 { f32::MIN_POSITIVE } else { z } * covariance[i].sqrt();
    }
    noise
}

/// The candidate from `point` around the input `x` with upsampled noise `z` (before clipping
/// to `bounds`, at distance `(1 - mu) ||x - point||` from `x`).
pub fn evolutionary_candidate(
    x: &[f32],
    point: &[f32],
    z: &[f32],
    mu: f32,
    sigma: f32,
    bounds: Bounds,
) -> Vec<f32> {
    let norm = |v: &[f32]| v.iter().map(|v| v * v).sum::<f32>().sqrt();
    let r: Vec<f32> = x.iter().zip(point).map(|(x, p)| x - p).collect();
    let distance = norm(&r);
    let scale = sigma * distance / norm(z).max(1e-12);
    let moved: Vec<f32> = point
        .iter()
        .zip(r.iter().zip(z))
        .map(|(p, (r, z))| p + mu * r + scale * z)
        .collect();
    let offset: Vec<f32> = moved.iter().zip(x).map(|(m, x)| m - x).collect();
    let rescale = (1.0 - mu) * distance / norm(&offset).max(1e-12);
    x.iter()
        .zip(offset)
        .map(|(x, o)| (x + rescale * o).clamp(bounds.lower, bounds.upper))
        .collect()
}

/// One Evolutionary row: its walk, the evolution path and covariance, `mu`, the candidate
/// being asked and its reduced-space noise, and the recent successes.
#[derive(Clone, Debug)]
pub struct EvolutionaryRow {
    walk: Walk,
    covariance: Vec<f32>,
    path: Vec<f32>,
    mu: f32,
    candidate: Option<(Vec<f32>, Vec<f32>)>,
    history: VecDeque<bool>,
    since_adapt: usize,
}

impl EvolutionaryRow {
    fn new(x: &[f32], space: &SearchSpace, config: &EvolutionaryConfig) -> Self {
        let n = space.dimension();
        Self {
            walk: Walk::new(x),
            covariance: vec![1.0; n],
            path: vec![0.0; n],
            mu: config.mu,
            candidate: None,
            history: VecDeque::new(),
            since_adapt: 0,
        }
    }

    fn active(&self) -> bool {
        self.walk.searching() || self.walk.search == Search::Found
    }

    fn query(
        &mut self,
        x: &[f32],
        rng: &mut StdRng,
        bounds: Bounds,
        space: &SearchSpace,
        config: &EvolutionaryConfig,
        out: &mut Vec<f32>,
    ) {
        if self.walk.searching() {
            self.walk.search_query(x, rng, bounds, out);
            return;
        }
        let z = evolutionary_noise(rng, &self.covariance, space.coordinates());
        let candidate = evolutionary_candidate(
            x,
            &self.walk.point,
            &space.upsample(&z),
            self.mu,
            config.sigma,
            bounds,
        );
        out.extend_from_slice(&candidate);
        self.candidate = Some((candidate, z));
    }

    fn answer(&mut self, x: &[f32], label: i64, fools: bool, config: &EvolutionaryConfig) {
        if self.walk.searching() {
            self.walk.search_answer(x, label, fools, START_DRAWS);
            return;
        }
        let Some((candidate, z)) = self.candidate.take() else {
            return;
        };
        let closer = distance(Norm::L2, &candidate, x) < distance(Norm::L2, &self.walk.point, x);
        let accepted = fools && closer;
        if accepted {
            self.walk.point = candidate;
            self.walk.label = Some(label);
            let keep = (1.0 - config.decay * config.decay).sqrt();
            for ((p, c), z) in self.path.iter_mut().zip(&mut self.covariance).zip(&z) {
                *p = config.decay * *p + keep * z;
                *c = (1.0 - config.ccov) * *c + config.ccov * *p * *p;
            }
        }
        self.history.push_back(accepted);
        if self.history.len() > ADAPT_EVERY {
            self.history.pop_front();
        }
        self.since_adapt += 1;
        if self.since_adapt == ADAPT_EVERY {
            self.since_adapt = 0;
            let rate = self.history.iter().filter(|&&s| s).count() as f32 / ADAPT_EVERY as f32;
            // Kept in (0, 1): a candidate at or past the input cannot be taken.
            self.mu = (self.mu * (rate - 0.2).exp()).clamp(1e-6, 0.5);
        }
    }
}

crate::row_state! {
    /// The Evolutionary attack's state: each row's search.
    pub struct EvolutionaryState {
        rows: Vec<EvolutionaryRow>,
    }
}

/// The round's queries and answers of every row.
struct Round<'a> {
    config: &'a EvolutionaryConfig,
    rows: &'a mut [EvolutionaryRow],
    rngs: Vec<StdRng>,
    x0: &'a [f32],
    d: usize,
    bounds: Bounds,
    space: SearchSpace,
    judge: Judge,
}

impl Probe for Round<'_> {
    fn query(&mut self, r: usize, out: &mut Vec<f32>) {
        let x = &self.x0[r * self.d..(r + 1) * self.d];
        self.rows[r].query(x, &mut self.rngs[r], self.bounds, &self.space, self.config, out);
    }

    fn answer(&mut self, r: usize, label: i64) {
        let x = &self.x0[r * self.d..(r + 1) * self.d];
        let fools = self.judge.fools(r, label);
        self.rows[r].answer(x, label, fools, self.config);
    }
}

impl Evolutionary {
    fn space(ctx: &Context, size: usize) -> SearchSpace {
        let [_, c, h, w] = ctx.images().dims();
        SearchSpace::new([c, h, w], size)
    }
}

impl Iterative for Evolutionary {
    type Access = Decisions;
    type State = EvolutionaryState;

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
        _previous: Option<EvolutionaryState>,
    ) -> Result<Start<EvolutionaryState>> {
        let clean = to_floats(ctx.images().clone());
        let d = clean.len() / ctx.len().max(1);
        let space = Self::space(ctx, self.config.reduced_size);
        let rows = clean
            .chunks(d.max(1))
            .take(ctx.len())
            .map(|x| EvolutionaryRow::new(x, &space, &self.config))
            .collect();
        Ok(Start {
            state: EvolutionaryState { rows },
            iterate: ctx.images().clone(),
            observed: Observed::Clean,
        })
    }

    /// One query of every row: a start probe or one candidate; the rows' queries in one oracle
    /// call.
    fn step(
        &self,
        ctx: &Context,
        model: &DecisionOracle<'_>,
        state: &mut EvolutionaryState,
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
                space: Self::space(ctx, self.config.reduced_size),
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

    #[test]
    fn noise_has_k_coordinates_and_candidates_the_references_distance() {
        let space = SearchSpace::new([1, 10, 10], 0);
        assert_eq!((space.dimension(), space.coordinates()), (100, 5));
        let mut rng = StdRng::seed_from_u64(2);
        let z = evolutionary_noise(&mut rng, &vec![1.0; 100], space.coordinates());
        assert_eq!(z.iter().filter(|v| **v != 0.0).count(), 5);
        // A zero covariance coordinate is never drawn while others remain.
        let mut covariance = vec![1.0f32; 100];
        covariance[..95].iter_mut().for_each(|c| *c = 0.0);
        let z = evolutionary_noise(&mut rng, &covariance, 5);
        assert!(z[..95].iter().all(|v| *v == 0.0) && z[95..].iter().all(|v| *v != 0.0));
        let wide = Bounds::new(-100.0, 100.0).unwrap();
        let x = vec![0.5f32; 100];
        let point: Vec<f32> = (0..100).map(|i| 0.5 + 0.01 * (i as f32).sin()).collect();
        let candidate = evolutionary_candidate(&x, &point, &space.upsample(&z), 0.01, 0.03, wide);
        let before = distance(Norm::L2, &point, &x);
        let after = distance(Norm::L2, &candidate, &x);
        assert!((after - 0.99 * before).abs() < 1e-5 * before.max(1.0), "{after} vs {before}");
    }

    /// Bilinear upsampling keeps constants, and a 2x2 ramp becomes the 4x4 ramp of half-pixel
    /// centers.
    #[test]
    fn reduced_noise_is_upsampled_bilinearly() {
        let space = SearchSpace::new([1, 4, 4], 2);
        assert_eq!(space.dimension(), 4);
        assert!(space.upsample(&[3.0; 4]).iter().all(|v| (v - 3.0).abs() < 1e-6));
        let up = space.upsample(&[0.0, 1.0, 0.0, 1.0]);
        let row: Vec<f32> = up[..4].to_vec();
        assert_eq!(row, vec![0.0, 0.25, 0.75, 1.0]);
        assert_eq!(SearchSpace::new([3, 8, 8], 0).upsample(&[1.0; 192]).len(), 192);
    }

    /// On a linear model: the current point changes only to a candidate that fools the model
    /// and is closer; a failed candidate leaves it as it was; the distance falls overall.
    #[test]
    fn only_improving_candidates_are_kept() {
        let d = 40;
        let w: Vec<f32> = (0..d).map(|i| ((i as f32) * 0.9 + 0.4).cos()).collect();
        let fools = |z: &[f32]| w.iter().zip(z).map(|(w, z)| w * (z - 0.5)).sum::<f32>() > 0.2;
        let x: Vec<f32> = (0..d).map(|i| 0.5 - 0.1 * w[i]).collect();
        let config = EvolutionaryConfig::default();
        let space = SearchSpace::new([1, 1, d], 0);
        let bounds = Bounds::new(0.0, 1.0).unwrap();
        let mut row = EvolutionaryRow::new(&x, &space, &config);
        let mut rng = StdRng::seed_from_u64(9);
        let (mut kept, mut refused) = (0, 0);
        let mut first = None;
        for _ in 0..3_000 {
            let searching = row.walk.searching();
            let before = row.walk.point.clone();
            let mut query = Vec::new();
            row.query(&x, &mut rng, bounds, &space, &config, &mut query);
            let verdict = fools(&query);
            row.answer(&x, i64::from(verdict), verdict, &config);
            if searching {
                continue;
            }
            first.get_or_insert(distance(Norm::L2, &before, &x));
            if row.walk.point == before {
                refused += 1;
            } else {
                kept += 1;
                assert!(verdict && fools(&row.walk.point));
                assert!(distance(Norm::L2, &row.walk.point, &x) < distance(Norm::L2, &before, &x));
                assert_eq!(row.walk.point, query);
            }
        }
        assert!(kept > 50 && refused > 50, "{kept} kept, {refused} refused");
        let last = distance(Norm::L2, &row.walk.point, &x);
        assert!(last < 0.8 * first.unwrap(), "{first:?} -> {last}");
    }

    #[test]
    fn invalid_configs_are_errors() {
        let bad = [
            EvolutionaryConfig {
                mu: 1.0,
                ..Default::default()
            },
            EvolutionaryConfig {
                sigma: 0.0,
                ..Default::default()
            },
            EvolutionaryConfig {
                decay: 1.0,
                ..Default::default()
            },
            EvolutionaryConfig {
                ccov: 0.0,
                ..Default::default()
            },
            EvolutionaryConfig {
                queries: 0,
                ..Default::default()
            },
        ];
        for config in bad {
            assert!(config.init().is_err(), "{config:?}");
        }
        assert!(EvolutionaryConfig::default().init().is_ok());
    }
}
