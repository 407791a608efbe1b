//! SPSA: a score-based attack that estimates the loss gradient from antithetic Rademacher
//! perturbations (simultaneous perturbation stochastic approximation) and follows it with
//! Adam. Uesato, O'Donoghue, van den Oord & Kohli, "Adversarial Risk and the Dangers of
//! Evaluating Against Weak Attacks", ICML 2018.
//!
//! As in ARES (`ares/attack/spsa.py`, the `tf1` branch of thu-ml/ares): per step, `samples / 2`
//! directions `u = sign(U(-1, 1))` and their negatives, NES's estimate `g = mean_i L(x' + sigma
//! u_i) u_i / sigma` of the gradient of the C&W logit margin (the cross-entropy as an option;
//! towards the target for the targeted goals), then Adam (`b1 = 0.9`, `b2 = 0.999`, `epsilon =
//! 1e-9`, bias-corrected, reset for each sample): `x' <- clip_box(x + P_eps(x' - x + lr *
//! m_hat / (sqrt(v_hat) + epsilon)))` for both norms, from `x' = x`. Defaults: 500 samples,
//! `sigma = 1e-3`, 20,000 queries per sample, and the iteration script's learning rates,
//! `1/255` at Linf `8/255` and `0.005` at L2 `1.0`, as fractions of epsilon (`0.125x` and
//! `0.005x`; `step-size` sets one for both norms).
//!
//! Queries as NES ([`crate::Nes`]): `samples + 1` per step, the verdict on the new iterate
//! included; the threat model's `Budget::Queries` caps them per sample. Each sample draws its
//! directions from its own generator, keyed by its index and the step.
//!
//! ```
//! use adv_attacks::SpsaConfig;
//! let spsa = SpsaConfig { samples: 128, queries: 12_900, ..Default::default() }.init().unwrap();
//! ```

use adv_core::burn::tensor::Tensor;
use adv_core::{Knowledge, Loss, Norm, floats_from, to_floats};
use rand::Rng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use crate::gradient::StepSize;
use crate::nes::{Estimator, check_samples};
use crate::{
    AttackError, AttackInfo, Context, Iterative, Observed, Result, ScoreOracle, Scores, Start,
    Step, StepInfo,
};

/// Adam's moment decay rates and stabilizer, as ARES sets them.
const BETA1: f32 = 0.9;
const BETA2: f32 = 0.999;
const ADAM_EPSILON: f32 = 1e-9;

/// SPSA's learning rate: the reference's for the threat model's norm, or one for both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum AdamStepSize {
    /// ARES's iteration script: `1/255` at Linf `8/255` and `0.005` at L2 `1.0`, as fractions
    /// of each sample's epsilon.
    #[default]
    ByNorm,
    /// The same rule for every norm.
    Fixed(StepSize),
}

impl AdamStepSize {
    /// The learning rate for a sample of radius `epsilon` under `norm`, in a run of `steps`.
    fn length(self, norm: Norm, epsilon: f32, steps: usize) -> f32 {
        let rule = match (self, norm) {
            (AdamStepSize::Fixed(rule), _) => rule,
            (AdamStepSize::ByNorm, Norm::Linf) => StepSize::Relative(0.125),
            (AdamStepSize::ByNorm, _) => StepSize::Relative(0.005),
        };
        rule.length(epsilon, steps)
    }
}

impl std::str::FromStr for AdamStepSize {
    type Err = AttackError;

    /// `norm`, or a step size as PGD's (`0.01`, `2/255`, `0.25x`, `auto`, `eps/steps`).
    fn from_str(text: &str) -> Result<Self> {
        match text.trim() {
            "norm" => Ok(AdamStepSize::ByNorm),
            other => Ok(AdamStepSize::Fixed(other.parse()?)),
        }
    }
}

impl std::fmt::Display for AdamStepSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdamStepSize::ByNorm => f.write_str("norm"),
            AdamStepSize::Fixed(rule) => rule.fmt(f),
        }
    }
}

adv_core::text_option!(AdamStepSize, "norm|auto|eps/steps|ABS|RELx");

