//! Repeated additive noise: the decision-based baseline of Foolbox (Rauber, Brendel & Bethge,
//! "Foolbox: A Python toolbox to benchmark the robustness of machine learning models", 2017;
//! `LinfRepeatedAdditiveUniformNoiseAttack`, `L2RepeatedAdditiveGaussianNoiseAttack`). Each
//! step draws a fresh perturbation on the surface of the ball (Linf: uniform noise in
//! `[-eps, eps]`; L2: a Gaussian direction scaled to `eps`), clips it to the box and asks the
//! model for its label. Any attack worth reporting should beat it; a model it breaks is not
//! robust at that radius.
//!
//! Defaults: 100 repeats, as Foolbox.
//!
//! ```
//! use adv_attacks::NoiseConfig;
//! let noise = NoiseConfig { repeats: 20 }.init().unwrap();
//! ```

use adv_core::burn::tensor::Tensor;
use adv_core::{Knowledge, Norm, floats_from};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::{
    AttackError, AttackInfo, Context, DecisionOracle, Decisions, Iterative, Observed, Result,
    Start, Step, StepInfo,
};

adv_core::options! {
    /// Configuration of [`Noise`].
    pub struct NoiseConfig {
        /// Noise draws per sample, one label query each.
        repeats: usize [Domain::AtLeast(1.0), Label::Value] = 100,
    }
}

impl NoiseConfig {
    /// The attack, or an error if the configuration is invalid.
    pub fn init(&self) -> Result<Noise> {
        adv_core::Options::check_domains(self)
            .map_err(|problem| AttackError::config(INFO.name, problem))?;
        Ok(Noise {
            config: self.clone(),
        })
    }
}

/// Repeated additive noise (Linf, L2), decision-based.
#[derive(Clone, Debug)]
pub struct Noise {
    config: NoiseConfig,
}

pub(crate) static INFO: AttackInfo = AttackInfo {
    name: "noise",
    aliases: &[],
    paper: "Rauber, Brendel & Bethge, Foolbox 2017 (repeated additive noise baseline)",
    norms: &[Norm::Linf, Norm::L2],
    access: Knowledge::DecisionBased,
    targeted: true,
    minimizes_distance: false,
    config: adv_core::ConfigFns::of::<NoiseConfig>(),
    build: |settings| Ok(Box::new(adv_core::configure::<NoiseConfig>("noise", settings)?.init()?)),
};

pub(crate) const ATTACKS: &[&AttackInfo] = &[&INFO];

impl Iterative for Noise {
    type Access = Decisions;
    type State = ();

    fn info(&self) -> &'static AttackInfo {
        &INFO
    }

    fn steps(&self) -> usize {
        self.config.repeats
    }

    fn start(
        &self,
        ctx: &Context,
        _model: &DecisionOracle<'_>,
        _run: usize,
        _previous: Option<()>,
    ) -> Result<Start<()>> {
        Ok(Start {
            state: (),
            iterate: ctx.images().clone(),
            observed: Observed::Clean,
        })
    }

    /// A fresh draw around the clean image; its label is the harness's verdict.
    fn step(
        &self,
        ctx: &Context,
        model: &DecisionOracle<'_>,
        _state: &mut (),
        _x: Tensor<4>,
        info: StepInfo,
    ) -> Result<Step> {
        let dims = ctx.images().dims();
        let len = dims[1] * dims[2] * dims[3];
        let noise: Vec<f32> = (0..ctx.len())
            .flat_map(|row| {
                let mut rng = ctx.rng(row, info.step as u64 + 1);
                let eps = ctx.epsilon_values()[row];
                let draw: Vec<f32> = match ctx.norm() {
                    Norm::Linf => (0..len).map(|_| eps * rng.random_range(-1.0f32..=1.0)).collect(),
                    _ => {
                        let gaussian: Vec<f32> =
                            (0..len).map(|_| StandardNormal.sample(&mut rng)).collect();
                        let norm = gaussian.iter().map(|v| v * v).sum::<f32>().sqrt();
                        gaussian.into_iter().map(|v| eps * v / (norm + 1e-12)).collect()
                    }
                };
                draw
            })
            .collect();
        let next = ctx.project(ctx.images().clone() + floats_from(noise, dims, &ctx.images().device()));
        let labels = model.labels(next.clone())?;
        Ok(Step {
            at_next: Observed::Labels(labels),
            ..Step::to(next)
        })
    }
}
