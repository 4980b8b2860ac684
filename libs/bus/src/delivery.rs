//! A message taken from a work queue, and how its consumer settles it.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use sortie_model::MissionId;
use sortie_model::error::DeliveryDecision;
use sortie_model::messages::Topic;

use crate::error::BusError;
use crate::message::{Headers, WorkQueue};
use crate::options::RetryBackoff;

/// How a consumer settles a delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settlement {
    /// Done: the message is removed from its queue.
    Ack,
    /// Not now: deliver it again after this delay.
    Nak { delay: Duration },
    /// Still working on it: restart the ack wait.
    InProgress,
    /// Never: do not deliver it again.
    Term,
}

/// Sends a delivery's settlement to whoever delivered it. Each bus implements it.
#[async_trait]
pub trait Acknowledge: Send + Sync + std::fmt::Debug {
    async fn settle(&self, settlement: Settlement) -> Result<(), BusError>;
}

/// What was delivered, apart from the way to settle it.
#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryInfo {
    pub queue: WorkQueue,
    pub mission: Option<MissionId>,
    /// The dedupe id it was published with.
    pub msg_id: Option<String>,
    pub payload: Bytes,
    pub headers: Headers,
    /// How often it has been delivered, this time included: 1 the first time.
    pub delivered: u64,
    /// Its place in its stream.
    pub stream_sequence: u64,
}

/// A message from a work queue. Settle it with exactly one of `ack`, `nak`, `term` or
/// `deliver`; one left unsettled is delivered again after the ack wait.
#[derive(Debug)]
pub struct Delivery {
    info: DeliveryInfo,
    backoff: RetryBackoff,
    acknowledger: Box<dyn Acknowledge>,
}

impl Delivery {
    pub fn new(
        info: DeliveryInfo,
        backoff: RetryBackoff,
        acknowledger: Box<dyn Acknowledge>,
    ) -> Self {
        debug_assert!(info.delivered >= 1, "a delivery is counted from 1");
        Self {
            info,
            backoff,
            acknowledger,
        }
    }

    pub fn info(&self) -> &DeliveryInfo {
        &self.info
    }

    pub fn queue(&self) -> WorkQueue {
        self.info.queue
    }

    pub fn topic(&self) -> Topic {
        self.info.queue.topic()
    }

    pub fn mission(&self) -> Option<MissionId> {
        self.info.mission
    }

    pub fn msg_id(&self) -> Option<&str> {
        self.info.msg_id.as_deref()
    }

    pub fn payload(&self) -> &Bytes {
        &self.info.payload
    }

    pub fn headers(&self) -> &Headers {
        &self.info.headers
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.info.headers.get(name).map(String::as_str)
    }

    /// How often it has been delivered, this time included.
    pub fn delivered(&self) -> u64 {
        self.info.delivered
    }

    /// The delay [`Delivery::deliver`] asks for on a retry: it grows with each delivery.
    pub fn retry_delay(&self) -> Duration {
        self.backoff.delay(self.info.delivered)
    }

    /// Done: remove it from its queue. Waits for the server to confirm.
    pub async fn ack(self) -> Result<(), BusError> {
        self.acknowledger.settle(Settlement::Ack).await
    }

    /// Deliver it again after `delay` (counting towards the delivery limit).
    pub async fn nak(self, delay: Duration) -> Result<(), BusError> {
        self.acknowledger.settle(Settlement::Nak { delay }).await
    }

    /// A heartbeat: the consumer is still working on it, so restart its ack wait.
    pub async fn in_progress(&self) -> Result<(), BusError> {
        self.acknowledger.settle(Settlement::InProgress).await
    }

    /// Never deliver it again.
    pub async fn term(self) -> Result<(), BusError> {
        self.acknowledger.settle(Settlement::Term).await
    }

    /// Settle it as the model decided: ack, retry after [`Delivery::retry_delay`], or
    /// terminate.
    pub async fn deliver(self, decision: DeliveryDecision) -> Result<(), BusError> {
        match decision {
            DeliveryDecision::Ack => self.ack().await,
            DeliveryDecision::Retry => {
                let delay = self.retry_delay();
                self.nak(delay).await
            }
            DeliveryDecision::Terminate => self.term().await,
        }
    }
}

/// A consumer's handle on one work queue.
#[async_trait]
pub trait Deliveries: Send + Sync + std::fmt::Debug {
    /// Up to `max` messages, waiting at most `wait` for the first; none when nothing came.
    /// Dropping the future while it waits may hold back a message for one ack wait.
    async fn fetch(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>, BusError>;

    /// The next message, waiting at most `wait` for it.
    async fn next(&self, wait: Duration) -> Result<Option<Delivery>, BusError> {
        Ok(self.fetch(1, wait).await?.pop())
    }
}
