//! NAttack: a score-based attack that learns the mean of a Gaussian search distribution over
//! perturbations in tanh space, by natural evolution strategies with normalized rewards. Li, Li,
//! Wang, Zhang & Gong, "NATTACK: Learning the Distributions of Adversarial Examples for an
//! Improved Black-Box Attack on Deep Neural Networks", ICML 2019.
//!
//! As in ARES (`ares/attack/nattack.py`, the `tf1` branch of thu-ml/ares): the box `[lo, hi]`
//! is rescaled to `+-(1 - 1e-6)` by `s`, and the clean image mapped to `w = atanh(s(x))`. Each
//! step draws `samples` noises `e_i ~ N(0, I)`, the candidates `x_i = x + P_eps(s^-1(tanh(w +
//! mu + sigma e_i)) - x)` (Linf: each coordinate clipped; L2: the norm clipped), their rewards
//! `L_i`, the C&W logit margin `max_{j != y} z_j - z_y` (the cross-entropy as an option;
//! towards the target for the targeted goals), and moves the mean by `mu <- mu + lr * g` with
//! the z-scored estimate `g = (mean(L_i e_i) - mean(L) mean(e)) / ((std(L) + 1e-7) sigma)`
//! (`std` over the population). The mean starts at `mu ~ N(0, 0.001^2)`; the iterate is the
//! projected image of `mu`, `x + P_eps(s^-1(tanh(w + mu)) - x)`. Defaults: `sigma = 0.1`,
//! `lr = 0.02` (ARES and the original script), 500 samples per step (ARES's iteration script;
//! its distortion script uses 100, the original script 300), 20,000 queries per sample.
//! ARES's optional dimension reduction (noise drawn at a lower resolution and upsampled) is
//! not implemented: the noise has the input's dimension.
//!
//! Queries: a step spends its `samples` queries and one more for the verdict on the new
//! iterate (ARES checks `mu` for free), so 20,000 queries pay for 39 steps of 500 samples; the
//! check of the clean input is free. A `Budget::Queries` of the threat model caps the queries
//! per sample: a sample stops before a step it cannot pay for. Each sample draws its initial
//! mean and its noise from its own generator, keyed by its index and the step. Candidates lie
//! in the box by construction (`s^-1(tanh(.))` does, and the ball's projection moves towards
//! `x`).
//!
//! ```
//! use adv_attacks::NattackConfig;
//! let nattack = NattackConfig { samples: 100, queries: 10_100, ..Default::default() }.init().unwrap();
//! ```

use adv_core::burn::tensor::Tensor;
use adv_core::{Bounds, Knowledge, Loss, Norm, floats_from, ints_from, to_floats};
use rand::rngs::StdRng;
use rand_distr::{Distribution, Normal, StandardNormal};

use crate::nes::CALL_VALUES;
use crate::{
    AttackError, AttackInfo, Context, Iterative, Observed, Result, ScoreOracle, Scores, Start,
    Step, StepInfo,
};

/// The tanh space's margin inside the box: `s` maps `[lo, hi]` to `+-(1 - TANH_MARGIN)`.
const TANH_MARGIN: f32 = 1e-6;
/// Added to the rewards' standard deviation before dividing by it (ARES's constant).
const STD_FLOOR: f64 = 1e-7;

adv_core::options! {
    /// Configuration of [`Nattack`].
    pub struct NattackConfig {
        /// Model queries per sample: each step spends samples + 1 (the draws and the verdict on the new iterate).
        queries: u64 [Domain::AtLeast(1.0), Label::ValueIfChanged] = 20_000,
        /// Candidates drawn from the search distribution per step (one query each).
        samples: usize [Domain::AtLeast(2.0), Label::Changed] = 500,
        /// Standard deviation of the search distribution, in tanh space.
        sigma: f32 [Domain::Positive, Label::Changed] = 0.1,
        /// Learning rate of the distribution's mean.
        learning_rate: f32 [Domain::Positive, Label::Changed] = 0.02,
        /// Standard deviation of the initial mean's draw around 0.
        init_std: f32 [Domain::NonNegative, Label::Changed] = 1e-3,
        /// The reward: cw (the logit margin) or ce (cross-entropy).
        loss: Loss [Domain::Any, Label::ValueIfChanged] = Loss::Margin,
    }
}

