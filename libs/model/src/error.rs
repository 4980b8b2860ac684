//! The one small error kind every Sortie error maps to.
//!
//! Each library keeps its own error enum; each of those enums says which kind an error
//! is, and the kind alone decides the HTTP status and what a bus consumer does with the
//! message that caused it.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The input is wrong and retrying it unchanged will not help.
    BadRequest,
    /// The thing asked for does not exist.
    NotFound,
    /// The request conflicts with the current state (an illegal transition, a duplicate).
    Conflict,
    /// A fenced write carried a stale lease epoch.
    StaleEpoch,
    /// The caller may not do this.
    Forbidden,
    /// A dependency (database, bus) is not answering; retrying later may help.
    Unavailable,
    /// A limit ran out.
    Timeout,
    /// A bug or an invariant broken; retrying will not help.
    Internal,
}

/// What a bus consumer does with a message whose handling failed with this kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryDecision {
    /// The effect is done (or can never be done and has been recorded): acknowledge.
    Ack,
    /// Try again later: negative-acknowledge with a delay.
    Retry,
    /// The message can never be applied: terminate its delivery.
    Terminate,
}

impl ErrorKind {
    /// The HTTP status an API answers with for this kind.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::BadRequest => 400,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict | ErrorKind::StaleEpoch => 409,
            ErrorKind::Internal => 500,
            ErrorKind::Unavailable => 503,
            ErrorKind::Timeout => 504,
        }
    }

    /// What a consumer does with a message that failed with this kind.
    pub fn delivery_decision(self) -> DeliveryDecision {
        match self {
            ErrorKind::Unavailable | ErrorKind::Timeout => DeliveryDecision::Retry,
            // A stale or conflicting message has been refused and audited: it is done.
            ErrorKind::StaleEpoch | ErrorKind::Conflict => DeliveryDecision::Ack,
            ErrorKind::BadRequest
            | ErrorKind::NotFound
            | ErrorKind::Forbidden
            | ErrorKind::Internal => DeliveryDecision::Terminate,
        }
    }

    pub fn is_retryable(self) -> bool {
        self.delivery_decision() == DeliveryDecision::Retry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unavailable_and_timeout_are_retried() {
        let all = [
            ErrorKind::BadRequest,
            ErrorKind::NotFound,
            ErrorKind::Conflict,
            ErrorKind::StaleEpoch,
            ErrorKind::Forbidden,
            ErrorKind::Unavailable,
            ErrorKind::Timeout,
            ErrorKind::Internal,
        ];
        let retried: Vec<_> = all.into_iter().filter(|kind| kind.is_retryable()).collect();
        assert_eq!(retried, vec![ErrorKind::Unavailable, ErrorKind::Timeout]);
    }

    #[test]
    fn stale_epoch_is_a_conflict_for_http() {
        assert_eq!(ErrorKind::StaleEpoch.http_status(), 409);
        assert_eq!(
            ErrorKind::StaleEpoch.delivery_decision(),
            DeliveryDecision::Ack
        );
    }
}
