use std::time::Duration;

use sortie_model::records::Evidence;

use crate::support::{
    Harness, assert_reported, check_of, command_evidence, findings_of, fixture_repository,
    free_port, http_assertion, listening, notes_service, read_pid, running, task,
};

#[tokio::test]
async fn an_answer_without_the_expected_text_is_a_finding() {
    let mut harness = Harness::start().await;
    let (repository, commit) = fixture_repository();
    let port = free_port();
    let mut task = task(&repository, &commit);
    let mut service = notes_service(port);
    service.stop = Some("kill -TERM $(cat server.pid)".to_owned());
    task.services.start = vec![service];
    task.assertions = vec![
        http_assertion("VAL-API-001", "/notes?q=milk", "buy milk"),
        http_assertion("VAL-API-002", "/notes?q=bread", "bread"),
    ];
    harness.publish(&task).await;

    let reports = harness.reports_until_finished(task.fence.attempt).await;
    assert_reported(&harness, &task, &reports);
    let (_, checks, findings) = reports.finished();
    assert!(check_of(checks, "VAL-API-001").passed);
    let failed = check_of(checks, "VAL-API-002");
    assert!(!failed.passed);
    let Evidence::HttpExchange {
        status,
        body_excerpt,
        ..
    } = &failed.evidence[0]
    else {
        panic!("HTTP evidence: {:?}", failed.evidence);
    };
    assert_eq!(*status, Some(200));
    assert_eq!(body_excerpt, "[]");
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(
        findings[0].summary,
        "VAL-API-002: GET /notes?q=bread answered 200 without \"bread\""
    );
    assert_eq!(findings[0].evidence, failed.evidence);
    assert!(!listening(port), "the stop command stopped the service");
    harness.stop().await;
}

#[tokio::test]
async fn a_service_that_never_becomes_healthy_is_a_finding_and_is_killed() {
    let mut harness = Harness::start().await;
    let (repository, commit) = fixture_repository();
    let pids = tempfile::tempdir().unwrap();
    let service_pid = pids.path().join("service.pid");
    let port = free_port();
    let mut task = task(&repository, &commit);
    let mut service = notes_service(port);
    // It never listens, and it ignores SIGTERM: only SIGKILL stops it.
    service.run = format!(
        "trap '' TERM; echo 'warming up forever'; echo $$ > {}; while true; do sleep 1; done",
        service_pid.display()
    );
    service.health_timeout_seconds = 2;
    task.services.start = vec![service];
    task.assertions = vec![http_assertion("VAL-API-001", "/notes?q=milk", "buy milk")];
    harness.publish(&task).await;

    let reports = harness.reports_until_finished(task.fence.attempt).await;
    assert_reported(&harness, &task, &reports);
    let (_, checks, findings) = reports.finished();
    let service_finding = findings
        .iter()
        .find(|finding| finding.check == "service")
        .unwrap_or_else(|| panic!("a finding about the service: {findings:#?}"));
    assert_eq!(service_finding.assertion, None);
    assert!(
        service_finding.summary.starts_with(&format!(
            "service api did not become healthy: GET http://127.0.0.1:{port}/health did not answer 2xx within 2s"
        )),
        "{}",
        service_finding.summary
    );
    let log = command_evidence(&service_finding.evidence);
    assert!(log.output_tail.contains("warming up forever"), "{log:?}");

    let check = check_of(checks, "VAL-API-001");
    assert!(!check.passed);
    let assertion_findings = findings_of(findings, "VAL-API-001");
    assert!(
        assertion_findings[0]
            .summary
            .starts_with("VAL-API-001: not checked: service api is not running"),
        "{}",
        assertion_findings[0].summary
    );

    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!running(read_pid(&service_pid)), "the service was killed");
    harness.stop().await;
}

#[tokio::test]
async fn a_service_that_exits_at_once_is_a_finding_with_its_exit_code() {
    let mut harness = Harness::start().await;
    let (repository, commit) = fixture_repository();
    let port = free_port();
    let mut task = task(&repository, &commit);
    let mut service = notes_service(port);
    service.run = "echo 'cannot open the database' >&2; exit 3".to_owned();
    task.services.start = vec![service];
    task.assertions = vec![http_assertion("VAL-API-001", "/notes?q=milk", "buy milk")];
    harness.publish(&task).await;

    let reports = harness.reports_until_finished(task.fence.attempt).await;
    assert_reported(&harness, &task, &reports);
    let (_, checks, findings) = reports.finished();
    let service_finding = findings
        .iter()
        .find(|finding| finding.check == "service")
        .unwrap();
    assert!(
        service_finding.summary.contains("exited (exit status: 3)"),
        "{}",
        service_finding.summary
    );
    let log = command_evidence(&service_finding.evidence);
    assert_eq!(log.exit_code, Some(3));
    assert!(log.output_tail.contains("cannot open the database"));
    assert!(!check_of(checks, "VAL-API-001").passed);
    harness.stop().await;
}
