//! Buses on a test's own prefix, with timings short enough for tests.

use std::time::Duration;

use bytes::Bytes;
use sortie_bus::{Bus, BusOptions, Headers, JetStreamBus, Route};
use sortie_model::MissionId;
use sortie_model::messages::Topic;
use sortie_test_support::TestNats;

/// Short ack waits and retries, so redelivery shows within a test.
pub(crate) fn test_options() -> BusOptions {
    BusOptions {
        client_name: Some("sortie-bus-tests".to_owned()),
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
        ack_wait: Duration::from_secs(1),
        max_deliver: 3,
        retry_delay: Duration::from_millis(200),
        max_retry_delay: Duration::from_secs(2),
        ..BusOptions::default()
    }
}

/// A bus on the test's prefix, topology not yet ensured.
pub(crate) async fn connect(nats: &TestNats, options: BusOptions) -> JetStreamBus {
    JetStreamBus::connect(nats.url(), nats.prefix(), options)
        .await
        .expect("connecting to the test NATS")
}

/// A bus on the test's prefix with its streams and consumers in place.
pub(crate) async fn ready_bus(nats: &TestNats) -> JetStreamBus {
    let bus = connect(nats, test_options()).await;
    bus.ensure_topology().await.expect("ensuring the topology");
    bus
}

/// Publish a feature task with a JSON body `{"n": n}`.
pub(crate) async fn publish_task(bus: &JetStreamBus, mission: MissionId, msg_id: &str, n: u64) {
    let payload = Bytes::from(serde_json::to_vec(&serde_json::json!({ "n": n })).unwrap());
    let ack = bus
        .publish(
            Route::mission(Topic::FeatureTask, mission),
            msg_id,
            payload,
            &Headers::new(),
        )
        .await
        .expect("publishing a task");
    assert!(!ack.duplicate, "{msg_id} was new");
}

/// The `n` of a payload written by [`publish_task`].
pub(crate) fn task_number(payload: &[u8]) -> u64 {
    let value: serde_json::Value = serde_json::from_slice(payload).expect("a JSON payload");
    value["n"].as_u64().expect("a number n")
}
