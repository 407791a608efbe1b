//! ZOO: a score-based Carlini & Wagner L2 attack optimized by zeroth-order coordinate descent.
//! Chen, Zhang, Sharma, Yi & Hsieh, "ZOO: Zeroth Order Optimization based Black-box Attacks to
//! Deep Neural Networks without Training Substitute Models", AISec 2017.
//!
//! ZOO-ADAM as in the authors' code (huanzhang12/ZOO-Attack, `l2_attack_black.py`) and ART
//! (`art/attacks/evasion/zoo.py`): the objective `F(delta) = ||delta||^2 + c * max(-m, -kappa)`,
//! `m` the C&W logit margin of the goal (`max_{j != y} z_j - z_y`, or towards the target) and
//! `kappa` the run's success margin. Each step picks `coordinates` coordinates at random per
//! sample, estimates their partial derivatives by the symmetric differences `g_i = (F(delta +
//! h e_i) - F(delta - h e_i)) / (2h)`, and moves only those with per-coordinate Adam (`b1 =
//! 0.9`, `b2 = 0.999`, each coordinate's own step counter `T_i`): `delta_i -= lr * sqrt(1 -
//! b2^T_i) / (1 - b1^T_i) * m_i / (sqrt(v_i) + 1e-8)`; then `x + delta` is kept in the box.
//! Defaults, the authors': 10,000 steps, learning rate 0.01, `c = 0.25`, `h = 0.001` (their
//! stored version), one binary-search step over `c` (more bisect it as C&W does); 128
//! coordinates per step (ART's `nb_parallel` and the authors' batch).
//!
//! Queries: `2 * coordinates` per step and one for the verdict on the new iterate, the
//! reference's `2 * nb_parallel + 1`; the threat model's `Budget::Queries` caps them per
//! sample (a sample stops before a step it cannot pay for; an input with fewer than
//! `coordinates` values spends fewer queries per step than that reserve). The norm term is
//! computed exactly on the host, so the queries only measure the margin; the queried points
//! `x' +- h e_i` are not clipped into the box. Each sample draws its coordinates from its own
//! generator, keyed by its index, the search step and the step. Not implemented: the
//! attack-space resizing, importance sampling and early abort of the references. Like C&W it
//! minimizes the distance: the harness projects its result onto the ball.
//!
//! ```
//! use adv_attacks::ZooConfig;
//! let zoo = ZooConfig { steps: 500, ..Default::default() }.init().unwrap();
//! ```

use adv_core::burn::tensor::Tensor;
use adv_core::{Knowledge, Loss, Norm, floats_from, to_floats};
use rand::rngs::StdRng;

use crate::nes::CALL_VALUES;
use crate::{
    AttackError, AttackInfo, Context, Iterative, Observed, Result, ScoreOracle, Scores, Start,
    Step, StepInfo,
};

/// Adam's moment decay rates and stabilizer, as the references set them.
const BETA1: f32 = 0.9;
const BETA2: f32 = 0.999;
const ADAM_EPSILON: f32 = 1e-8;
/// Constants at or above this mean "no success seen yet" in the binary search.
const UNBOUNDED: f32 = 1e10;

adv_core::options! {
    /// Configuration of [`Zoo`].
    pub struct ZooConfig {
        /// Coordinate-descent steps per binary-search step.
        steps: usize [Domain::AtLeast(1.0), Label::Value] = 10_000,
        /// Coordinates estimated and moved per step and sample (2 queries each).
        coordinates: usize [Domain::AtLeast(1.0), Label::Changed] = 128,
        /// Binary-search steps over the constant c.
        search_steps: usize [Domain::AtLeast(1.0), Label::Changed] = 1,
        /// Adam's learning rate.
        learning_rate: f32 [Domain::Positive, Label::Changed] = 0.01,
        /// The constant c of the first search step.
        initial_const: f32 [Domain::Positive, Label::Changed] = 0.25,
        /// The offset h of the symmetric differences.
        h: f32 [Domain::Positive, Label::Changed] = 1e-3,
    }
}

impl ZooConfig {
    /// The attack, or an error if the configuration is invalid.
    pub fn init(&self) -> Result<Zoo> {
        adv_core::Options::check_domains(self)
            .map_err(|problem| AttackError::config(INFO.name, problem))?;
        Ok(Zoo {
            config: self.clone(),
        })
    }
}

/// ZOO-ADAM (L2), score-based.
#[derive(Clone, Debug)]
pub struct Zoo {
    config: ZooConfig,
}

