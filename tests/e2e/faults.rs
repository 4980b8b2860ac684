//! Processes die in the middle of the example mission; it still completes, with nothing
//! lost and nothing done twice.

use std::time::{Duration, Instant};

use sortie_cli::client::Client;
use sortie_cli::local::Role;
use sortie_e2e::{Stage, exclusive, fast_leases, integration_branch};
use sortie_model::MissionId;
use sortie_model::api::{AttemptSubject, EventView, MissionStatus, SubmitMission};
use sortie_model::state::AttemptState;

use crate::checks;

/// The example mission with every scripted pause made long, so that a feature is surely
/// still running when a process is killed.
fn with_long_features(mut request: SubmitMission) -> SubmitMission {
    request.mission_file = request
        .mission_file
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("sleep_ms") {
                "sleep_ms = 3000".to_owned()
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    request
}

/// Read events until `stop` says so, riding out an orchestrator that is down.
async fn watch_until(
    client: &Client,
    id: MissionId,
    after: &mut i64,
    limit: Duration,
    mut stop: impl FnMut(&EventView) -> bool,
) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Ok(events) = client.events(id, *after).await {
            for event in &events {
                *after = event.seq;
                if stop(event) {
                    return true;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The example mission completed with every feature accepted once and integrated once.
fn completed_cleanly(stage: &Stage, status: &MissionStatus) {
    assert_eq!(
        status.mission.state.as_str(),
        "completed",
        "{status:#?}\n{}",
        stage.logs()
    );
    checks::every_feature_accepted_once(status);
    let repository = stage.repository("notes");
    checks::every_feature_integrated_once(
        status,
        &repository,
        &integration_branch(&repository).expect("branch"),
    );
}

async fn settled(client: &Client, id: MissionId, limit: Duration) -> MissionStatus {
    let started = Instant::now();
    loop {
        if let Ok(status) = client.mission(id).await
            && sortie_cli::follow::is_settled(status.mission.state)
        {
            return status;
        }
        assert!(
            started.elapsed() < limit,
            "mission {id} did not settle within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_feature_loses_nothing() {
    let _one_at_a_time = exclusive().await;
    let mut stage = Stage::start(3, fast_leases()).await.expect("start Sortie");
    let request = with_long_features(stage.example_mission().await.expect("example"));
    let client = stage.client();
    let id = client.submit(&request).await.expect("submit").id;

    let mut after = 0;
    let mut victim = None;
    let found = watch_until(&client, id, &mut after, Duration::from_secs(120), |event| {
        let taken_by = event.data["reason"].as_str().unwrap_or_default();
        if event.kind == "feature_state"
            && event.data["to"] == "running"
            && taken_by.contains("worker-2")
        {
            victim = event.data["feature"].as_str().map(str::to_owned);
            return true;
        }
        false
    })
    .await;
    assert!(found, "worker-2 never took a feature\n{}", stage.logs());
    stage
        .cluster
        .kill(Role::Worker, 2)
        .await
        .expect("kill worker-2");
    let victim = victim.expect("the feature worker-2 was running");

    let status = settled(&client, id, Duration::from_secs(300)).await;
    completed_cleanly(&stage, &status);
    // The killed worker's attempt was abandoned when its lease ran out, and another
    // worker did the feature.
    let attempts: Vec<_> = status
        .attempts
        .iter()
        .filter(|attempt| matches!(&attempt.subject, AttemptSubject::Feature { feature } if feature.as_str() == victim))
        .collect();
    assert!(
        attempts
            .iter()
            .any(|attempt| attempt.state == AttemptState::Abandoned
                && attempt.worker.as_deref() == Some("worker-2")),
        "the killed worker's attempt was not abandoned: {attempts:#?}"
    );
    assert!(
        attempts
            .iter()
            .any(|attempt| attempt.state == AttemptState::Succeeded
                && attempt.worker.as_deref() != Some("worker-2"))
    );
    stage.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orchestrator_killed_mid_mission_resumes_it() {
    let _one_at_a_time = exclusive().await;
    let mut stage = Stage::start(3, fast_leases()).await.expect("start Sortie");
    let request = with_long_features(stage.example_mission().await.expect("example"));
    let client = stage.client();
    let id = client.submit(&request).await.expect("submit").id;

    let mut after = 0;
    let found = watch_until(&client, id, &mut after, Duration::from_secs(120), |event| {
        event.kind == "feature_state" && event.data["to"] == "done"
    })
    .await;
    assert!(found, "no feature finished\n{}", stage.logs());
    stage
        .cluster
        .kill(Role::Orchestrator, 1)
        .await
        .expect("kill the orchestrator");
    // Work goes on meanwhile: workers finish, their reports wait in the bus.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stage
        .cluster
        .restart(Role::Orchestrator, 1)
        .await
        .expect("restart the orchestrator");

    let status = settled(&client, id, Duration::from_secs(300)).await;
    completed_cleanly(&stage, &status);
    let events = client.events(id, 0).await.expect("events");
    let seqs: Vec<i64> = events.iter().map(|event| event.seq).collect();
    assert_eq!(
        seqs,
        (1..=i64::try_from(events.len()).expect("count")).collect::<Vec<_>>(),
        "the event log has gaps"
    );
    stage.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_orchestrator_takes_over_when_the_owner_dies() {
    let _one_at_a_time = exclusive().await;
    let mut stage = Stage::start_with(2, 3, fast_leases())
        .await
        .expect("start Sortie");
    let request = with_long_features(stage.example_mission().await.expect("example"));
    let id = stage.client().submit(&request).await.expect("submit").id;
    let clients = [
        stage.cluster.client_of(1).expect("orchestrator 1"),
        stage.cluster.client_of(2).expect("orchestrator 2"),
    ];

    let mut after = 0;
    let found = watch_until(
        &clients[0],
        id,
        &mut after,
        Duration::from_secs(120),
        |event| event.kind == "feature_state" && event.data["to"] == "done",
    )
    .await;
    assert!(found, "no feature finished\n{}", stage.logs());
    let owner = clients[0]
        .mission(id)
        .await
        .expect("status")
        .mission
        .owner
        .expect("a replica owns the running mission");
    let (dead, survivor) = if owner == "orchestrator-1" {
        (1, 2)
    } else {
        (2, 1)
    };
    stage
        .cluster
        .kill(Role::Orchestrator, dead)
        .await
        .expect("kill the owner");
    let survivor = &clients[survivor - 1];

    let status = settled(survivor, id, Duration::from_secs(300)).await;
    completed_cleanly(&stage, &status);
    // The survivor decided the rest of the mission.
    let events = survivor.events(id, after).await.expect("events");
    let survivor_name = if owner == "orchestrator-1" {
        "orchestrator-2"
    } else {
        "orchestrator-1"
    };
    assert!(
        events
            .iter()
            .any(|event| event.actor == format!("orchestrator:{survivor_name}")),
        "the surviving replica wrote nothing after the owner died"
    );
    stage.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bus_that_loses_its_streams_mid_mission_loses_no_work() {
    let _one_at_a_time = exclusive().await;
    let stage = Stage::start(3, fast_leases()).await.expect("start Sortie");
    let request = with_long_features(stage.example_mission().await.expect("example"));
    let client = stage.client();
    let id = client.submit(&request).await.expect("submit").id;

    let mut after = 0;
    let found = watch_until(&client, id, &mut after, Duration::from_secs(120), |event| {
        event.kind == "feature_state" && event.data["to"] == "running"
    })
    .await;
    assert!(found, "no feature started\n{}", stage.logs());
    // Tasks waiting in the queue, reports on their way, all gone.
    let lost = stage
        .nats()
        .lose_streams()
        .await
        .expect("delete the streams");
    assert!(lost >= 2, "only {lost} streams existed");

    let status = settled(&client, id, Duration::from_secs(300)).await;
    completed_cleanly(&stage, &status);
    stage.stop().await;
}
