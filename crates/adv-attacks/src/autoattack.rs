//! AutoAttack: an ensemble of parameter-free attacks run one after the other, each on the
//! samples no earlier attack has broken, so that a sample counts as robust only if it survives
//! them all (the per-sample worst case). Croce & Hein, "Reliable evaluation of adversarial
//! robustness with an ensemble of diverse parameter-free attacks", ICML 2020.
//!
//! The standard version of the reference (fra31/auto-attack, `version='standard'`) runs
//! APGD-CE (100 iterations, 1 restart), APGD-T (targeted DLR, 100 iterations, the 9 most likely
//! other classes), FAB-T (9 target classes) and Square (5000 queries) in that order, and so
//! does [`AutoAttackConfig::default`]; [`AutoAttack::new`] runs any list of attacks the same way.
//!
//! ```
//! use adv_attacks::{Attack, AutoAttackConfig};
//! let autoattack = AutoAttackConfig::default().init().unwrap();
//! assert_eq!(autoattack.info().name, "autoattack");
//! ```

use adv_core::{Knowledge, Norm};

use crate::{
    ApgdConfig, ApgdTConfig, Attack, AttackError, AttackInfo, FabConfig, Result, Session,
    SquareConfig,
};

adv_core::options! {
    /// Configuration of the standard [`AutoAttack`].
    pub struct AutoAttackConfig {
        /// Iterations of APGD-CE, APGD-T and FAB-T.
        steps: usize [Domain::AtLeast(1.0), Label::Changed] = 100,
        /// Restarts of APGD-CE, and per target class of APGD-T and FAB-T.
        restarts: usize [Domain::AtLeast(1.0), Label::Changed] = 1,
        /// Query budget of Square per sample.
        queries: u64 [Domain::AtLeast(1.0), Label::Changed] = 5000,
    }
}

impl AutoAttackConfig {
    /// The standard ensemble with these settings: APGD-CE, APGD-T (9 targets), FAB-T (9
    /// targets), Square.
    pub fn init(&self) -> Result<AutoAttack> {
        adv_core::Options::check_domains(self)
            .map_err(|problem| AttackError::config(INFO.name, problem))?;
        let (steps, restarts) = (self.steps, self.restarts);
        AutoAttack::new(vec![
            Box::new(
                ApgdConfig {
                    steps,
                    restarts,
                    ..ApgdConfig::default()
                }
                .ce()?,
            ),
            Box::new(
                ApgdTConfig {
                    steps,
                    restarts,
                    ..ApgdTConfig::default()
                }
                .init()?,
            ),
            Box::new(
                FabConfig {
                    steps,
                    restarts,
                    ..FabConfig::default()
                }
                .init()?,
            ),
            Box::new(
                SquareConfig {
                    queries: self.queries,
                    ..SquareConfig::default()
                }
                .init()?,
            ),
        ])
    }
}

/// The AutoAttack ensemble (Linf, L2): its attacks in order, each on the samples no earlier one
/// broke.
pub struct AutoAttack {
    attacks: Vec<Box<dyn Attack>>,
}

impl AutoAttack {
    /// An ensemble of `attacks` run in order (at least one; each must support the norms the
    /// ensemble is run under).
    pub fn new(attacks: Vec<Box<dyn Attack>>) -> Result<Self> {
        if attacks.is_empty() {
            return Err(AttackError::config(
                INFO.name,
                "the ensemble needs at least one attack",
            ));
        }
        Ok(Self { attacks })
    }
}

impl std::fmt::Debug for AutoAttack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self.attacks.iter().map(|a| a.info().name).collect();
        f.debug_struct("AutoAttack")
            .field("attacks", &names)
            .finish()
    }
}

pub(crate) static INFO: AttackInfo = AttackInfo {
    name: "autoattack",
    aliases: &["aa"],
    paper: "Croce & Hein, ICML 2020 (standard: APGD-CE, APGD-T, FAB-T, Square)",
    norms: &[Norm::Linf, Norm::L2],
    access: Knowledge::WhiteBox,
    targeted: true,
    minimizes_distance: false,
    config: adv_core::ConfigFns::of::<AutoAttackConfig>(),
    build: |settings| {
        Ok(Box::new(
            adv_core::configure::<AutoAttackConfig>("autoattack", settings)?.init()?,
        ))
    },
};

pub(crate) const ATTACKS: &[&AttackInfo] = &[&INFO];

impl Attack for AutoAttack {
    fn info(&self) -> &'static AttackInfo {
        &INFO
    }

    /// Every attack in turn on the same session: the harness keeps the samples each one
    /// broke out of the next.
    fn run(&self, session: &mut Session<'_>) -> Result<()> {
        for attack in &self.attacks {
            if session.remaining() == 0 {
                break;
            }
            attack.run(session)?;
        }
        Ok(())
    }
}