pub(crate) static INFO: AttackInfo = AttackInfo {
    name: "zoo",
    aliases: &["zoo-adam"],
    paper: "Chen, Zhang, Sharma, Yi & Hsieh, AISec 2017",
    norms: &[Norm::L2],
    access: Knowledge::ScoreBased,
    targeted: true,
    minimizes_distance: true,
    config: adv_core::ConfigFns::of::<ZooConfig>(),
    build: |settings| Ok(Box::new(adv_core::configure::<ZooConfig>("zoo", settings)?.init()?)),
};

pub(crate) const ATTACKS: &[&AttackInfo] = &[&INFO];

/// The symmetric-difference estimates `(plus[i] - minus[i]) / (2h)` of partial derivatives,
/// from the objective at `delta + h e_i` and `delta - h e_i`: exact for quadratics, `O(h^2)`
/// off otherwise.
pub fn symmetric_differences(plus: &[f32], minus: &[f32], h: f32) -> Vec<f32> {
    plus.iter()
        .zip(minus)
        .map(|(p, m)| (p - m) / (2.0 * h))
        .collect()
}

/// Per-coordinate Adam of one sample: the moments and step counter of every coordinate.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CoordinateAdam {
    first: Vec<f32>,
    second: Vec<f32>,
    steps: Vec<i32>,
}

impl CoordinateAdam {
    fn new(d: usize) -> Self {
        Self {
            first: vec![0.0; d],
            second: vec![0.0; d],
            steps: vec![0; d],
        }
    }

    /// Moves `delta` at `coordinates` down the estimates `g` (one per coordinate).
    fn descend(&mut self, delta: &mut [f32], coordinates: &[usize], g: &[f32], lr: f32) {
        for (&i, &g) in coordinates.iter().zip(g) {
            self.steps[i] += 1;
            let t = self.steps[i];
            self.first[i] = BETA1 * self.first[i] + (1.0 - BETA1) * g;
            self.second[i] = BETA2 * self.second[i] + (1.0 - BETA2) * g * g;
            let correction = (1.0 - BETA2.powi(t)).sqrt() / (1.0 - BETA1.powi(t));
            delta[i] -= lr * correction * self.first[i] / (self.second[i].sqrt() + ADAM_EPSILON);
        }
    }
}

crate::row_state! {
    /// ZOO's state: the binary search over c of each row (kept across search steps), and the
    /// coordinate descent of the current search step.
    pub struct ZooState {
        lower: Vec<f32>,
        upper: Vec<f32>,
        constants: Vec<f32>,
        delta: Vec<Vec<f32>>,
        adam: Vec<CoordinateAdam>,
    }
}

impl Zoo {
    /// `c * max(-m, -kappa)` per query, `m` the goal's margin at `logits`; `rows[k]` is the row
    /// of query `k`.
    fn margin_terms(
        ctx: &Context,
        logits: Tensor<2>,
        rows: &[usize],
        constants: &[f32],
    ) -> Vec<f32> {
        let device = logits.device();
        let index = adv_core::ints_from(&rows.iter().map(|&r| r as i64).collect::<Vec<_>>(), &device);
        let labels = ctx.labels().clone().select(0, index.clone());
        let targets = ctx.targets().map(|t| t.clone().select(0, index));
        let kappa = ctx.criterion().confidence;
        let margins = to_floats(Loss::Margin.objective(logits, &labels, targets.as_ref()));
        margins
            .iter()
            .zip(rows)
            .map(|(m, &row)| constants[row] * (-m).max(-kappa))
            .collect()
    }

    /// `x0 + delta`, `delta` first cut so that the sum stays in the box.
    fn clip_to_box(ctx: &Context, x0: &[f32], delta: &mut [f32]) {
        let bounds = ctx.bounds();
        for (d, x) in delta.iter_mut().zip(x0) {
            *d = (x + *d).clamp(bounds.lower, bounds.upper) - x;
        }
    }
}

impl Iterative for Zoo {
    type Access = Scores;
    type State = ZooState;

