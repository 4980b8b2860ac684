use std::collections::BTreeMap;

use sortie_model::plan::Assertion;
use sortie_model::protocol::Report;
use sortie_model::records::Evidence;
use sortie_orchestrator::verify::verify;

use crate::support::{
    Harness, assert_reported, check_of, command_assertion, command_evidence, fixture_repository,
    free_port, http_assertion, listening, notes_service, plan_of, task,
};

#[tokio::test]
async fn a_milestone_that_holds_is_proven_with_evidence_the_orchestrator_accepts() {
    let mut harness = Harness::start().await;
    let (repository, commit) = fixture_repository();
    let port = free_port();
    let mut task = task(&repository, &commit);
    task.run_scrutiny = true;
    task.services.commands = BTreeMap::from([
        ("build".to_owned(), "sh build.sh".to_owned()),
        ("test".to_owned(), "sh test.sh".to_owned()),
        ("lint".to_owned(), "sh lint.sh".to_owned()),
        ("format".to_owned(), "exit 1".to_owned()),
    ]);
    task.services.start = vec![notes_service(port)];
    task.assertions = vec![
        command_assertion("VAL-CLI-001", "sh test.sh", Some(r"\d+ tests passed"), None),
        http_assertion("VAL-API-001", "/notes?q=milk", "buy milk"),
    ];
    harness.publish(&task).await;

    let reports = harness.reports_until_finished(task.fence.attempt).await;
    assert_reported(&harness, &task, &reports);
    assert!(reports.heartbeats() >= 1, "a heartbeat while the build ran");
    let first_heartbeat = reports
        .all
        .iter()
        .find(|report| matches!(report.body, Report::Heartbeat { .. }))
        .unwrap();
    assert_eq!(
        first_heartbeat.id,
        format!("report-{}-hb-1", task.fence.attempt)
    );
    let (_, checks, findings) = reports.finished();
    assert!(findings.is_empty(), "{findings:#?}");
    assert!(checks.iter().all(|check| check.passed), "{checks:#?}");

    // Scrutiny runs build, test and lint, in that order, and nothing else; the lint of the
    // commit given passes (the branch's later commit breaks it).
    let steps: Vec<&str> = checks
        .iter()
        .filter(|check| check.assertion.is_none())
        .map(|check| check.check.as_str())
        .collect();
    assert_eq!(steps, ["build", "test", "lint"]);
    let build = command_evidence(&checks[0].evidence);
    assert_eq!(build.exit_code, Some(0));
    assert_eq!(build.command, "sh build.sh");
    assert!(build.output_tail.contains("building"));
    assert!(build.duration_ms >= 2000, "the build slept 2s");
    let lint = command_evidence(&checks[2].evidence);
    assert!(lint.output_tail.contains("lint: clean"), "{lint:?}");

    let cli = check_of(checks, "VAL-CLI-001");
    assert_eq!(cli.check, "assertion");
    assert!(
        command_evidence(&cli.evidence)
            .output_tail
            .contains("3 tests passed")
    );

    let api = check_of(checks, "VAL-API-001");
    let Evidence::HttpExchange {
        method,
        url,
        status,
        body_excerpt,
        ..
    } = &api.evidence[0]
    else {
        panic!("HTTP evidence: {:?}", api.evidence);
    };
    assert_eq!(method, "GET");
    assert_eq!(url, &format!("http://127.0.0.1:{port}/notes?q=milk"));
    assert_eq!(*status, Some(200));
    assert!(body_excerpt.contains("buy milk"));

    // The orchestrator, checking the evidence by code, is convinced.
    let plan = plan_of(&task);
    let assertions: Vec<&Assertion> = task.assertions.iter().collect();
    let verdict = verify(&plan, &assertions, checks, findings.to_vec());
    assert!(verdict.proven, "{verdict:#?}");

    assert!(!listening(port), "the service was stopped");
    harness.stop().await;
}
