//! NES: a score-based attack that estimates the loss gradient from antithetic Gaussian
//! samples (natural evolution strategies) and takes projected gradient steps with it. Ilyas,
//! Engstrom, Athalye & Lin, "Black-box Adversarial Attacks with Limited Queries and
//! Information", ICML 2018.
//!
//! As in ARES (`ares/attack/nes.py`, the `tf1` branch of thu-ml/ares): per step, `samples / 2`
//! directions `u ~ N(0, I)` and their negatives, the estimate `g = mean_i L(x' + sigma u_i)
//! u_i / sigma` of the gradient of the C&W logit margin `L = max_{j != y} z_j - z_y` (the
//! cross-entropy as an option; towards the target for the targeted goals), then `x' <-
//! clip_box(x + P_eps(x' - x + lr * s))` with `s = sign(g)` (Linf) or `g / ||g||` (L2), from
//! `x' = x`. Defaults: 500 samples per step, `sigma = 1e-3`, a step of `0.15 * eps` (the
//! distortion benchmark's `lr = 0.15 eps`), 20,000 queries per sample; with `lr-tuning` (on)
//! the step halves, down to a tenth of its start, when the newest of the last `plateau` mean
//! sampled losses is worse than the oldest (ARES's iteration script: plateau 20, `min_lr =
//! lr / 10`).
//!
//! Queries: a step spends its `samples` queries and one more for the verdict on the new
//! iterate (ARES judges iterates for free), so 20,000 queries pay for 39 steps of 500 samples
//! where ARES makes 40; the check of the clean input is free. A `Budget::Queries` of the
//! threat model caps the queries per sample: a sample stops before a step it cannot pay for.
//! Each sample draws its directions from its own generator, keyed by its index and the step.
//! Sampled points are not clipped to the box (as in the reference).
//!
//! ```
//! use adv_attacks::NesConfig;
//! let nes = NesConfig { samples: 100, queries: 10_100, ..Default::default() }.init().unwrap();
//! ```

use adv_core::burn::tensor::Tensor;
use adv_core::{Knowledge, Loss, Norm, floats_from, ints_from, to_floats};
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};

use crate::gradient::StepSize;
use crate::{
    AttackError, AttackInfo, Context, Iterative, Observed, Result, ScoreOracle, Scores, Start,
    Step, StepInfo,
};

/// At most this many input values go through the oracle in one call: a step's samples are
/// split into calls of at most this size (the rows' samples together), which changes no
/// result.
pub(crate) const CALL_VALUES: usize = 1 << 22;

adv_core::options! {
    /// Configuration of [`Nes`].
    pub struct NesConfig {
        /// Model queries per sample: each step spends samples + 1 (the draws and the verdict on the new iterate).
        queries: u64 [Domain::AtLeast(1.0), Label::ValueIfChanged] = 20_000,
        /// Queries of one gradient estimate: samples / 2 Gaussian directions and their negatives (even).
        samples: usize [Domain::AtLeast(2.0), Label::Changed] = 500,
        /// Standard deviation of the sampled perturbations.
        sigma: f32 [Domain::Positive, Label::Changed] = 1e-3,
        /// Step length: an absolute value, or a multiple of epsilon such as 0.15x (also auto, eps/steps).
        step_size: StepSize [Domain::Any, Label::Changed] = StepSize::Relative(0.15),
        /// Halve the step, down to a tenth, when the mean sampled loss stops improving.
        lr_tuning: bool [Domain::Any, Label::Changed] = true,
        /// Steps over which the mean sampled loss must improve (lr-tuning).
        plateau: usize [Domain::AtLeast(2.0), Label::Changed] = 20,
        /// The loss whose gradient is estimated: cw (the logit margin) or ce (cross-entropy).
        loss: Loss [Domain::Any, Label::ValueIfChanged] = Loss::Margin,
    }
}

impl NesConfig {
    /// The attack, or an error if the configuration is invalid.
    pub fn init(&self) -> Result<Nes> {
        adv_core::Options::check_domains(self)
            .map_err(|problem| AttackError::config(INFO.name, problem))?;
        check_samples(INFO.name, self.samples, self.queries)?;
        self.step_size.check(INFO.name)?;
        Ok(Nes {
            config: self.clone(),
        })
    }
}

