//! Square Attack: a score-based random search that changes one random square window of the
//! image per query and keeps the change when the margin loss drops. Andriushchenko, Croce,
//! Flammarion & Hein, "Square Attack: a query-efficient black-box adversarial attack via
//! random search", ECCV 2020.
//!
//! As in AutoAttack's `square.py`: 5000 queries, `p_init = 0.8`, the window-area schedule
//! (`p` halves at 10, 50, 200, 500, 1000, 2000, 4000, 6000 and 8000 iterations on a 10000-query
//! scale, rescaled to the budget), the margin loss `z_y - max_{i != y} z_i`; Linf starts from
//! vertical stripes of `+-eps` and moves windows to `+-eps` per channel, L2 starts from a grid
//! of pseudo-Gaussian blocks and moves mass between two windows on the sphere. Each sample
//! draws its own windows from its own generator (the reference shares one window per batch),
//! so a sample's result does not depend on its batch. The first query counts: a budget of
//! 5000 queries is the start and 4999 window proposals. A `Budget::Queries` (or
//! `Budget::Iterations`) of the threat model caps the queries per sample.
//!
//! ```
//! use adv_attacks::SquareConfig;
//! let square = SquareConfig { queries: 1000, ..Default::default() }.init().unwrap();
//! ```

use adv_core::burn::tensor::{Bool, Tensor};
use adv_core::{Budget, Knowledge, Loss, Norm, bools_from, floats_from, to_floats};
use rand::Rng;
use rand::rngs::StdRng;

use crate::{
    AttackError, AttackInfo, Context, Iterative, Observed, Result, ScoreOracle, Scores, Start,
    Step, StepInfo,
};

adv_core::options! {
    /// Configuration of [`Square`].
    pub struct SquareConfig {
        /// Model queries per sample, the first one included.
        queries: u64 [Domain::AtLeast(1.0), Label::ValueIfChanged] = 5000,
        /// Initial fraction of the image a window covers.
        p_init: f32 [Domain::UnitAboveZero, Label::Changed] = 0.8,
    }
}

impl SquareConfig {
    /// The attack, or an error if the configuration is invalid.
    pub fn init(&self) -> Result<Square> {
        adv_core::Options::check_domains(self)
            .map_err(|problem| AttackError::config(INFO.name, problem))?;
        Ok(Square {
            config: self.clone(),
        })
    }
}

/// Square Attack (Linf, L2).
#[derive(Clone, Debug)]
pub struct Square {
    config: SquareConfig,
}

pub(crate) static INFO: AttackInfo = AttackInfo {
    name: "square",
    aliases: &[],
    paper: "Andriushchenko, Croce, Flammarion & Hein, ECCV 2020",
    norms: &[Norm::Linf, Norm::L2],
    access: Knowledge::ScoreBased,
    targeted: true,
    minimizes_distance: false,
    config: adv_core::ConfigFns::of::<SquareConfig>(),
    build: |settings| Ok(Box::new(adv_core::configure::<SquareConfig>("square", settings)?.init()?)),
};

pub(crate) const ATTACKS: &[&AttackInfo] = &[&INFO];

/// The window-area fraction at iteration `iteration` of a run of `queries` queries.
pub fn square_p_schedule(p_init: f32, iteration: u64, queries: u64) -> f32 {
    let scaled = (iteration as f64 / queries as f64 * 10_000.0) as u64;
    let halvings = match scaled {
        0..=10 => 0,
        11..=50 => 1,
        51..=200 => 2,
        201..=500 => 3,
        501..=1000 => 4,
        1001..=2000 => 5,
        2001..=4000 => 6,
        4001..=6000 => 7,
        6001..=8000 => 8,
        _ => 9,
    };
    p_init / (1u32 << halvings) as f32
}

/// Image geometry and the sample's ball, on the host.
struct Geometry {
    channels: usize,
    height: usize,
    width: usize,
    lower: f32,
    upper: f32,
}

impl Geometry {
    fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    fn at(&self, channel: usize, row: usize, column: usize) -> usize {
        (channel * self.height + row) * self.width + column
    }

    /// The side of the square for fraction `p` of the pixels, at least `min`, inside the image.
    fn side(&self, p: f32, min: usize) -> usize {
        let side = ((p as f64 * (self.height * self.width) as f64)
            .sqrt()
            .round() as usize)
            .max(min);
        side.min(self.height).min(self.width).max(1)
    }

    /// A random top-left corner for a window of side `side`.
    fn corner(&self, rng: &mut StdRng, side: usize) -> (usize, usize) {
        (
            rng.random_range(0..=self.height - side),
            rng.random_range(0..=self.width - side),
        )
    }
}