impl NattackConfig {
    /// The attack, or an error if the configuration is invalid.
    pub fn init(&self) -> Result<Nattack> {
        adv_core::Options::check_domains(self)
            .map_err(|problem| AttackError::config(INFO.name, problem))?;
        let per_step = self.samples as u64 + 1;
        if self.queries < per_step {
            return Err(AttackError::config(
                INFO.name,
                format!(
                    "{} queries pay for no step: a step costs samples + 1 = {per_step} queries",
                    self.queries
                ),
            ));
        }
        Ok(Nattack {
            config: self.clone(),
        })
    }
}

/// NAttack (Linf, L2), score-based.
#[derive(Clone, Debug)]
pub struct Nattack {
    config: NattackConfig,
}

pub(crate) static INFO: AttackInfo = AttackInfo {
    name: "nattack",
    aliases: &[],
    paper: "Li, Li, Wang, Zhang & Gong, ICML 2019",
    norms: &[Norm::Linf, Norm::L2],
    access: Knowledge::ScoreBased,
    targeted: true,
    minimizes_distance: false,
    config: adv_core::ConfigFns::of::<NattackConfig>(),
    build: |settings| {
        Ok(Box::new(
            adv_core::configure::<NattackConfig>("nattack", settings)?.init()?,
        ))
    },
};

pub(crate) const ATTACKS: &[&AttackInfo] = &[&INFO];

/// The map between the box and tanh space: `s(v) = (2 (v - lo) / (hi - lo) - 1) (1 - 1e-6)`,
/// then `atanh`; back through `tanh` and `s^-1`.
#[derive(Clone, Copy, Debug)]
pub struct TanhSpace {
    bounds: Bounds,
}

impl TanhSpace {
    /// The tanh space of `bounds`.
    pub fn new(bounds: Bounds) -> Self {
        Self { bounds }
    }

    /// `atanh(s(v))` of a value of the box.
    pub fn to_tanh(&self, v: f32) -> f32 {
        let width = self.bounds.upper - self.bounds.lower;
        let scaled = (2.0 * (v - self.bounds.lower) / width - 1.0) * (1.0 - TANH_MARGIN);
        scaled.clamp(-1.0 + TANH_MARGIN, 1.0 - TANH_MARGIN).atanh()
    }

    /// `s^-1(tanh(t))`: a value of the box.
    pub fn from_tanh(&self, t: f32) -> f32 {
        let width = self.bounds.upper - self.bounds.lower;
        let unit = (t.tanh() / (1.0 - TANH_MARGIN) + 1.0) / 2.0;
        (self.bounds.lower + unit * width).clamp(self.bounds.lower, self.bounds.upper)
    }
}

/// The running sums behind NAttack's z-scored estimate of one row: `sum L_i e_i`, `sum e_i`,
/// `sum L_i`, `sum L_i^2` and the count, so that the estimate needs no sample kept (f64 sums:
/// the estimate is a difference of two means).
#[derive(Clone, Debug)]
pub struct RewardSums {
    weighted: Vec<f64>,
    noise: Vec<f64>,
    rewards: f64,
    squares: f64,
    count: usize,
}

impl RewardSums {
    /// Empty sums for noises of `d` coordinates.
    pub fn new(d: usize) -> Self {
        Self {
            weighted: vec![0.0; d],
            noise: vec![0.0; d],
            rewards: 0.0,
            squares: 0.0,
            count: 0,
        }
    }

    /// Adds the sample `noise` and its `reward`.
    pub fn add(&mut self, noise: &[f32], reward: f32) {
        let reward = f64::from(reward);
        for ((w, n), &e) in self.weighted.iter_mut().zip(&mut self.noise).zip(noise) {
            *w += reward * f64::from(e);
            *n += f64::from(e);
        }
        self.rewards += reward;
        self.squares += reward * reward;
        self.count += 1;
    }

