//! Duplicate ids and references that do not resolve.

use sortie_model::RepositoryName;
use sortie_model::mission_file::DiagnosticCode;

use super::{MINIMAL, accepted, expect_one, line_of, minimal_with, refused};

const SECOND_FEATURE: &str = r#"
[[features]]
id = "F-B"
title = "B"
milestone = "m1"
fulfills = ["VAL-A-001"]
"#;

fn duplicate_is_reported(text: &str, needle: &str, field: &str, what: &str) {
    let diagnostics = refused(text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::DuplicateId,
        line_of(text, needle, 2),
        field,
    );
    let first_line = line_of(text, needle, 1);
    assert!(
        diagnostic.message.contains(&format!("duplicate {what}")),
        "{diagnostic}"
    );
    assert!(
        diagnostic
            .message
            .contains(&format!("first defined on line {first_line}")),
        "{diagnostic}"
    );
}

#[test]
fn duplicate_feature_ids() {
    let text = format!("{MINIMAL}{}", SECOND_FEATURE.replace("F-B", "F-A"));
    duplicate_is_reported(
        &text,
        "id = \"F-A\"",
        "features[1].id",
        "feature id \"F-A\"",
    );
}

#[test]
fn duplicate_milestone_ids() {
    let text = format!("{MINIMAL}\n[[milestones]]\nid = \"m1\"\ntitle = \"again\"\n");
    duplicate_is_reported(&text, "id = \"m1\"", "milestones[1].id", "milestone id");
}

#[test]
fn duplicate_assertion_ids() {
    let text = format!(
        "{MINIMAL}\n[[assertions]]\nid = \"VAL-A-001\"\nstatement = \"s\"\n\
         check = {{ kind = \"command\", run = \"true\" }}\n"
    );
    duplicate_is_reported(
        &text,
        "id = \"VAL-A-001\"",
        "assertions[1].id",
        "assertion id",
    );
}

#[test]
fn duplicate_repository_names() {
    let text = minimal_with(
        "[[milestones]]",
        "[[repositories]]\nname = \"app\"\nurl = \"/elsewhere\"\n\n[[milestones]]",
    )
    .replace(
        "milestone = \"m1\"",
        "milestone = \"m1\"\nrepository = \"app\"",
    );
    duplicate_is_reported(
        &text,
        "name = \"app\"",
        "repositories[1].name",
        "repository name",
    );
}

#[test]
fn duplicate_skill_names() {
    let skill = "\n[[skills]]\nname = \"rust\"\ndescription = \"d\"\ninstructions = \"i\"\n";
    let text = format!(
        "{}{skill}{skill}",
        minimal_with("title = \"A\"", "title = \"A\"\nskill = \"rust\"")
    );
    duplicate_is_reported(&text, "name = \"rust\"", "skills[1].name", "skill name");
}

#[test]
fn duplicate_service_names() {
    let text = format!(
        "{MINIMAL}\n[[services.start]]\nname = \"api\"\nrun = \"a\"\nport = 1\n\
         \n[[services.start]]\nname = \"api\"\nrun = \"b\"\nport = 2\n"
    );
    duplicate_is_reported(
        &text,
        "name = \"api\"",
        "services.start[1].name",
        "service name",
    );
}

#[test]
fn an_unknown_precondition_suggests_the_close_id() {
    let text = format!(
        "{}{}",
        minimal_with("id = \"F-A\"", "id = \"F-AUTHN\""),
        SECOND_FEATURE.replace(
            "milestone = \"m1\"",
            "milestone = \"m1\"\npreconditions = [\"F-AUTHN\", \"F-AUTH\"]"
        )
    );
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::UnknownFeature,
        line_of(&text, "preconditions", 1),
        "features[1].preconditions[1]",
    );
    assert!(
        diagnostic
            .message
            .ends_with("unknown feature \"F-AUTH\" (did you mean \"F-AUTHN\"?)"),
        "{diagnostic}"
    );
    let column_of_reference = text
        .lines()
        .nth(diagnostic.line - 1)
        .and_then(|line| line.find("\"F-AUTH\""))
        .expect("the reference is on that line")
        + 1;
    assert_eq!(diagnostic.column, column_of_reference);
}

#[test]
fn an_unknown_milestone() {
    let text = minimal_with("milestone = \"m1\"", "milestone = \"m2\"");
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::UnknownMilestone,
        line_of(&text, "milestone = \"m2\"", 1),
        "features[0].milestone",
    );
    assert!(
        diagnostic.message.contains("did you mean \"m1\""),
        "{diagnostic}"
    );
}

