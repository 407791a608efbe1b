//! Every attack as a typed, serializable value: what suites, the CLI and reports name.

use adv_core::{Knowledge, Loss, Norm};
use serde::{Deserialize, Serialize};

use crate::{
    ApgdConfig, ApgdLoss, Attack, AttackError, AutoAttackComponent, AutoAttackConfig, BimConfig,
    CarliniWagnerConfig, DeepFoolConfig, DimConfig, FabConfig, FgsmConfig, MimConfig, PgdConfig,
    Result, SquareConfig, StepSize, TiConfig,
};

/// The configuration of any attack of the catalogue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "attack", rename_all = "kebab-case")]
pub enum AttackConfig {
    /// [`crate::Fgsm`].
    Fgsm(FgsmConfig),
    /// [`crate::Pgd`].
    Pgd(PgdConfig),
    /// [`crate::Bim`].
    Bim(BimConfig),
    /// [`crate::Mim`].
    Mim(MimConfig),
    /// [`crate::Dim`].
    Dim(DimConfig),
    /// [`crate::Ti`].
    Ti(TiConfig),
    /// [`crate::DeepFool`].
    DeepFool(DeepFoolConfig),
    /// [`crate::CarliniWagner`].
    Cw(CarliniWagnerConfig),
    /// [`crate::Apgd`]: APGD-CE, APGD-DLR or APGD-T.
    Apgd(ApgdConfig),
    /// [`crate::Fab`] (FAB-T).
    Fab(FabConfig),
    /// [`crate::Square`].
    Square(SquareConfig),
    /// [`crate::AutoAttack`].
    AutoAttack(AutoAttackConfig),
}

