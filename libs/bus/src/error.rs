//! The bus's one error type, and how the NATS client's errors map to it.

use std::fmt::{Debug, Display};

use async_nats::jetstream;
use async_nats::jetstream::consumer::StreamErrorKind;
use async_nats::jetstream::consumer::pull::{BatchErrorKind, OrderedErrorKind};
use async_nats::jetstream::context::{
    CreateStreamErrorKind, GetStreamErrorKind, PublishErrorKind, RequestErrorKind,
};
use async_nats::jetstream::stream::ConsumerErrorKind;
use sortie_ledger::LedgerError;
use sortie_model::ErrorKind;

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("cannot connect to nats at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: async_nats::ConnectError,
    },
    #[error("invalid bus prefix {prefix:?}: {reason}")]
    InvalidPrefix {
        prefix: String,
        reason: &'static str,
    },
    #[error("invalid message: {0}")]
    InvalidMessage(String),
    #[error("the message is {size} bytes, more than the bus takes ({limit} bytes)")]
    TooLarge { size: usize, limit: usize },
    #[error("{operation} timed out: {detail}")]
    Timeout {
        operation: &'static str,
        detail: String,
    },
    #[error("{operation} failed, nats is unavailable: {detail}")]
    Unavailable {
        operation: &'static str,
        detail: String,
    },
    #[error("nothing answers requests on {subject}: is its service running?")]
    NoResponders { subject: String },
    #[error("no stream takes subject {subject}: the bus topology is missing")]
    NoStream { subject: String },
    #[error("{operation} was refused by jetstream: {detail}")]
    Refused {
        operation: &'static str,
        detail: String,
    },
    #[error("a delivery is malformed: {0}")]
    MalformedDelivery(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl BusError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            BusError::Connect { .. }
            | BusError::Unavailable { .. }
            | BusError::NoStream { .. }
            | BusError::NoResponders { .. } => ErrorKind::Unavailable,
            BusError::InvalidPrefix { .. }
            | BusError::InvalidMessage(_)
            | BusError::TooLarge { .. } => ErrorKind::BadRequest,
            BusError::Timeout { .. } => ErrorKind::Timeout,
            BusError::Refused { .. } | BusError::MalformedDelivery(_) => ErrorKind::Internal,
            BusError::Ledger(error) => error.kind(),
        }
    }

    /// Map an error of the NATS client by what its kind says about retrying.
    pub(crate) fn nats<K>(operation: &'static str, error: async_nats::error::Error<K>) -> Self
    where
        K: Clone + Debug + Display + PartialEq + Classify,
    {
        let detail = error.to_string();
        match error.kind().class(&error) {
            Class::Timeout => BusError::Timeout { operation, detail },
            Class::Unavailable => BusError::Unavailable { operation, detail },
            Class::Refused => BusError::Refused { operation, detail },
        }
    }

    /// Map an error of an acknowledgement, which the client reports untyped.
    pub(crate) fn acknowledgement(operation: &'static str, error: &async_nats::Error) -> Self {
        let detail = error.to_string();
        let timed_out = error
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut);
        if timed_out {
            BusError::Timeout { operation, detail }
        } else {
            BusError::Unavailable { operation, detail }
        }
    }

    pub(crate) fn timeout(operation: &'static str, after: std::time::Duration) -> Self {
        BusError::Timeout {
            operation,
            detail: format!("no answer within {after:?}"),
        }
    }
}

/// What an error of the NATS client says about retrying.
pub(crate) enum Class {
    Timeout,
    /// The server or the connection is not there; later may work.
    Unavailable,
    /// The server answered no; the same request will get the same answer.
    Refused,
}

pub(crate) trait Classify {
    fn class<K>(&self, error: &async_nats::error::Error<K>) -> Class
    where
        K: Clone + Debug + Display + PartialEq;
}

/// The JetStream API error an error was caused by, if any.
pub(crate) fn jetstream_error<K>(error: &async_nats::error::Error<K>) -> Option<&jetstream::Error>
where
    K: Clone + Debug + Display + PartialEq,
{
    std::error::Error::source(error)?.downcast_ref::<jetstream::Error>()
}