adv_core::options! {
    /// Configuration of [`Spsa`].
    pub struct SpsaConfig {
        /// Model queries per sample: each step spends samples + 1 (the draws and the verdict on the new iterate).
        queries: u64 [Domain::AtLeast(1.0), Label::ValueIfChanged] = 20_000,
        /// Queries of one gradient estimate: samples / 2 Rademacher directions and their negatives (even).
        samples: usize [Domain::AtLeast(2.0), Label::Changed] = 500,
        /// Size of the sampled perturbations (each coordinate moves by +-sigma).
        sigma: f32 [Domain::Positive, Label::Changed] = 1e-3,
        /// Adam's learning rate: norm (0.125x at Linf, 0.005x at L2), an absolute value or a multiple of epsilon.
        step_size: AdamStepSize [Domain::Any, Label::Changed] = AdamStepSize::ByNorm,
        /// The loss whose gradient is estimated: cw (the logit margin) or ce (cross-entropy).
        loss: Loss [Domain::Any, Label::ValueIfChanged] = Loss::Margin,
    }
}

impl SpsaConfig {
    /// The attack, or an error if the configuration is invalid.
    pub fn init(&self) -> Result<Spsa> {
        adv_core::Options::check_domains(self)
            .map_err(|problem| AttackError::config(INFO.name, problem))?;
        check_samples(INFO.name, self.samples, self.queries)?;
        if let AdamStepSize::Fixed(rule) = self.step_size {
            rule.check(INFO.name)?;
        }
        Ok(Spsa {
            config: self.clone(),
        })
    }
}

/// SPSA (Linf, L2), score-based.
#[derive(Clone, Debug)]
pub struct Spsa {
    config: SpsaConfig,
}

pub(crate) static INFO: AttackInfo = AttackInfo {
    name: "spsa",
    aliases: &[],
    paper: "Uesato, O'Donoghue, van den Oord & Kohli, ICML 2018",
    norms: &[Norm::Linf, Norm::L2],
    access: Knowledge::ScoreBased,
    targeted: true,
    minimizes_distance: false,
    config: adv_core::ConfigFns::of::<SpsaConfig>(),
    build: |settings| Ok(Box::new(adv_core::configure::<SpsaConfig>("spsa", settings)?.init()?)),
};

pub(crate) const ATTACKS: &[&AttackInfo] = &[&INFO];

/// `count` directions of `d` coordinates, each coordinate `+1` or `-1` with equal chance,
/// row-major `[count, d]`.
pub fn rademacher_directions(rng: &mut StdRng, count: usize, d: usize) -> Vec<f32> {
    (0..count * d)
        .map(|_| if rng.random_bool(0.5) { 1.0 } else { -1.0 })
        .collect()
}

/// One Adam ascent step of step number `t` (from 1) on gradient `g`: updates the moments and
/// returns `m_hat / (sqrt(v_hat) + 1e-9)` per coordinate.
pub(crate) fn adam_direction(first: &mut [f32], second: &mut [f32], g: &[f32], t: i32) -> Vec<f32> {
    let (c1, c2) = (1.0 - BETA1.powi(t), 1.0 - BETA2.powi(t));
    first
        .iter_mut()
        .zip(second.iter_mut())
        .zip(g)
        .map(|((m, v), &g)| {
            *m = BETA1 * *m + (1.0 - BETA1) * g;
            *v = BETA2 * *v + (1.0 - BETA2) * g * g;
            (*m / c1) / ((*v / c2).sqrt() + ADAM_EPSILON)
        })
        .collect()
}

crate::row_state! {
    /// SPSA's state: each row's Adam moments.
    pub struct SpsaState {
        first: Vec<Vec<f32>>,
        second: Vec<Vec<f32>>,
    }
}

impl Iterative for Spsa {
    type Access = Scores;
    type State = SpsaState;