    fn info(&self) -> &'static AttackInfo {
        &INFO
    }

    fn runs(&self, _ctx: &Context) -> usize {
        self.config.search_steps
    }

    fn steps(&self) -> usize {
        self.config.steps
    }

    /// At most: an input with fewer values than `coordinates` spends fewer.
    fn queries_per_step(&self) -> u64 {
        2 * self.config.coordinates as u64 + 1
    }

    /// Search step `run`: the constants move by the previous search step's outcome (bisection
    /// once a success bounds them, times 10 before), and the descent restarts from the clean
    /// image with fresh Adam state.
    fn start(
        &self,
        ctx: &Context,
        _model: &ScoreOracle<'_>,
        _run: usize,
        previous: Option<ZooState>,
    ) -> Result<Start<ZooState>> {
        let n = ctx.len();
        let (lower, upper, constants) = match previous {
            None => (
                vec![0.0; n],
                vec![UNBOUNDED; n],
                vec![self.config.initial_const; n],
            ),
            Some(state) => {
                let (mut lower, mut upper, mut constants) =
                    (state.lower, state.upper, state.constants);
                for (i, &success) in ctx.fooled_last_run().iter().enumerate() {
                    if success {
                        upper[i] = upper[i].min(constants[i]);
                    } else {
                        lower[i] = lower[i].max(constants[i]);
                    }
                    constants[i] = if upper[i] < UNBOUNDED / 10.0 {
                        (lower[i] + upper[i]) / 2.0
                    } else {
                        constants[i] * 10.0
                    };
                }
                (lower, upper, constants)
            }
        };
        let [_, c, h, w] = ctx.images().dims();
        let d = c * h * w;
        Ok(Start {
            state: ZooState {
                lower,
                upper,
                constants,
                delta: vec![vec![0.0; d]; n],
                adam: vec![CoordinateAdam::new(d); n],
            },
            iterate: ctx.images().clone(),
            observed: Observed::Clean,
        })
    }

    /// Picks each row's coordinates, queries `x' +- h e_i` for all rows together,
    /// takes the Adam steps, and queries the new iterate for the harness's verdict.
    fn step(
        &self,
        ctx: &Context,
        model: &ScoreOracle<'_>,
        state: &mut ZooState,
        x: Tensor<4>,
        info: StepInfo,
    ) -> Result<Step> {
        let dims = x.dims();
        let d = dims[1] * dims[2] * dims[3];
        let at = to_floats(x);
        let x0 = to_floats(ctx.images().clone());
        let h = self.config.h;
        let k = self.config.coordinates.min(d);
        let draw = ((info.run as u64) << 40) | (info.step as u64 + 1);
        let chosen: Vec<Vec<usize>> = (0..ctx.len())
            .map(|row| {
                let mut rng: StdRng = ctx.rng(row, draw);
                rand::seq::index::sample(&mut rng, d, k).into_vec()
            })
            .collect();
        // Each row's queries x' + h e_i and x' - h e_i, through the oracle in calls of at most
        // CALL_VALUES input values.
        let jobs: Vec<(usize, usize, f32)> = chosen
            .iter()
            .enumerate()
            .flat_map(|(row, coordinates)| {
                coordinates
                    .iter()
                    .flat_map(move |&i| [(row, i, h), (row, i, -h)])
            })
            .collect();
        let device = ctx.images().device();
        let mut terms = Vec::with_capacity(jobs.len());
        for chunk in jobs.chunks((CALL_VALUES / d).max(1)) {
            let mut queries = Vec::with_capacity(chunk.len() * d);
            for &(row, i, shift) in chunk {
                let start = queries.len();
                queries.extend_from_slice(&at[row * d..(row + 1) * d]);
                queries[start + i] += shift;
            }
            let owners: Vec<usize> = chunk.iter().map(|job| job.0).collect();
            let shape = [owners.len(), dims[1], dims[2], dims[3]];
            let logits = model.scores_of(floats_from(queries, shape, &device), &owners)?;
            terms.extend(Self::margin_terms(ctx, logits, &owners, &state.constants));
        }
        let mut moved = Vec::with_capacity(at.len());
        for (row, coordinates) in chosen.iter().enumerate() {
            let delta = &mut state.delta[row];
            // F = ||delta||^2 + c f: the norm term's difference at coordinate i is exactly
            // 4 h delta_i, added on the host.
            let offset = row * 2 * k;
            let (plus, minus): (Vec<f32>, Vec<f32>) = coordinates
                .iter()
                .enumerate()
                .map(|(j, &i)| {
                    let norm = |shift: f32| (delta[i] + shift).powi(2) - delta[i].powi(2);
                    (
                        terms[offset + 2 * j] + norm(h),
                        terms[offset + 2 * j + 1] + norm(-h),
                    )
                })
                .unzip();
            let g = symmetric_differences(&plus, &minus, h);
            state.adam[row].descend(delta, coordinates, &g, self.config.learning_rate);
            let clean = &x0[row * d..(row + 1) * d];
            Self::clip_to_box(ctx, clean, delta);
            moved.extend(clean.iter().zip(delta.iter()).map(|(x, d)| x + d));
        }
        let next = floats_from(moved, dims, &device);
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

    /// On the quadratic `0.5 z'Az + c'z` the symmetric difference is the partial derivative
    /// `(Az + c)_i` itself; on `sum z_i^3` it is `3 z_i^2 + h^2`, off by exactly `h^2`.
    #[test]
    fn coordinate_estimates_equal_the_closed_form() {
        let d = 6;
        let a: Vec<f64> = (0..d * d)
            .map(|k| {
                let (i, j) = (k / d, k % d);
                if i == j { 3.0 } else { 0.5 / (1.0 + (i + j) as f64) }
            })
            .collect();
        let c: Vec<f64> = (0..d).map(|i| i as f64 * 0.25 - 0.5).collect();
        let z: Vec<f64> = (0..d).map(|i| 0.1 + 0.13 * i as f64).collect();
        let quadratic = |v: &[f64]| -> f64 {
            (0..d)
                .map(|i| 0.5 * v[i] * (0..d).map(|j| a[i * d + j] * v[j]).sum::<f64>() + c[i] * v[i])
                .sum()
        };
        let cubic = |v: &[f64]| -> f64 { v.iter().map(|x| x * x * x).sum() };
        let h = 0.05f64;
        let at = |f: &dyn Fn(&[f64]) -> f64, i: usize, shift: f64| {
            let mut v = z.clone();
            v[i] += shift;
            f(&v) as f32
        };
        for (name, f) in [("quadratic", &quadratic as &dyn Fn(&[f64]) -> f64), ("cubic", &cubic)] {
            let plus: Vec<f32> = (0..d).map(|i| at(f, i, h)).collect();
            let minus: Vec<f32> = (0..d).map(|i| at(f, i, -h)).collect();
            let g = symmetric_differences(&plus, &minus, h as f32);
            for i in 0..d {
                let expected = match name {
                    "quadratic" => (0..d).map(|j| a[i * d + j] * z[j]).sum::<f64>() + c[i],
                    _ => 3.0 * z[i] * z[i] + h * h,
                };
                // f32 rounding of values near 1 divided by 2h: about 1e-6 / 0.1, well below h^2.
                assert!((g[i] as f64 - expected).abs() < 2e-4, "{name} {i}: {} vs {expected}", g[i]);
            }
        }
    }

    /// The first Adam step moves a coordinate by `lr * sqrt(1 - b2) / (1 - b1) * m / sqrt(v)`
    /// `= lr * sign(g)`; unpicked coordinates and their counters stay put.
    #[test]
    fn coordinate_adam_moves_only_the_chosen_coordinates() {
        let mut adam = CoordinateAdam::new(4);
        let mut delta = vec![0.0f32; 4];
        adam.descend(&mut delta, &[1, 3], &[2.0, -0.5], 0.01);
        assert!((delta[1] + 0.01).abs() < 1e-6 && (delta[3] - 0.01).abs() < 1e-6, "{delta:?}");
        assert_eq!((delta[0], delta[2]), (0.0, 0.0));
        assert_eq!(adam.steps, vec![0, 1, 0, 1]);
        adam.descend(&mut delta, &[1], &[2.0], 0.01);
        assert_eq!(adam.steps, vec![0, 2, 0, 1]);
        // Second step on a constant gradient: m_hat = g, v_hat = g^2, so again lr * sign(g).
        assert!((delta[1] + 0.02).abs() < 1e-5, "{delta:?}");
    }

    #[test]
    fn invalid_configs_are_errors() {
        let bad = [
            ZooConfig {
                steps: 0,
                ..Default::default()
            },
            ZooConfig {
                coordinates: 0,
                ..Default::default()
            },
            ZooConfig {
                h: 0.0,
                ..Default::default()
            },
            ZooConfig {
                learning_rate: f32::NAN,
                ..Default::default()
            },
            ZooConfig {
                search_steps: 0,
                ..Default::default()
            },
        ];
        for config in bad {
            assert!(config.init().is_err(), "{config:?}");
        }
        assert!(ZooConfig::default().init().is_ok());
    }
}
