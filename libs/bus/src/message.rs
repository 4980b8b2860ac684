//! What goes in and out of the bus, apart from deliveries.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use sortie_model::MissionId;
use sortie_model::messages::Topic;

use crate::error::BusError;

/// Message headers: the trace context, for one. A header sent twice arrives once.
pub type Headers = BTreeMap<String, String>;

/// The header that carries a message's dedupe id.
pub const MSG_ID_HEADER: &str = "Nats-Msg-Id";

/// Where a message goes: its topic, and the mission it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Route {
    pub topic: Topic,
    pub mission: Option<MissionId>,
}

impl Route {
    pub fn new(topic: Topic, mission: Option<MissionId>) -> Self {
        Self { topic, mission }
    }

    pub fn mission(topic: Topic, mission: MissionId) -> Self {
        Self {
            topic,
            mission: Some(mission),
        }
    }
}

impl From<Topic> for Route {
    fn from(topic: Topic) -> Self {
        Self {
            topic,
            mission: None,
        }
    }
}

/// The bus's receipt for a published message: it is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishAck {
    pub stream: String,
    /// The message's place in its stream.
    pub sequence: u64,
    /// A message with the same dedupe id was stored before, within the duplicate window;
    /// this one was dropped.
    pub duplicate: bool,
}

/// A queue whose messages each go to one of its consumers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WorkQueue {
    /// Feature tasks, for workers.
    FeatureTasks,
    /// Validation tasks, for validators.
    ValidationTasks,
    /// Attempt reports, for the orchestrator.
    AttemptReports,
}

impl WorkQueue {
    pub const ALL: [WorkQueue; 3] = [
        WorkQueue::FeatureTasks,
        WorkQueue::ValidationTasks,
        WorkQueue::AttemptReports,
    ];

    /// The topic the queue carries.
    pub fn topic(self) -> Topic {
        match self {
            WorkQueue::FeatureTasks => Topic::FeatureTask,
            WorkQueue::ValidationTasks => Topic::ValidationTask,
            WorkQueue::AttemptReports => Topic::AttemptReport,
        }
    }

    /// The queue that carries a topic; mission events are not queued.
    pub fn of_topic(topic: Topic) -> Option<WorkQueue> {
        WorkQueue::ALL
            .into_iter()
            .find(|queue| queue.topic() == topic)
    }
}

/// Where a watcher starts reading mission events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchStart {
    /// Only events published from now on.
    NewOnly,
    /// Every event the bus still holds.
    All,
    /// Events from this stream sequence on (inclusive): one past the last one seen.
    FromSequence(u64),
}

/// A mission event as a watcher sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchedEvent {
    /// The event's place in the events stream; resume after it with
    /// `WatchStart::FromSequence(sequence + 1)`.
    pub sequence: u64,
    pub mission: Option<MissionId>,
    pub msg_id: Option<String>,
    pub payload: Bytes,
    pub headers: Headers,
}

/// Mission events, in order, until dropped.
pub type EventWatch = BoxStream<'static, Result<WatchedEvent, BusError>>;
