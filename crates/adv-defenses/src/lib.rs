//! Training and defenses for adversarial robustness.
//!
//! One training loop ([`train`], [`train_with`]) for every objective of the registry
//! ([`objectives`]): standard training, PGD-AT, TRADES, MART, ALP, Fast-AT, Free-AT, Ens-AT,
//! MMC, MMLDA, center loss, L-GM and the three ADT variants (ADT-EXP, ADT-EXPAM, ADT-IMPAM).
//! Each
//! objective declares its options once, like the attacks of `adv-attacks`; its adversarial
//! examples are crafted by the attack harness in generation mode. Every setting that decides
//! robustness is a field of [`TrainConfig`] (objective and options, optimizer, learning rate
//! and schedule, warm-ups, weight decay, label smoothing, batch-norm mode while crafting,
//! held-out split and early stopping, seed), recorded beside the checkpoint.
#![warn(missing_docs)]

mod center_heads;
mod crafting;
mod error;
mod generator;
mod objective;
mod record;
mod train;
mod trainer;

pub use crafting::BnMode;
pub use error::{DefenseError, Result};
pub use objective::{
    Objective, ObjectiveConfig, ObjectiveInfo, StepContext, StepLoss, all_objective_options,
    apply_shared, find, markdown_reference,
};
pub use record::TrainingRecord;
pub use train::{EarlyStopping, LrSchedule, Optimizer, TrainConfig, smoothed_cross_entropy};
pub use trainer::{EpochStats, TrainRun, Trained, data_hash, train, train_with};

/// `KL(softmax(reference) || softmax(logits))` per row (re-exported from `adv-core`).
pub use adv_core::kl_divergence;

/// Declares the objective modules: each is one file defining its config, its objective and
/// `OBJECTIVES`; its public items are re-exported here and its declarations join the
/// [`objectives`] registry. Adding an objective is one file and one line of this list.
macro_rules! objectives {
    ($($module:ident),* $(,)?) => {
        $(mod $module; pub use $module::*;)*

        /// Every objective, in listing order.
        pub fn objectives() -> Vec<&'static ObjectiveInfo> {
            let mut all = Vec::new();
            $(all.extend_from_slice($module::OBJECTIVES);)*
            all
        }
    };
}

objectives! {
    standard,
    pgd_at,
    trades,
    mart,
    alp,
    fast_at,
    free_at,
    ens_at,
    mmc,
    mmlda,
    center_loss,
    l_gm,
    adt_exp,
    adt_expam,
    adt_impam,
}
