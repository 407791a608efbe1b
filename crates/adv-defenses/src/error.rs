use adv_models::ModelError;

/// Errors of `adv-defenses`.
#[derive(Debug, thiserror::Error)]
pub enum DefenseError {
    /// A training or defense setting outside its domain.
    #[error("invalid training configuration: {0}")]
    InvalidConfig(String),
    /// The model could not be built.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// An attack of the inner maximization or of the evaluation.
    #[error(transparent)]
    Attack(#[from] adv_attacks::AttackError),
    /// A threat model outside its domain.
    #[error(transparent)]
    Core(#[from] adv_core::CoreError),
    /// The training loss became NaN or infinite.
    #[error("training diverged in epoch {epoch}: the loss is not finite (lower the learning rate)")]
    Diverged {
        /// The epoch, from 1.
        epoch: usize,
    },
}

/// Result alias of `adv-defenses`.
pub type Result<T> = std::result::Result<T, DefenseError>;
