//! Pulling from work queues, settling deliveries, and watching mission events.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::consumer::pull::{Batch, OrderedConfig};
use async_nats::jetstream::consumer::{DeliverPolicy, PullConsumer};
use async_nats::jetstream::context::Context;
use async_nats::jetstream::message::Acker;
use async_nats::jetstream::{self, AckKind};
use async_trait::async_trait;
use futures_util::StreamExt;
use sortie_model::MissionId;
use tokio::time::Instant;

use crate::delivery::{Acknowledge, Deliveries, Delivery, DeliveryInfo, Settlement};
use crate::error::BusError;
use crate::message::{EventWatch, Headers, MSG_ID_HEADER, WatchStart, WatchedEvent, WorkQueue};
use crate::options::{BusOptions, RetryBackoff};
use crate::subjects::{StreamKind, Subjects};

/// The shortest wait a pull request is sent with; below it the request does not wait.
const MIN_PULL_WAIT: Duration = Duration::from_millis(10);

#[derive(Debug)]
pub(super) struct JetStreamDeliveries {
    queue: WorkQueue,
    consumer: PullConsumer,
    subjects: Subjects,
    backoff: RetryBackoff,
    request_timeout: Duration,
}

impl JetStreamDeliveries {
    pub(super) fn new(
        queue: WorkQueue,
        consumer: PullConsumer,
        subjects: Subjects,
        options: &BusOptions,
    ) -> Self {
        Self {
            queue,
            consumer,
            subjects,
            backoff: RetryBackoff::from(options),
            request_timeout: options.request_timeout,
        }
    }

    fn delivery(&self, message: jetstream::Message) -> Result<Delivery, BusError> {
        let info = message
            .info()
            .map_err(|error| BusError::MalformedDelivery(error.to_string()))?;
        let delivered = u64::try_from(info.delivered).unwrap_or(1).max(1);
        let stream_sequence = info.stream_sequence;
        let (message, acker) = message.split();
        let (msg_id, headers) = split_headers(message.headers.as_ref());
        let info = DeliveryInfo {
            queue: self.queue,
            mission: self.subjects.mission_of(message.subject.as_str()),
            msg_id,
            payload: message.payload,
            headers,
            delivered,
            stream_sequence,
        };
        Ok(Delivery::new(
            info,
            self.backoff,
            Box::new(JetStreamAcknowledger { acker }),
        ))
    }
}

/// Read a batch until it ends or `deadline` passes, whichever first. A message still on
/// its way at the deadline is delivered again after the ack wait.
async fn collect(mut batch: Batch, deadline: Instant) -> Result<Vec<jetstream::Message>, BusError> {
    let mut messages = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, batch.next()).await {
            Ok(Some(Ok(message))) => messages.push(message),
            Ok(Some(Err(error))) => {
                return Err(BusError::Unavailable {
                    operation: "pulling from a work queue",
                    detail: error.to_string(),
                });
            }
            Ok(None) | Err(_) => return Ok(messages),
        }
    }
}

#[async_trait]
impl Deliveries for JetStreamDeliveries {
    async fn fetch(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>, BusError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let pull_error = |error| BusError::nats("pulling from a work queue", error);
        let mut messages = Vec::new();
        if wait >= MIN_PULL_WAIT {
            // Wait for one message; then take whatever else is there without waiting, so a
            // lone message is not held back until the wait runs out.
            let first = self
                .consumer
                .batch()
                .max_messages(1)
                .expires(wait)
                .messages()
                .await
                .map_err(pull_error)?;
            messages = collect(first, Instant::now() + wait + self.request_timeout).await?;
            if messages.is_empty() {
                return Ok(Vec::new());
            }
        }
        let wanted = max - messages.len();
        if wanted > 0 {
            let rest = self
                .consumer
                .fetch()
                .max_messages(wanted)
                .messages()
                .await
                .map_err(pull_error)?;
            messages.extend(collect(rest, Instant::now() + self.request_timeout).await?);
        }
        messages
            .into_iter()
            .map(|message| self.delivery(message))
            .collect()
    }
}

struct JetStreamAcknowledger {
    acker: Acker,
}

impl std::fmt::Debug for JetStreamAcknowledger {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("JetStreamAcknowledger")
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Acknowledge for JetStreamAcknowledger {
    async fn settle(&self, settlement: Settlement) -> Result<(), BusError> {
        let kind = match settlement {
            Settlement::Ack => AckKind::Ack,
            Settlement::Nak { delay } => AckKind::Nak(Some(delay)),
            Settlement::InProgress => AckKind::Progress,
            Settlement::Term => AckKind::Term,
        };
        // Wait for the server to confirm, within the request timeout: an ack that was
        // lost would otherwise show up only as a redelivery.
        self.acker
            .double_ack_with(kind)
            .await
            .map_err(|error| BusError::acknowledgement("settling a delivery", &error))
    }
}

/// The dedupe id, and every other header.
fn split_headers(map: Option<&HeaderMap>) -> (Option<String>, Headers) {
    let mut msg_id = None;
    let mut headers = Headers::new();
    for (name, values) in map.into_iter().flat_map(HeaderMap::iter) {
        let Some(value) = values.first() else {
            continue;
        };
        if AsRef::<str>::as_ref(name) == MSG_ID_HEADER {
            msg_id = Some(value.as_str().to_owned());
        } else {
            headers.insert(name.to_string(), value.as_str().to_owned());
        }
    }
    (msg_id, headers)
}

pub(super) async fn watch_events(
    jetstream: &Context,
    subjects: &Subjects,
    mission: Option<MissionId>,
    start: WatchStart,
) -> Result<EventWatch, BusError> {
    let stream = jetstream
        .get_stream_no_info(subjects.stream(StreamKind::Events))
        .await
        .map_err(|error| BusError::nats("opening the events stream", error))?;
    let deliver_policy = match start {
        WatchStart::NewOnly => DeliverPolicy::New,
        WatchStart::All => DeliverPolicy::All,
        WatchStart::FromSequence(sequence) => DeliverPolicy::ByStartSequence {
            start_sequence: sequence.max(1),
        },
    };
    let consumer = stream
        .create_consumer(OrderedConfig {
            filter_subject: subjects.events_filter(mission),
            deliver_policy,
            ..OrderedConfig::default()
        })
        .await
        .map_err(|error| BusError::nats("starting an event watch", error))?;
    let messages = consumer
        .messages()
        .await
        .map_err(|error| BusError::nats("starting an event watch", error))?;
    let subjects = subjects.clone();
    let events = messages.map(move |item| {
        let message = item.map_err(|error| BusError::nats("watching mission events", error))?;
        let sequence = message
            .info()
            .map_err(|error| BusError::MalformedDelivery(error.to_string()))?
            .stream_sequence;
        let (msg_id, headers) = split_headers(message.headers.as_ref());
        Ok(WatchedEvent {
            sequence,
            mission: subjects.mission_of(message.subject.as_str()),
            msg_id,
            payload: message.payload.clone(),
            headers,
        })
    });
    Ok(events.boxed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dedupe_id_is_split_from_the_other_headers() {
        let mut map = HeaderMap::new();
        map.insert(MSG_ID_HEADER, "m-1");
        map.insert("traceparent", "00-1");
        let (msg_id, headers) = split_headers(Some(&map));
        assert_eq!(msg_id.as_deref(), Some("m-1"));
        assert_eq!(headers.len(), 1);
        assert_eq!(headers["traceparent"], "00-1");
        assert_eq!(split_headers(None), (None, Headers::new()));
    }
}
