use bytes::Bytes;
use sortie_bus::{Bus, BusError, BusOptions, Headers, Route, StreamKind};
use sortie_model::ErrorKind;
use sortie_model::MissionId;
use sortie_model::messages::Topic;
use sortie_test_support::TestNats;

use crate::support::{connect, ready_bus, test_options};

#[tokio::test]
async fn the_same_dedupe_id_is_stored_once() {
    let nats = TestNats::new().await.unwrap();
    let bus = ready_bus(&nats).await;
    let route = Route::mission(Topic::FeatureTask, MissionId::generate());

    let first = bus
        .publish(route, "task-1", Bytes::from_static(b"{}"), &Headers::new())
        .await
        .unwrap();
    let second = bus
        .publish(route, "task-1", Bytes::from_static(b"{}"), &Headers::new())
        .await
        .unwrap();

    assert!(!first.duplicate);
    assert!(second.duplicate, "the second ack says duplicate");
    assert_eq!(second.sequence, first.sequence);
    assert_eq!(bus.stored_messages(StreamKind::Tasks).await.unwrap(), 1);
}

#[tokio::test]
async fn every_topic_is_stored_in_its_stream() {
    let nats = TestNats::new().await.unwrap();
    let bus = ready_bus(&nats).await;
    let mission = MissionId::generate();
    for (index, topic) in Topic::ALL.into_iter().enumerate() {
        let ack = bus
            .publish(
                Route::mission(topic, mission),
                &format!("m-{index}"),
                Bytes::from_static(b"{}"),
                &Headers::new(),
            )
            .await
            .unwrap();
        let subjects = bus.subjects();
        assert_eq!(ack.stream, subjects.stream(StreamKind::of_topic(topic)));
    }
    assert_eq!(bus.stored_messages(StreamKind::Tasks).await.unwrap(), 2);
    assert_eq!(bus.stored_messages(StreamKind::Reports).await.unwrap(), 1);
    assert_eq!(bus.stored_messages(StreamKind::Events).await.unwrap(), 1);
}

#[tokio::test]
async fn publishing_without_the_topology_is_unavailable() {
    let nats = TestNats::new().await.unwrap();
    let bus = connect(&nats, test_options()).await;
    let error = bus
        .publish(
            Route::from(Topic::AttemptReport),
            "r-1",
            Bytes::from_static(b"{}"),
            &Headers::new(),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, BusError::NoStream { .. }), "{error}");
    assert_eq!(error.kind(), ErrorKind::Unavailable);
}

#[tokio::test]
async fn a_message_over_the_limit_is_refused() {
    let nats = TestNats::new().await.unwrap();
    let options = BusOptions {
        max_message_size: 4096,
        ..test_options()
    };
    let bus = connect(&nats, options).await;
    bus.ensure_topology().await.unwrap();
    let error = bus
        .publish(
            Route::from(Topic::FeatureTask),
            "big",
            Bytes::from(vec![b'x'; 5000]),
            &Headers::new(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, BusError::TooLarge { limit: 4096, .. }),
        "{error}"
    );
    assert_eq!(error.kind(), ErrorKind::BadRequest);
}

#[tokio::test]
async fn a_message_without_a_dedupe_id_or_with_a_bad_header_is_refused() {
    let nats = TestNats::new().await.unwrap();
    let bus = ready_bus(&nats).await;
    let route = Route::from(Topic::FeatureTask);
    let no_id = bus
        .publish(route, "", Bytes::from_static(b"{}"), &Headers::new())
        .await
        .unwrap_err();
    assert_eq!(no_id.kind(), ErrorKind::BadRequest, "{no_id}");

    let mut headers = Headers::new();
    headers.insert("bad:name".to_owned(), "x".to_owned());
    let bad_header = bus
        .publish(route, "h-1", Bytes::from_static(b"{}"), &headers)
        .await
        .unwrap_err();
    assert_eq!(bad_header.kind(), ErrorKind::BadRequest, "{bad_header}");
    assert_eq!(bus.stored_messages(StreamKind::Tasks).await.unwrap(), 0);
}
