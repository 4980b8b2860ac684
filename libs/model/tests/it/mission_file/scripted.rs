//! The scripted agent's steps and scripted fixes: what parses, and every way a step or a
//! fix is refused.

use sortie_model::AssertionId;
use sortie_model::mission_file::{DiagnosticCode, Diagnostics};
use sortie_model::plan::{ScriptedFix, ScriptedStep};

use super::{MINIMAL, accepted, expect_one, line_of, minimal_with, refused};

const FULFILLS: &str = "fulfills = [\"VAL-A-001\"]\n";

/// `MINIMAL` whose feature has these extra lines (touches, steps) after its fields.
fn feature_with(lines: &str) -> String {
    minimal_with(FULFILLS, &format!("{FULFILLS}{lines}"))
}

/// `MINIMAL` whose feature touches `src/**` and has these steps.
fn feature_touching_src_with(steps: &str) -> String {
    feature_with(&format!("touches = [\"src/**\"]\n{steps}"))
}

fn run(command: &str) -> ScriptedStep {
    ScriptedStep::Run {
        run: command.to_owned(),
        expect_exit: 0,
    }
}

#[test]
fn a_feature_with_every_kind_of_step_parses() {
    let text = feature_with(
        r#"touches = ["src/**", "README.md"]

[[features.steps]]
run = "cargo init --name demo"

[[features.steps]]
run = "test -f missing"
expect_exit = 1

[[features.steps]]
write = "src/lib.rs"
content = """
pub fn hello() {}
"""

[[features.steps]]
append = "README.md"
content = ""

[[features.steps]]
replace = "./src/lib.rs"
find = "hello"
with = ""

[[features.steps]]
sleep_ms = 250
"#,
    );
    let parsed = accepted(&text);
    assert!(parsed.warnings.is_empty(), "{}", parsed.warnings);
    let feature = &parsed.plan.features[0];
    assert_eq!(
        feature.steps,
        [
            run("cargo init --name demo"),
            ScriptedStep::Run {
                run: "test -f missing".to_owned(),
                expect_exit: 1,
            },
            ScriptedStep::Write {
                write: "src/lib.rs".to_owned(),
                content: "pub fn hello() {}\n".to_owned(),
            },
            ScriptedStep::Append {
                append: "README.md".to_owned(),
                content: String::new(),
            },
            ScriptedStep::Replace {
                replace: "./src/lib.rs".to_owned(),
                find: "hello".to_owned(),
                with: String::new(),
            },
            ScriptedStep::Sleep { sleep_ms: 250 },
        ]
    );
    assert_eq!(feature.fix, None);
}

#[test]
fn steps_may_be_an_inline_array() {
    let text =
        feature_with("steps = [{ run = \"make\" }, { write = \"a.txt\", content = \"a\" }]\n");
    let feature = &accepted(&text).plan.features[0];
    assert_eq!(
        feature.steps,
        [
            run("make"),
            ScriptedStep::Write {
                write: "a.txt".to_owned(),
                content: "a".to_owned(),
            },
        ]
    );
}

#[test]
fn a_feature_without_steps_has_none() {
    assert!(accepted(MINIMAL).plan.features[0].steps.is_empty());
    assert!(accepted(MINIMAL).plan.scripted_fixes.is_empty());
}

/// The one diagnostic with `code` for a feature whose single step is `step`, at the line
/// holding `needle`.
fn step_refused(step: &str, code: DiagnosticCode, needle: &str, field: &str) -> String {
    let text = feature_with(&format!("\n[[features.steps]]\n{step}"));
    let diagnostics: Diagnostics = refused(&text);
    let line = line_of(&text, needle, 1);
    expect_one(&diagnostics, code, line, field).message.clone()
}

#[test]
fn a_step_without_an_action_lists_the_five() {
    let message = step_refused(
        "expect_exit = 1\n",
        DiagnosticCode::InvalidScriptedStep,
        "[[features.steps]]",
        "features[0].steps[0]",
    );
    assert!(
        message.contains("run, write, append, replace, sleep_ms"),
        "{message}"
    );
}

#[test]
fn a_step_with_two_actions_names_both() {
    let message = step_refused(
        "run = \"make\"\nwrite = \"a.txt\"\ncontent = \"a\"\n",
        DiagnosticCode::InvalidScriptedStep,
        "write = ",
        "features[0].steps[0].write",
    );
    assert!(message.contains("both \"run\" and \"write\""), "{message}");
}

