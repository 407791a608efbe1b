//! Every attack as a typed, serializable value: what suites, the CLI and reports name.

use adv_core::{Knowledge, Loss, Norm};
use serde::{Deserialize, Serialize};

use crate::{
    ApgdConfig, ApgdLoss, Attack, AttackError, AutoAttackComponent, AutoAttackConfig, FabConfig,
    FgsmConfig,
    PgdConfig, Result, SquareConfig, StepSize,
};

/// The configuration of any attack of the catalogue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "attack", rename_all = "kebab-case")]
pub enum AttackConfig {
    /// [`crate::Fgsm`].
    Fgsm(FgsmConfig),
    /// [`crate::Pgd`].
    Pgd(PgdConfig),
    /// [`crate::Apgd`]: APGD-CE, APGD-DLR or APGD-T.
    Apgd(ApgdConfig),
    /// [`crate::Fab`] (FAB-T).
    Fab(FabConfig),
    /// [`crate::Square`].
    Square(SquareConfig),
    /// [`crate::AutoAttack`].
    AutoAttack(AutoAttackConfig),
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
    /// Restarts of APGD.
    pub restarts: Option<usize>,
    /// Query budget of score-based attacks (Square).
    pub queries: Option<u64>,
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
            "apgd-ce" | "apgd" => AttackConfig::Apgd(apgd(ApgdConfig::default(), overrides)),
            "apgd-dlr" => AttackConfig::Apgd(apgd(
                ApgdConfig { loss: ApgdLoss::Dlr, ..ApgdConfig::default() },
                overrides,
            )),
            "apgd-t" => AttackConfig::Apgd(apgd(ApgdConfig::targeted(), overrides)),
            "fab-t" | "fab" => AttackConfig::Fab(fab(overrides)),
            "square" => AttackConfig::Square(square(overrides)),
            "autoattack" | "aa" => {
                let mut config = AutoAttackConfig::standard();
                for component in &mut config.attacks {
                    *component = match component {
                        AutoAttackComponent::Apgd(apgd_config) => {
                            AutoAttackComponent::Apgd(apgd(apgd_config.clone(), overrides))
                        }
                        AutoAttackComponent::Fab(_) => AutoAttackComponent::Fab(fab(overrides)),
                        AutoAttackComponent::Square(_) => {
                            AutoAttackComponent::Square(square(overrides))
                        }
                    };
                }
                AttackConfig::AutoAttack(config)
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
            AttackConfig::Apgd(config) => Box::new(config.init()?),
            AttackConfig::Fab(config) => Box::new(config.init()?),
            AttackConfig::Square(config) => Box::new(config.init()?),
            AttackConfig::AutoAttack(config) => Box::new(config.init()?),
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
            AttackConfig::Apgd(config) => {
                let name = config.init().map_or("apgd", |attack| attack.name());
                let defaults = ApgdConfig::default();
                let mut label = name.to_owned();
                if config.steps != defaults.steps {
                    label += &format!("-{}", config.steps);
                }
                if config.restarts != defaults.restarts {
                    label += &format!("-x{}", config.restarts);
                }
                label
            }
            AttackConfig::Fab(config) if config.steps == FabConfig::default().steps => {
                "fab-t".to_owned()
            }
            AttackConfig::Fab(config) => format!("fab-t-{}", config.steps),
            AttackConfig::Square(config) if config.queries == SquareConfig::default().queries => {
                "square".to_owned()
            }
            AttackConfig::Square(config) => format!("square-{}", config.queries),
            AttackConfig::AutoAttack(config) if *config == AutoAttackConfig::standard() => {
                "autoattack".to_owned()
            }
            AttackConfig::AutoAttack(_) => "autoattack-custom".to_owned(),
        }
    }
}

/// `config` with the command line's steps and restarts.
fn apgd(config: ApgdConfig, overrides: &AttackOverrides) -> ApgdConfig {
    ApgdConfig {
        steps: overrides.steps.unwrap_or(config.steps),
        restarts: overrides.restarts.unwrap_or(config.restarts),
        ..config
    }
}

