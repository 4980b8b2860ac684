//! The validator's one error type.

use sortie_model::ErrorKind;

#[derive(Debug, thiserror::Error)]
pub enum ValidatorError {
    #[error(transparent)]
    Bus(#[from] sortie_bus::BusError),
    #[error(transparent)]
    Git(#[from] sortie_git::GitError),
    #[error("cannot start: {0}")]
    Start(String),
}

impl ValidatorError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ValidatorError::Bus(error) => error.kind(),
            ValidatorError::Git(error) => error.kind(),
            ValidatorError::Start(_) => ErrorKind::Internal,
        }
    }
}

pub type Result<T, E = ValidatorError> = std::result::Result<T, E>;
