use std::path::PathBuf;

use adv_attacks::AttackError;
use adv_core::CoreError;
use adv_defenses::DefenseError;
use adv_models::ModelError;

/// Errors of `adv-bench`: anything the lower crates report, plus files and arguments.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Threat model, data or backend.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// An attack configuration or run.
    #[error(transparent)]
    Attack(#[from] AttackError),
    /// A model or checkpoint.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// Training.
    #[error(transparent)]
    Defense(#[from] DefenseError),
    /// A file that cannot be written or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A command-line or plan argument outside its domain.
    #[error("{0}")]
    InvalidArgument(String),
}

impl BenchError {
    /// A [`BenchError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result alias of `adv-bench`.
pub type Result<T> = std::result::Result<T, BenchError>;