fn sign(rng: &mut StdRng) -> f32 {
    if rng.random_bool(0.5) { 1.0 } else { -1.0 }
}

/// The reference's `eta_rectangles`: nested rectangles weighted `1 / (k + 1)^2`, unit L2 norm.
fn rectangles(rows: usize, columns: usize) -> Vec<f32> {
    let mut delta = vec![0.0f32; rows * columns];
    let (centre_row, centre_column) = (rows / 2 + 1, columns / 2 + 1);
    let (mut top, mut left) = (centre_row as i64 - 1, centre_column as i64 - 1);
    for k in 0..centre_row.max(centre_column) as i64 {
        for r in top.max(0)..(top + 2 * k + 1).min(rows as i64) {
            for c in left.max(0)..(left + 2 * k + 1).min(columns as i64) {
                delta[r as usize * columns + c as usize] += 1.0 / ((k + 1) * (k + 1)) as f32;
            }
        }
        top -= 1;
        left -= 1;
    }
    normalized(delta)
}

fn normalized(mut values: Vec<f32>) -> Vec<f32> {
    let norm = values.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        values.iter_mut().for_each(|v| *v /= norm);
    }
    values
}

/// The reference's `eta`: a positive and a negative block of rectangles, randomly transposed.
fn pseudo_gaussian(side: usize, rng: &mut StdRng) -> Vec<f32> {
    let half = side / 2;
    let mut block = rectangles(half, side);
    block.extend(rectangles(side - half, side).into_iter().map(|v| -v));
    let block = normalized(block);
    if rng.random::<f32>() > 0.5 {
        (0..side * side)
            .map(|i| block[(i % side) * side + i / side])
            .collect()
    } else {
        block
    }
}

crate::row_state! {
    /// Square's search: each row's generator, its best example, that example's loss and
    /// logits.
    pub struct SquareState {
        rngs: Vec<StdRng>,
        best: Vec<Vec<f32>>,
        loss: Vec<f32>,
        logits: Tensor<2>,
    }
}

impl Square {
    /// The queries of a run: the config's, capped by the threat model's budget.
    fn queries(&self, ctx: &Context) -> u64 {
        let cap = match ctx.threat().budget {
            Some(Budget::Queries(queries)) => queries.max(1),
            Some(Budget::Iterations(iterations)) => iterations.saturating_add(1),
            None => u64::MAX,
        };
        self.config.queries.min(cap)
    }

    fn geometry(ctx: &Context) -> Geometry {
        let [_, channels, height, width] = ctx.images().dims();
        Geometry {
            channels,
            height,
            width,
            lower: ctx.bounds().lower,
            upper: ctx.bounds().upper,
        }
    }

    /// The loss Square lowers: minus the goal's margin (the C&W margin away from the label,
    /// or towards the target), per row.
    fn loss(ctx: &Context, logits: Tensor<2>) -> Vec<f32> {
        to_floats(Loss::Margin.objective(logits, ctx.labels(), ctx.targets()).neg())
    }

    /// Linf start: vertical stripes of `+-eps` per channel and column.
    fn linf_start(&self, g: &Geometry, x0: &[f32], eps: f32, rng: &mut StdRng) -> Vec<f32> {
        let mut x = x0.to_vec();
        for channel in 0..g.channels {
            for column in 0..g.width {
                let shift = eps * sign(rng);
                for row in 0..g.height {
                    let i = g.at(channel, row, column);
                    x[i] = (x0[i] + shift).clamp(g.lower, g.upper);
                }
            }
        }
        x
    }

    /// Linf proposal: one window set to `+-eps` per channel.
    fn linf_step(
        &self,
        g: &Geometry,
        x0: &[f32],
        best: &[f32],
        eps: f32,
        p: f32,
        rng: &mut StdRng,
    ) -> Vec<f32> {
        let side = g.side(p, 1);
        let (top, left) = g.corner(rng, side);
        let mut x = best.to_vec();
        for channel in 0..g.channels {
            let shift = 2.0 * eps * sign(rng);
            for row in top..top + side {
                for column in left..left + side {
                    let i = g.at(channel, row, column);
                    x[i] = (x[i] + shift)
                        .clamp(x0[i] - eps, x0[i] + eps)
                        .clamp(g.lower, g.upper);
                }
            }
        }
        x
    }

    /// `x0 + eps * delta / ||delta||`, clipped to the box.
    fn on_l2_sphere(g: &Geometry, x0: &[f32], delta: &[f32], eps: f32) -> Vec<f32> {
        let norm = delta.iter().map(|v| v * v).sum::<f32>().sqrt();
        x0.iter()
            .zip(delta)
            .map(|(x, d)| (x + eps * d / (norm + 1e-12)).clamp(g.lower, g.upper))
            .collect()
    }

