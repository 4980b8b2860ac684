//! The planning lint: each rule fires on a small plan, and the published examples have no
//! error-level finding.

use sortie_model::Plan;
use sortie_model::lint::{self, LintCode, LintFinding, LintSubject};
use sortie_model::mission_file::Severity;
use sortie_model::plan::Assertion;

use crate::mission_file::{MINIMAL, accepted, minimal_with, workspace_root};

/// A feature of milestone `m1` in repository `app`, fulfilling `VAL-A-001`, verified, with
/// the extra lines given.
fn feature(id: &str, extra: &str) -> String {
    format!(
        "\n[[features]]\nid = {id:?}\ntitle = \"t\"\nmilestone = \"m1\"\n\
         fulfills = [\"VAL-A-001\"]\nverification = [\"cargo test\"]\n{extra}\n"
    )
}

/// `MINIMAL` whose F-A is verified and touches `src/a/**`, followed by `rest`.
fn plan(rest: &str) -> Plan {
    let head = minimal_with(
        "fulfills = [\"VAL-A-001\"]\n\n[[assertions]]",
        "fulfills = [\"VAL-A-001\"]\nverification = [\"cargo test\"]\n\
         touches = [\"src/a/**\"]\n\n[[assertions]]",
    );
    accepted(&format!("{head}{rest}")).plan
}

fn with_code(findings: &[LintFinding], code: LintCode) -> Vec<&LintFinding> {
    findings
        .iter()
        .filter(|finding| finding.code == code)
        .collect()
}

fn expect_one(plan: &Plan, code: LintCode) -> LintFinding {
    let findings = lint::lint(plan);
    let matching = with_code(&findings, code);
    assert_eq!(matching.len(), 1, "expected one {code}, got {findings:#?}");
    let finding = matching[0].clone();
    assert_eq!(finding.severity, code.severity());
    finding
}

fn expect_none(plan: &Plan, code: LintCode) {
    let findings = lint::lint(plan);
    assert!(
        with_code(&findings, code).is_empty(),
        "expected no {code}, got {findings:#?}"
    );
}