#[test]
fn a_key_of_another_action_names_what_the_action_allows() {
    let message = step_refused(
        "run = \"make\"\ncontent = \"a\"\n",
        DiagnosticCode::InvalidScriptedStep,
        "content = ",
        "features[0].steps[0].content",
    );
    assert!(
        message.contains(
            "\"content\" does not belong to a run step, which allows only: run, expect_exit"
        ),
        "{message}"
    );
    let message = step_refused(
        "replace = \"a.txt\"\nfind = \"x\"\nwith = \"y\"\nexpect_exit = 2\n",
        DiagnosticCode::InvalidScriptedStep,
        "expect_exit",
        "features[0].steps[0].expect_exit",
    );
    assert!(message.contains("replace, find, with"), "{message}");
}

#[test]
fn a_misspelt_step_key_is_an_unknown_field() {
    let message = step_refused(
        "run = \"make\"\nexpect_exti = 1\n",
        DiagnosticCode::UnknownField,
        "expect_exti",
        "features[0].steps[0].expect_exti",
    );
    assert!(
        message.contains("did you mean \"expect_exit\""),
        "{message}"
    );
}

#[test]
fn a_step_missing_what_its_action_needs_is_refused() {
    let message = step_refused(
        "write = \"a.txt\"\n",
        DiagnosticCode::MissingField,
        "[[features.steps]]",
        "features[0].steps[0]",
    );
    assert!(message.contains("missing field \"content\""), "{message}");
    let message = step_refused(
        "replace = \"a.txt\"\nfind = \"x\"\n",
        DiagnosticCode::MissingField,
        "[[features.steps]]",
        "features[0].steps[0]",
    );
    assert!(message.contains("missing field \"with\""), "{message}");
}

#[test]
fn empty_commands_and_searches_are_refused() {
    step_refused(
        "run = \" \"\n",
        DiagnosticCode::EmptyValue,
        "run = ",
        "features[0].steps[0].run",
    );
    step_refused(
        "replace = \"a.txt\"\nfind = \"\"\nwith = \"y\"\n",
        DiagnosticCode::EmptyValue,
        "find = ",
        "features[0].steps[0].find",
    );
}

#[test]
fn step_values_of_the_wrong_type_or_range_are_refused() {
    step_refused(
        "sleep_ms = -1\n",
        DiagnosticCode::OutOfRange,
        "sleep_ms",
        "features[0].steps[0].sleep_ms",
    );
    step_refused(
        "run = \"make\"\nexpect_exit = \"1\"\n",
        DiagnosticCode::WrongType,
        "expect_exit",
        "features[0].steps[0].expect_exit",
    );
    let text = feature_with("steps = \"make\"\n");
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::WrongType,
        line_of(&text, "steps = ", 1),
        "features[0].steps",
    );
    assert!(
        diagnostic.message.contains("`[[features.steps]]`"),
        "{diagnostic}"
    );
}

#[test]
fn step_paths_must_stay_inside_the_repository() {
    let message = step_refused(
        "write = \"/etc/passwd\"\ncontent = \"x\"\n",
        DiagnosticCode::PathOutsideRepository,
        "write = ",
        "features[0].steps[0].write",
    );
    assert!(message.contains("absolute"), "{message}");
    let message = step_refused(
        "append = \"src/../../other/x\"\ncontent = \"x\"\n",
        DiagnosticCode::PathOutsideRepository,
        "append = ",
        "features[0].steps[0].append",
    );
    assert!(message.contains("\"..\""), "{message}");
    let message = step_refused(
        "replace = \"src/\"\nfind = \"x\"\nwith = \"y\"\n",
        DiagnosticCode::InvalidScriptedStep,
        "replace = ",
        "features[0].steps[0].replace",
    );
    assert!(message.contains("does not name a file"), "{message}");
}

#[test]
fn a_step_that_writes_outside_the_features_touches_is_refused() {
    let text = feature_touching_src_with(
        "\n[[features.steps]]\nwrite = \"src/lib.rs\"\ncontent = \"x\"\n\
         \n[[features.steps]]\nwrite = \"docs/notes.md\"\ncontent = \"x\"\n\
         \n[[features.steps]]\nrun = \"touch anything\"\n",
    );
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::StepOutsideTouches,
        line_of(&text, "docs/notes.md", 1),
        "features[0].steps[1].write",
    );
    assert!(
        diagnostic
            .message
            .contains("\"docs/notes.md\" is not covered by the feature's touches (\"src/**\")"),
        "{diagnostic}"
    );
    assert_eq!(diagnostics.len(), 1, "{diagnostics}");

    // Without touches a feature may change anything.
    let anywhere =
        feature_with("\n[[features.steps]]\nwrite = \"docs/notes.md\"\ncontent = \"x\"\n");
    accepted(&anywhere);
}

