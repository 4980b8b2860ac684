//! The example mission, start to end: parallel features, a seeded bug that validation
//! catches, a fix feature that clears it, a milestone validated again.

use std::time::Duration;

use sortie_cli::follow::follow;
use sortie_e2e::{Stage, exclusive, integration_branch};
use sortie_model::api::{AttemptSubject, EventView};
use sortie_model::state::AttemptState;

use crate::checks;

/// The position of the first event that matches, for checking the story's order.
fn position(events: &[EventView], what: &str, matches: impl Fn(&EventView) -> bool) -> usize {
    events
        .iter()
        .position(matches)
        .unwrap_or_else(|| panic!("the event log never shows {what}"))
}

fn milestone_becomes(event: &EventView, milestone: &str, to: &str) -> bool {
    event.kind == "milestone_state"
        && event.data["milestone"] == milestone
        && event.data["to"] == to
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_mission_completes_with_its_bug_found_and_fixed() {
    let _one_at_a_time = exclusive().await;
    let stage = Stage::start(3, Vec::new()).await.expect("start Sortie");
    let request = stage.example_mission().await.expect("example mission");
    let client = stage.client();
    let submitted = client.submit(&request).await.expect("submit");
    let followed = follow(
        &client,
        submitted.id,
        Duration::from_millis(200),
        Duration::from_secs(300),
        |line| {
            println!("{line}");
        },
    )
    .await;
    let logs = stage.logs();
    let followed = followed.unwrap_or_else(|error| panic!("{error}\n{logs}"));
    let status = followed.status;
    assert_eq!(
        status.mission.state.as_str(),
        "completed",
        "{status:#?}\n{logs}"
    );
    println!(
        "example mission: wall time {:.1}s, at most {} features at once",
        followed.wall_time.as_secs_f64(),
        followed.max_parallel_features
    );
    assert!(
        followed.max_parallel_features >= 2,
        "independent features never ran at the same time"
    );

    checks::every_feature_accepted_once(&status);
    checks::every_accepted_attempt_reports_usage(&status);
    let repository = stage.repository("notes");
    let branch = integration_branch(&repository).expect("integration branch");
    checks::every_feature_integrated_once(&status, &repository, &branch);
    checks::integrated_attempt_branches_removed(&status, &repository);

    // The seeded bug was found with evidence, fixed by a fix feature, and proven fixed.
    let finding = status
        .findings
        .iter()
        .find(|finding| {
            finding
                .finding
                .assertion
                .as_ref()
                .is_some_and(|id| id.as_str() == "VAL-SEARCH-002")
        })
        .expect("a finding for the case-sensitive search");
    assert_eq!(finding.milestone.as_str(), "m2-search");
    assert!(
        !finding.finding.evidence.is_empty(),
        "the finding has no evidence"
    );
    let fixes: Vec<_> = status
        .features
        .iter()
        .filter(|feature| feature.fix_round.is_some())
        .collect();
    assert_eq!(fixes.len(), 1, "one fix feature: {fixes:?}");
    assert_eq!(fixes[0].milestone.as_str(), "m2-search");
    let validations: Vec<AttemptState> = status
        .attempts
        .iter()
        .filter(|attempt| {
            matches!(&attempt.subject, AttemptSubject::Validation { milestone, .. } if milestone.as_str() == "m2-search")
        })
        .map(|attempt| attempt.state)
        .collect();
    assert_eq!(
        validations,
        vec![AttemptState::Failed, AttemptState::Succeeded]
    );
    assert!(
        status
            .findings
            .iter()
            .all(|finding| finding.milestone.as_str() == "m2-search"),
        "milestone m1-core passed on its first validation"
    );

    // The integration branch holds the service, and its tests pass there.
    let checkout = stage.work.path().join("final");
    sortie_e2e::git(
        stage.work.path(),
        &[
            "clone",
            "--quiet",
            "--branch",
            &branch,
            repository.to_str().expect("utf-8"),
            "final",
        ],
    )
    .expect("clone the integration branch");
    for file in [
        "notes/server.py",
        "notes/store.py",
        "notes/handlers/search.py",
        "docs/API.md",
    ] {
        assert!(
            checkout.join(file).exists(),
            "{file} is missing from the integration branch"
        );
    }
    let tests = std::process::Command::new("python3")
        .args(["-m", "unittest", "discover", "-s", "tests", "-t", "."])
        .current_dir(&checkout)
        .output()
        .expect("python3");
    assert!(
        tests.status.success(),
        "the tests fail on the integration branch:\n{}",
        String::from_utf8_lossy(&tests.stderr)
    );

    // The event log tells the story in order.
    let events = client.events(submitted.id, 0).await.expect("events");
    let seqs: Vec<i64> = events.iter().map(|event| event.seq).collect();
    assert_eq!(
        seqs,
        (1..=i64::try_from(events.len()).expect("count")).collect::<Vec<_>>()
    );
    let story = [
        position(&events, "the submission", |event| {
            event.kind == "mission_submitted"
        }),
        position(&events, "the launch", |event| {
            event.kind == "mission_state" && event.data["to"] == "running"
        }),
        position(&events, "m1 active", |event| {
            milestone_becomes(event, "m1-core", "active")
        }),
        position(&events, "m1 validating", |event| {
            milestone_becomes(event, "m1-core", "validating")
        }),
        position(&events, "m1 passed", |event| {
            milestone_becomes(event, "m1-core", "passed")
        }),
        position(&events, "m2 active", |event| {
            milestone_becomes(event, "m2-search", "active")
        }),
        position(&events, "the finding", |event| {
            event.kind == "finding_recorded" && event.data["assertion"] == "VAL-SEARCH-002"
        }),
        position(&events, "the fix plan", |event| {
            event.kind == "plan_amended"
        }),
        position(&events, "m2 fixing", |event| {
            milestone_becomes(event, "m2-search", "fixing")
        }),
        position(&events, "the fix done", |event| {
            event.kind == "feature_state"
                && event.data["to"] == "done"
                && event.data["feature"]
                    .as_str()
                    .is_some_and(|id| id.starts_with("FIX-"))
        }),
        position(&events, "m2 passed", |event| {
            milestone_becomes(event, "m2-search", "passed")
        }),
        position(&events, "completion", |event| {
            event.kind == "mission_state" && event.data["to"] == "completed"
        }),
    ];
    assert!(
        story.windows(2).all(|pair| pair[0] < pair[1]),
        "the story is out of order: {story:?}"
    );
    stage.stop().await;
}
