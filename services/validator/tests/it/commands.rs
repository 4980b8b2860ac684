use std::time::Duration;

use sortie_model::plan::Assertion;
use sortie_model::records::Severity;
use sortie_orchestrator::verify::verify;

use crate::support::{
    Harness, assert_reported, check_of, command_assertion, command_evidence, findings_of,
    fixture_repository, plan_of, read_pid, running, task,
};

#[tokio::test]
async fn a_failing_command_is_a_finding_with_its_evidence() {
    let mut harness = Harness::start().await;
    let (repository, commit) = fixture_repository();
    let mut task = task(&repository, &commit);
    task.assertions = vec![
        command_assertion("VAL-CLI-002", "sh check.sh", None, None),
        command_assertion("VAL-CLI-003", "sh lint.sh", Some("^lint: broken"), None),
    ];
    harness.publish(&task).await;

    let reports = harness.reports_until_finished(task.fence.attempt).await;
    assert_reported(&harness, &task, &reports);
    let (_, checks, findings) = reports.finished();
    assert_eq!(checks.len(), 2, "{checks:#?}");

    let failed = check_of(checks, "VAL-CLI-002");
    assert!(!failed.passed);
    let run = command_evidence(&failed.evidence);
    assert_eq!(run.command, "sh check.sh");
    assert_eq!(run.exit_code, Some(1));
    assert!(
        run.output_tail.contains("checking notes")
            && run
                .output_tail
                .contains("FAILED: expected 2 notes, found 1"),
        "stdout and stderr together: {run:?}"
    );
    let found = findings_of(findings, "VAL-CLI-002");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].summary, "VAL-CLI-002: exit code 1, expected 0");
    assert_eq!(found[0].severity, Severity::High);
    assert_eq!(found[0].check, "assertion");
    assert_eq!(found[0].evidence, failed.evidence);

    let mismatch = findings_of(findings, "VAL-CLI-003");
    assert_eq!(
        mismatch[0].summary,
        "VAL-CLI-003: exit code 0 as expected, but the output does not match \"^lint: broken\""
    );
    assert!(!check_of(checks, "VAL-CLI-003").passed);

    // The orchestrator agrees, and adds no findings of its own.
    let plan = plan_of(&task);
    let assertions: Vec<&Assertion> = task.assertions.iter().collect();
    let verdict = verify(&plan, &assertions, checks, findings.to_vec());
    assert!(!verdict.proven);
    assert_eq!(verdict.findings.len(), 2, "{verdict:#?}");
    harness.stop().await;
}

#[tokio::test]
async fn a_command_past_its_time_limit_is_killed_with_its_children() {
    let mut harness = Harness::start().await;
    let (repository, commit) = fixture_repository();
    let pids = tempfile::tempdir().unwrap();
    let shell_pid = pids.path().join("shell.pid");
    let background_pid = pids.path().join("background.pid");
    let run = format!(
        "echo started; echo $$ > {}; sleep 60 & echo $! > {}; wait",
        shell_pid.display(),
        background_pid.display()
    );
    let mut task = task(&repository, &commit);
    task.assertions = vec![command_assertion("VAL-CLI-004", &run, None, Some(1))];
    harness.publish(&task).await;

    let reports = harness.reports_until_finished(task.fence.attempt).await;
    assert_reported(&harness, &task, &reports);
    let (_, checks, findings) = reports.finished();
    let check = check_of(checks, "VAL-CLI-004");
    assert!(!check.passed);
    let evidence = command_evidence(&check.evidence);
    assert_eq!(evidence.exit_code, None, "killed, so no exit code");
    assert!(evidence.output_tail.contains("started"));
    assert!(evidence.duration_ms < 30_000, "{evidence:?}");
    assert_eq!(
        findings_of(findings, "VAL-CLI-004")[0].summary,
        "VAL-CLI-004: still running at its time limit of 1s and killed, expected exit code 0"
    );

    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!running(read_pid(&shell_pid)), "the shell was killed");
    assert!(
        !running(read_pid(&background_pid)),
        "its background child was killed with it"
    );
    harness.stop().await;
}

#[tokio::test]
async fn checks_stop_at_the_validation_s_time_limit() {
    let mut harness = Harness::start().await;
    let (repository, commit) = fixture_repository();
    let mut task = task(&repository, &commit);
    // The test limits keep 14s back to stop services and report: of a 4s limit, the checks
    // get half.
    task.time_limit_seconds = 4;
    task.assertions = vec![
        command_assertion("VAL-CLI-005", "sleep 30", None, Some(60)),
        command_assertion("VAL-CLI-006", "true", None, None),
    ];
    harness.publish(&task).await;

    let reports = harness.reports_until_finished(task.fence.attempt).await;
    assert_reported(&harness, &task, &reports);
    let (_, checks, findings) = reports.finished();
    assert!(!check_of(checks, "VAL-CLI-005").passed);
    assert!(
        findings_of(findings, "VAL-CLI-005")[0]
            .summary
            .contains("still running at its time limit"),
        "{findings:#?}"
    );
    assert_eq!(
        findings_of(findings, "VAL-CLI-006")[0].summary,
        "VAL-CLI-006: not checked: the validation's time limit of 4s ran out first"
    );
    harness.stop().await;
}