#[test]
fn a_feature_cannot_set_fix() {
    let text = feature_with("fix = { round = 1, findings = [\"broken\"] }\n");
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::UnknownField,
        line_of(&text, "fix = ", 1),
        "features[0].fix",
    );
    assert!(
        diagnostic.message.contains("unknown field \"fix\""),
        "{diagnostic}"
    );
}

const FIX: &str = r#"
[[scripted_fixes]]
assertion = "VAL-A-001"
touches = ["src/**"]

[[scripted_fixes.steps]]
replace = "src/lib.rs"
find = "bug"
with = "fix"
"#;

#[test]
fn a_scripted_fix_parses() {
    let plan = accepted(&format!("{MINIMAL}{FIX}")).plan;
    assert_eq!(
        plan.scripted_fixes,
        [ScriptedFix {
            assertion: AssertionId::new("VAL-A-001"),
            touches: vec!["src/**".to_owned()],
            steps: vec![ScriptedStep::Replace {
                replace: "src/lib.rs".to_owned(),
                find: "bug".to_owned(),
                with: "fix".to_owned(),
            }],
        }]
    );
}

#[test]
fn a_scripted_fix_for_an_unknown_assertion_suggests_the_close_one() {
    let text = format!("{MINIMAL}{}", FIX.replace("VAL-A-001", "VAL-A-01"));
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::UnknownAssertion,
        line_of(&text, "assertion = ", 1),
        "scripted_fixes[0].assertion",
    );
    assert!(
        diagnostic
            .message
            .ends_with("unknown assertion \"VAL-A-01\" (did you mean \"VAL-A-001\"?)"),
        "{diagnostic}"
    );
}

#[test]
fn two_scripted_fixes_for_one_assertion_are_refused() {
    let text = format!("{MINIMAL}{FIX}{FIX}");
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::DuplicateId,
        line_of(&text, "assertion = ", 2),
        "scripted_fixes[1].assertion",
    );
    let first_line = line_of(&text, "assertion = ", 1);
    assert!(
        diagnostic.message.contains(&format!(
            "duplicate scripted fix for assertion \"VAL-A-001\" (first defined on line {first_line})"
        )),
        "{diagnostic}"
    );
}

#[test]
fn a_scripted_fix_touches_are_checked_like_a_features() {
    let text = format!(
        "{MINIMAL}{}",
        FIX.replace("\"src/**\"", "\"src/**\", \"/etc/**\"")
    );
    let diagnostics = refused(&text);
    expect_one(
        &diagnostics,
        DiagnosticCode::PathOutsideRepository,
        line_of(&text, "touches = ", 1),
        "scripted_fixes[0].touches[1]",
    );
}

#[test]
fn a_scripted_fix_step_outside_its_touches_is_refused() {
    let text = format!("{MINIMAL}{}", FIX.replace("\"src/**\"", "\"tests/**\""));
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::StepOutsideTouches,
        line_of(&text, "replace = ", 1),
        "scripted_fixes[0].steps[0].replace",
    );
    assert!(
        diagnostic.message.contains("the scripted fix's touches"),
        "{diagnostic}"
    );
}

#[test]
fn a_scripted_fix_without_touches_inherits_those_of_the_features() {
    let fix_without_touches = FIX.replace("touches = [\"src/**\"]\n", "");
    let allowed = format!(
        "{}{fix_without_touches}",
        feature_with("touches = [\"src/**\"]\n")
    );
    accepted(&allowed);
    let text = format!(
        "{}{fix_without_touches}",
        feature_with("touches = [\"docs/**\"]\n")
    );
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::StepOutsideTouches,
        line_of(&text, "replace = ", 1),
        "scripted_fixes[0].steps[0].replace",
    );
    assert!(
        diagnostic
            .message
            .contains("the features that fulfill \"VAL-A-001\""),
        "{diagnostic}"
    );
    // A feature without touches may change anything, and so may its fix.
    accepted(&format!("{MINIMAL}{fix_without_touches}"));
}

#[test]
fn a_scripted_fix_needs_steps() {
    let text = format!("{MINIMAL}\n[[scripted_fixes]]\nassertion = \"VAL-A-001\"\n");
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::MissingField,
        line_of(&text, "[[scripted_fixes]]", 1),
        "scripted_fixes[0]",
    );
    assert!(diagnostic.message.contains("\"steps\""), "{diagnostic}");

    let empty = format!("{text}steps = []\n");
    let diagnostics = refused(&empty);
    expect_one(
        &diagnostics,
        DiagnosticCode::InvalidScriptedStep,
        line_of(&empty, "steps = []", 1),
        "scripted_fixes[0].steps",
    );
}
