//! The review half of scrutiny with a real validator agent: the `llm` agent, driven by the
//! scripted model server, reads the milestone's change and returns findings.

use sortie_model::plan::Feature;
use sortie_model::records::Severity;
use sortie_test_support::GitFixture;
use sortie_test_support::model_server::{ModelServer, Script};

use crate::agent_checks::{PROFILE, finish, harness_with_reviewer};
use crate::support::{assert_reported, task};

fn feature(id: &str, title: &str) -> Feature {
    Feature {
        id: id.into(),
        title: title.to_owned(),
        milestone: "m1".into(),
        repository: "notes".into(),
        description: "A lint script that reports problems.".to_owned(),
        skill: None,
        preconditions: vec![],
        expected_behavior: vec!["lint.sh exits 1 when it finds a problem".to_owned()],
        verification: vec![],
        fulfills: vec![],
        touches: vec!["lint.sh".to_owned()],
        estimate_minutes: None,
        steps: vec![],
        fix: None,
    }
}

/// A repository whose last commit is feature F-LINT's, after one of another milestone's.
fn repository() -> (sortie_test_support::BareRepo, String) {
    let mut fixture = GitFixture::new().expect("a fixture repository");
    fixture.file("README.md", "# notes\n").unwrap();
    fixture
        .commit("Readme\n\nSortie-Feature: F-README")
        .expect("a commit");
    fixture
        .file("lint.sh", "echo 'lint: clean' # never fails\n")
        .unwrap();
    let commit = fixture
        .commit("Lint script\n\nSortie-Feature: F-LINT")
        .expect("a commit");
    (fixture.into_bare().expect("a bare repository"), commit)
}

async fn review_with(answer: &str) -> (ModelServer, Vec<sortie_model::records::Finding>, bool) {
    let server = ModelServer::start(Script::new("a reviewer", [finish(answer)]))
        .await
        .expect("a model server");
    let mut harness = harness_with_reviewer(&server, "anthropic").await;
    let (repository, commit) = repository();
    let mut task = task(&repository, &commit);
    task.agent = PROFILE.to_owned();
    task.run_scrutiny = true;
    task.features = vec![feature("F-LINT", "Lint script")];
    harness.publish(&task).await;
    let reports = harness.reports_until_finished(task.fence.attempt).await;
    assert_reported(&harness, &task, &reports);
    let (_, checks, findings) = reports.finished();
    let review = checks
        .iter()
        .find(|check| check.check == "review")
        .unwrap_or_else(|| panic!("no review check: {checks:#?}"));
    let passed = review.passed;
    let findings = findings.to_vec();
    harness.stop().await;
    (server, findings, passed)
}

#[tokio::test]
async fn a_high_finding_fails_the_review_and_the_brief_carries_the_milestones_change() {
    let (server, findings, passed) = review_with(
        "<finding severity=\"high\" feature=\"F-LINT\">lint.sh never exits 1 (lint.sh:1)</finding>\n\
         <finding severity=\"low\">the README is short</finding>\n<review>done</review>",
    )
    .await;
    assert!(!passed);
    let review: Vec<(Severity, &str)> = findings
        .iter()
        .filter(|finding| finding.check == "review")
        .map(|finding| (finding.severity, finding.summary.as_str()))
        .collect();
    assert_eq!(
        review,
        [
            (
                Severity::High,
                "review of F-LINT: lint.sh never exits 1 (lint.sh:1)"
            ),
            (Severity::Low, "review: the README is short"),
        ]
    );
    let brief = server.model_requests()[0].json().to_string();
    assert!(brief.contains("Lint script"), "the feature: {brief}");
    assert!(brief.contains("never fails"), "the feature's diff: {brief}");
    assert!(
        !brief.contains("+# notes"),
        "another milestone's commit is not the change under review: {brief}"
    );
}

#[tokio::test]
async fn a_review_with_nothing_to_hold_back_passes_and_an_unfinished_one_fails() {
    let (_, findings, passed) =
        review_with("<finding severity=\"info\">fine</finding>\n<review>done</review>").await;
    assert!(passed, "{findings:#?}");
    assert!(
        findings
            .iter()
            .all(|finding| finding.severity == Severity::Info),
        "{findings:#?}"
    );

    let (_, findings, passed) = review_with("Looks fine to me.").await;
    assert!(!passed);
    assert!(
        findings
            .iter()
            .any(|finding| finding.check == "review" && finding.summary.contains("not complete")),
        "{findings:#?}"
    );
}