    /// `g = (mean(L e) - mean(L) mean(e)) / ((std(L) + 1e-7) sigma)`, the mean of the z-scored
    /// rewards times their noises over `sigma`; 0 with no samples.
    pub fn gradient(&self, sigma: f32) -> Vec<f32> {
        if self.count == 0 {
            return vec![0.0; self.noise.len()];
        }
        let n = self.count as f64;
        let mean = self.rewards / n;
        let std = (self.squares / n - mean * mean).max(0.0).sqrt();
        let scale = 1.0 / ((std + STD_FLOOR) * f64::from(sigma));
        self.weighted
            .iter()
            .zip(&self.noise)
            .map(|(w, e)| ((w / n - mean * e / n) * scale) as f32)
            .collect()
    }
}

/// `x + P_eps(p - x)` in the norm, kept in the box (`x` and `p` one image each).
fn project_towards(norm: Norm, x: &[f32], p: &[f32], eps: f32, bounds: Bounds) -> Vec<f32> {
    let delta: Vec<f32> = p.iter().zip(x).map(|(p, x)| p - x).collect();
    let delta = match norm {
        Norm::Linf => delta.into_iter().map(|v| v.clamp(-eps, eps)).collect(),
        _ => {
            let length = delta.iter().map(|v| v * v).sum::<f32>().sqrt();
            let scale = if length > eps { eps / length } else { 1.0 };
            delta.into_iter().map(|v| v * scale).collect::<Vec<_>>()
        }
    };
    x.iter()
        .zip(delta)
        .map(|(x, v)| (x + v).clamp(bounds.lower, bounds.upper))
        .collect()
}

crate::row_state! {
    /// NAttack's state: the mean of each row's search distribution, in tanh space.
    pub struct NattackState {
        means: Vec<Vec<f32>>,
    }
}

impl Nattack {
    /// The projected image `x + P_eps(s^-1(tanh(w + t)) - x)` of the tanh-space offset `t`.
    fn image(ctx: &Context, x: &[f32], w: &[f32], t: &[f32], eps: f32) -> Vec<f32> {
        let space = TanhSpace::new(ctx.bounds());
        let p: Vec<f32> = w.iter().zip(t).map(|(w, t)| space.from_tanh(w + t)).collect();
        project_towards(ctx.norm(), x, &p, eps, ctx.bounds())
    }
}

impl Iterative for Nattack {
    type Access = Scores;
    type State = NattackState;