impl Classify for CreateStreamErrorKind {
    fn class<K>(&self, _error: &async_nats::error::Error<K>) -> Class
    where
        K: Clone + Debug + Display + PartialEq,
    {
        match self {
            CreateStreamErrorKind::TimedOut => Class::Timeout,
            CreateStreamErrorKind::JetStreamUnavailable | CreateStreamErrorKind::Response => {
                Class::Unavailable
            }
            _ => Class::Refused,
        }
    }
}

impl Classify for ConsumerErrorKind {
    fn class<K>(&self, _error: &async_nats::error::Error<K>) -> Class
    where
        K: Clone + Debug + Display + PartialEq,
    {
        match self {
            ConsumerErrorKind::TimedOut => Class::Timeout,
            ConsumerErrorKind::Request => Class::Unavailable,
            _ => Class::Refused,
        }
    }
}

impl Classify for PublishErrorKind {
    fn class<K>(&self, error: &async_nats::error::Error<K>) -> Class
    where
        K: Clone + Debug + Display + PartialEq,
    {
        match self {
            PublishErrorKind::TimedOut => Class::Timeout,
            PublishErrorKind::StreamNotFound
            | PublishErrorKind::BrokenPipe
            | PublishErrorKind::MaxAckPending => Class::Unavailable,
            // `Other` is either the server's refusal or a connection that went away.
            PublishErrorKind::Other if jetstream_error(error).is_none() => Class::Unavailable,
            _ => Class::Refused,
        }
    }
}

impl Classify for RequestErrorKind {
    fn class<K>(&self, _error: &async_nats::error::Error<K>) -> Class
    where
        K: Clone + Debug + Display + PartialEq,
    {
        match self {
            RequestErrorKind::TimedOut => Class::Timeout,
            RequestErrorKind::InvalidSubject => Class::Refused,
            _ => Class::Unavailable,
        }
    }
}

impl Classify for BatchErrorKind {
    fn class<K>(&self, _error: &async_nats::error::Error<K>) -> Class
    where
        K: Clone + Debug + Display + PartialEq,
    {
        match self {
            BatchErrorKind::Subscribe | BatchErrorKind::Pull | BatchErrorKind::Flush => {
                Class::Unavailable
            }
            _ => Class::Refused,
        }
    }
}

impl Classify for StreamErrorKind {
    fn class<K>(&self, _error: &async_nats::error::Error<K>) -> Class
    where
        K: Clone + Debug + Display + PartialEq,
    {
        match self {
            StreamErrorKind::TimedOut => Class::Timeout,
            _ => Class::Unavailable,
        }
    }
}

impl Classify for GetStreamErrorKind {
    fn class<K>(&self, _error: &async_nats::error::Error<K>) -> Class
    where
        K: Clone + Debug + Display + PartialEq,
    {
        match self {
            GetStreamErrorKind::Request => Class::Unavailable,
            _ => Class::Refused,
        }
    }
}

impl Classify for OrderedErrorKind {
    fn class<K>(&self, _error: &async_nats::error::Error<K>) -> Class
    where
        K: Clone + Debug + Display + PartialEq,
    {
        Class::Unavailable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_trouble_is_retried_and_bad_input_is_not() {
        let unavailable = BusError::Unavailable {
            operation: "publish",
            detail: "broken pipe".to_owned(),
        };
        assert_eq!(unavailable.kind(), ErrorKind::Unavailable);
        assert!(unavailable.kind().is_retryable());
        let too_large = BusError::TooLarge { size: 2, limit: 1 };
        assert_eq!(too_large.kind(), ErrorKind::BadRequest);
        assert!(!too_large.kind().is_retryable());
        let no_stream = BusError::NoStream {
            subject: "sortie.report._".to_owned(),
        };
        assert!(no_stream.kind().is_retryable());
    }

    #[test]
    fn a_publish_timeout_is_a_timeout() {
        let error = async_nats::jetstream::context::PublishError::new(PublishErrorKind::TimedOut);
        let mapped = BusError::nats("publish", error);
        assert_eq!(mapped.kind(), ErrorKind::Timeout);
        assert!(mapped.to_string().starts_with("publish timed out"));
    }
}
