//! Adversarial attacks on image classifiers, written once for every Burn backend.
//!
//! An attack implements [`Attack::run`]; the harness [`attack_batch`] selects the samples worth
//! attacking, chooses targets, projects the result onto the threat model and decides success
//! from the model's own predictions.
//!
//! | attack | paper | norms |
//! | --- | --- | --- |
//! | [`Fgsm`] | Goodfellow et al., ICLR 2015 | Linf, L2 |
//! | [`Pgd`] | Madry et al., ICLR 2018 | Linf, L2, L1 |
//! | [`Apgd`] (APGD-CE, APGD-DLR, APGD-T) | Croce & Hein, ICML 2020 | Linf, L2 |
//! | [`Fab`] (FAB-T) | Croce & Hein, ICML 2020 | Linf, L2 |
//! | [`Square`] | Andriushchenko et al., ECCV 2020 | Linf, L2 |
//! | [`AutoAttack`] | Croce & Hein, ICML 2020 | Linf, L2 |
#![warn(missing_docs)]

mod apgd;
mod attack;
mod autoattack;
mod catalogue;
mod error;
mod fab;
mod fgsm;
mod gradient;
mod harness;
mod pgd;
mod square;
mod subset;

pub use apgd::{Apgd, ApgdConfig, ApgdLoss, apgd_checkpoints, dlr_loss, targeted_dlr_loss};
pub use attack::{Attack, AttackInput, NoObserver, StepObserver};
pub use autoattack::{AutoAttack, AutoAttackComponent, AutoAttackConfig};
pub use catalogue::{AttackConfig, AttackInfo, AttackOverrides, catalogue};
pub use error::{AttackError, Result};
pub use fab::{Fab, FabConfig, project_on_hyperplane};
pub use fgsm::{Fgsm, FgsmConfig};
pub use gradient::StepSize;
pub use harness::{BatchOutcome, RunOptions, attack_batch};
pub use pgd::{Pgd, PgdConfig};
pub use square::{Square, SquareConfig, square_p_schedule};
