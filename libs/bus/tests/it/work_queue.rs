use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sortie_bus::{Bus, Headers, Route, StreamKind, WorkQueue};
use sortie_model::MissionId;
use sortie_model::error::DeliveryDecision;
use sortie_model::messages::Topic;
use sortie_test_support::TestNats;

use crate::support::{publish_task, ready_bus, task_number};

const SHORT: Duration = Duration::from_millis(300);
const LONG: Duration = Duration::from_secs(5);

#[tokio::test]
async fn an_acked_message_is_gone() {
    let nats = TestNats::new().await.unwrap();
    let bus = ready_bus(&nats).await;
    let mission = MissionId::generate();
    publish_task(&bus, mission, "t-1", 1).await;
    let workers = bus.consume(WorkQueue::FeatureTasks).await.unwrap();

    let delivery = workers.next(LONG).await.unwrap().expect("the task");
    assert_eq!(delivery.delivered(), 1);
    assert_eq!(delivery.mission(), Some(mission));
    assert_eq!(delivery.topic(), Topic::FeatureTask);
    delivery.ack().await.unwrap();

    assert_eq!(bus.stored_messages(StreamKind::Tasks).await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(1500)).await; // past the ack wait
    assert!(workers.next(SHORT).await.unwrap().is_none());
}

#[tokio::test]
async fn a_nakd_message_comes_back_after_its_delay() {
    let nats = TestNats::new().await.unwrap();
    let bus = ready_bus(&nats).await;
    publish_task(&bus, MissionId::generate(), "t-1", 1).await;
    let workers = bus.consume(WorkQueue::FeatureTasks).await.unwrap();

    let delivery = workers.next(LONG).await.unwrap().expect("the task");
    let nakd_at = Instant::now();
    delivery.nak(Duration::from_millis(1500)).await.unwrap();
    assert!(
        workers.next(SHORT).await.unwrap().is_none(),
        "not back before its delay"
    );
    let again = workers
        .next(LONG)
        .await
        .unwrap()
        .expect("back after its delay");
    assert!(nakd_at.elapsed() >= Duration::from_millis(1000));
    assert_eq!(again.delivered(), 2);
    assert_eq!(again.msg_id(), Some("t-1"));
    again.ack().await.unwrap();
}

#[tokio::test]
async fn an_unsettled_message_comes_back_after_the_ack_wait() {
    let nats = TestNats::new().await.unwrap();
    let bus = ready_bus(&nats).await;
    publish_task(&bus, MissionId::generate(), "t-1", 1).await;
    let workers = bus.consume(WorkQueue::FeatureTasks).await.unwrap();

    let held = workers.next(LONG).await.unwrap().expect("the task");
    let again = workers
        .next(LONG)
        .await
        .unwrap()
        .expect("redelivered after 1s");
    assert_eq!(again.delivered(), 2);
    assert_eq!(again.msg_id(), held.msg_id());
    again.ack().await.unwrap();
}

#[tokio::test]
async fn in_progress_extends_the_ack_wait() {
    let nats = TestNats::new().await.unwrap();
    let bus = ready_bus(&nats).await;
    publish_task(&bus, MissionId::generate(), "t-1", 1).await;
    let workers = bus.consume(WorkQueue::FeatureTasks).await.unwrap();
    let others = bus.consume(WorkQueue::FeatureTasks).await.unwrap();

    let delivery = workers.next(LONG).await.unwrap().expect("the task");
    // Three times the ack wait of 1s, with a heartbeat every 200ms.
    let watching = tokio::spawn(async move { others.next(Duration::from_secs(3)).await });
    for _ in 0..15 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        delivery.in_progress().await.unwrap();
    }
    let stolen = watching.await.unwrap().unwrap();
    assert!(
        stolen.is_none(),
        "no one else got the task while it was in progress"
    );
    assert_eq!(delivery.delivered(), 1);
    delivery.ack().await.unwrap();
    assert_eq!(bus.stored_messages(StreamKind::Tasks).await.unwrap(), 0);
}

