//! The bus on NATS JetStream.

mod consume;
mod topology;

use std::time::Duration;

use async_nats::jetstream::ErrorCode;
use async_nats::jetstream::context::{Context, ContextBuilder, PublishError, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use async_nats::{ConnectOptions, HeaderMap, HeaderName, HeaderValue};
use async_trait::async_trait;
use bytes::Bytes;
use sortie_model::MissionId;

use crate::error::{BusError, jetstream_error};
use crate::message::{
    EventWatch, Headers, MSG_ID_HEADER, PublishAck, Route, WatchStart, WorkQueue,
};
use crate::options::BusOptions;
use crate::subjects::{StreamKind, Subjects};
use crate::{Bus, Deliveries};

/// The bus on a NATS server (or cluster) with JetStream.
#[derive(Clone, Debug)]
pub struct JetStreamBus {
    jetstream: Context,
    subjects: Subjects,
    options: BusOptions,
}

/// How many messages a work queue holds, as its consumer sees them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueStats {
    /// Stored and not yet delivered.
    pub pending: u64,
    /// Delivered and not yet settled.
    pub ack_pending: u64,
    /// Delivered more than once and not yet settled.
    pub redelivered: u64,
}

impl JetStreamBus {
    /// Connect to the server at `url`, with every name under `prefix`. Fails, rather than
    /// waiting, when the server does not answer within the connect timeout.
    pub async fn connect(url: &str, prefix: &str, options: BusOptions) -> Result<Self, BusError> {
        let subjects = Subjects::new(prefix)?;
        let mut connect_options = ConnectOptions::new()
            .connection_timeout(options.connect_timeout)
            .request_timeout(Some(options.request_timeout));
        if let Some(name) = &options.client_name {
            connect_options = connect_options.name(name);
        }
        let connecting = connect_options.connect(url);
        // The client's own timeout covers one attempt; this one covers name lookup too.
        let client = tokio::time::timeout(options.connect_timeout.saturating_mul(2), connecting)
            .await
            .map_err(|_| BusError::timeout("connecting to nats", options.connect_timeout))?
            .map_err(|source| BusError::Connect {
                url: url.to_owned(),
                source,
            })?;
        let jetstream = ContextBuilder::new()
            .timeout(options.request_timeout)
            .build(client);
        tracing::debug!(url, prefix, "connected to nats");
        Ok(Self {
            jetstream,
            subjects,
            options,
        })
    }

    pub fn subjects(&self) -> &Subjects {
        &self.subjects
    }

    pub fn options(&self) -> &BusOptions {
        &self.options
    }

    /// The plain NATS connection under the bus, for request and reply.
    pub(crate) fn client(&self) -> async_nats::Client {
        self.jetstream.client()
    }

    /// How many messages a stream holds.
    pub async fn stored_messages(&self, stream: StreamKind) -> Result<u64, BusError> {
        let name = self.subjects.stream(stream);
        let stream = self
            .jetstream
            .get_stream(&name)
            .await
            .map_err(|error| BusError::nats("reading a stream", error))?;
        Ok(stream.cached_info().state.messages)
    }

    /// How many messages a work queue holds.
    pub async fn queue_stats(&self, queue: WorkQueue) -> Result<QueueStats, BusError> {
        let consumer = self.pull_consumer(queue).await?;
        let info = consumer.cached_info();
        Ok(QueueStats {
            pending: info.num_pending,
            ack_pending: u64::try_from(info.num_ack_pending).unwrap_or(u64::MAX),
            redelivered: u64::try_from(info.num_redelivered).unwrap_or(u64::MAX),
        })
    }

    async fn pull_consumer(
        &self,
        queue: WorkQueue,
    ) -> Result<async_nats::jetstream::consumer::PullConsumer, BusError> {
        self.jetstream
            .get_consumer_from_stream(Subjects::durable(queue), self.subjects.queue_stream(queue))
            .await
            .map_err(|error| BusError::nats("looking up a work queue's consumer", error))
    }

    fn header_map(&self, msg_id: &str, headers: &Headers) -> Result<HeaderMap, BusError> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            let header_name: HeaderName = name
                .parse()
                .map_err(|_| BusError::InvalidMessage(format!("invalid header name {name:?}")))?;
            let header_value: HeaderValue = value.parse().map_err(|_| {
                BusError::InvalidMessage(format!("invalid value of header {name:?}"))
            })?;
            map.insert(header_name, header_value);
        }
        map.insert(MSG_ID_HEADER, msg_id);
        Ok(map)
    }
}

