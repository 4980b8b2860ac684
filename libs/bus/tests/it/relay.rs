//! The outbox relay between a real Postgres ledger and a real NATS server.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sortie_bus::{
    Bus, BusOutboxSink, JetStreamBus, OutboxRelay, RelaySettings, StreamKind, WorkQueue,
};
use sortie_ledger::{
    Actor, Change, Ledger, MissionSubmission, OutboxRow, OutboxSink, OutboxSinkError,
    OutgoingMessage, PostgresLedger, PostgresOptions,
};
use sortie_model::messages::Topic;
use sortie_model::{MissionId, Plan};
use sortie_test_support::{TestDb, TestNats};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::support::{ready_bus, task_number};

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

struct Harness {
    ledger: Arc<PostgresLedger>,
    bus: Arc<JetStreamBus>,
    _nats: TestNats,
    _db: TestDb,
}

impl Harness {
    async fn new() -> Self {
        let db = TestDb::create().await.unwrap();
        let ledger = PostgresLedger::connect(&db.url, &PostgresOptions::default()).unwrap();
        ledger.migrate().await.unwrap();
        let nats = TestNats::new().await.unwrap();
        let bus = ready_bus(&nats).await;
        Self {
            ledger: Arc::new(ledger),
            bus: Arc::new(bus),
            _nats: nats,
            _db: db,
        }
    }

    fn relay(&self, batch_size: usize) -> OutboxRelay {
        OutboxRelay::new(
            self.ledger.clone(),
            self.bus.clone(),
            RelaySettings {
                batch_size,
                poll_interval: Duration::from_millis(200),
                retry_delay: Duration::from_millis(100),
            },
        )
    }

    async fn create_mission(&self) -> MissionId {
        let plan: Plan = serde_json::from_value(serde_json::json!({
            "mission": { "name": "relay", "goal": "relay the outbox" },
            "repositories": [{ "name": "app", "url": "/tmp/app" }],
            "milestones": [{ "id": "m1", "title": "core" }],
            "features": [{ "id": "F-1", "title": "one", "milestone": "m1", "repository": "app" }]
        }))
        .expect("a minimal plan");
        self.ledger
            .create_mission(MissionSubmission {
                tenant: "tenant".to_owned(),
                team: "team".to_owned(),
                submitted_by: "alice".to_owned(),
                approved_by: Some("alice".to_owned()),
                plan,
                source: None,
            })
            .await
            .unwrap()
    }

    /// Commit feature tasks `numbers` for `mission`, `per_change` to a change.
    async fn commit_tasks(
        &self,
        mission: MissionId,
        numbers: std::ops::Range<u64>,
        per_change: usize,
    ) {
        let numbers: Vec<u64> = numbers.collect();
        for chunk in numbers.chunks(per_change) {
            let mut change = Change::new(mission, Actor::system());
            for &n in chunk {
                change = change.send(task(mission, n));
            }
            self.ledger.apply(change).await.unwrap();
        }
    }

    async fn backlog(&self) -> i64 {
        self.ledger.outbox_backlog().await.unwrap()
    }
}

fn task(mission: MissionId, n: u64) -> OutgoingMessage {
    OutgoingMessage {
        topic: Topic::FeatureTask,
        msg_id: format!("{mission}-{n}"),
        payload: serde_json::json!({ "n": n }),
        headers: BTreeMap::from([("traceparent".to_owned(), TRACEPARENT.to_owned())]),
    }
}

/// Everything the workers' queue delivers until it stays empty, acked, in delivery order.
async fn consume_all(bus: &JetStreamBus) -> Vec<(MissionId, u64, String)> {
    let workers = bus.consume(WorkQueue::FeatureTasks).await.unwrap();
    let mut seen = Vec::new();
    while let Some(delivery) = workers.next(Duration::from_millis(700)).await.unwrap() {
        assert_eq!(delivery.header("traceparent"), Some(TRACEPARENT));
        seen.push((
            delivery.mission().expect("a task names its mission"),
            task_number(delivery.payload()),
            delivery.msg_id().expect("a dedupe id").to_owned(),
        ));
        delivery.ack().await.unwrap();
    }
    seen
}

/// Each message id exactly once, and these many of them.
fn assert_exactly_once(seen: &[(MissionId, u64, String)], expected: usize) {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for (_, _, msg_id) in seen {
        *counts.entry(msg_id).or_default() += 1;
    }
    let repeated: Vec<_> = counts.iter().filter(|(_, count)| **count > 1).collect();
    assert!(repeated.is_empty(), "delivered twice: {repeated:?}");
    assert_eq!(counts.len(), expected, "every row delivered");
}

#[tokio::test]
async fn every_outbox_row_is_delivered_once() {
    let harness = Harness::new().await;
    let mission = harness.create_mission().await;
    harness.commit_tasks(mission, 0..25, 4).await;
    assert_eq!(harness.backlog().await, 25);

    let sent = harness.relay(10).drain().await.unwrap();

    assert_eq!(sent, 25);
    assert_eq!(harness.backlog().await, 0);
    let seen = consume_all(&harness.bus).await;
    assert_exactly_once(&seen, 25);
    assert_eq!(
        harness.relay(10).run_once().await.unwrap(),
        0,
        "nothing left"
    );
}

