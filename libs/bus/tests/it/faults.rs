//! A private NATS server, killed and restarted under the bus.

use std::time::{Duration, Instant};

use bytes::Bytes;
use sortie_bus::{Bus, BusError, Headers, JetStreamBus, Route, StreamKind, WorkQueue};
use sortie_model::MissionId;
use sortie_model::messages::Topic;
use sortie_test_support::PrivateNats;

use crate::support::test_options;

async fn publish(bus: &JetStreamBus, msg_id: &str) -> Result<sortie_bus::PublishAck, BusError> {
    bus.publish(
        Route::mission(Topic::FeatureTask, MissionId::generate()),
        msg_id,
        Bytes::from_static(b"{}"),
        &Headers::new(),
    )
    .await
}

/// Publish until it works again (the client reconnects in the background).
async fn publish_until_accepted(bus: &JetStreamBus, msg_id: &str) -> sortie_bus::PublishAck {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match publish(bus, msg_id).await {
            Ok(ack) => return ack,
            Err(error) if Instant::now() < deadline => {
                assert!(error.kind().is_retryable(), "{error}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => panic!("the bus did not come back: {error}"),
        }
    }
}

#[tokio::test]
async fn a_dead_server_is_a_retryable_error_and_a_restarted_one_keeps_its_messages() {
    let mut server = PrivateNats::start().await.unwrap();
    let bus = JetStreamBus::connect(&server.url(), "sortie", test_options())
        .await
        .unwrap();
    bus.ensure_topology().await.unwrap();
    publish(&bus, "before").await.unwrap();

    server.kill().unwrap();
    let started = Instant::now();
    let error = publish(&bus, "while-down").await.unwrap_err();
    assert!(error.kind().is_retryable(), "{error}");
    let ping_error = bus.ping().await.unwrap_err();
    assert!(ping_error.kind().is_retryable(), "{ping_error}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "bounded by the request timeout"
    );

    server.restart().await.unwrap();
    publish_until_accepted(&bus, "after").await;
    assert_eq!(bus.stored_messages(StreamKind::Tasks).await.unwrap(), 2);
    let duplicate = publish(&bus, "before").await.unwrap();
    assert!(duplicate.duplicate, "the dedupe window survives a restart");
}

#[tokio::test]
async fn a_lost_store_is_rebuilt_by_ensuring_the_topology() {
    let mut server = PrivateNats::start().await.unwrap();
    let bus = JetStreamBus::connect(&server.url(), "sortie", test_options())
        .await
        .unwrap();
    bus.ensure_topology().await.unwrap();
    publish(&bus, "lost").await.unwrap();

    server.restart_wiped().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let missing = loop {
        match publish(&bus, "after-loss").await {
            Err(error @ BusError::NoStream { .. }) => break error,
            Err(error) if Instant::now() < deadline => {
                assert!(error.kind().is_retryable(), "{error}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => panic!("expected a missing stream, got {other:?}"),
        }
    };
    assert!(missing.kind().is_retryable());

    bus.ensure_topology().await.unwrap();
    publish(&bus, "after-rebuild").await.unwrap();
    assert_eq!(bus.stored_messages(StreamKind::Tasks).await.unwrap(), 1);
    let workers = bus.consume(WorkQueue::FeatureTasks).await.unwrap();
    let delivery = workers.next(Duration::from_secs(5)).await.unwrap().unwrap();
    assert_eq!(delivery.msg_id(), Some("after-rebuild"));
    delivery.ack().await.unwrap();
}