#[test]
fn an_unknown_repository() {
    let text = minimal_with(
        "milestone = \"m1\"",
        "milestone = \"m1\"\nrepository = \"ap\"",
    );
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::UnknownRepository,
        line_of(&text, "repository = \"ap\"", 1),
        "features[0].repository",
    );
    assert!(
        diagnostic.message.contains("did you mean \"app\""),
        "{diagnostic}"
    );
}

#[test]
fn a_feature_of_a_single_repository_plan_may_leave_the_repository_out() {
    let plan = accepted(MINIMAL).plan;
    assert_eq!(plan.features[0].repository, RepositoryName::new("app"));
}

#[test]
fn a_feature_of_a_multi_repository_plan_must_name_its_repository() {
    let text = minimal_with(
        "[[milestones]]",
        "[[repositories]]\nname = \"web\"\nurl = \"/srv/git/web.git\"\n\n[[milestones]]",
    );
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::MissingField,
        line_of(&text, "[[features]]", 1),
        "features[0]",
    );
    assert!(
        diagnostic
            .message
            .contains("required because the plan has 2 repositories: app, web"),
        "{diagnostic}"
    );
}

#[test]
fn an_unknown_assertion_in_fulfills() {
    let text = minimal_with(
        "fulfills = [\"VAL-A-001\"]",
        "fulfills = [\"VAL-A-001\", \"VAL-A-002\"]",
    );
    let diagnostics = refused(&text);
    expect_one(
        &diagnostics,
        DiagnosticCode::UnknownAssertion,
        line_of(&text, "fulfills", 1),
        "features[0].fulfills[1]",
    );
}

#[test]
fn an_http_check_naming_an_unknown_service() {
    let text = format!(
        "{}\n[[services.start]]\nname = \"api\"\nrun = \"serve\"\nport = 8080\n",
        minimal_with(
            "check = { kind = \"command\", run = \"true\" }",
            "check = { kind = \"http\", service = \"apj\", path = \"/\", expect_status = 200 }",
        )
    );
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::UnknownService,
        line_of(&text, "service = \"apj\"", 1),
        "assertions[0].check.service",
    );
    assert!(
        diagnostic.message.contains("did you mean \"api\""),
        "{diagnostic}"
    );
}

#[test]
fn an_http_check_without_any_services() {
    let text = minimal_with(
        "check = { kind = \"command\", run = \"true\" }",
        "check = { kind = \"http\", service = \"api\", path = \"/\", expect_status = 200 }",
    );
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::UnknownService,
        line_of(&text, "service = \"api\"", 1),
        "assertions[0].check.service",
    );
    assert!(
        diagnostic.message.contains("no services are defined"),
        "{diagnostic}"
    );
}

#[test]
fn a_skill_not_defined_in_the_plan_is_accepted() {
    let text = minimal_with(
        "title = \"A\"",
        "title = \"A\"\nskill = \"lives-in-the-repository\"",
    );
    let plan = accepted(&text).plan;
    assert_eq!(
        plan.features[0].skill.as_deref(),
        Some("lives-in-the-repository")
    );
}

#[test]
fn a_skill_name_with_whitespace_is_refused() {
    let text = minimal_with("title = \"A\"", "title = \"A\"\nskill = \"rust backend\"");
    let diagnostics = refused(&text);
    expect_one(
        &diagnostics,
        DiagnosticCode::InvalidSkillName,
        line_of(&text, "skill =", 1),
        "features[0].skill",
    );
}

#[test]
fn a_skill_defined_but_unused_is_a_warning() {
    let text = format!(
        "{MINIMAL}\n[[skills]]\nname = \"idle\"\ndescription = \"d\"\ninstructions = \"i\"\n"
    );
    let parsed = accepted(&text);
    expect_one(
        &parsed.warnings,
        DiagnosticCode::UnusedSkill,
        line_of(&text, "name = \"idle\"", 1),
        "skills[0].name",
    );
}

#[test]
fn a_reference_listed_twice_is_a_warning() {
    let text = minimal_with(
        "fulfills = [\"VAL-A-001\"]",
        "fulfills = [\"VAL-A-001\", \"VAL-A-001\"]",
    );
    let parsed = accepted(&text);
    expect_one(
        &parsed.warnings,
        DiagnosticCode::DuplicateListEntry,
        line_of(&text, "fulfills", 1),
        "features[0].fulfills[1]",
    );
}
