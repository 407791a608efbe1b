//! Adversarial attacks on image classifiers, written once for every Burn backend.
//!
//! An attack implements [`Attack::run`]; the harness [`attack_batch`] selects the samples worth
//! attacking, chooses targets, projects the result onto the threat model and decides success
//! from the model's own predictions.
//!
//! | attack | paper | norms |
//! | --- | --- | --- |
//! | [`Fgsm`] | Goodfellow et al., ICLR 2015 | Linf, L2 |
//! | [`Bim`] | Kurakin et al., ICLR 2017 (workshop) | Linf, L2, L1 |
//! | [`Pgd`] | Madry et al., ICLR 2018 | Linf, L2, L1 |
//! | [`Mim`] | Dong et al., CVPR 2018 | Linf, L2, L1 |
//! | [`Dim`] | Xie et al., CVPR 2019 | Linf, L2, L1 |
//! | [`Ti`] | Dong et al., CVPR 2019 | Linf, L2, L1 |
//! | [`DeepFool`] | Moosavi-Dezfooli et al., CVPR 2016 | L2, Linf |
//! | [`CarliniWagner`] | Carlini & Wagner, IEEE S&P 2017 | L2 |
//! | [`Apgd`] (APGD-CE, APGD-DLR, APGD-T) | Croce & Hein, ICML 2020 | Linf, L2 |
//! | [`Fab`] (FAB-T) | Croce & Hein, ICML 2020 | Linf, L2 |
//! | [`Square`] | Andriushchenko et al., ECCV 2020 | Linf, L2 |
//! | [`AutoAttack`] | Croce & Hein, ICML 2020 | Linf, L2 |
//!
//! Adaptive attacks on randomized or non-differentiable defenses wrap the model instead:
//! [`Eot`] averages gradients over draws, [`Bpda`] replaces a preprocessing's backward pass.
#![warn(missing_docs)]

mod apgd;
mod attack;
mod autoattack;
mod bim;
mod bpda;
mod catalogue;
mod cw;
mod deepfool;
mod dim;
mod eot;
mod error;
mod fab;
mod fgsm;
mod gradient;
mod harness;
mod mim;
mod pgd;
mod square;
mod subset;
mod ti;

pub use apgd::{Apgd, ApgdConfig, ApgdLoss, apgd_checkpoints, dlr_loss, targeted_dlr_loss};
pub use attack::{Attack, AttackInput, NoObserver, StepObserver};
pub use autoattack::{AutoAttack, AutoAttackComponent, AutoAttackConfig};
pub use bim::{Bim, BimConfig};
pub use bpda::{Bpda, Surrogate};
pub use catalogue::{AttackConfig, AttackInfo, AttackOverrides, catalogue};
pub use cw::{CarliniWagner, CarliniWagnerConfig};
pub use deepfool::{DeepFool, DeepFoolConfig};
pub use dim::{Dim, DimConfig};
pub use eot::Eot;
pub use error::{AttackError, Result};
pub use fab::{Fab, FabConfig, project_on_hyperplane};
pub use fgsm::{Fgsm, FgsmConfig};
pub use gradient::StepSize;
pub use harness::{BatchOutcome, RunOptions, attack_batch, check_norm};
pub use mim::{Mim, MimConfig};
pub use pgd::{Pgd, PgdConfig};
pub use square::{Square, SquareConfig, square_p_schedule};
pub use ti::{Ti, TiConfig};
