use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use sortie_bus::{Bus, EventWatch, Headers, JetStreamBus, Route, WatchStart, WatchedEvent};
use sortie_model::MissionId;
use sortie_model::messages::Topic;
use sortie_test_support::TestNats;

use crate::support::ready_bus;

async fn publish_event(bus: &JetStreamBus, mission: MissionId, text: &str) -> u64 {
    bus.publish(
        Route::mission(Topic::MissionEvent, mission),
        &format!("{mission}-{text}"),
        Bytes::from(text.to_owned()),
        &Headers::new(),
    )
    .await
    .unwrap()
    .sequence
}

async fn next_event(watch: &mut EventWatch) -> WatchedEvent {
    tokio::time::timeout(Duration::from_secs(5), watch.next())
        .await
        .expect("an event within 5s")
        .expect("the watch goes on")
        .expect("a good event")
}

async fn no_event(watch: &mut EventWatch) {
    let next = tokio::time::timeout(Duration::from_millis(500), watch.next()).await;
    assert!(next.is_err(), "no further event: {next:?}");
}

fn text(event: &WatchedEvent) -> &str {
    std::str::from_utf8(&event.payload).unwrap()
}

#[tokio::test]
async fn a_watcher_sees_one_missions_events_in_order() {
    let nats = TestNats::new().await.unwrap();
    let bus = ready_bus(&nats).await;
    let watched = MissionId::generate();
    let other = MissionId::generate();
    publish_event(&bus, watched, "a").await;
    publish_event(&bus, other, "x").await;
    publish_event(&bus, watched, "b").await;

    let mut watch = bus
        .watch_events(Some(watched), WatchStart::All)
        .await
        .unwrap();
    let first = next_event(&mut watch).await;
    let second = next_event(&mut watch).await;
    assert_eq!((text(&first), text(&second)), ("a", "b"));
    assert_eq!(first.mission, Some(watched));
    assert_eq!(first.msg_id, Some(format!("{watched}-a")));
    assert!(first.sequence < second.sequence);
    no_event(&mut watch).await;

    publish_event(&bus, other, "y").await;
    publish_event(&bus, watched, "c").await;
    assert_eq!(text(&next_event(&mut watch).await), "c");
}

#[tokio::test]
async fn a_watcher_can_start_now_or_resume_after_what_it_saw() {
    let nats = TestNats::new().await.unwrap();
    let bus = ready_bus(&nats).await;
    let mission = MissionId::generate();
    publish_event(&bus, mission, "old-1").await;
    let second = publish_event(&bus, mission, "old-2").await;

    let mut new_only = bus.watch_events(None, WatchStart::NewOnly).await.unwrap();
    let mut resumed = bus
        .watch_events(Some(mission), WatchStart::FromSequence(second))
        .await
        .unwrap();
    publish_event(&bus, mission, "new").await;

    assert_eq!(text(&next_event(&mut new_only).await), "new");
    no_event(&mut new_only).await;
    assert_eq!(text(&next_event(&mut resumed).await), "old-2");
    assert_eq!(text(&next_event(&mut resumed).await), "new");
}