/// An error unless `samples` is even and `queries` pays for at least one step of `samples + 1`
/// queries.
pub(crate) fn check_samples(attack: &str, samples: usize, queries: u64) -> Result<()> {
    if !samples.is_multiple_of(2) {
        return Err(AttackError::config(
            attack,
            format!("samples must be even (antithetic pairs), got {samples}"),
        ));
    }
    let per_step = samples as u64 + 1;
    if queries < per_step {
        return Err(AttackError::config(
            attack,
            format!(
                "{queries} queries pay for no step: a step costs samples + 1 = {per_step} queries"
            ),
        ));
    }
    Ok(())
}

/// NES (Linf, L2), score-based.
#[derive(Clone, Debug)]
pub struct Nes {
    config: NesConfig,
}

pub(crate) static INFO: AttackInfo = AttackInfo {
    name: "nes",
    aliases: &[],
    paper: "Ilyas, Engstrom, Athalye & Lin, ICML 2018",
    norms: &[Norm::Linf, Norm::L2],
    access: Knowledge::ScoreBased,
    targeted: true,
    minimizes_distance: false,
    config: adv_core::ConfigFns::of::<NesConfig>(),
    build: |settings| Ok(Box::new(adv_core::configure::<NesConfig>("nes", settings)?.init()?)),
};

pub(crate) const ATTACKS: &[&AttackInfo] = &[&INFO];

/// `count` directions of `d` coordinates drawn from `N(0, I)`, row-major `[count, d]`.
pub fn gaussian_directions(rng: &mut StdRng, count: usize, d: usize) -> Vec<f32> {
    (0..count * d).map(|_| StandardNormal.sample(rng)).collect()
}

/// The antithetic estimate of a gradient from `k` directions `u_i` (row-major `[k, d]`) and the
/// losses `plus[i] = L(x + sigma u_i)` and `minus[i] = L(x - sigma u_i)`: the mean over the
/// `2k` samples `v = +-u_i` of `L(x + sigma v) v / sigma`, that is `sum_i (plus[i] - minus[i])
/// u_i / (2 k sigma)`. Unbiased for quadratic losses when `E[u u'] = I` (Gaussian or
/// Rademacher directions).
pub fn antithetic_gradient(directions: &[f32], plus: &[f32], minus: &[f32], sigma: f32) -> Vec<f32> {
    let k = plus.len();
    let d = directions.len() / k.max(1);
    let mut gradient = vec![0.0f32; d];
    let weight = 1.0 / (2.0 * k as f32 * sigma);
    for (i, (p, m)) in plus.iter().zip(minus).enumerate() {
        add_pair(&mut gradient, &directions[i * d..(i + 1) * d], p - m, weight);
    }
    gradient
}

/// `gradient += difference * weight * direction`.
fn add_pair(gradient: &mut [f32], direction: &[f32], difference: f32, weight: f32) {
    let scale = difference * weight;
    for (g, u) in gradient.iter_mut().zip(direction) {
        *g += scale * u;
    }
}

/// How NES and SPSA estimate gradients: `samples / 2` directions drawn by `draw` from a row's
/// generator (`draw(rng, count, d)`, row-major `[count, d]`), their negatives, `sigma`, and the
/// loss whose gradient is estimated (the goal's objective, climbed).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Estimator {
    pub samples: usize,
    pub sigma: f32,
    pub loss: Loss,
    pub draw: fn(&mut StdRng, usize, usize) -> Vec<f32>,
}