#[tokio::test]
async fn a_terminated_message_is_not_delivered_again() {
    let nats = TestNats::new().await.unwrap();
    let bus = ready_bus(&nats).await;
    publish_task(&bus, MissionId::generate(), "t-1", 1).await;
    let workers = bus.consume(WorkQueue::FeatureTasks).await.unwrap();

    workers
        .next(LONG)
        .await
        .unwrap()
        .expect("the task")
        .term()
        .await
        .unwrap();
    // Well past the ack wait of 1s.
    assert!(
        workers
            .next(Duration::from_secs(2))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn max_deliver_bounds_redelivery() {
    let nats = TestNats::new().await.unwrap();
    let bus = ready_bus(&nats).await; // max_deliver = 3
    publish_task(&bus, MissionId::generate(), "t-1", 1).await;
    let workers = bus.consume(WorkQueue::FeatureTasks).await.unwrap();

    let mut counts = Vec::new();
    while let Some(delivery) = workers.next(Duration::from_secs(2)).await.unwrap() {
        counts.push(delivery.delivered());
        delivery.nak(Duration::from_millis(50)).await.unwrap();
        assert!(
            counts.len() <= 3,
            "delivered more than max_deliver: {counts:?}"
        );
    }
    assert_eq!(counts, vec![1, 2, 3]);
}

#[tokio::test]
async fn the_models_decisions_settle_a_delivery() {
    let nats = TestNats::new().await.unwrap();
    let bus = ready_bus(&nats).await;
    let mission = MissionId::generate();
    for n in 1..=3 {
        publish_task(&bus, mission, &format!("t-{n}"), n).await;
    }
    let workers = bus.consume(WorkQueue::FeatureTasks).await.unwrap();
    let deliveries = workers.fetch(3, LONG).await.unwrap();
    assert_eq!(deliveries.len(), 3);
    let mut retried = None;
    for delivery in deliveries {
        let decision = match task_number(delivery.payload()) {
            1 => DeliveryDecision::Ack,
            2 => {
                retried = Some(delivery.retry_delay());
                DeliveryDecision::Retry
            }
            _ => DeliveryDecision::Terminate,
        };
        delivery.deliver(decision).await.unwrap();
    }
    assert_eq!(
        retried,
        Some(Duration::from_millis(200)),
        "the first retry delay"
    );

    let again = workers.next(LONG).await.unwrap().expect("the retried task");
    assert_eq!(task_number(again.payload()), 2);
    assert_eq!(again.delivered(), 2);
    assert_eq!(
        again.retry_delay(),
        Duration::from_millis(400),
        "it doubles"
    );
    again.ack().await.unwrap();
    assert!(
        workers
            .next(Duration::from_secs(2))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn two_consumers_of_one_queue_get_different_messages() {
    let nats = TestNats::new().await.unwrap();
    let first_bus = ready_bus(&nats).await;
    let second_bus = ready_bus(&nats).await;
    let mission = MissionId::generate();
    for n in 0..40 {
        publish_task(&first_bus, mission, &format!("t-{n}"), n).await;
    }
    let first = first_bus.consume(WorkQueue::FeatureTasks).await.unwrap();
    let second = second_bus.consume(WorkQueue::FeatureTasks).await.unwrap();

    // Held at the same time, two deliveries are two different messages.
    let held_by_first = first.next(LONG).await.unwrap().unwrap();
    let held_by_second = second.next(LONG).await.unwrap().unwrap();
    assert_ne!(held_by_first.msg_id(), held_by_second.msg_id());
    held_by_first.ack().await.unwrap();
    held_by_second.ack().await.unwrap();

    // Drained at the same time, every message goes to exactly one of them.
    let drain = |consumer: Box<dyn sortie_bus::Deliveries>| async move {
        let mut seen = Vec::new();
        while let Some(delivery) = consumer.next(Duration::from_millis(500)).await.unwrap() {
            seen.push(task_number(delivery.payload()));
            delivery.ack().await.unwrap();
        }
        seen
    };
    let (seen_by_first, seen_by_second) = tokio::join!(drain(first), drain(second));
    let mut all: Vec<u64> = seen_by_first
        .iter()
        .chain(&seen_by_second)
        .copied()
        .collect();
    all.sort_unstable();
    let distinct: BTreeSet<u64> = all.iter().copied().collect();
    assert_eq!(all.len(), 38, "no message twice: {all:?}");
    assert_eq!(distinct.len(), 38);
}

#[tokio::test]
async fn a_fetch_returns_what_is_there_without_waiting_for_more() {
    let nats = TestNats::new().await.unwrap();
    let bus = ready_bus(&nats).await;
    let mission = MissionId::generate();
    for n in 0..5 {
        publish_task(&bus, mission, &format!("t-{n}"), n).await;
    }
    let workers = bus.consume(WorkQueue::FeatureTasks).await.unwrap();
    let batch = workers.fetch(50, Duration::from_secs(30)).await.unwrap();
    let numbers: Vec<u64> = batch.iter().map(|d| task_number(d.payload())).collect();
    assert_eq!(numbers, vec![0, 1, 2, 3, 4], "all of them, in order");
    for delivery in batch {
        delivery.ack().await.unwrap();
    }
    assert!(workers.fetch(10, Duration::ZERO).await.unwrap().is_empty());
    assert!(workers.fetch(10, SHORT).await.unwrap().is_empty());
}

#[tokio::test]
async fn headers_round_trip() {
    let nats = TestNats::new().await.unwrap();
    let bus = ready_bus(&nats).await;
    let mission = MissionId::generate();
    let mut headers = Headers::new();
    headers.insert(
        "traceparent".to_owned(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
    );
    headers.insert("sortie-kind".to_owned(), "heartbeat".to_owned());
    bus.publish(
        Route::mission(Topic::AttemptReport, mission),
        "r-1",
        Bytes::from_static(b"{\"ok\":true}"),
        &headers,
    )
    .await
    .unwrap();

    let orchestrator = bus.consume(WorkQueue::AttemptReports).await.unwrap();
    let delivery = orchestrator.next(LONG).await.unwrap().expect("the report");
    assert_eq!(delivery.headers(), &headers);
    assert_eq!(delivery.msg_id(), Some("r-1"));
    assert_eq!(delivery.mission(), Some(mission));
    assert_eq!(delivery.queue(), WorkQueue::AttemptReports);
    assert_eq!(delivery.payload().as_ref(), b"{\"ok\":true}");
    delivery.ack().await.unwrap();
}

#[tokio::test]
async fn feature_and_validation_tasks_go_to_their_own_consumers() {
    let nats = TestNats::new().await.unwrap();
    let bus = ready_bus(&nats).await;
    let mission = MissionId::generate();
    bus.publish(
        Route::mission(Topic::ValidationTask, mission),
        "v-1",
        Bytes::from_static(b"{}"),
        &Headers::new(),
    )
    .await
    .unwrap();
    let workers = bus.consume(WorkQueue::FeatureTasks).await.unwrap();
    let validators = bus.consume(WorkQueue::ValidationTasks).await.unwrap();
    assert!(workers.next(SHORT).await.unwrap().is_none());
    let delivery = validators
        .next(LONG)
        .await
        .unwrap()
        .expect("the validation task");
    assert_eq!(delivery.msg_id(), Some("v-1"));
    delivery.ack().await.unwrap();
}
