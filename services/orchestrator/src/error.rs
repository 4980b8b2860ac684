use sortie_bus::BusError;
use sortie_git::GitError;
use sortie_ledger::LedgerError;
use sortie_model::ErrorKind;

#[derive(Debug, thiserror::Error)]
pub enum OrchestratorError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("{0}")]
    BadRequest(String),
    #[error("cannot start: {0}")]
    Start(String),
}

impl OrchestratorError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            OrchestratorError::Ledger(error) => error.kind(),
            OrchestratorError::Bus(error) => error.kind(),
            OrchestratorError::Git(error) => error.kind(),
            OrchestratorError::BadRequest(_) => ErrorKind::BadRequest,
            OrchestratorError::Start(_) => ErrorKind::Unavailable,
        }
    }
}

pub type Result<T, E = OrchestratorError> = std::result::Result<T, E>;