impl Estimator {
    /// Per row, the antithetic estimate of the loss gradient at the rows' iterate `x` (flat,
    /// `[rows, d]`), the directions drawn from `rngs[row]`, and the mean loss over the row's
    /// samples. The samples of all rows go through the oracle together, in calls of at most
    /// [`CALL_VALUES`] input values.
    pub fn gradients(
        &self,
        ctx: &Context,
        model: &ScoreOracle<'_>,
        x: &[f32],
        rngs: &mut [StdRng],
    ) -> Result<(Vec<Vec<f32>>, Vec<f32>)> {
        let Estimator {
            samples,
            sigma,
            loss,
            draw,
        } = *self;
    let dims = ctx.images().dims();
    let d = dims[1] * dims[2] * dims[3];
    let rows = ctx.len();
    let pairs = samples / 2;
    let per_call = (CALL_VALUES / (2 * d)).max(1);
    let weight = 1.0 / (2.0 * pairs as f32 * sigma);
    let jobs: Vec<usize> = (0..rows).flat_map(|row| vec![row; pairs]).collect();
    let mut gradients = vec![vec![0.0f32; d]; rows];
    let mut means = vec![0.0f32; rows];
    let device = ctx.images().device();
    for chunk in jobs.chunks(per_call) {
        let directions: Vec<Vec<f32>> = chunk
            .iter()
            .map(|&row| draw(&mut rngs[row], 1, d))
            .collect();
        let mut queries = Vec::with_capacity(2 * chunk.len() * d);
        let mut owners = Vec::with_capacity(2 * chunk.len());
        for (&row, u) in chunk.iter().zip(&directions) {
            let at = &x[row * d..(row + 1) * d];
            queries.extend(at.iter().zip(u).map(|(v, u)| v + sigma * u));
            queries.extend(at.iter().zip(u).map(|(v, u)| v - sigma * u));
            owners.extend([row, row]);
        }
        let shape = [owners.len(), dims[1], dims[2], dims[3]];
        let logits = model.scores_of(floats_from(queries, shape, &device), &owners)?;
        let index = ints_from(
            &owners.iter().map(|&r| r as i64).collect::<Vec<_>>(),
            &device,
        );
        let labels = ctx.labels().clone().select(0, index.clone());
        let targets = ctx.targets().map(|t| t.clone().select(0, index));
        let values = to_floats(loss.objective(logits, &labels, targets.as_ref()));
        for (k, (&row, u)) in chunk.iter().zip(&directions).enumerate() {
            let (plus, minus) = (values[2 * k], values[2 * k + 1]);
            add_pair(&mut gradients[row], u, plus - minus, weight);
            means[row] += (plus + minus) / samples as f32;
        }
    }
    Ok((gradients, means))
    }
}

/// The sign of `v`, 0 at 0 (as `tf.sign`; `f32::signum` gives 1 at 0).
pub(crate) fn sign(v: f32) -> f32 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

crate::row_state! {
    /// NES's state: each row's current step length and its recent mean sampled losses.
    pub struct NesState {
        step_sizes: Vec<f32>,
        history: Vec<Vec<f32>>,
    }
}

impl Nes {
    fn estimator(&self) -> Estimator {
        Estimator {
            samples: self.config.samples,
            sigma: self.config.sigma,
            loss: self.config.loss,
            draw: gaussian_directions,
        }
    }

    /// The ascent direction of the norm: `sign(g)` (Linf) or `g / max(||g||, 1e-12)` (L2).
    fn direction(norm: Norm, gradient: &[f32]) -> Vec<f32> {
        match norm {
            Norm::Linf => gradient.iter().map(|&g| sign(g)).collect(),
            _ => {
                let length = gradient.iter().map(|g| g * g).sum::<f32>().sqrt().max(1e-12);
                gradient.iter().map(|g| g / length).collect()
            }
        }
    }

    /// ARES's `lr_tuning`: records `mean`; halves the step (down to `floor`) and clears the
    /// history when the newest of the last `plateau` means is worse (lower) than the oldest.
    fn tune(history: &mut Vec<f32>, step: &mut f32, mean: f32, plateau: usize, floor: f32) {
        history.push(mean);
        if history.len() > plateau {
            history.remove(0);
        }
        if history.len() == plateau && history[plateau - 1] < history[0] {
            *step = (*step / 2.0).max(floor);
            history.clear();
        }
    }
}

impl Iterative for Nes {
    type Access = Scores;
    type State = NesState;

