use adv_core::{CoreError, Knowledge, Norm, OptionError};

/// Errors of `adv-attacks`.
#[derive(Debug, thiserror::Error)]
pub enum AttackError {
    /// An invalid threat model, data or argument from `adv-core`.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// An attack configuration outside its domain.
    #[error("{attack}: {problem}")]
    InvalidConfig {
        /// The attack.
        attack: String,
        /// What is wrong.
        problem: String,
    },
    /// The attack does not support the threat model's norm.
    #[error("{attack} does not support the {norm} norm (it supports {supported})")]
    UnsupportedNorm {
        /// The attack.
        attack: String,
        /// The norm asked for.
        norm: Norm,
        /// The norms it supports.
        supported: String,
    },
    /// An attack name that is not in the catalogue.
    #[error("unknown attack '{0}' (run `adv-bench attacks` for the list)")]
    UnknownAttack(String),
    /// The attack produced NaN or infinite inputs (usually a model whose gradients blew up).
    #[error("{0} produced non-finite inputs")]
    NonFinite(String),
    /// The model's clean logits are NaN or infinite: broken weights or normalization, which
    /// would otherwise read as a plausible accuracy (argmax of NaN is class 0).
    #[error(
        "the model's logits for sample {sample} are not finite ({value}): its weights or its \
         normalization are broken"
    )]
    NonFiniteLogits {
        /// The sample's index in its data set.
        sample: u64,
        /// The first non-finite logit.
        value: f32,
    },
    /// Arguments that do not fit together, such as batch sizes.
    #[error("{0}")]
    Mismatch(String),
    /// An unknown option or a value outside its range.
    #[error(transparent)]
    Option(OptionError),
    /// A query that would take a sample past the threat model's query budget.
    #[error("sample {sample} has spent its budget of {budget} queries")]
    BudgetExhausted {
        /// The sample's index in its data set.
        sample: u64,
        /// The budget.
        budget: u64,
    },
    /// An attack that needs more access to the model than the threat model grants.
    #[error("{attack} needs {needs:?} access, and the threat model grants only {allowed:?}")]
    KnowledgeExceeded {
        /// The attack.
        attack: String,
        /// The access it needs.
        needs: Knowledge,
        /// What the threat model allows.
        allowed: Knowledge,
    },
    /// Two configurations that a report would show under one label.
    #[error(
        "two attacks are labelled '{label}' ({first} and {second}): a leaderboard would merge them"
    )]
    DuplicateLabel {
        /// The label.
        label: String,
        /// The first configuration.
        first: String,
        /// The second.
        second: String,
    },
}

impl AttackError {
    /// An [`AttackError::InvalidConfig`] for `attack`.
    pub fn config(attack: &str, problem: impl Into<String>) -> Self {
        Self::InvalidConfig {
            attack: attack.to_owned(),
            problem: problem.into(),
        }
    }
}

/// Result alias of `adv-attacks`.
pub type Result<T> = std::result::Result<T, AttackError>;