/// Publishes through the real bus, then fails, as a relay that died before marking would.
struct PublishThenFail {
    inner: BusOutboxSink,
}

#[async_trait]
impl OutboxSink for PublishThenFail {
    async fn publish(&self, rows: &[OutboxRow]) -> Result<(), OutboxSinkError> {
        self.inner.publish(rows).await?;
        Err(OutboxSinkError {
            message: "the relay died after publishing".to_owned(),
        })
    }
}

#[tokio::test]
async fn a_relay_that_dies_after_publishing_is_followed_without_duplicates() {
    let harness = Harness::new().await;
    let mission = harness.create_mission().await;
    harness.commit_tasks(mission, 0..20, 5).await;

    let dying = PublishThenFail {
        inner: BusOutboxSink::new(harness.bus.clone()),
    };
    harness.ledger.drain_outbox(8, &dying).await.unwrap_err();
    assert_eq!(harness.backlog().await, 20, "nothing was marked sent");
    assert_eq!(
        harness
            .bus
            .stored_messages(StreamKind::Tasks)
            .await
            .unwrap(),
        8
    );

    let sent = harness.relay(6).drain().await.unwrap();

    assert_eq!(sent, 20);
    assert_eq!(harness.backlog().await, 0);
    assert_eq!(
        harness
            .bus
            .stored_messages(StreamKind::Tasks)
            .await
            .unwrap(),
        20
    );
    assert_exactly_once(&consume_all(&harness.bus).await, 20);
}

/// Publishes through the real bus, says so, and never returns: the task is aborted.
struct PublishThenHang {
    inner: BusOutboxSink,
    published: std::sync::Mutex<Option<oneshot::Sender<()>>>,
}

#[async_trait]
impl OutboxSink for PublishThenHang {
    async fn publish(&self, rows: &[OutboxRow]) -> Result<(), OutboxSinkError> {
        self.inner.publish(rows).await?;
        let signal = self.published.lock().unwrap().take();
        if let Some(signal) = signal {
            let _ = signal.send(());
        }
        std::future::pending().await
    }
}

#[tokio::test]
async fn a_relay_aborted_between_publish_and_mark_is_followed_without_duplicates() {
    let harness = Harness::new().await;
    let mission = harness.create_mission().await;
    harness.commit_tasks(mission, 0..12, 3).await;

    let (published, on_published) = oneshot::channel();
    let hanging = PublishThenHang {
        inner: BusOutboxSink::new(harness.bus.clone()),
        published: std::sync::Mutex::new(Some(published)),
    };
    let ledger = harness.ledger.clone();
    let doomed = tokio::spawn(async move { ledger.drain_outbox(12, &hanging).await });
    tokio::time::timeout(Duration::from_secs(10), on_published)
        .await
        .expect("the doomed relay published")
        .unwrap();
    doomed.abort();
    assert!(doomed.await.unwrap_err().is_cancelled());
    assert_eq!(
        harness
            .bus
            .stored_messages(StreamKind::Tasks)
            .await
            .unwrap(),
        12
    );

    // The aborted transaction's locks go when its connection is rolled back.
    let sent = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let sent = harness.relay(5).drain().await.unwrap();
            if harness.backlog().await == 0 {
                return sent;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("a fresh relay drains the outbox");

    assert_eq!(sent, 12);
    assert_exactly_once(&consume_all(&harness.bus).await, 12);
}

#[tokio::test]
async fn two_relays_draining_at_once_deliver_each_row_once() {
    let harness = Harness::new().await;
    let mission = harness.create_mission().await;
    harness.commit_tasks(mission, 0..60, 6).await;

    let first = harness.relay(4);
    let second = harness.relay(4);
    let (first_sent, second_sent) = tokio::join!(first.drain(), second.drain());

    assert_eq!(first_sent.unwrap() + second_sent.unwrap(), 60);
    assert_eq!(harness.backlog().await, 0);
    assert_exactly_once(&consume_all(&harness.bus).await, 60);
}

#[tokio::test]
async fn a_running_relay_keeps_each_missions_order() {
    let harness = Harness::new().await;
    let missions = [
        harness.create_mission().await,
        harness.create_mission().await,
        harness.create_mission().await,
    ];
    let relay = Arc::new(harness.relay(7));
    let cancel = CancellationToken::new();
    let running = tokio::spawn({
        let relay = relay.clone();
        let cancel = cancel.clone();
        async move { relay.run(cancel).await }
    });

    // Interleave the missions' changes, poking the relay after each commit.
    let waker = relay.waker();
    for round in 0..5_u64 {
        for mission in missions {
            harness
                .commit_tasks(mission, round * 4..round * 4 + 4, 2)
                .await;
            waker.notify_one();
        }
    }
    tokio::time::timeout(Duration::from_secs(30), async {
        while harness.backlog().await > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the running relay drains the outbox");
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the relay stops when cancelled")
        .unwrap();

    let seen = consume_all(&harness.bus).await;
    assert_exactly_once(&seen, 60);
    for mission in missions {
        let order: Vec<u64> = seen
            .iter()
            .filter(|(of, _, _)| *of == mission)
            .map(|(_, n, _)| *n)
            .collect();
        assert_eq!(
            order,
            (0..20).collect::<Vec<_>>(),
            "mission {mission} in order"
        );
    }
}
