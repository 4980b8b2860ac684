//! The outbox relay: publishes what the ledger committed, in order, and marks it sent.
//!
//! A relay killed between publishing a batch and marking it sent publishes the same rows
//! again; they carry the same dedupe ids, so the bus drops the copies that arrive within
//! its duplicate window and a consumer sees each message once.
//!
//! One relay publishes each mission's rows in the order of their ids. Several relays
//! draining one ledger at once each take different rows, so each row is still delivered
//! once, but a later batch of a mission may overtake an earlier one held by another relay.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use sortie_ledger::{Ledger, OutboxRow, OutboxSink, OutboxSinkError};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::Bus;
use crate::error::BusError;
use crate::message::Route;

/// The relay's pace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelaySettings {
    /// Rows taken from the ledger at a time.
    pub batch_size: usize,
    /// How long an idle relay waits before looking again without being woken.
    pub poll_interval: Duration,
    /// How long the relay waits after a failed drain.
    pub retry_delay: Duration,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            batch_size: 100,
            poll_interval: Duration::from_secs(1),
            retry_delay: Duration::from_secs(1),
        }
    }
}

/// An [`OutboxSink`] that publishes each row through the bus, in order, and waits for
/// every acknowledgement.
#[derive(Clone, Debug)]
pub struct BusOutboxSink {
    bus: Arc<dyn Bus>,
}

impl BusOutboxSink {
    pub fn new(bus: Arc<dyn Bus>) -> Self {
        Self { bus }
    }

    async fn publish_row(&self, row: &OutboxRow) -> Result<(), BusError> {
        let message = &row.message;
        let payload = serde_json::to_vec(&message.payload)
            .map_err(|error| BusError::InvalidMessage(format!("outbox row {}: {error}", row.id)))?;
        let route = Route::new(message.topic, row.mission);
        let ack = self
            .bus
            .publish(
                route,
                &message.msg_id,
                Bytes::from(payload),
                &message.headers,
            )
            .await?;
        if ack.duplicate {
            tracing::debug!(
                row = row.id,
                msg_id = message.msg_id,
                "outbox row was published before"
            );
        }
        Ok(())
    }
}

#[async_trait]
impl OutboxSink for BusOutboxSink {
    async fn publish(&self, rows: &[OutboxRow]) -> Result<(), OutboxSinkError> {
        for row in rows {
            self.publish_row(row)
                .await
                .map_err(|error| OutboxSinkError {
                    message: format!("outbox row {}: {error}", row.id),
                })?;
        }
        Ok(())
    }
}

/// Drains the ledger's outbox to the bus until cancelled.
#[derive(Debug)]
pub struct OutboxRelay {
    ledger: Arc<dyn Ledger>,
    sink: BusOutboxSink,
    wake: Arc<Notify>,
    settings: RelaySettings,
}

impl OutboxRelay {
    pub fn new(ledger: Arc<dyn Ledger>, bus: Arc<dyn Bus>, settings: RelaySettings) -> Self {
        debug_assert!(
            settings.batch_size > 0,
            "a relay takes at least one row at a time"
        );
        Self {
            ledger,
            sink: BusOutboxSink::new(bus),
            wake: Arc::new(Notify::new()),
            settings,
        }
    }

    /// What the process pokes (`notify_one`) after it commits outbox rows, so an idle relay
    /// publishes them at once instead of at its next poll. A poke while the relay is busy
    /// is remembered.
    pub fn waker(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }

    /// One drain: publish up to a batch of unsent rows and mark them sent. Returns how
    /// many were sent.
    pub async fn run_once(&self) -> Result<usize, BusError> {
        let sent = self
            .ledger
            .drain_outbox(self.settings.batch_size.max(1), &self.sink)
            .await?;
        if sent > 0 {
            tracing::debug!(sent, "outbox rows published");
        }
        Ok(sent)
    }

    /// Drain until the outbox is empty; returns how many rows were sent.
    pub async fn drain(&self) -> Result<usize, BusError> {
        let mut total = 0;
        loop {
            let sent = self.run_once().await?;
            if sent == 0 {
                return Ok(total);
            }
            total += sent;
        }
    }

    /// Drain until `cancel` fires. An empty outbox is looked at again when the relay is
    /// woken or the poll interval passes; a failed drain is tried again after the retry
    /// delay. Cancelling in the middle of a drain leaves its rows unsent, to be published
    /// again by the next relay.
    pub async fn run(&self, cancel: CancellationToken) {
        tracing::info!(
            batch_size = self.settings.batch_size,
            "outbox relay started"
        );
        loop {
            let drained = tokio::select! {
                () = cancel.cancelled() => break,
                drained = self.run_once() => drained,
            };
            let pause = match drained {
                Ok(sent) if sent > 0 => continue,
                Ok(_) => self.settings.poll_interval,
                Err(error) => {
                    tracing::warn!(%error, kind = ?error.kind(), "outbox drain failed");
                    self.settings.retry_delay
                }
            };
            tokio::select! {
                () = cancel.cancelled() => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
        tracing::info!("outbox relay stopped");
    }
}