    fn info(&self) -> &'static AttackInfo {
        &INFO
    }

    fn steps(&self) -> usize {
        (self.config.queries / (self.config.samples as u64 + 1)) as usize
    }

    fn queries_per_step(&self) -> u64 {
        self.config.samples as u64 + 1
    }

    /// From the clean image, whose verdict the clean pass gave; each row's mean drawn from
    /// `N(0, init_std^2)`.
    fn start(
        &self,
        ctx: &Context,
        _model: &ScoreOracle<'_>,
        _run: usize,
        _previous: Option<NattackState>,
    ) -> Result<Start<NattackState>> {
        let [_, c, h, w] = ctx.images().dims();
        let d = c * h * w;
        let init = Normal::new(0.0f32, self.config.init_std)
            .map_err(|e| AttackError::config(INFO.name, e.to_string()))?;
        let means = (0..ctx.len())
            .map(|row| {
                let mut rng = ctx.rng(row, 0);
                (0..d).map(|_| init.sample(&mut rng)).collect()
            })
            .collect();
        Ok(Start {
            state: NattackState { means },
            iterate: ctx.images().clone(),
            observed: Observed::Clean,
        })
    }

    /// Samples each row's candidates (all rows' in shared oracle calls), moves each mean along
    /// its z-scored estimate, and queries the projected image of the new mean for the
    /// harness's verdict.
    fn step(
        &self,
        ctx: &Context,
        model: &ScoreOracle<'_>,
        state: &mut NattackState,
        x: Tensor<4>,
        info: StepInfo,
    ) -> Result<Step> {
        let dims = x.dims();
        let d = dims[1] * dims[2] * dims[3];
        let device = ctx.images().device();
        let clean = to_floats(ctx.images().clone());
        let space = TanhSpace::new(ctx.bounds());
        let w: Vec<f32> = clean.iter().map(|&v| space.to_tanh(v)).collect();
        let sigma = self.config.sigma;
        let mut rngs: Vec<StdRng> = (0..ctx.len())
            .map(|row| ctx.rng(row, info.step as u64 + 1))
            .collect();
        let mut sums = vec![RewardSums::new(d); ctx.len()];
        let jobs: Vec<usize> = (0..ctx.len())
            .flat_map(|row| vec![row; self.config.samples])
            .collect();
        for chunk in jobs.chunks((CALL_VALUES / d).max(1)) {
            let mut noises = Vec::with_capacity(chunk.len());
            let mut queries = Vec::with_capacity(chunk.len() * d);
            for &row in chunk {
                let noise: Vec<f32> = (0..d)
                    .map(|_| StandardNormal.sample(&mut rngs[row]))
                    .collect();
                let span = row * d..(row + 1) * d;
                let offset: Vec<f32> = state.means[row]
                    .iter()
                    .zip(&noise)
                    .map(|(m, e)| m + sigma * e)
                    .collect();
                let eps = ctx.epsilon_values()[row];
                queries.extend(Self::image(
                    ctx,
                    &clean[span.clone()],
                    &w[span],
                    &offset,
                    eps,
                ));
                noises.push(noise);
            }
            let shape = [chunk.len(), dims[1], dims[2], dims[3]];
            let logits = model.scores_of(floats_from(queries, shape, &device), chunk)?;
            let index = ints_from(&chunk.iter().map(|&r| r as i64).collect::<Vec<_>>(), &device);
            let labels = ctx.labels().clone().select(0, index.clone());
            let targets = ctx.targets().map(|t| t.clone().select(0, index));
            let rewards = to_floats(self.config.loss.objective(logits, &labels, targets.as_ref()));
            for ((&row, noise), reward) in chunk.iter().zip(&noises).zip(rewards) {
                sums[row].add(noise, reward);
            }
        }
        let mut next = Vec::with_capacity(clean.len());
        for (row, sums) in sums.iter().enumerate() {
            let g = sums.gradient(sigma);
            for (m, g) in state.means[row].iter_mut().zip(g) {
                *m += self.config.learning_rate * g;
            }
            let span = row * d..(row + 1) * d;
            let eps = ctx.epsilon_values()[row];
            next.extend(Self::image(
                ctx,
                &clean[span.clone()],
                &w[span],
                &state.means[row],
                eps,
            ));
        }
        let next = floats_from(next, dims, &device);
        let logits = model.scores(next.clone())?;
        Ok(Step {
            at_next: Observed::Logits(logits),
            ..Step::to(next)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn estimate(noises: &[Vec<f32>], rewards: &[f32], sigma: f32) -> Vec<f32> {
        let mut sums = RewardSums::new(noises[0].len());
        for (e, &r) in noises.iter().zip(rewards) {
            sums.add(e, r);
        }
        sums.gradient(sigma)
    }

    /// Two samples by hand: rewards 3 and 1 have mean 2 and population std 1, z-scores +1 and
    /// -1, so `g = (e_1 - e_2) / (2 sigma)`.
    #[test]
    fn the_estimate_is_the_mean_of_z_scored_rewards_times_noise() {
        let noises = [vec![1.0, 0.0, 0.5], vec![-1.0, 2.0, 0.5]];
        let g = estimate(&noises, &[3.0, 1.0], 0.5);
        let expected = [2.0 / 1.0, -2.0 / 1.0, 0.0].map(|v: f32| v / (1.0 + 1e-7));
        for (a, b) in g.iter().zip(expected) {
            assert!((a - b).abs() < 1e-5, "{g:?}");
        }
        // Equal rewards carry no information: the estimate is 0, not a division by zero.
        assert!(estimate(&noises, &[4.0, 4.0], 0.1).iter().all(|v| *v == 0.0));
        // An increasing affine map of the rewards changes nothing (the point of z-scoring).
        let rewards = [0.3, -1.2, 2.5, 0.0];
        let more = [vec![0.1, 0.2, -0.3], vec![0.7, -0.5, 0.2], vec![-0.4, 0.9, 1.1], vec![0.0, 0.3, -0.8]];
        let scaled: Vec<f32> = rewards.iter().map(|r| 1e3 * r - 50.0).collect();
        for (a, b) in estimate(&more, &rewards, 0.1).iter().zip(estimate(&more, &scaled, 0.1)) {
            assert!((a - b).abs() < 1e-3 * a.abs().max(1.0), "{a} vs {b}");
        }
    }

    /// For a linear reward `L(e) = c'e + b`, `std(L) -> ||c||` and `E[(L - mean L) e] = c`, so
    /// the estimate tends to `c / (||c|| sigma)`: unit direction `c`, length `1 / sigma`.
    #[test]
    fn on_a_linear_reward_the_estimate_tends_to_the_closed_form() {
        let d = 16;
        let c: Vec<f32> = (0..d).map(|i| ((i as f32) * 0.9).sin()).collect();
        let length = c.iter().map(|v| v * v).sum::<f32>().sqrt();
        let sigma = 0.1;
        let mut rng = StdRng::seed_from_u64(7);
        let mut sums = RewardSums::new(d);
        for _ in 0..20_000 {
            let e: Vec<f32> = (0..d).map(|_| StandardNormal.sample(&mut rng)).collect();
            let reward: f32 = c.iter().zip(&e).map(|(c, e)| c * e).sum::<f32>() + 3.0;
            sums.add(&e, reward);
        }
        let g = sums.gradient(sigma);
        let expected: Vec<f32> = c.iter().map(|v| v / (length * sigma)).collect();
        let error: f32 = g.iter().zip(&expected).map(|(a, b)| (a - b).powi(2)).sum::<f32>().sqrt();
        // The estimate's noise is about sqrt(d / n) / sigma = 0.28 against a length of 10.
        assert!(error < 0.6, "{g:?} vs {expected:?}: error {error}");
    }

    #[test]
    fn tanh_space_round_trips_and_candidates_stay_in_the_ball_and_the_box() {
        let bounds = Bounds::new(0.0, 1.0).unwrap();
        let space = TanhSpace::new(bounds);
        for v in [0.0f32, 1e-3, 0.25, 0.5, 0.9, 1.0] {
            assert!((space.from_tanh(space.to_tanh(v)) - v).abs() < 1e-5, "{v}");
        }
        // Far offsets saturate inside the box.
        assert_eq!(space.from_tanh(50.0), 1.0);
        assert_eq!(space.from_tanh(-50.0), 0.0);
        let x = [0.2f32, 0.9, 0.5];
        let p = [1.0f32, 0.0, 0.55];
        let linf = project_towards(Norm::Linf, &x, &p, 0.1, bounds);
        for (a, b) in linf.iter().zip([0.3, 0.8, 0.55]) {
            assert!((a - b).abs() < 1e-6, "{linf:?}");
        }
        let l2 = project_towards(Norm::L2, &x, &p, 0.5, bounds);
        let length = l2.iter().zip(&x).map(|(a, b)| (a - b).powi(2)).sum::<f32>().sqrt();
        assert!((length - 0.5).abs() < 1e-5, "{l2:?}");
        assert!(l2.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn invalid_configs_are_errors() {
        let short = NattackConfig {
            queries: 100,
            ..Default::default()
        };
        assert!(short.init().unwrap_err().to_string().contains("no step"));
        let bad = [
            NattackConfig {
                samples: 1,
                ..Default::default()
            },
            NattackConfig {
                sigma: 0.0,
                ..Default::default()
            },
            NattackConfig {
                learning_rate: f32::NAN,
                ..Default::default()
            },
            NattackConfig {
                init_std: -1.0,
                ..Default::default()
            },
        ];
        for config in bad {
            assert!(config.init().is_err(), "{config:?}");
        }
        assert!(NattackConfig::default().init().is_ok());
    }
}
