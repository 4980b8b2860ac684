use sortie_model::ErrorKind;
use sortie_model::state::IllegalTransition;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("{what} not found")]
    NotFound { what: String },
    #[error(transparent)]
    IllegalTransition(#[from] IllegalTransition),
    #[error(
        "stale lease epoch for {what}: the write carried epoch {presented}, the ledger holds {current}"
    )]
    StaleEpoch {
        what: String,
        presented: i64,
        current: i64,
    },
    #[error("the lease of {what} has expired")]
    LeaseExpired { what: String },
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("invalid change: {0}")]
    Invalid(String),
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("the ledger holds data this build cannot read: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(String),
}

impl LedgerError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            LedgerError::NotFound { .. } => ErrorKind::NotFound,
            LedgerError::IllegalTransition(_) | LedgerError::Conflict(_) => ErrorKind::Conflict,
            LedgerError::StaleEpoch { .. } | LedgerError::LeaseExpired { .. } => {
                ErrorKind::StaleEpoch
            }
            LedgerError::Invalid(_) => ErrorKind::BadRequest,
            LedgerError::Unavailable(_) => ErrorKind::Unavailable,
            LedgerError::Corrupt(_) | LedgerError::Database(_) => ErrorKind::Internal,
        }
    }

    pub(crate) fn not_found(what: impl Into<String>) -> Self {
        LedgerError::NotFound { what: what.into() }
    }
}

pub type LedgerResult<T> = Result<T, LedgerError>;
