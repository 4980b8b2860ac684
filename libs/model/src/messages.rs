//! What travels on the bus: logical topics and the versioned envelope.
//!
//! Invariant: only `sortie-bus` turns a [`Topic`] into a NATS subject; everything else,
//! the outbox rows in the ledger included, speaks of topics.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::ids::MissionId;

/// The current envelope version. Envelopes only gain fields; a reader accepts every
/// version up to its own.
pub const ENVELOPE_VERSION: u32 = 1;

/// A logical destination on the bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    /// Feature attempts for workers (a work queue).
    FeatureTask,
    /// Validation attempts for validators (a work queue).
    ValidationTask,
    /// Results, heartbeats and handoffs from workers and validators to the orchestrator.
    AttemptReport,
    /// News about a mission, for watchers (Mission Control, the CLI).
    MissionEvent,
}

impl Topic {
    pub const ALL: [Topic; 4] = [
        Topic::FeatureTask,
        Topic::ValidationTask,
        Topic::AttemptReport,
        Topic::MissionEvent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Topic::FeatureTask => "feature_task",
            Topic::ValidationTask => "validation_task",
            Topic::AttemptReport => "attempt_report",
            Topic::MissionEvent => "mission_event",
        }
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown topic {0:?}")]
pub struct UnknownTopic(pub String);

impl FromStr for Topic {
    type Err = UnknownTopic;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Topic::ALL
            .into_iter()
            .find(|topic| topic.as_str() == text)
            .ok_or_else(|| UnknownTopic(text.to_owned()))
    }
}

/// The versioned JSON envelope around every message body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// The envelope version the writer spoke.
    pub v: u32,
    /// The dedupe id: the same message sent twice carries the same id.
    pub id: String,
    /// What the body is (`feature_task`, `heartbeat`, ...).
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mission: Option<MissionId>,
    pub sent_at: DateTime<Utc>,
    pub body: T,
}

#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the message is not a Sortie envelope: {0}")]
    Malformed(#[source] serde_json::Error),
    #[error("the envelope is version {found}, newer than this reader's {supported}")]
    TooNew { found: u32, supported: u32 },
}

impl<T: Serialize + DeserializeOwned> Envelope<T> {
    pub fn new(
        id: impl Into<String>,
        kind: impl Into<String>,
        mission: Option<MissionId>,
        body: T,
    ) -> Self {
        Self {
            v: ENVELOPE_VERSION,
            id: id.into(),
            kind: kind.into(),
            mission,
            sent_at: Utc::now(),
            body,
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("an envelope is always serialisable")
    }

    pub fn from_slice(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        let envelope: Self = serde_json::from_slice(bytes).map_err(EnvelopeError::Malformed)?;
        if envelope.v > ENVELOPE_VERSION {
            return Err(EnvelopeError::TooNew {
                found: envelope.v,
                supported: ENVELOPE_VERSION,
            });
        }
        Ok(envelope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_round_trip_through_text() {
        for topic in Topic::ALL {
            assert_eq!(topic.as_str().parse::<Topic>().unwrap(), topic);
        }
        assert!("feature".parse::<Topic>().is_err());
    }

    #[test]
    fn an_envelope_with_unknown_fields_is_still_read() {
        let text = r#"{"v":1,"id":"x","kind":"note","sent_at":"2026-01-01T00:00:00Z",
            "body":{"text":"hi"},"added_later":true}"#;
        let envelope = Envelope::<serde_json::Value>::from_slice(text.as_bytes()).unwrap();
        assert_eq!(envelope.body["text"], "hi");
    }

    #[test]
    fn a_newer_envelope_is_refused_by_name() {
        let text = r#"{"v":9,"id":"x","kind":"note","sent_at":"2026-01-01T00:00:00Z","body":1}"#;
        let error = Envelope::<serde_json::Value>::from_slice(text.as_bytes()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the envelope is version 9, newer than this reader's 1"
        );
    }
}