    fn info(&self) -> &'static AttackInfo {
        &INFO
    }

    fn steps(&self) -> usize {
        (self.config.queries / (self.config.samples as u64 + 1)) as usize
    }

    fn queries_per_step(&self) -> u64 {
        self.config.samples as u64 + 1
    }

    /// From the clean image, whose verdict the clean pass gave.
    fn start(
        &self,
        ctx: &Context,
        _model: &ScoreOracle<'_>,
        _run: usize,
        _previous: Option<NesState>,
    ) -> Result<Start<NesState>> {
        let steps = self.steps();
        Ok(Start {
            state: NesState {
                step_sizes: ctx
                    .epsilon_values()
                    .iter()
                    .map(|&eps| self.config.step_size.length(eps, steps))
                    .collect(),
                history: vec![Vec::new(); ctx.len()],
            },
            iterate: ctx.images().clone(),
            observed: Observed::Clean,
        })
    }

    /// Estimates each row's gradient at `x`, steps along the norm's ascent direction, projects,
    /// and queries the new iterate for the harness's verdict.
    fn step(
        &self,
        ctx: &Context,
        model: &ScoreOracle<'_>,
        state: &mut NesState,
        x: Tensor<4>,
        info: StepInfo,
    ) -> Result<Step> {
        let dims = x.dims();
        let d = dims[1] * dims[2] * dims[3];
        let at = to_floats(x);
        let mut rngs: Vec<StdRng> = (0..ctx.len())
            .map(|row| ctx.rng(row, info.step as u64 + 1))
            .collect();
        let (gradients, means) = self.estimator().gradients(ctx, model, &at, &mut rngs)?;
        let steps = self.steps();
        let mut moved = at;
        for (row, gradient) in gradients.iter().enumerate() {
            let length = state.step_sizes[row];
            let direction = Self::direction(ctx.norm(), gradient);
            for (v, s) in moved[row * d..(row + 1) * d].iter_mut().zip(direction) {
                *v += length * s;
            }
            if self.config.lr_tuning {
                let floor = self.config.step_size.length(ctx.epsilon_values()[row], steps) / 10.0;
                Self::tune(
                    &mut state.history[row],
                    &mut state.step_sizes[row],
                    means[row],
                    self.config.plateau,
                    floor,
                );
            }
        }
        let next = ctx.project(floats_from(moved, dims, &ctx.images().device()));
        let logits = model.scores(next.clone())?;
        Ok(Step {
            at_next: Observed::Logits(logits),
            ..Step::to(next)
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rand::SeedableRng;

    /// On the quadratic `0.5 z'Az + c'z` the estimate from `draw`'s directions converges to
    /// `Az + c`: the cosine similarity rises towards 1 and the error shrinks about as
    /// `1 / sqrt(k)`.
    pub(crate) fn check_convergence_on_a_quadratic(draw: fn(&mut StdRng, usize, usize) -> Vec<f32>) {
        let d = 20;
        let a: Vec<f32> = (0..d * d)
            .map(|k| {
                let (i, j) = (k / d, k % d);
                if i == j { 2.0 + i as f32 * 0.1 } else { 0.3 / (1.0 + (i + j) as f32) }
            })
            .collect();
        let c: Vec<f32> = (0..d).map(|i| (i as f32 * 0.7).sin()).collect();
        let z: Vec<f32> = (0..d).map(|i| 0.5 - (i as f32 * 1.3).cos() * 0.4).collect();
        let f = |v: &[f32]| {
            let mut total = 0.0f64;
            for i in 0..d {
                let av: f64 = (0..d).map(|j| (a[i * d + j] * v[j]) as f64).sum();
                total += 0.5 * v[i] as f64 * av + (c[i] * v[i]) as f64;
            }
            total as f32
        };
        let truth: Vec<f32> = (0..d)
            .map(|i| (0..d).map(|j| a[i * d + j] * z[j]).sum::<f32>() + c[i])
            .collect();
        let sigma = 1e-2;
        let measure = |k: usize, seed: u64| {
            let mut rng = StdRng::seed_from_u64(seed);
            let u = draw(&mut rng, k, d);
            let shifted = |sign: f32, i: usize| -> Vec<f32> {
                (0..d).map(|j| z[j] + sign * sigma * u[i * d + j]).collect()
            };
            let plus: Vec<f32> = (0..k).map(|i| f(&shifted(1.0, i))).collect();
            let minus: Vec<f32> = (0..k).map(|i| f(&shifted(-1.0, i))).collect();
            let g = antithetic_gradient(&u, &plus, &minus, sigma);
            let dot: f32 = g.iter().zip(&truth).map(|(a, b)| a * b).sum();
            let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
            let error: Vec<f32> = g.iter().zip(&truth).map(|(a, b)| a - b).collect();
            (dot / (norm(&g) * norm(&truth)), norm(&error) / norm(&truth))
        };
        // Averaged over seeds, so that one lucky draw cannot carry the comparison.
        let mean = |k: usize| {
            let runs: Vec<(f32, f32)> = (0..8).map(|s| measure(k, s)).collect();
            let n = runs.len() as f32;
            (
                runs.iter().map(|r| r.0).sum::<f32>() / n,
                runs.iter().map(|r| r.1).sum::<f32>() / n,
            )
        };
        let cosines: Vec<(f32, f32)> = [10, 100, 1000, 10_000].map(mean).to_vec();
        for pair in cosines.windows(2) {
            assert!(pair[1].0 > pair[0].0, "{cosines:?}");
        }
        assert!(cosines[0].0 < 0.9, "{cosines:?}");
        assert!(cosines[3].0 > 0.99, "{cosines:?}");
        // 100 times the samples: about a tenth of the error.
        let ratio = cosines[1].1 / cosines[3].1;
        assert!((5.0..20.0).contains(&ratio), "{cosines:?}");
    }

    #[test]
    fn the_estimate_approaches_the_gradient_of_a_quadratic() {
        check_convergence_on_a_quadratic(gaussian_directions);
    }

    #[test]
    fn the_step_follows_the_norm_and_the_tuning_halves_on_a_plateau() {
        assert_eq!(Nes::direction(Norm::Linf, &[0.5, -2.0, 0.0]), vec![1.0, -1.0, 0.0]);
        let l2 = Nes::direction(Norm::L2, &[3.0, -4.0]);
        assert!((l2[0] - 0.6).abs() < 1e-6 && (l2[1] + 0.8).abs() < 1e-6);
        assert_eq!(Nes::direction(Norm::L2, &[0.0, 0.0]), vec![0.0, 0.0]);
        let (mut history, mut step) = (Vec::new(), 1.0f32);
        // Improving losses keep the step.
        for mean in [1.0, 2.0, 3.0, 4.0] {
            Nes::tune(&mut history, &mut step, mean, 3, 0.1);
        }
        assert_eq!(step, 1.0);
        // The newest of the last three (1.5) is worse than the oldest (3.0): halve, clear.
        Nes::tune(&mut history, &mut step, 1.5, 3, 0.1);
        assert_eq!(step, 0.5);
        assert!(history.is_empty());
        for mean in [3.0, 2.0, 1.0, 0.5, 0.2, 0.1, 0.0, -1.0, -2.0, -3.0, -4.0, -5.0] {
            Nes::tune(&mut history, &mut step, mean, 3, 0.1);
        }
        assert_eq!(step, 0.1, "floored");
    }

    #[test]
    fn invalid_configs_are_errors() {
        let odd = NesConfig {
            samples: 5,
            ..Default::default()
        };
        assert!(odd.init().unwrap_err().to_string().contains("even"));
        let short = NesConfig {
            queries: 500,
            ..Default::default()
        };
        assert!(short.init().unwrap_err().to_string().contains("no step"));
        let bad = [
            NesConfig {
                sigma: 0.0,
                ..Default::default()
            },
            NesConfig {
                step_size: StepSize::Absolute(-1.0),
                ..Default::default()
            },
            NesConfig {
                plateau: 1,
                ..Default::default()
            },
        ];
        for config in bad {
            assert!(config.init().is_err(), "{config:?}");
        }
        assert!(NesConfig::default().init().is_ok());
    }
}
