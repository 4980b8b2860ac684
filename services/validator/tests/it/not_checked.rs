use sortie_model::plan::{Assertion, Check, EvidenceKind};
use sortie_model::records::Evidence;

use crate::support::{
    Harness, assert_reported, check_of, findings_of, fixture_repository, free_port, http_assertion,
    listening, notes_service, task,
};

#[tokio::test]
async fn an_agent_check_fails_because_the_scripted_validator_cannot_judge_it() {
    let mut harness = Harness::start().await;
    let (repository, commit) = fixture_repository();
    let mut task = task(&repository, &commit);
    task.assertions = vec![Assertion {
        id: "VAL-UX-001".into(),
        statement: "the notes read well".to_owned(),
        check: Check::Agent {
            instructions: "read the notes and judge them".to_owned(),
            evidence: vec![EvidenceKind::Command],
        },
    }];
    harness.publish(&task).await;

    let reports = harness.reports_until_finished(task.fence.attempt).await;
    assert_reported(&harness, &task, &reports);
    let (_, checks, findings) = reports.finished();
    let check = check_of(checks, "VAL-UX-001");
    assert!(!check.passed, "never a pass without evidence");
    assert!(
        check
            .evidence
            .iter()
            .all(|evidence| matches!(evidence, Evidence::Note { .. }))
    );
    let found = findings_of(findings, "VAL-UX-001");
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].summary,
        "VAL-UX-001: not checked: the scripted validator cannot judge an agent check; it needs a validator agent"
    );
    harness.stop().await;
}

#[tokio::test]
async fn http_checks_fail_unchecked_when_user_testing_is_off() {
    let mut harness = Harness::start().await;
    let (repository, commit) = fixture_repository();
    let port = free_port();
    let mut task = task(&repository, &commit);
    task.run_user_testing = false;
    task.services.start = vec![notes_service(port)];
    task.assertions = vec![http_assertion("VAL-API-001", "/notes?q=milk", "buy milk")];
    harness.publish(&task).await;

    let reports = harness.reports_until_finished(task.fence.attempt).await;
    assert_reported(&harness, &task, &reports);
    let (_, checks, findings) = reports.finished();
    assert!(!check_of(checks, "VAL-API-001").passed);
    assert!(
        findings_of(findings, "VAL-API-001")[0]
            .summary
            .contains("user-testing is off")
    );
    assert!(!listening(port));
    harness.stop().await;
}
