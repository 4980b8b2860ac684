use std::time::Duration;

use bytes::Bytes;
use sortie_bus::{Bus, WorkQueue};
use sortie_model::MissionId;
use sortie_model::protocol::Report;

use crate::support::{
    Harness, assert_reported, check_of, command_assertion, fixture_repository, read_pid, running,
    task,
};

#[tokio::test]
async fn an_unreadable_task_is_terminated_and_the_next_one_runs() {
    let mut harness = Harness::start().await;
    harness
        .publish_raw(
            MissionId::generate(),
            "garbage-1",
            Bytes::from_static(b"this is not an envelope"),
        )
        .await;
    let (repository, commit) = fixture_repository();
    let mut task = task(&repository, &commit);
    task.assertions = vec![command_assertion("VAL-CLI-001", "true", None, None)];
    harness.publish(&task).await;

    let reports = harness.reports_until_finished(task.fence.attempt).await;
    assert_reported(&harness, &task, &reports);
    assert!(check_of(reports.finished().1, "VAL-CLI-001").passed);
    harness.stop().await;

    // Past the ack wait: a message left unsettled would be back by now.
    let tasks = harness
        .bus
        .consume(WorkQueue::ValidationTasks)
        .await
        .unwrap();
    let left = tasks.next(Duration::from_secs(5)).await.unwrap();
    assert!(
        left.is_none(),
        "the unreadable task was terminated: {:?}",
        left.map(|delivery| delivery.msg_id().map(str::to_owned))
    );
}

#[tokio::test]
async fn a_commit_that_does_not_exist_is_a_finding() {
    let mut harness = Harness::start().await;
    let (repository, _) = fixture_repository();
    let mut task = task(&repository, &"0".repeat(40));
    task.assertions = vec![command_assertion("VAL-CLI-001", "true", None, None)];
    harness.publish(&task).await;

    let reports = harness.reports_until_finished(task.fence.attempt).await;
    assert_reported(&harness, &task, &reports);
    let (_, checks, findings) = reports.finished();
    assert!(checks.is_empty(), "nothing was checked: {checks:#?}");
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].check, "checkout");
    assert!(
        findings[0].summary.contains("could not be checked out"),
        "{}",
        findings[0].summary
    );
    harness.stop().await;
}

#[tokio::test]
async fn a_validation_still_running_at_shutdown_is_handed_back() {
    let mut harness = Harness::start_with(Duration::from_millis(500)).await;
    let (repository, commit) = fixture_repository();
    let pids = tempfile::tempdir().unwrap();
    let pid_file = pids.path().join("command.pid");
    let mut task = task(&repository, &commit);
    task.assertions = vec![command_assertion(
        "VAL-CLI-001",
        &format!("echo $$ > {}; sleep 60", pid_file.display()),
        None,
        Some(120),
    )];
    harness.publish(&task).await;

    let started = harness
        .next_report(Duration::from_secs(30))
        .await
        .expect("a report");
    assert!(matches!(started.body, Report::Started { .. }));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !pid_file.exists() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the command started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    harness.stop().await;

    assert!(!running(read_pid(&pid_file)), "the command was killed");
    assert!(!harness.checkout_of(task.fence.attempt).exists());
    let tasks = harness
        .bus
        .consume(WorkQueue::ValidationTasks)
        .await
        .unwrap();
    let again = tasks
        .next(Duration::from_secs(10))
        .await
        .unwrap()
        .expect("the task is back in the queue for another validator");
    assert_eq!(
        again.msg_id(),
        Some(format!("task-{}-1", task.fence.attempt).as_str())
    );
    assert_eq!(again.delivered(), 2);
    again.ack().await.unwrap();
    // No ValidationFinished was sent for it.
    while let Some(report) = harness.next_report(Duration::from_millis(500)).await {
        assert!(
            !matches!(report.body, Report::ValidationFinished { .. }),
            "{report:?}"
        );
    }
}
