//! The inner maximization of adversarial training: any attack of the registry, run by the
//! harness in generation mode (every sample through every step, the final iterate), on the
//! model as it is at this step.

use adv_attacks::{Attack, AttackConfig, CleanPass, Harness, Mode, Pick, RunOptions};
use adv_core::burn::module::Module;
use adv_core::burn::tensor::Tensor;
use adv_core::{Batch, Goal, Norm, TargetSelection, ThreatModel};
use adv_models::Model;
use serde::{Deserialize, Serialize};

use crate::{DefenseError, Result, StepContext};

/// Which batch statistics the model's batch norms use while the examples are crafted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BnMode {
    /// Running statistics, nothing updated (the bag of tricks' recommendation, TRADES).
    #[default]
    Eval,
    /// Batch statistics, the running ones updated by the adversarial batches (Madry's and
    /// Fast-AT's code).
    Train,
}

impl std::str::FromStr for BnMode {
    type Err = DefenseError;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "eval" => Ok(BnMode::Eval),
            "train" => Ok(BnMode::Train),
            other => Err(DefenseError::InvalidConfig(format!(
                "unknown batch-norm mode '{other}' (expected eval or train)"
            ))),
        }
    }
}

impl std::fmt::Display for BnMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BnMode::Eval => "eval",
            BnMode::Train => "train",
        })
    }
}

adv_core::text_option!(BnMode, "eval|train");

/// An attack that crafts training examples.
pub(crate) struct Crafter {
    attack: Box<dyn Attack>,
    norm: Norm,
    eps: f32,
    goal: Goal,
    bn: BnMode,
}

impl Crafter {
    /// `attack` at radius `eps` in `norm`, towards uniformly random other labels when
    /// `targeted`.
    pub fn new(
        attack: &AttackConfig,
        norm: Norm,
        eps: f32,
        targeted: bool,
        bn: BnMode,
    ) -> Result<Self> {
        let goal = if targeted {
            Goal::Targeted(TargetSelection::Random)
        } else {
            Goal::Untargeted
        };
        // The plan's checks (norm, goal, access) before any training.
        let threat = ThreatModel::new(norm, eps)?.with_goal(goal);
        adv_attacks::check_plan(attack.info(), &threat, &adv_core::Criterion::new(goal))?;
        Ok(Self {
            attack: attack.build()?,
            norm,
            eps,
            goal,
            bn,
        })
    }

    /// The norm and full radius.
    pub fn radius(&self) -> (Norm, f32) {
        (self.norm, self.eps)
    }

    /// Adversarial examples of `batch` against `model` as it is now, at the warmed-up radius;
    /// without autodiff.
    pub fn craft(&self, model: &Model, batch: &Batch, step: &StepContext) -> Result<Tensor<4>> {
        let threat = ThreatModel::new(self.norm, self.eps * step.eps_scale)?.with_goal(self.goal);
        let options = RunOptions {
            seed: step.step_seed(),
            mode: Mode::Generate(Pick::Final),
            ..RunOptions::default()
        };
        let inner = Batch {
            images: batch.images.clone().without_autodiff(),
            labels: batch.labels.clone(),
            ids: batch.ids.clone(),
        };
        // The clean predictions (for targets) come from the frozen model in both modes, so the
        // running statistics see only the attack's batches.
        let frozen = model.valid();
        let clean = CleanPass::of(&frozen, inner.images.clone(), &inner.ids);
        let outcome = match self.bn {
            BnMode::Eval => {
                Harness::new(&frozen, &threat, options).run(self.attack.as_ref(), &inner, &clean)?
            }
            BnMode::Train => {
                Harness::new(model, &threat, options).run(self.attack.as_ref(), &inner, &clean)?
            }
        };
        Ok(outcome.adversarials.without_autodiff())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use adv_core::burn::tensor::Device;
    use adv_core::to_floats;
    use adv_models::ModelConfig;

    /// PGD-AT's and Fast-AT's crafting, in both batch-norm modes and at a warmed-up radius:
    /// every example inside the ball and the box.
    #[test]
    fn crafted_examples_stay_in_the_threat_model() {
        let device = Device::default().autodiff();
        let data = adv_core::data::embedded_digits().take(24);
        let model = ModelConfig::from_name("small-cnn", data.shape(), 10)
            .unwrap()
            .init(&device)
            .unwrap();
        let batch = data.batch(0, 24, &device);
        let x0 = to_floats(batch.images.clone());
        for (spec, norm, eps) in [
            ("pgd:steps=3,step-size=0.5x", Norm::Linf, 0.1f32),
            ("pgd:steps=1,step-size=1.25x", Norm::Linf, 0.1),
            ("pgd:steps=3", Norm::L2, 0.5),
            ("pgd:steps=2,loss=kl,start-std=0.001", Norm::Linf, 0.031),
        ] {
            for bn in [BnMode::Eval, BnMode::Train] {
                let crafter =
                    Crafter::new(&AttackConfig::parse(spec).unwrap(), norm, eps, false, bn)
                        .unwrap();
                for scale in [1.0, 0.5] {
                    let step = StepContext {
                        epoch: 0,
                        epochs: 1,
                        step: 3,
                        seed: 1,
                        device: &device,
                        eps_scale: scale,
                        label_smoothing: 0.0,
                    };
                    let x = to_floats(crafter.craft(&model, &batch, &step).unwrap());
                    let d = x0.len() / 24;
                    for i in 0..24 {
                        let delta: Vec<f32> =
                            (0..d).map(|j| x[i * d + j] - x0[i * d + j]).collect();
                        let size = match norm {
                            Norm::Linf => delta.iter().fold(0.0f32, |m, v| m.max(v.abs())),
                            _ => delta.iter().map(|v| v * v).sum::<f32>().sqrt(),
                        };
                        assert!(
                            size <= eps * scale * (1.0 + 1e-5) + 1e-6,
                            "{spec} {bn}: {size}"
                        );
                    }
                    assert!(
                        x.iter().all(|v| (0.0..=1.0).contains(v)),
                        "{spec} left the box"
                    );
                }
            }
        }
    }
}
