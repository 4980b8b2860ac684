//! The precondition graph and the coverage of the validation contract.

use sortie_model::mission_file::DiagnosticCode;

use super::{MINIMAL, accepted, expect_one, line_of, minimal_with, refused};

fn feature(id: &str, milestone: &str, preconditions: &[&str]) -> String {
    let list: Vec<String> = preconditions.iter().map(|id| format!("{id:?}")).collect();
    format!(
        "\n[[features]]\nid = {id:?}\ntitle = \"t\"\nmilestone = {milestone:?}\n\
         preconditions = [{}]\nfulfills = [\"VAL-A-001\"]\n",
        list.join(", ")
    )
}

#[test]
fn a_cycle_is_printed_in_full() {
    let text = format!(
        "{MINIMAL}{}{}{}",
        feature("F-X", "m1", &["F-Y"]),
        feature("F-Y", "m1", &["F-Z", "F-A"]),
        feature("F-Z", "m1", &["F-X"]),
    );
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::DependencyCycle,
        line_of(&text, "preconditions = [\"F-Y\"]", 1),
        "features[1].preconditions[0]",
    );
    assert!(
        diagnostic
            .message
            .contains("dependency cycle: F-X -> F-Y -> F-Z -> F-X"),
        "{diagnostic}"
    );
}

#[test]
fn a_feature_that_needs_itself_is_a_cycle() {
    let text = format!("{MINIMAL}{}", feature("F-SELF", "m1", &["F-A", "F-SELF"]));
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::DependencyCycle,
        line_of(&text, "\"F-SELF\"]", 1),
        "features[1].preconditions[1]",
    );
    assert!(
        diagnostic.message.contains("F-SELF -> F-SELF"),
        "{diagnostic}"
    );
}

#[test]
fn separate_cycles_are_each_reported() {
    let text = format!(
        "{MINIMAL}{}{}{}{}",
        feature("F-P", "m1", &["F-Q"]),
        feature("F-Q", "m1", &["F-P"]),
        feature("F-R", "m1", &["F-S"]),
        feature("F-S", "m1", &["F-R"]),
    );
    let diagnostics = refused(&text);
    let cycles: Vec<&str> = diagnostics
        .iter()
        .filter(|d| d.code == DiagnosticCode::DependencyCycle)
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(cycles.len(), 2, "{diagnostics}");
    assert!(cycles[0].contains("F-P -> F-Q -> F-P"));
    assert!(cycles[1].contains("F-R -> F-S -> F-R"));
}

#[test]
fn a_long_chain_is_fine() {
    let mut text = MINIMAL.to_owned();
    let mut previous = "F-A".to_owned();
    for index in 0..2_000 {
        let id = format!("F-{index}");
        text.push_str(&feature(&id, "m1", &[&previous]));
        previous = id;
    }
    let plan = accepted(&text).plan;
    assert_eq!(plan.features.len(), 2_001);
}

#[test]
fn a_precondition_in_a_later_milestone_is_refused() {
    let text = format!(
        "{}\n[[milestones]]\nid = \"m2\"\ntitle = \"Two\"\n{}",
        minimal_with(
            "milestone = \"m1\"",
            "milestone = \"m1\"\npreconditions = [\"F-LATER\"]"
        ),
        feature("F-LATER", "m2", &[]),
    );
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::PreconditionInLaterMilestone,
        line_of(&text, "preconditions = [\"F-LATER\"]", 1),
        "features[0].preconditions[0]",
    );
    assert!(
        diagnostic
            .message
            .contains("\"F-LATER\" is in milestone \"m2\""),
        "{diagnostic}"
    );
}

#[test]
fn a_precondition_in_an_earlier_milestone_is_fine() {
    let text = format!(
        "{MINIMAL}\n[[milestones]]\nid = \"m2\"\ntitle = \"Two\"\n{}",
        feature("F-LATER", "m2", &["F-A"]),
    );
    accepted(&text);
}

#[test]
fn an_assertion_no_feature_fulfills_is_refused() {
    let text = format!(
        "{MINIMAL}\n[[assertions]]\nid = \"VAL-B-001\"\nstatement = \"orphan\"\n\
         check = {{ kind = \"command\", run = \"true\" }}\n"
    );
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::UnfulfilledAssertion,
        line_of(&text, "VAL-B-001", 1),
        "assertions[1].id",
    );
    assert!(diagnostic.message.contains("\"VAL-B-001\""), "{diagnostic}");
}

#[test]
fn a_feature_that_fulfills_nothing_is_only_a_warning() {
    let text = format!(
        "{MINIMAL}\n[[features]]\nid = \"F-CHORE\"\ntitle = \"chore\"\nmilestone = \"m1\"\n"
    );
    let parsed = accepted(&text);
    assert_eq!(parsed.plan.features.len(), 2);
    let warning = expect_one(
        &parsed.warnings,
        DiagnosticCode::FeatureFulfillsNothing,
        line_of(&text, "F-CHORE", 1),
        "features[1].id",
    );
    assert!(warning.to_string().contains("warning[SM041]"), "{warning}");
}

#[test]
fn an_empty_milestone_is_refused() {
    let text = format!("{MINIMAL}\n[[milestones]]\nid = \"m-empty\"\ntitle = \"Nothing\"\n");
    let diagnostics = refused(&text);
    expect_one(
        &diagnostics,
        DiagnosticCode::EmptyMilestone,
        line_of(&text, "m-empty", 1),
        "milestones[1].id",
    );
}

#[test]
fn a_plan_without_milestones_or_features_is_refused() {
    let text = "[mission]\nname = \"empty\"\ngoal = \"nothing\"\n\n[[repositories]]\nname = \"a\"\nurl = \"u\"\n";
    let diagnostics = refused(text);
    let empty: Vec<&str> = diagnostics
        .iter()
        .filter(|d| d.code == DiagnosticCode::EmptyPlan)
        .map(|d| d.field.as_str())
        .collect();
    assert_eq!(empty, ["milestones", "features"], "{diagnostics}");
    assert!(diagnostics.iter().all(|d| d.line == 1));
}
