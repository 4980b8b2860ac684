//! Sortie's message bus: subjects, envelopes, the Bus trait on NATS JetStream, and the
//! outbox relay.
//!
//! Services speak of [`Topic`](sortie_model::messages::Topic)s, [`Route`]s and
//! [`WorkQueue`]s; this crate turns them into NATS subjects, streams and consumers.
//!
//! Invariant: only [`subjects`] knows subject, stream and consumer names.
//!
//! Invariant: every message carries a dedupe id (`Nats-Msg-Id`), and the streams drop a
//! second copy within their duplicate window; delivery is at least once, and consumers
//! apply each message once (the ledger's inbox).
//!
//! Invariant: no call waits forever. Connecting, every JetStream request, every publish
//! acknowledgement and every settlement of a delivery has a timeout.

mod delivery;
mod error;
mod jetstream;
mod message;
mod options;
mod planner;
pub mod relay;
pub mod subjects;

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use sortie_model::MissionId;

pub use delivery::{Acknowledge, Deliveries, Delivery, DeliveryInfo, Settlement};
pub use error::BusError;
pub use jetstream::{JetStreamBus, QueueStats};
pub use message::{
    EventWatch, Headers, MSG_ID_HEADER, PublishAck, Route, WatchStart, WatchedEvent, WorkQueue,
};
pub use options::{BusOptions, RetryBackoff};
pub use planner::{PlannerCall, PlannerRequests, ask_planner};
pub use relay::{BusOutboxSink, OutboxRelay, RelaySettings};
pub use subjects::{DEFAULT_PREFIX, StreamKind, Subjects};

/// The message bus, as every service sees it. [`JetStreamBus`] implements it on NATS; an
/// in-process bus can implement it for a single-process run.
#[async_trait]
pub trait Bus: Send + Sync + std::fmt::Debug {
    /// Create the streams and durable consumers, or bring them up to date. Idempotent,
    /// and safe when several processes run it at the same time.
    async fn ensure_topology(&self) -> Result<(), BusError>;

    /// Publish a message and wait until the bus has stored it. A message whose dedupe id
    /// was published within the duplicate window is dropped, and its receipt says so.
    async fn publish(
        &self,
        route: Route,
        msg_id: &str,
        payload: Bytes,
        headers: &Headers,
    ) -> Result<PublishAck, BusError>;

    /// A handle on a work queue's durable consumer. Every handle on one queue shares its
    /// messages: each message goes to one of them at a time. After the bus lost its store,
    /// ensure the topology again and take a new handle.
    async fn consume(&self, queue: WorkQueue) -> Result<Box<dyn Deliveries>, BusError>;

    /// Mission events (of one mission, or all) from `start` on, in order, for a watcher.
    /// The watch holds no durable state: a watcher that comes back says where to resume.
    async fn watch_events(
        &self,
        mission: Option<MissionId>,
        start: WatchStart,
    ) -> Result<EventWatch, BusError>;

    /// Prove the bus answers; returns the round trip.
    async fn ping(&self) -> Result<Duration, BusError>;
}
