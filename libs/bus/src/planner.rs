//! The planner on the bus: plain NATS request and reply (no stream), with a limit on
//! every request. [`ask_planner`] is the client; [`PlannerRequests`] is what a planner
//! serves, in a queue group so replicas share the requests.

use std::time::Duration;

use async_nats::{Client, RequestErrorKind, Subject, Subscriber};
use futures_util::StreamExt as _;
use sortie_model::messages::{Envelope, EnvelopeError};
use sortie_model::planner::{
    PLANNER_REQUEST_KIND, PLANNER_RESPONSE_KIND, PlannerOperation, PlannerRequest, PlannerResponse,
};

use crate::error::BusError;
use crate::jetstream::JetStreamBus;
use crate::subjects::Subjects;

/// Asks the planner and waits at most `timeout` for its answer. A planner that answers
/// with an error is an `Ok(PlannerResponse::Error)`; no planner listening is
/// [`BusError::NoResponders`], and no answer in time is [`BusError::Timeout`].
pub async fn ask_planner(
    bus: &JetStreamBus,
    request: &PlannerRequest,
    timeout: Duration,
) -> Result<PlannerResponse, BusError> {
    let subject = bus.subjects().planner(request.operation);
    let envelope = Envelope::new(
        uuid::Uuid::new_v4().to_string(),
        PLANNER_REQUEST_KIND,
        None,
        request.clone(),
    );
    let payload = serde_json::to_vec(&envelope)
        .map_err(|error| BusError::InvalidMessage(error.to_string()))?;
    let payload_size = payload.len();
    let client = bus.client();
    let asking = client.send_request(
        subject.clone(),
        async_nats::Request::new()
            .payload(payload.into())
            .timeout(Some(timeout)),
    );
    let timed_out = || BusError::Timeout {
        operation: "a planner request",
        detail: format!("no planner answered on {subject} within {timeout:?}"),
    };
    // The client's own limit covers the wait for the answer; this one covers the whole call.
    let answer = tokio::time::timeout(timeout, asking)
        .await
        .map_err(|_| timed_out())?
        .map_err(|error| match error.kind() {
            RequestErrorKind::TimedOut => timed_out(),
            RequestErrorKind::NoResponders => BusError::NoResponders {
                subject: subject.clone(),
            },
            RequestErrorKind::MaxPayloadExceeded => BusError::TooLarge {
                size: payload_size,
                limit: client.server_info().max_payload,
            },
            _ => BusError::Unavailable {
                operation: "a planner request",
                detail: error.to_string(),
            },
        })?;
    let response = Envelope::<PlannerResponse>::from_slice(&answer.payload)
        .map_err(|error| BusError::MalformedDelivery(format!("the planner's answer: {error}")))?;
    Ok(response.body)
}

/// The planner requests of every operation, shared with the other planners.
#[derive(Debug)]
pub struct PlannerRequests {
    client: Client,
    /// Each operation's subject.
    subjects: Vec<(PlannerOperation, String)>,
    request_timeout: Duration,
    subscriptions: futures_util::stream::SelectAll<Subscriber>,
}

/// One request to answer.
#[derive(Debug)]
pub struct PlannerCall {
    client: Client,
    request_timeout: Duration,
    reply: Option<Subject>,
    /// The operation its subject names.
    pub operation: Option<PlannerOperation>,
    /// The request, or why it could not be read.
    pub request: Result<PlannerRequest, EnvelopeError>,
}

impl PlannerRequests {
    /// Subscribes to every planner subject in the planners' queue group.
    pub async fn subscribe(bus: &JetStreamBus) -> Result<Self, BusError> {
        let client = bus.client();
        let mut subscriptions = futures_util::stream::SelectAll::new();
        let mut subjects = Vec::new();
        for operation in PlannerOperation::ALL {
            let subject = bus.subjects().planner(operation);
            subjects.push((operation, subject.clone()));
            let subscriber = client
                .queue_subscribe(subject, Subjects::planner_queue_group().to_owned())
                .await
                .map_err(|error| BusError::Unavailable {
                    operation: "subscribing to planner requests",
                    detail: error.to_string(),
                })?;
            subscriptions.push(subscriber);
        }
        let request_timeout = bus.options().request_timeout;
        // The subscriptions reach the server before the planner says it is ready.
        flush(&client, request_timeout, "subscribing to planner requests").await?;
        Ok(Self {
            client,
            subjects,
            request_timeout,
            subscriptions,
        })
    }

    /// The next request; `None` when the connection is closed for good.
    pub async fn next(&mut self) -> Option<PlannerCall> {
        let message = self.subscriptions.next().await?;
        let operation = self
            .subjects
            .iter()
            .find(|(_, subject)| message.subject.as_str() == subject)
            .map(|(operation, _)| *operation);
        let request =
            Envelope::<PlannerRequest>::from_slice(&message.payload).map(|envelope| envelope.body);
        Some(PlannerCall {
            client: self.client.clone(),
            request_timeout: self.request_timeout,
            reply: message.reply,
            operation,
            request,
        })
    }
}

impl PlannerCall {
    /// Sends `response` to the one who asked; a request without a reply subject was sent
    /// without waiting for an answer, and gets none.
    pub async fn respond(&self, response: PlannerResponse) -> Result<(), BusError> {
        let Some(reply) = self.reply.clone() else {
            return Ok(());
        };
        let envelope = Envelope::new(
            uuid::Uuid::new_v4().to_string(),
            PLANNER_RESPONSE_KIND,
            None,
            response,
        );
        let payload = serde_json::to_vec(&envelope)
            .map_err(|error| BusError::InvalidMessage(error.to_string()))?;
        self.client
            .publish(reply, payload.into())
            .await
            .map_err(|error| BusError::Unavailable {
                operation: "answering a planner request",
                detail: error.to_string(),
            })?;
        flush(
            &self.client,
            self.request_timeout,
            "answering a planner request",
        )
        .await
    }
}

async fn flush(client: &Client, limit: Duration, operation: &'static str) -> Result<(), BusError> {
    tokio::time::timeout(limit, client.flush())
        .await
        .map_err(|_| BusError::timeout(operation, limit))?
        .map_err(|error| BusError::Unavailable {
            operation,
            detail: error.to_string(),
        })
}