/// FAB-T's defaults with the command line's steps and restarts.
fn fab(overrides: &AttackOverrides) -> FabConfig {
    let defaults = FabConfig::default();
    FabConfig {
        steps: overrides.steps.unwrap_or(defaults.steps),
        restarts: overrides.restarts.unwrap_or(defaults.restarts),
        ..defaults
    }
}

/// Square's defaults with the command line's query budget.
fn square(overrides: &AttackOverrides) -> SquareConfig {
    let defaults = SquareConfig::default();
    SquareConfig {
        queries: overrides.queries.unwrap_or(defaults.queries),
        ..defaults
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
        AttackInfo {
            name: "apgd-ce",
            norms: &[Norm::Linf, Norm::L2],
            knowledge: Knowledge::WhiteBox,
            paper: "Croce & Hein, ICML 2020",
            options: "--steps N (100), --restarts N (1)",
        },
        AttackInfo {
            name: "apgd-dlr",
            norms: &[Norm::Linf, Norm::L2],
            knowledge: Knowledge::WhiteBox,
            paper: "Croce & Hein, ICML 2020",
            options: "--steps N (100), --restarts N (1)",
        },
        AttackInfo {
            name: "apgd-t",
            norms: &[Norm::Linf, Norm::L2],
            knowledge: Knowledge::WhiteBox,
            paper: "Croce & Hein, ICML 2020 (targeted DLR, 9 target classes)",
            options: "--steps N (100), --restarts N (1 per target class)",
        },
        AttackInfo {
            name: "fab-t",
            norms: &[Norm::Linf, Norm::L2],
            knowledge: Knowledge::WhiteBox,
            paper: "Croce & Hein, ICML 2020 (targeted FAB, 9 target classes)",
            options: "--steps N (100), --restarts N (1 per target class)",
        },
        AttackInfo {
            name: "square",
            norms: &[Norm::Linf, Norm::L2],
            knowledge: Knowledge::ScoreBased,
            paper: "Andriushchenko, Croce, Flammarion & Hein, ECCV 2020",
            options: "--queries N (5000)",
        },
        AttackInfo {
            name: "autoattack",
            norms: &[Norm::Linf, Norm::L2],
            knowledge: Knowledge::WhiteBox,
            paper: "Croce & Hein, ICML 2020 (standard: APGD-CE, APGD-T, FAB-T, Square)",
            options: "--steps N (100, APGD and FAB-T), --restarts N (1), \
                      --queries N (5000, Square)",
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
        assert!(AttackConfig::from_name("autoattack", &zero_steps).is_err());
        let zero_queries = AttackOverrides { queries: Some(0), ..Default::default() };
        assert!(AttackConfig::from_name("square", &zero_queries).is_err());
    }

    #[test]
    fn configs_round_trip_through_json_and_label() {
        let overrides = AttackOverrides { steps: Some(40), loss: Some(Loss::Margin), ..Default::default() };
        let config = AttackConfig::from_name("pgd", &overrides).unwrap();
        assert_eq!(config.label(), "pgd-40-cw");
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(serde_json::from_str::<AttackConfig>(&json).unwrap(), config);
        let labels = |overrides: &AttackOverrides| {
            ["apgd-ce", "apgd-t", "fab-t", "square", "autoattack"]
                .map(|name| AttackConfig::from_name(name, overrides).unwrap().label())
        };
        let defaults = labels(&AttackOverrides::default());
        assert_eq!(defaults, ["apgd-ce", "apgd-t", "fab-t", "square", "autoattack"]);
        let changed = AttackOverrides { steps: Some(20), queries: Some(100), ..Default::default() };
        let expected = ["apgd-ce-20", "apgd-t-20", "fab-t-20", "square-100", "autoattack-custom"];
        assert_eq!(labels(&changed), expected);
        let config = AttackConfig::from_name("autoattack", &changed).unwrap();
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(serde_json::from_str::<AttackConfig>(&json).unwrap(), config);
    }
}