    /// L2 start: a grid of pseudo-Gaussian blocks of side `h / 5` with random signs.
    fn l2_start(&self, g: &Geometry, x0: &[f32], eps: f32, rng: &mut StdRng) -> Vec<f32> {
        let side = (g.height / 5).max(1);
        let margin = g.height.saturating_sub(5 * side) / 2;
        let mut delta = vec![0.0f32; g.len()];
        for block_row in 0..g.height / side {
            for block_column in 0..g.width / side {
                let (top, left) = (margin + block_row * side, margin + block_column * side);
                let block = pseudo_gaussian(side, rng);
                for channel in 0..g.channels {
                    let s = sign(rng);
                    for r in 0..side {
                        for c in 0..side {
                            let (row, column) = (top + r, left + c);
                            if row < g.height && column < g.width {
                                delta[g.at(channel, row, column)] += s * block[r * side + c];
                            }
                        }
                    }
                }
            }
        }
        Self::on_l2_sphere(g, x0, &delta, eps)
    }

    /// L2 proposal: a new pseudo-Gaussian window that also takes the mass of a second window,
    /// which is emptied; the result is put back on the sphere.
    fn l2_step(
        &self,
        g: &Geometry,
        x0: &[f32],
        best: &[f32],
        eps: f32,
        p: f32,
        rng: &mut StdRng,
    ) -> Vec<f32> {
        let mut side = g.side(p, 3);
        if side.is_multiple_of(2) && side < g.height.min(g.width) {
            side += 1;
        }
        let (top, left) = g.corner(rng, side);
        let (top2, left2) = g.corner(rng, side);
        let mut delta: Vec<f32> = best.iter().zip(x0).map(|(b, x)| b - x).collect();
        let image_norm_sq = delta.iter().map(|v| v * v).sum::<f32>();
        let inside = |row: usize, column: usize, top: usize, left: usize| {
            (top..top + side).contains(&row) && (left..left + side).contains(&column)
        };
        let mut windows_norm_sq = 0.0f32;
        for channel in 0..g.channels {
            for row in 0..g.height {
                for column in 0..g.width {
                    if inside(row, column, top, left) || inside(row, column, top2, left2) {
                        windows_norm_sq += delta[g.at(channel, row, column)].powi(2);
                    }
                }
            }
        }
        let block = pseudo_gaussian(side, rng);
        let mut windows = Vec::with_capacity(g.channels);
        for channel in 0..g.channels {
            let s = sign(rng);
            let old: Vec<f32> = (0..side * side)
                .map(|k| delta[g.at(channel, top + k / side, left + k % side)])
                .collect();
            let old_norm = old.iter().map(|v| v * v).sum::<f32>().sqrt();
            let proposal: Vec<f32> = block
                .iter()
                .zip(&old)
                .map(|(b, o)| s * b + o / (old_norm + 1e-12))
                .collect();
            let proposal_norm = proposal.iter().map(|v| v * v).sum::<f32>().sqrt();
            let length =
                ((eps * eps - image_norm_sq).max(0.0) / g.channels as f32 + windows_norm_sq).sqrt();
            windows.push(
                proposal
                    .into_iter()
                    .map(|v| v / (proposal_norm + 1e-12) * length)
                    .collect::<Vec<_>>(),
            );
        }
        for (channel, window) in windows.into_iter().enumerate() {
            for k in 0..side * side {
                delta[g.at(channel, top2 + k / side, left2 + k % side)] = 0.0;
            }
            for (k, value) in window.into_iter().enumerate() {
                delta[g.at(channel, top + k / side, left + k % side)] = value;
            }
        }
        Self::on_l2_sphere(g, x0, &delta, eps)
    }
}

impl Iterative for Square {
    type Access = Scores;
    type State = SquareState;