/// Command-line style overrides of an attack's defaults; `None` keeps the default. In a file
/// (a benchmark suite) the step size is written as on the command line: `auto`, `eps/steps`,
/// `0.01` or `0.25x`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttackOverrides {
    /// Iterations.
    pub steps: Option<usize>,
    /// Step length.
    #[serde(with = "step_size_text", skip_serializing_if = "Option::is_none")]
    pub step_size: Option<StepSize>,
    /// Loss to climb.
    pub loss: Option<Loss>,
    /// Random start on or off.
    pub random_start: Option<bool>,
    /// Momentum decay (MIM, DIM, TI).
    pub decay: Option<f32>,
    /// Probability of the input-diversity transformation (DIM, TI).
    pub diversity_prob: Option<f32>,
    /// Side of the Gaussian smoothing kernel (TI).
    pub kernel_size: Option<usize>,
    /// Relative extra length of the final perturbation (DeepFool).
    pub overshoot: Option<f32>,
    /// Number of most likely classes considered (DeepFool).
    pub candidates: Option<usize>,
    /// Binary search steps over the constant (C&W).
    pub search_steps: Option<usize>,
    /// Constant of the first binary search step (C&W).
    pub initial_const: Option<f32>,
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
            "bim" | "i-fgsm" => {
                let defaults = BimConfig::default();
                AttackConfig::Bim(BimConfig {
                    steps: overrides.steps.unwrap_or(defaults.steps),
                    step_size: overrides.step_size.unwrap_or(defaults.step_size),
                    loss: overrides.loss.unwrap_or(defaults.loss),
                    ..defaults
                })
            }
            "mim" | "mi-fgsm" => {
                let defaults = MimConfig::default();
                AttackConfig::Mim(MimConfig {
                    steps: overrides.steps.unwrap_or(defaults.steps),
                    step_size: overrides.step_size.unwrap_or(defaults.step_size),
                    decay: overrides.decay.unwrap_or(defaults.decay),
                    loss: overrides.loss.unwrap_or(defaults.loss),
                    ..defaults
                })
            }
            "dim" | "di-fgsm" | "di-mim" => {
                let defaults = DimConfig::default();
                AttackConfig::Dim(DimConfig {
                    steps: overrides.steps.unwrap_or(defaults.steps),
                    step_size: overrides.step_size.unwrap_or(defaults.step_size),
                    decay: overrides.decay.unwrap_or(defaults.decay),
                    probability: overrides.diversity_prob.unwrap_or(defaults.probability),
                    loss: overrides.loss.unwrap_or(defaults.loss),
                    ..defaults
                })
            }
            "ti" | "ti-fgsm" | "ti-mim" => {
                let defaults = TiConfig::default();
                AttackConfig::Ti(TiConfig {
                    steps: overrides.steps.unwrap_or(defaults.steps),
                    step_size: overrides.step_size.unwrap_or(defaults.step_size),
                    decay: overrides.decay.unwrap_or(defaults.decay),
                    kernel_size: overrides.kernel_size.unwrap_or(defaults.kernel_size),
                    probability: overrides.diversity_prob.unwrap_or(defaults.probability),
                    loss: overrides.loss.unwrap_or(defaults.loss),
                    ..defaults
                })
            }
            "deepfool" => {
                let defaults = DeepFoolConfig::default();
                AttackConfig::DeepFool(DeepFoolConfig {
                    steps: overrides.steps.unwrap_or(defaults.steps),
                    overshoot: overrides.overshoot.unwrap_or(defaults.overshoot),
                    candidates: overrides.candidates.unwrap_or(defaults.candidates),
                })
            }
            "cw" | "cw-l2" | "carlini-wagner" => {
                let defaults = CarliniWagnerConfig::default();
                AttackConfig::Cw(CarliniWagnerConfig {
                    search_steps: overrides.search_steps.unwrap_or(defaults.search_steps),
                    steps: overrides.steps.unwrap_or(defaults.steps),
                    initial_const: overrides.initial_const.unwrap_or(defaults.initial_const),
                    ..defaults
                })
            }
            "apgd-ce" | "apgd" => AttackConfig::Apgd(apgd(ApgdConfig::default(), overrides)),
            "apgd-dlr" => AttackConfig::Apgd(apgd(
                ApgdConfig {
                    loss: ApgdLoss::Dlr,
                    ..ApgdConfig::default()
                },
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
            AttackConfig::Bim(config) => Box::new(config.init()?),
            AttackConfig::Mim(config) => Box::new(config.init()?),
            AttackConfig::Dim(config) => Box::new(config.init()?),
            AttackConfig::Ti(config) => Box::new(config.init()?),
            AttackConfig::DeepFool(config) => Box::new(config.init()?),
            AttackConfig::Cw(config) => Box::new(config.init()?),
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
            AttackConfig::Bim(config) => {
                format!("bim-{}{}", config.steps, loss_suffix(config.loss))
            }
            AttackConfig::Mim(config) => {
                format!("mim-{}{}", config.steps, loss_suffix(config.loss))
            }
            AttackConfig::Dim(config) => {
                format!("dim-{}{}", config.steps, loss_suffix(config.loss))
            }
            AttackConfig::Ti(config) => format!("ti-{}{}", config.steps, loss_suffix(config.loss)),
            AttackConfig::DeepFool(config) => format!("deepfool-{}", config.steps),
            AttackConfig::Cw(config) => format!("cw-l2-{}x{}", config.search_steps, config.steps),
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
            name: "bim",
            norms: &Norm::ALL,
            knowledge: Knowledge::WhiteBox,
            paper: "Kurakin, Goodfellow & Bengio, ICLR 2017 (workshop)",
            options: "--steps N (10), --step-size eps/steps|auto|ABS|RELx (eps/steps), --loss ce|cw",
        },
        AttackInfo {
            name: "mim",
            norms: &Norm::ALL,
            knowledge: Knowledge::WhiteBox,
            paper: "Dong et al., CVPR 2018",
            options: "--steps N (10), --step-size (eps/steps), --decay MU (1.0), --loss ce|cw",
        },
        AttackInfo {
            name: "dim",
            norms: &Norm::ALL,
            knowledge: Knowledge::WhiteBox,
            paper: "Xie et al., CVPR 2019",
            options: "--steps N (10), --step-size (eps/steps), --decay MU (1.0; 0 = DI2-FGSM), \
                      --diversity-prob P (0.5), --loss ce|cw",
        },
        AttackInfo {
            name: "ti",
            norms: &Norm::ALL,
            knowledge: Knowledge::WhiteBox,
            paper: "Dong et al., CVPR 2019",
            options: "--steps N (10), --step-size (eps/steps), --decay MU (1.0), --kernel-size K \
                      (15), --diversity-prob P (0; 0.5 = TI-DIM), --loss ce|cw",
        },
        AttackInfo {
            name: "deepfool",
            norms: &[Norm::L2, Norm::Linf],
            knowledge: Knowledge::WhiteBox,
            paper: "Moosavi-Dezfooli, Fawzi & Frossard, CVPR 2016",
            options: "--steps N (50), --overshoot O (0.02), --candidates K (10); minimal \
                      distance: --eps 1e6 reports the distances found",
        },
        AttackInfo {
            name: "cw",
            norms: &[Norm::L2],
            knowledge: Knowledge::WhiteBox,
            paper: "Carlini & Wagner, IEEE S&P 2017",
            options: "--steps N (10000), --search-steps S (9), --initial-const C (0.001), \
                      --confidence KAPPA (0); minimal distance: --eps 1e6 reports the distances found",
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

/// [`StepSize`] as the text its `FromStr` reads.
mod step_size_text {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    use crate::StepSize;

    pub fn serialize<S: Serializer>(step: &Option<StepSize>, out: S) -> Result<S::Ok, S::Error> {
        match step {
            None => out.serialize_none(),
            Some(StepSize::Auto) => out.serialize_str("auto"),
            Some(StepSize::EpsOverSteps) => out.serialize_str("eps/steps"),
            Some(StepSize::Absolute(value)) => out.serialize_str(&value.to_string()),
            Some(StepSize::Relative(value)) => out.serialize_str(&format!("{value}x")),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(input: D) -> Result<Option<StepSize>, D::Error> {
        let text = String::deserialize(input)?;
        text.parse().map(Some).map_err(D::Error::custom)
    }
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
        let zero_steps = AttackOverrides {
            steps: Some(0),
            ..Default::default()
        };
        assert!(AttackConfig::from_name("pgd", &zero_steps).is_err());
        let bad_decay = AttackOverrides {
            decay: Some(-1.0),
            ..Default::default()
        };
        assert!(AttackConfig::from_name("mim", &bad_decay).is_err());
        let bad_kernel = AttackOverrides {
            kernel_size: Some(4),
            ..Default::default()
        };
        assert!(AttackConfig::from_name("ti", &bad_kernel).is_err());
        let bad_overshoot = AttackOverrides {
            overshoot: Some(-0.5),
            ..Default::default()
        };
        assert!(AttackConfig::from_name("deepfool", &bad_overshoot).is_err());
        let bad_const = AttackOverrides {
            initial_const: Some(0.0),
            ..Default::default()
        };
        assert!(AttackConfig::from_name("cw", &bad_const).is_err());
        assert!(AttackConfig::from_name("autoattack", &zero_steps).is_err());
        let zero_queries = AttackOverrides {
            queries: Some(0),
            ..Default::default()
        };
        assert!(AttackConfig::from_name("square", &zero_queries).is_err());
    }

    #[test]
    fn configs_round_trip_through_json_and_label() {
        let overrides = AttackOverrides {
            steps: Some(40),
            loss: Some(Loss::Margin),
            ..Default::default()
        };
        let config = AttackConfig::from_name("pgd", &overrides).unwrap();
        assert_eq!(config.label(), "pgd-40-cw");
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(serde_json::from_str::<AttackConfig>(&json).unwrap(), config);
        let overrides = AttackOverrides {
            decay: Some(0.5),
            diversity_prob: Some(0.25),
            kernel_size: Some(7),
            ..Default::default()
        };
        for name in ["bim", "mim", "dim", "ti"] {
            let config = AttackConfig::from_name(name, &overrides).unwrap();
            assert_eq!(config.label(), format!("{name}-10"));
            let json = serde_json::to_string(&config).unwrap();
            assert_eq!(serde_json::from_str::<AttackConfig>(&json).unwrap(), config);
        }
        let AttackConfig::Ti(ti) = AttackConfig::from_name("ti", &overrides).unwrap() else {
            panic!("ti builds a TiConfig");
        };
        assert_eq!((ti.decay, ti.probability, ti.kernel_size), (0.5, 0.25, 7));
        let overrides = AttackOverrides {
            steps: Some(20),
            overshoot: Some(0.1),
            candidates: Some(3),
            search_steps: Some(4),
            initial_const: Some(0.5),
            ..Default::default()
        };
        let deepfool = AttackConfig::from_name("deepfool", &overrides).unwrap();
        assert_eq!(
            deepfool,
            AttackConfig::DeepFool(DeepFoolConfig {
                steps: 20,
                overshoot: 0.1,
                candidates: 3
            })
        );
        assert_eq!(deepfool.label(), "deepfool-20");
        let cw = AttackConfig::from_name("cw-l2", &overrides).unwrap();
        assert_eq!(cw.label(), "cw-l2-4x20");
        let json = serde_json::to_string(&cw).unwrap();
        assert_eq!(serde_json::from_str::<AttackConfig>(&json).unwrap(), cw);
        let labels = |overrides: &AttackOverrides| {
            ["apgd-ce", "apgd-t", "fab-t", "square", "autoattack"]
                .map(|name| AttackConfig::from_name(name, overrides).unwrap().label())
        };
        let defaults = labels(&AttackOverrides::default());
        assert_eq!(
            defaults,
            ["apgd-ce", "apgd-t", "fab-t", "square", "autoattack"]
        );
        let changed = AttackOverrides {
            steps: Some(20),
            queries: Some(100),
            ..Default::default()
        };
        let expected = [
            "apgd-ce-20",
            "apgd-t-20",
            "fab-t-20",
            "square-100",
            "autoattack-custom",
        ];
        assert_eq!(labels(&changed), expected);
        let config = AttackConfig::from_name("autoattack", &changed).unwrap();
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(serde_json::from_str::<AttackConfig>(&json).unwrap(), config);
    }

    #[test]
    fn overrides_read_from_files_with_step_sizes_as_text() {
        let overrides: AttackOverrides =
            serde_json::from_str(r#"{"steps": 20, "step_size": "0.25x", "restarts": 2}"#).unwrap();
        assert_eq!(overrides.steps, Some(20));
        assert_eq!(overrides.step_size, Some(StepSize::Relative(0.25)));
        let json = serde_json::to_string(&overrides).unwrap();
        assert_eq!(
            serde_json::from_str::<AttackOverrides>(&json).unwrap(),
            overrides
        );
        assert!(serde_json::from_str::<AttackOverrides>(r#"{"stepz": 20}"#).is_err());
        assert!(serde_json::from_str::<AttackOverrides>(r#"{"step_size": "fast"}"#).is_err());
    }
}
