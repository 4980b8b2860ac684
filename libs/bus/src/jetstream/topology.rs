//! The streams and durable consumers, created or brought up to date at start-up.

use std::time::Duration;

use async_nats::jetstream::ErrorCode;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, ReplayPolicy, pull};
use async_nats::jetstream::context::{Context, CreateStreamErrorKind};
use async_nats::jetstream::stream::{self, DiscardPolicy, RetentionPolicy, StorageType};

use crate::error::BusError;
use crate::message::WorkQueue;
use crate::options::BusOptions;
use crate::subjects::{StreamKind, Subjects};

/// How often a stream is tried again when another process created it at the same moment.
const CREATE_ATTEMPTS: usize = 3;

/// Create or update every stream, then every durable consumer. Safe to run again, and
/// safe when several processes run it at once.
pub(super) async fn ensure(
    jetstream: &Context,
    subjects: &Subjects,
    options: &BusOptions,
) -> Result<(), BusError> {
    for kind in StreamKind::ALL {
        ensure_stream(jetstream, stream_config(subjects, kind, options)).await?;
    }
    for queue in WorkQueue::ALL {
        jetstream
            .create_consumer_on_stream(
                consumer_config(subjects, queue, options),
                subjects.queue_stream(queue),
            )
            .await
            .map_err(|error| BusError::nats("creating a work queue's consumer", error))?;
    }
    tracing::debug!(prefix = subjects.prefix(), "bus topology ensured");
    Ok(())
}

fn stream_config(subjects: &Subjects, kind: StreamKind, options: &BusOptions) -> stream::Config {
    let (retention, max_age, description) = match kind {
        StreamKind::Tasks => (
            RetentionPolicy::WorkQueue,
            Duration::ZERO,
            "sortie: feature and validation tasks",
        ),
        StreamKind::Reports => (
            RetentionPolicy::WorkQueue,
            Duration::ZERO,
            "sortie: attempt reports for the orchestrator",
        ),
        StreamKind::Events => (
            RetentionPolicy::Limits,
            options.event_max_age,
            "sortie: mission events for watchers",
        ),
    };
    // The server refuses a duplicate window longer than the stream's max age.
    let duplicate_window = if max_age.is_zero() {
        options.duplicate_window
    } else {
        options.duplicate_window.min(max_age)
    };
    stream::Config {
        name: subjects.stream(kind),
        description: Some(description.to_owned()),
        subjects: subjects.stream_subjects(kind),
        retention,
        max_age,
        duplicate_window,
        max_message_size: i32::try_from(options.max_message_size).unwrap_or(i32::MAX),
        storage: StorageType::File,
        discard: DiscardPolicy::Old,
        num_replicas: options.replicas.max(1),
        ..Default::default()
    }
}

fn consumer_config(subjects: &Subjects, queue: WorkQueue, options: &BusOptions) -> pull::Config {
    let durable = Subjects::durable(queue).to_owned();
    pull::Config {
        durable_name: Some(durable.clone()),
        name: Some(durable),
        description: Some(format!("sortie: the {} work queue", queue.topic())),
        deliver_policy: DeliverPolicy::All,
        ack_policy: AckPolicy::Explicit,
        ack_wait: options.ack_wait,
        max_deliver: options.max_deliver,
        filter_subject: subjects.queue_filter(queue),
        replay_policy: ReplayPolicy::Instant,
        ..Default::default()
    }
}

/// Update the stream, or create it when it is missing. When another process creates it
/// between the two, update it again.
async fn ensure_stream(jetstream: &Context, config: stream::Config) -> Result<(), BusError> {
    for _ in 0..CREATE_ATTEMPTS {
        match jetstream.update_stream(&config).await {
            Ok(_) => return Ok(()),
            Err(error) if error.kind() == CreateStreamErrorKind::NotFound => {}
            Err(error) => return Err(BusError::nats("updating a stream", error)),
        }
        match jetstream.create_stream(config.clone()).await {
            Ok(_) => {
                tracing::info!(stream = config.name, "created a stream");
                return Ok(());
            }
            Err(error) if created_meanwhile(error.kind()) => {
                tracing::debug!(stream = config.name, "the stream was created meanwhile");
            }
            Err(error) => return Err(BusError::nats("creating a stream", error)),
        }
    }
    Err(BusError::Refused {
        operation: "creating a stream",
        detail: format!("{} kept changing while it was created", config.name),
    })
}

fn created_meanwhile(kind: CreateStreamErrorKind) -> bool {
    matches!(kind, CreateStreamErrorKind::JetStream(api) if api.error_code() == ErrorCode::STREAM_NAME_EXIST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_events_stream_keeps_its_duplicate_window_within_its_max_age() {
        let subjects = Subjects::default();
        let options = BusOptions {
            event_max_age: Duration::from_secs(60),
            duplicate_window: Duration::from_secs(600),
            ..BusOptions::default()
        };
        let events = stream_config(&subjects, StreamKind::Events, &options);
        assert_eq!(events.duplicate_window, Duration::from_secs(60));
        let tasks = stream_config(&subjects, StreamKind::Tasks, &options);
        assert_eq!(tasks.duplicate_window, Duration::from_secs(600));
        assert_eq!(tasks.retention, RetentionPolicy::WorkQueue);
        assert_eq!(tasks.max_age, Duration::ZERO);
    }

    #[test]
    fn each_work_queue_consumer_is_durable_and_bounded() {
        let subjects = Subjects::default();
        let options = BusOptions::default();
        for queue in WorkQueue::ALL {
            let config = consumer_config(&subjects, queue, &options);
            assert_eq!(
                config.durable_name.as_deref(),
                Some(Subjects::durable(queue))
            );
            assert_eq!(config.ack_policy, AckPolicy::Explicit);
            assert_eq!(config.max_deliver, options.max_deliver);
            assert_eq!(config.ack_wait, options.ack_wait);
        }
    }
}
