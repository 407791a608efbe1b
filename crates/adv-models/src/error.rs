use std::path::PathBuf;

/// Errors of `adv-models`.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// An architecture configuration that cannot be built.
    #[error("invalid model configuration: {0}")]
    InvalidConfig(String),
    /// A checkpoint that cannot be read, written or applied.
    #[error("checkpoint {}: {problem}", path.display())]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What went wrong.
        problem: String,
    },
}

impl ModelError {
    /// A [`ModelError::Checkpoint`] for `path`.
    pub fn checkpoint(path: impl Into<PathBuf>, problem: impl ToString) -> Self {
        Self::Checkpoint {
            path: path.into(),
            problem: problem.to_string(),
        }
    }
}

/// Result alias of `adv-models`.
pub type Result<T> = std::result::Result<T, ModelError>;