/// Roughly the bytes a message takes on the wire, headers included.
fn wire_size(payload: &Bytes, msg_id: &str, headers: &Headers) -> usize {
    const HEADER_OVERHEAD: usize = "NATS/1.0\r\n\r\n".len();
    let header_bytes: usize = headers
        .iter()
        .map(|(name, value)| name.len() + value.len() + 4)
        .sum();
    payload.len() + header_bytes + MSG_ID_HEADER.len() + msg_id.len() + 4 + HEADER_OVERHEAD
}

/// Map a failed publish, naming the cases a caller acts on.
fn publish_error(error: PublishError, subject: &str, size: usize, limit: usize) -> BusError {
    let exceeds_stream_limit = jetstream_error(&error)
        .is_some_and(|api| api.error_code() == ErrorCode::STREAM_MESSAGE_EXCEEDS_MAXIMUM);
    match error.kind() {
        PublishErrorKind::StreamNotFound => BusError::NoStream {
            subject: subject.to_owned(),
        },
        PublishErrorKind::MaxPayloadExceeded => BusError::TooLarge { size, limit },
        _ if exceeds_stream_limit => BusError::TooLarge { size, limit },
        _ => BusError::nats("publishing", error),
    }
}

#[async_trait]
impl Bus for JetStreamBus {
    async fn ensure_topology(&self) -> Result<(), BusError> {
        topology::ensure(&self.jetstream, &self.subjects, &self.options).await
    }

    async fn publish(
        &self,
        route: Route,
        msg_id: &str,
        payload: Bytes,
        headers: &Headers,
    ) -> Result<PublishAck, BusError> {
        if msg_id.is_empty() {
            return Err(BusError::InvalidMessage(
                "a message needs a dedupe id".to_owned(),
            ));
        }
        let size = wire_size(&payload, msg_id, headers);
        let limit = self.options.max_message_size;
        if size > limit {
            return Err(BusError::TooLarge { size, limit });
        }
        let header_map = self.header_map(msg_id, headers)?;
        let subject = self.subjects.subject(&route);
        let message = PublishMessage::build().payload(payload).headers(header_map);
        let refused = |error| publish_error(error, &subject, size, limit);
        let ack = self
            .jetstream
            .send_publish(subject.clone(), message)
            .await
            .map_err(refused)?
            .await
            .map_err(refused)?;
        tracing::trace!(
            subject,
            msg_id,
            sequence = ack.sequence,
            duplicate = ack.duplicate,
            "published"
        );
        Ok(PublishAck {
            stream: ack.stream,
            sequence: ack.sequence,
            duplicate: ack.duplicate,
        })
    }

    async fn consume(&self, queue: WorkQueue) -> Result<Box<dyn Deliveries>, BusError> {
        let consumer = self.pull_consumer(queue).await?;
        Ok(Box::new(consume::JetStreamDeliveries::new(
            queue,
            consumer,
            self.subjects.clone(),
            &self.options,
        )))
    }

    async fn watch_events(
        &self,
        mission: Option<MissionId>,
        start: WatchStart,
    ) -> Result<EventWatch, BusError> {
        consume::watch_events(&self.jetstream, &self.subjects, mission, start).await
    }

    async fn ping(&self) -> Result<Duration, BusError> {
        let started = tokio::time::Instant::now();
        // A raw request: the client's typed account info does not parse a 2.9 server's.
        let reply: serde_json::Value = self
            .jetstream
            .request("INFO", &serde_json::json!({}))
            .await
            .map_err(|error| BusError::nats("pinging jetstream", error))?;
        if let Some(error) = reply.get("error") {
            return Err(BusError::Unavailable {
                operation: "pinging jetstream",
                detail: error.to_string(),
            });
        }
        Ok(started.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_size_counts_headers_and_the_dedupe_id() {
        let mut headers = Headers::new();
        headers.insert("traceparent".to_owned(), "00-abc".to_owned());
        let payload = Bytes::from_static(b"0123456789");
        let bare = wire_size(&payload, "", &Headers::new());
        let full = wire_size(&payload, "id-1", &headers);
        assert_eq!(
            full - bare,
            "id-1".len() + "traceparent".len() + "00-abc".len() + 4
        );
    }
}
