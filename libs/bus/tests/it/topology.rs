use std::time::Duration;

use sortie_bus::{Bus, BusOptions, JetStreamBus, StreamKind, Subjects, WorkQueue};
use sortie_model::ErrorKind;
use sortie_test_support::TestNats;

use crate::support::{connect, ready_bus, test_options};

#[tokio::test]
async fn ensuring_the_topology_twice_is_harmless() {
    let nats = TestNats::new().await.unwrap();
    let bus = ready_bus(&nats).await;
    bus.ensure_topology().await.expect("a second ensure");

    let subjects = Subjects::new(nats.prefix()).unwrap();
    let mut streams = nats.streams().await.unwrap();
    streams.sort();
    let mut expected: Vec<String> = StreamKind::ALL
        .into_iter()
        .map(|kind| subjects.stream(kind))
        .collect();
    expected.sort();
    assert_eq!(streams, expected);
    for queue in WorkQueue::ALL {
        let stats = bus
            .queue_stats(queue)
            .await
            .expect("the queue's consumer exists");
        assert_eq!(stats.pending, 0);
    }
}

#[tokio::test]
async fn two_services_starting_together_both_ensure_the_topology() {
    // Several fresh prefixes, so the race between create and update is actually run.
    for _ in 0..5 {
        let nats = TestNats::new().await.unwrap();
        let first = connect(&nats, test_options()).await;
        let second = connect(&nats, test_options()).await;
        let (first_result, second_result) =
            tokio::join!(first.ensure_topology(), second.ensure_topology());
        first_result.expect("the first service");
        second_result.expect("the second service");
        assert_eq!(nats.streams().await.unwrap().len(), StreamKind::ALL.len());
        nats.cleanup().await.unwrap();
    }
}

#[tokio::test]
async fn a_restart_with_new_limits_updates_the_consumers() {
    let nats = TestNats::new().await.unwrap();
    ready_bus(&nats).await;
    let options = BusOptions {
        ack_wait: Duration::from_secs(7),
        max_deliver: 9,
        ..test_options()
    };
    let bus = connect(&nats, options).await;
    bus.ensure_topology()
        .await
        .expect("ensuring with new limits");
    let jetstream = async_nats::jetstream::new(nats.client().clone());
    let subjects = Subjects::new(nats.prefix()).unwrap();
    let mut stream = jetstream
        .get_stream(subjects.queue_stream(WorkQueue::FeatureTasks))
        .await
        .unwrap();
    let info = stream
        .consumer_info(Subjects::durable(WorkQueue::FeatureTasks))
        .await
        .unwrap();
    assert_eq!(info.config.ack_wait, Duration::from_secs(7));
    assert_eq!(info.config.max_deliver, 9);
    let stream_info = stream.info().await.unwrap();
    assert_eq!(
        stream_info.config.duplicate_window,
        test_options().duplicate_window
    );
}

#[tokio::test]
async fn a_server_that_is_not_there_is_unavailable_at_once() {
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = std::time::Instant::now();
    let error = JetStreamBus::connect(
        &format!("nats://127.0.0.1:{closed_port}"),
        "t_closed",
        test_options(),
    )
    .await
    .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "it did not wait forever"
    );
}

#[tokio::test]
async fn a_bad_prefix_is_refused_before_connecting() {
    let nats = TestNats::new().await.unwrap();
    let error = JetStreamBus::connect(nats.url(), "Bad.Prefix", test_options())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::BadRequest);
}

#[tokio::test]
async fn a_dropped_test_prefix_leaves_no_streams_behind() {
    use futures_util::StreamExt;

    let nats = TestNats::new().await.unwrap();
    ready_bus(&nats).await;
    let stream_prefix = format!("{}_", nats.prefix().to_ascii_uppercase());
    let observer = TestNats::new().await.unwrap();
    drop(nats);

    let jetstream = async_nats::jetstream::new(observer.client().clone());
    let names: Vec<String> = jetstream
        .stream_names()
        .map(|name| name.unwrap())
        .collect()
        .await;
    let left: Vec<&String> = names
        .iter()
        .filter(|name| name.starts_with(&stream_prefix))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[tokio::test]
async fn a_ready_bus_answers_a_ping() {
    let nats = TestNats::new().await.unwrap();
    let bus = ready_bus(&nats).await;
    bus.ping().await.expect("the shared server answers");
}
