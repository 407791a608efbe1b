use std::path::PathBuf;

/// Errors of `adv-core`: invalid threat models and arguments, unreadable data, unknown backends.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// An epsilon that is NaN, infinite or negative.
    #[error("invalid epsilon {0}: it must be finite and non-negative")]
    InvalidEpsilon(f32),
    /// Input bounds whose lower end is not below the upper end.
    #[error("invalid input bounds [{lower}, {upper}]: lower must be finite and below upper")]
    InvalidBounds {
        /// Lower bound given.
        lower: f32,
        /// Upper bound given.
        upper: f32,
    },
    /// A query or iteration budget of zero.
    #[error("invalid budget: a {0} budget must be at least 1")]
    ZeroBudget(&'static str),
    /// Any other argument outside its domain.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A goal that needs target labels got none.
    #[error("the {0} goal needs target labels, and none were given")]
    MissingTargets(&'static str),
    /// A data file that is corrupt, truncated or inconsistent.
    #[error("{}: {problem}", path.display())]
    Data {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// An I/O failure on a named file.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file being read or written.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A backend or device that is unknown or not compiled in.
    #[error("backend: {0}")]
    Backend(String),
}

impl CoreError {
    /// Builds a [`CoreError::Data`] for `path`.
    pub fn data(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        Self::Data {
            path: path.into(),
            problem: problem.into(),
        }
    }

    /// Builds a [`CoreError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result alias of `adv-core`.
pub type Result<T> = std::result::Result<T, CoreError>;