    fn info(&self) -> &'static AttackInfo {
        &INFO
    }

    /// One window proposal per step after the first query.
    fn steps(&self) -> usize {
        (self.config.queries - 1) as usize
    }

    fn start(
        &self,
        ctx: &Context,
        model: &ScoreOracle<'_>,
        _run: usize,
        _previous: Option<SquareState>,
    ) -> Result<Start<SquareState>> {
        let g = Self::geometry(ctx);
        let d = g.len();
        let x0 = to_floats(ctx.images().clone());
        let mut rngs: Vec<StdRng> = (0..ctx.len()).map(|row| ctx.rng(row, 0)).collect();
        let best: Vec<Vec<f32>> = (0..ctx.len())
            .map(|i| {
                let (x, eps) = (&x0[i * d..(i + 1) * d], ctx.epsilon_values()[i]);
                match ctx.norm() {
                    Norm::Linf => self.linf_start(&g, x, eps, &mut rngs[i]),
                    _ => self.l2_start(&g, x, eps, &mut rngs[i]),
                }
            })
            .collect();
        let iterate = floats_from(best.concat(), ctx.images().dims(), &ctx.images().device());
        let logits = model.scores(iterate.clone())?;
        Ok(Start {
            state: SquareState {
                rngs,
                best,
                loss: Self::loss(ctx, logits.clone()),
                logits: logits.clone(),
            },
            iterate,
            observed: Observed::Logits(logits),
        })
    }

    /// Proposes a window change per row, queries the proposals and keeps the better ones; the
    /// kept examples' logits are the harness's verdict, so no query is spent twice.
    fn step(
        &self,
        ctx: &Context,
        model: &ScoreOracle<'_>,
        state: &mut SquareState,
        _x: Tensor<4>,
        info: StepInfo,
    ) -> Result<Step> {
        let g = Self::geometry(ctx);
        let d = g.len();
        let x0 = to_floats(ctx.images().clone());
        let p = square_p_schedule(self.config.p_init, info.step as u64, self.queries(ctx));
        let proposals: Vec<Vec<f32>> = (0..ctx.len())
            .map(|i| {
                let (x, eps) = (&x0[i * d..(i + 1) * d], ctx.epsilon_values()[i]);
                match ctx.norm() {
                    Norm::Linf => self.linf_step(&g, x, &state.best[i], eps, p, &mut state.rngs[i]),
                    _ => self.l2_step(&g, x, &state.best[i], eps, p, &mut state.rngs[i]),
                }
            })
            .collect();
        let device = ctx.images().device();
        let dims = ctx.images().dims();
        let logits = model.scores(floats_from(proposals.concat(), dims, &device))?;
        let proposed = Self::loss(ctx, logits.clone());
        let better: Vec<bool> = proposed
            .iter()
            .zip(&state.loss)
            .map(|(new, old)| new < old)
            .collect();
        for (i, proposal) in proposals.into_iter().enumerate() {
            if better[i] {
                state.loss[i] = proposed[i];
                state.best[i] = proposal;
            }
        }
        let mask: Tensor<2, Bool> = bools_from(&better, &device)
            .reshape([better.len(), 1])
            .expand(logits.dims());
        state.logits = state.logits.clone().mask_where(mask, logits);
        Ok(Step {
            at_next: Observed::Logits(state.logits.clone()),
            ..Step::to(floats_from(state.best.concat(), dims, &device))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_halves_on_the_reference_schedule() {
        let p = |iteration| square_p_schedule(0.8, iteration, 10_000);
        assert_eq!(p(0), 0.8);
        assert_eq!(p(10), 0.8);
        assert_eq!(p(11), 0.4);
        assert_eq!(p(50), 0.4);
        assert_eq!(p(51), 0.2);
        assert_eq!(p(500), 0.1);
        assert_eq!(p(1000), 0.05);
        assert_eq!(p(2000), 0.025);
        assert_eq!(p(4000), 0.0125);
        assert_eq!(p(6000), 0.00625);
        assert_eq!(p(8000), 0.003125);
        assert_eq!(p(8001), 0.8 / 512.0);
        // 5000 queries: the schedule is rescaled, iteration 26 is 52 on the 10000 scale.
        assert_eq!(square_p_schedule(0.8, 5, 5000), 0.8);
        assert_eq!(square_p_schedule(0.8, 6, 5000), 0.4);
        assert_eq!(square_p_schedule(0.8, 26, 5000), 0.2);
    }

    #[test]
    fn rectangles_match_a_hand_computed_block() {
        // 3x3: the centre gets 1 + 1/4, the ring 1/4, before normalization.
        let block = rectangles(3, 3);
        let norm = (1.25f32 * 1.25 + 8.0 * 0.0625).sqrt();
        assert!((block[4] - 1.25 / norm).abs() < 1e-6);
        assert!((block[0] - 0.25 / norm).abs() < 1e-6);
        let unit = block.iter().map(|v| v * v).sum::<f32>();
        assert!((unit - 1.0).abs() < 1e-5);
    }

    #[test]
    fn invalid_configs_are_errors() {
        assert!(
            SquareConfig {
                queries: 0,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        assert!(
            SquareConfig {
                p_init: 0.0,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        assert!(
            SquareConfig {
                p_init: 1.5,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        assert!(SquareConfig::default().init().is_ok());
    }
}