    fn info(&self) -> &'static AttackInfo {
        &INFO
    }

    fn steps(&self) -> usize {
        (self.config.queries / (self.config.samples as u64 + 1)) as usize
    }

    fn queries_per_step(&self) -> u64 {
        self.config.samples as u64 + 1
    }

    /// From the clean image, whose verdict the clean pass gave, with fresh Adam moments.
    fn start(
        &self,
        ctx: &Context,
        _model: &ScoreOracle<'_>,
        _run: usize,
        _previous: Option<SpsaState>,
    ) -> Result<Start<SpsaState>> {
        let [_, c, h, w] = ctx.images().dims();
        let zeros = vec![vec![0.0f32; c * h * w]; ctx.len()];
        Ok(Start {
            state: SpsaState {
                first: zeros.clone(),
                second: zeros,
            },
            iterate: ctx.images().clone(),
            observed: Observed::Clean,
        })
    }

    /// Estimates each row's gradient at `x`, takes an Adam step, projects, and queries the new
    /// iterate for the harness's verdict.
    fn step(
        &self,
        ctx: &Context,
        model: &ScoreOracle<'_>,
        state: &mut SpsaState,
        x: Tensor<4>,
        info: StepInfo,
    ) -> Result<Step> {
        let dims = x.dims();
        let d = dims[1] * dims[2] * dims[3];
        let at = to_floats(x);
        let mut rngs: Vec<StdRng> = (0..ctx.len())
            .map(|row| ctx.rng(row, info.step as u64 + 1))
            .collect();
        let estimator = Estimator {
            samples: self.config.samples,
            sigma: self.config.sigma,
            loss: self.config.loss,
            draw: rademacher_directions,
        };
        let (gradients, _) = estimator.gradients(ctx, model, &at, &mut rngs)?;
        let t = info.step as i32 + 1;
        let steps = self.steps();
        let mut moved = at;
        for (row, gradient) in gradients.iter().enumerate() {
            let lr = self
                .config
                .step_size
                .length(ctx.norm(), ctx.epsilon_values()[row], steps);
            let direction =
                adam_direction(&mut state.first[row], &mut state.second[row], gradient, t);
            for (v, s) in moved[row * d..(row + 1) * d].iter_mut().zip(direction) {
                *v += lr * s;
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
mod tests {
    use super::*;

    #[test]
    fn the_estimate_approaches_the_gradient_of_a_quadratic() {
        crate::nes::tests::check_convergence_on_a_quadratic(rademacher_directions);
    }

    #[test]
    fn directions_are_signs() {
        use rand::SeedableRng;
        let u = rademacher_directions(&mut StdRng::seed_from_u64(3), 100, 10);
        assert!(u.iter().all(|&v| v == 1.0 || v == -1.0));
        let ones = u.iter().filter(|&&v| v == 1.0).count();
        assert!((400..600).contains(&ones), "{ones} of 1000");
    }

    /// Adam's first step is `g / (|g| + 1e-9)`, about the sign; the second follows the
    /// closed form of the bias-corrected moments.
    #[test]
    fn adam_matches_its_closed_form() {
        let (mut m, mut v) = (vec![0.0f32; 3], vec![0.0f32; 3]);
        let first = adam_direction(&mut m, &mut v, &[2.0, -0.5, 0.0], 1);
        assert!((first[0] - 1.0).abs() < 1e-6 && (first[1] + 1.0).abs() < 1e-6);
        assert_eq!(first[2], 0.0);
        let second = adam_direction(&mut m, &mut v, &[1.0, 0.5, 0.0], 2);
        let m_hat = (0.9 * 0.1 * 2.0 + 0.1 * 1.0) / (1.0 - 0.81);
        let v_hat = (0.999 * 0.001 * 4.0 + 0.001 * 1.0) / (1.0 - 0.999f32 * 0.999);
        assert!((second[0] - m_hat / v_hat.sqrt()).abs() < 1e-4, "{second:?}");
    }

    #[test]
    fn the_learning_rate_follows_the_norm_unless_fixed() {
        let by_norm = AdamStepSize::ByNorm;
        assert!((by_norm.length(Norm::Linf, 8.0 / 255.0, 10) - 1.0 / 255.0).abs() < 1e-7);
        assert!((by_norm.length(Norm::L2, 1.0, 10) - 0.005).abs() < 1e-7);
        let fixed: AdamStepSize = "0.01".parse().unwrap();
        assert_eq!(fixed.length(Norm::L2, 1.0, 10), 0.01);
        assert_eq!(fixed.to_string(), "0.01");
        assert_eq!("norm".parse::<AdamStepSize>().unwrap(), by_norm);
        assert!("fast".parse::<AdamStepSize>().is_err());
    }

    #[test]
    fn invalid_configs_are_errors() {
        let odd = SpsaConfig {
            samples: 7,
            ..Default::default()
        };
        assert!(odd.init().unwrap_err().to_string().contains("even"));
        let bad = [
            SpsaConfig {
                queries: 100,
                ..Default::default()
            },
            SpsaConfig {
                sigma: -1.0,
                ..Default::default()
            },
            SpsaConfig {
                step_size: AdamStepSize::Fixed(StepSize::Relative(0.0)),
                ..Default::default()
            },
        ];
        for config in bad {
            assert!(config.init().is_err(), "{config:?}");
        }
        assert!(SpsaConfig::default().init().is_ok());
    }
}
