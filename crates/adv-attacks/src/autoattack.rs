//! AutoAttack: an ensemble of parameter-free attacks run one after the other, each on the
//! samples no earlier attack has broken, so that a sample counts as robust only if it survives
//! them all (the per-sample worst case). Croce & Hein, "Reliable evaluation of adversarial
//! robustness with an ensemble of diverse parameter-free attacks", ICML 2020.
//!
//! The standard version of the reference (fra31/auto-attack, `version='standard'`) runs
//! APGD-CE (100 iterations, 1 restart), APGD-T (targeted DLR, 100 iterations, the 9 most likely
//! other classes), FAB-T (9 target classes) and Square (5000 queries) in that order, and so
//! does [`AutoAttackConfig::standard`].
//!
//! ```
//! use adv_attacks::{Attack, AutoAttackConfig};
//! let autoattack = AutoAttackConfig::standard().init().unwrap();
//! assert_eq!(autoattack.name(), "autoattack");
//! ```

use adv_core::burn::tensor::Tensor;
use adv_core::{Classifier, Norm, to_bools};
use serde::{Deserialize, Serialize};

use crate::subset::Stages;
use crate::{
    ApgdConfig, Attack, AttackError, AttackInput, FabConfig, Result, SquareConfig, StepObserver,
    check_norm,
};

/// One attack of the ensemble.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "attack", rename_all = "kebab-case")]
pub enum AutoAttackComponent {
    /// [`crate::Apgd`] (APGD-CE, APGD-DLR or APGD-T, after its loss).
    Apgd(ApgdConfig),
    /// [`crate::Fab`] (FAB-T).
    Fab(FabConfig),
    /// [`crate::Square`].
    Square(SquareConfig),
}

impl AutoAttackComponent {
    fn build(&self) -> Result<Box<dyn Attack>> {
        Ok(match self {
            AutoAttackComponent::Apgd(config) => Box::new(config.init()?),
            AutoAttackComponent::Fab(config) => Box::new(config.init()?),
            AutoAttackComponent::Square(config) => Box::new(config.init()?),
        })
    }
}

/// Configuration of [`AutoAttack`]: the attacks, in the order they run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AutoAttackConfig {
    /// The ensemble (at least one attack).
    pub attacks: Vec<AutoAttackComponent>,
}

impl Default for AutoAttackConfig {
    fn default() -> Self {
        Self::standard()
    }
}

impl AutoAttackConfig {
    /// The standard version: APGD-CE, APGD-T (9 targets), FAB-T (9 targets), Square (5000
    /// queries).
    pub fn standard() -> Self {
        Self {
            attacks: vec![
                AutoAttackComponent::Apgd(ApgdConfig::default()),
                AutoAttackComponent::Apgd(ApgdConfig::targeted()),
                AutoAttackComponent::Fab(FabConfig::default()),
                AutoAttackComponent::Square(SquareConfig::default()),
            ],
        }
    }

    /// The attack, or an error if the list is empty or an attack's configuration is invalid.
    pub fn init(&self) -> Result<AutoAttack> {
        if self.attacks.is_empty() {
            return Err(AttackError::config(
                "autoattack",
                "the ensemble needs at least one attack",
            ));
        }
        let attacks = self
            .attacks
            .iter()
            .map(AutoAttackComponent::build)
            .collect::<Result<Vec<_>>>()?;
        Ok(AutoAttack { attacks })
    }
}

/// The AutoAttack ensemble (Linf, L2).
pub struct AutoAttack {
    attacks: Vec<Box<dyn Attack>>,
}

impl std::fmt::Debug for AutoAttack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self.attacks.iter().map(|a| a.name()).collect();
        f.debug_struct("AutoAttack")
            .field("attacks", &names)
            .finish()
    }
}

impl Attack for AutoAttack {
    fn name(&self) -> &'static str {
        "autoattack"
    }

    fn norms(&self) -> &'static [Norm] {
        &[Norm::Linf, Norm::L2]
    }

    fn run(
        &self,
        model: &dyn Classifier,
        input: &AttackInput,
        observer: &mut dyn StepObserver,
    ) -> Result<Tensor<4>> {
        for attack in &self.attacks {
            check_norm(attack.as_ref(), input.threat.norm)?;
        }
        let mut stages = Stages::new(input);
        for attack in &self.attacks {
            let Some(rows) = stages.remaining(input) else {
                break;
            };
            let stage = rows.input(input);
            let mut stage_observer = stages.observer(&rows, observer);
            let examples = stage.project(attack.run(model, &stage, &mut stage_observer)?);
            stage_observer.finish();
            // Judged as the harness will judge the final example: projected, by the model.
            let adversarial = to_bools(stage.is_adversarial(model.forward(examples.clone()))?);
            stages.record(&rows, examples, &adversarial);
        }
        Ok(stages.examples)
    }
}
