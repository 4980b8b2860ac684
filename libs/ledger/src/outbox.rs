//! The transactional outbox: messages a state change causes, committed with it.

use std::collections::BTreeMap;

use async_trait::async_trait;
use sortie_model::MissionId;
use sortie_model::messages::Topic;

/// A message to send once the change that caused it commits.
#[derive(Clone, Debug, PartialEq)]
pub struct OutgoingMessage {
    pub topic: Topic,
    /// The dedupe id, unique across the ledger; the bus publishes it as `Nats-Msg-Id`.
    pub msg_id: String,
    /// The serialised envelope.
    pub payload: serde_json::Value,
    /// Headers to publish with it (the trace context, for one).
    pub headers: BTreeMap<String, String>,
}

/// An outbox row the relay has yet to publish.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxRow {
    /// Rows of one mission are published in the order of their ids.
    pub id: i64,
    pub mission: Option<MissionId>,
    pub message: OutgoingMessage,
}

/// Where the relay sends committed outbox rows: the bus.
#[async_trait]
pub trait OutboxSink: Send + Sync {
    /// Publish every row, in order, and return only once each is acknowledged by the bus.
    /// An error leaves every row of the batch unsent; the relay tries again later, and the
    /// dedupe id keeps a row published twice from being delivered twice.
    async fn publish(&self, rows: &[OutboxRow]) -> Result<(), OutboxSinkError>;
}

#[derive(Debug, thiserror::Error)]
#[error("the bus did not take the outbox batch: {message}")]
pub struct OutboxSinkError {
    pub message: String,
}
