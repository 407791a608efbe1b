//! Every attack as a typed, serializable value: what suites, the CLI and reports name.

use adv_core::{Knowledge, Loss, Norm};
use serde::{Deserialize, Serialize};

use crate::{Attack, AttackError, FgsmConfig, PgdConfig, Result, StepSize};

/// The configuration of any attack of the catalogue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "attack", rename_all = "kebab-case")]
pub enum AttackConfig {
    /// [`crate::Fgsm`].
    Fgsm(FgsmConfig),
    /// [`crate::Pgd`].
    Pgd(PgdConfig),
}

/// Command-line style overrides of an attack's defaults; `None` keeps the default.
#[derive(Clone, Debug, Default)]
pub struct AttackOverrides {
    /// Iterations.
    pub steps: Option<usize>,
    /// Step length.
    pub step_size: Option<StepSize>,
    /// Loss to climb.
    pub loss: Option<Loss>,
    /// Random start on or off.
    pub random_start: Option<bool>,
}

impl AttackConfig {
    /// The default configuration of the attack called `name`, with `overrides` applied.
    pub fn from_name(name: &str, overrides: &AttackOverrides) -> Result<Self> {
        let config = match name.to_ascii_lowercase().as_str() {
            "fgsm" | "fgm" => AttackConfig::Fgsm(FgsmConfig {
                loss: overrides.loss.unwrap_or_default(),
            }),
            "pgd" => {
                let defaults = PgdConfig::default();
                AttackConfig::Pgd(PgdConfig {
                    steps: overrides.steps.unwrap_or(defaults.steps),
                    step_size: overrides.step_size.unwrap_or(defaults.step_size),
                    random_start: overrides.random_start.unwrap_or(defaults.random_start),
                    loss: overrides.loss.unwrap_or(defaults.loss),
                    l1_fraction: defaults.l1_fraction,
                })
            }
            _ => return Err(AttackError::UnknownAttack(name.to_owned())),
        };
        config.build()?;
        Ok(config)
    }

    /// The attack itself, or an error if the configuration is invalid.
    pub fn build(&self) -> Result<Box<dyn Attack>> {
        Ok(match self {
            AttackConfig::Fgsm(config) => Box::new(config.init()),
            AttackConfig::Pgd(config) => Box::new(config.init()?),
        })
    }

    /// A short label for tables, e.g. `pgd-10` or `pgd-10-cw`.
    pub fn label(&self) -> String {
        let loss_suffix = |loss: Loss| match loss {
            Loss::CrossEntropy => "",
            Loss::Margin => "-cw",
        };
        match self {
            AttackConfig::Fgsm(config) => format!("fgsm{}", loss_suffix(config.loss)),
            AttackConfig::Pgd(config) => {
                format!("pgd-{}{}", config.steps, loss_suffix(config.loss))
            }
        }
    }
}

/// A line of the attack catalogue.
#[derive(Clone, Debug, Serialize)]
pub struct AttackInfo {
    /// Command-line name.
    pub name: &'static str,
    /// Norms it supports.
    pub norms: &'static [Norm],
    /// What it needs to know of the model.
    pub knowledge: Knowledge,
    /// The paper it implements.
    pub paper: &'static str,
    /// Options it takes on the command line.
    pub options: &'static str,
}

/// Every attack that can be named on the command line.
pub fn catalogue() -> Vec<AttackInfo> {
    vec![
        AttackInfo {
            name: "fgsm",
            norms: &[Norm::Linf, Norm::L2],
            knowledge: Knowledge::WhiteBox,
            paper: "Goodfellow, Shlens & Szegedy, ICLR 2015",
            options: "--loss ce|cw",
        },
        AttackInfo {
            name: "pgd",
            norms: &Norm::ALL,
            knowledge: Knowledge::WhiteBox,
            paper: "Madry et al., ICLR 2018",
            options: "--steps N (10), --step-size auto|ABS|RELx (auto = 2.5*eps/steps), \
                      --loss ce|cw, --no-random-start",
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalogued_attack_builds_by_name() {
        for info in catalogue() {
            let config = AttackConfig::from_name(info.name, &AttackOverrides::default()).unwrap();
            let attack = config.build().unwrap();
            assert_eq!(attack.name(), info.name);
            assert_eq!(attack.norms(), info.norms);
        }
        assert!(matches!(
            AttackConfig::from_name("zoo2", &AttackOverrides::default()),
            Err(AttackError::UnknownAttack(_))
        ));
        let zero_steps = AttackOverrides { steps: Some(0), ..Default::default() };
        assert!(AttackConfig::from_name("pgd", &zero_steps).is_err());
    }

    #[test]
    fn configs_round_trip_through_json_and_label() {
        let overrides = AttackOverrides { steps: Some(40), loss: Some(Loss::Margin), ..Default::default() };
        let config = AttackConfig::from_name("pgd", &overrides).unwrap();
        assert_eq!(config.label(), "pgd-40-cw");
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(serde_json::from_str::<AttackConfig>(&json).unwrap(), config);
    }
}
