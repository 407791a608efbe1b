//! Adversarial attacks on image classifiers, written once for every Burn backend.
//!
//! An attack declares itself ([`AttackInfo`]: name, paper, norms, access, options) and writes
//! its update step ([`Iterative`]); the [`Harness`] does everything else: the clean pass, the
//! targets, the loop, the verdict on every iterate, the best example of each sample, dropping
//! fooled samples from the batch, query budgets, and the final verification of every example by
//! the model itself. [`registry`] lists every attack; `adv-bench attacks` prints it, and
//! docs/attacks.md holds its [`markdown_reference`].
//!
//! ```
//! use adv_attacks::{Attack, AttackConfig, PgdConfig};
//! let pgd = PgdConfig { steps: 20, ..Default::default() }.init().unwrap();
//! assert_eq!(pgd.info().name, "pgd");
//! let same = AttackConfig::parse("pgd:steps=20").unwrap();
//! assert_eq!(same.label(), "pgd-20");
//! ```
//!
//! Attacks see the model through one of three views ([`WhiteBox`], [`ScoreOracle`],
//! [`DecisionOracle`]); adaptive attacks on randomized or non-differentiable defenses wrap the
//! model instead: [`Eot`] averages gradients over draws, [`Bpda`] replaces a preprocessing's
//! backward pass.
#![warn(missing_docs)]

mod access;
mod attack;
mod bpda;
mod eot;
mod error;
mod gradient;
mod registry;
mod session;
mod tracker;

pub use access::{
    Access, DecisionOracle, Decisions, Gradients, Meter, ScoreOracle, Scores, WhiteBox,
};
pub use attack::{
    Attack, AttackInfo, Iterative, Keep, Observed, Rows, Shared, Start, Step, StepInfo,
};
pub use bpda::{Bpda, Surrogate};
pub use eot::Eot;
pub use error::{AttackError, Result};
pub use gradient::{AscentLoss, AscentState, StepSize};
pub use registry::{
    AttackConfig, AttackListing, all_options, apply_shared, check_unique_labels, find, listing,
    markdown_reference,
};
pub use session::{
    BatchOutcome, CleanPass, Context, Harness, Mode, Pick, RANKED_CLASSES, RunOptions, Session,
    attack_batch, check_plan,
};
pub use tracker::FirstSuccess;

/// Declares the attack modules: each is one file defining its config, its attack and
/// `ATTACKS` (its declarations); its public items are re-exported here and its declarations
/// join the [`registry`]. Adding an attack is one file and one line of this list.
macro_rules! attacks {
    ($($module:ident),* $(,)?) => {
        $(mod $module; pub use $module::*;)*

        /// Every attack of the crate, in listing order.
        pub fn registry() -> Vec<&'static AttackInfo> {
            let mut all = Vec::new();
            $(all.extend_from_slice($module::ATTACKS);)*
            all
        }
    };
}

attacks! {
    fgsm,
    bim,
    pgd,
    mim,
    dim,
    ti,
    deepfool,
    cw,
    apgd,
    fab,
    square,
    autoattack,
    noise,
    nes,
    spsa,
    zoo,
    nattack,
    hopskipjump,
    boundary,
    evolutionary,
}