#[test]
fn the_baseline_plan_is_clean() {
    let findings = lint::lint(&plan(""));
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn a_milestone_with_too_many_features_is_too_large() {
    let mut rest = String::new();
    for index in 0..lint::MAX_FEATURES_PER_MILESTONE {
        rest.push_str(&feature(
            &format!("F-{index}"),
            &format!("touches = [\"src/{index}/**\"]"),
        ));
    }
    let finding = expect_one(&plan(&rest), LintCode::MilestoneTooLarge);
    assert_eq!(finding.subject, LintSubject::Milestone("m1".into()));
    assert!(finding.message.contains("13 features"), "{finding}");
    assert!(finding.message.contains("split it"), "{finding}");

    let mut at_the_limit = String::new();
    for index in 1..lint::MAX_FEATURES_PER_MILESTONE {
        at_the_limit.push_str(&feature(
            &format!("F-{index}"),
            &format!("touches = [\"src/{index}/**\"]"),
        ));
    }
    expect_none(&plan(&at_the_limit), LintCode::MilestoneTooLarge);
}

#[test]
fn a_milestone_with_too_many_assertions_is_too_large() {
    let mut plan = plan("");
    let template = plan.assertions[0].clone();
    for index in 0..lint::MAX_ASSERTIONS_PER_MILESTONE {
        let id = format!("VAL-B-{index:03}");
        plan.assertions.push(Assertion {
            id: id.as_str().into(),
            ..template.clone()
        });
        plan.features[0].fulfills.push(id.as_str().into());
    }
    let finding = expect_one(&plan, LintCode::MilestoneTooLarge);
    assert!(finding.message.contains("21 assertions"), "{finding}");

    plan.settings.validation = false;
    expect_none(&plan, LintCode::MilestoneTooLarge);
}

#[test]
fn a_feature_without_verification_or_steps_is_reported() {
    let plan = plan(
        &feature("F-B", "touches = [\"src/b/**\"]")
            .replace("verification = [\"cargo test\"]\n", ""),
    );
    let finding = expect_one(&plan, LintCode::FeatureWithoutVerification);
    assert_eq!(finding.subject, LintSubject::Feature("F-B".into()));
    assert_eq!(finding.field, "verification");
    assert_eq!(finding.severity, Severity::Warning);

    let scripted = self::plan(
        &feature(
            "F-B",
            "touches = [\"src/b/**\"]\n\n[[features.steps]]\nrun = \"true\"",
        )
        .replace("verification = [\"cargo test\"]\n", ""),
    );
    expect_none(&scripted, LintCode::FeatureWithoutVerification);
}

#[test]
fn an_assertion_no_feature_fulfils_is_an_error_in_a_plan_built_in_code() {
    let mut plan = plan("");
    plan.features[0].fulfills.clear();
    let finding = expect_one(&plan, LintCode::UnfulfilledAssertion);
    assert_eq!(finding.severity, Severity::Error);
    assert_eq!(finding.subject, LintSubject::Assertion("VAL-A-001".into()));
    assert!(lint::has_errors(&lint::lint(&plan)));
}

#[test]
fn a_precondition_between_disjoint_features_is_needless() {
    let plan = plan(&feature(
        "F-B",
        "touches = [\"src/b/**\"]\npreconditions = [\"F-A\"]",
    ));
    let finding = expect_one(&plan, LintCode::NeedlessPrecondition);
    assert_eq!(finding.subject, LintSubject::Feature("F-B".into()));
    assert_eq!(finding.field, "preconditions[0]");
    assert_eq!(finding.severity, Severity::Warning);
    assert_eq!(
        finding.message,
        "F-B waits for F-A but they touch disjoint paths; if F-B does not use F-A's work, \
         drop the precondition so they run in parallel"
    );
}

#[test]
fn a_precondition_is_kept_when_touches_overlap_or_the_feature_says_why() {
    let overlapping = plan(&feature(
        "F-B",
        "touches = [\"src/**\"]\npreconditions = [\"F-A\"]",
    ));
    expect_none(&overlapping, LintCode::NeedlessPrecondition);

    let explained = plan(&feature(
        "F-B",
        "touches = [\"src/b/**\"]\npreconditions = [\"F-A\"]\n\
         description = \"calls the parser F-A adds\"",
    ));
    expect_none(&explained, LintCode::NeedlessPrecondition);

    let other_milestone = plan(&format!(
        "\n[[milestones]]\nid = \"m2\"\ntitle = \"Two\"\n{}",
        feature("F-B", "touches = [\"src/b/**\"]\npreconditions = [\"F-A\"]")
            .replace("milestone = \"m1\"", "milestone = \"m2\"")
    ));
    expect_none(&other_milestone, LintCode::NeedlessPrecondition);
}

const HTTP_ASSERTION: &str = r#"
[[services.start]]
name = "web"
run = "cargo run"
port = 8080

[[assertions]]
id = "VAL-HTTP-001"
statement = "the service answers"
check = { kind = "http", service = "web", path = "/healthz", expect_status = 200 }
"#;

#[test]
fn an_http_check_without_a_started_service_is_an_error() {
    let rest = format!(
        "{}{HTTP_ASSERTION}",
        feature("F-B", "touches = [\"src/b/**\"]")
            .replace("\"VAL-A-001\"", "\"VAL-A-001\", \"VAL-HTTP-001\"")
    );
    let mut plan = plan(&rest);
    expect_none(&plan, LintCode::HttpCheckWithoutService);

    plan.services.start.clear();
    let finding = expect_one(&plan, LintCode::HttpCheckWithoutService);
    assert_eq!(finding.severity, Severity::Error);
    assert_eq!(
        finding.subject,
        LintSubject::Assertion("VAL-HTTP-001".into())
    );
    assert_eq!(finding.field, "check.service");
    assert!(finding.message.contains("starts no service"), "{finding}");

    plan.settings.skip_user_testing = true;
    expect_none(&plan, LintCode::HttpCheckWithoutService);
}

#[test]
fn a_feature_without_touches_beside_others_is_reported() {
    let plan = plan(&feature("F-B", ""));
    let finding = expect_one(&plan, LintCode::FeatureWithoutTouches);
    assert_eq!(finding.subject, LintSubject::Feature("F-B".into()));
    assert_eq!(finding.field, "touches");

    // Alone in its milestone, a feature without touches blocks nobody.
    let alone = accepted(MINIMAL).plan;
    expect_none(&alone, LintCode::FeatureWithoutTouches);
}

#[test]
fn the_example_missions_have_no_error_level_finding() {
    for (name, text) in [
        (
            "todo-service.toml",
            include_str!("../../../../examples/missions/todo-service.toml"),
        ),
        (
            "notes-service.toml",
            include_str!("../../../../examples/missions/notes-service.toml"),
        ),
    ] {
        let findings = lint::lint(&accepted(text).plan);
        let errors: Vec<&LintFinding> = findings
            .iter()
            .filter(|finding| finding.severity == Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
    }
}

#[test]
fn every_lint_code_is_documented() {
    let guide = std::fs::read_to_string(workspace_root().join("docs/mission-file.md"))
        .expect("docs/mission-file.md exists");
    let section = guide
        .split_once("## The planning lint")
        .map(|(_, rest)| rest)
        .expect("docs/mission-file.md has a \"The planning lint\" section");
    for code in LintCode::ALL {
        assert!(
            section.contains(&format!("`{code}`")),
            "the planning lint section does not list `{code}`"
        );
    }
}
