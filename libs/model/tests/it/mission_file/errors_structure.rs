//! Syntax, types, unknown and missing fields.

use sortie_model::ErrorKind;
use sortie_model::mission_file::{DiagnosticCode, Severity};

use super::{FILE, MINIMAL, expect_one, line_of, minimal_with, refused};

#[test]
fn a_syntax_error_names_line_column_and_field() {
    let text = minimal_with("goal = \"prove the parser\"", "goal = \"unterminated");
    let diagnostics = refused(&text);
    assert!(diagnostics.iter().all(|d| d.code == DiagnosticCode::Syntax));
    let first = diagnostics.iter().next().expect("one error at least");
    assert_eq!(first.line, 3);
    assert_eq!(first.field, "mission.goal");
    assert!(first.to_string().starts_with("mission.toml:3:"), "{first}");
    assert!(first.message.starts_with("invalid TOML"), "{first}");
}

#[test]
fn every_syntax_error_is_reported() {
    let text = minimal_with("id = \"m1\"", "id = m1").replacen("title = \"A\"", "title = = 2", 1);
    let diagnostics = refused(&text);
    let lines: Vec<usize> = diagnostics.iter().map(|d| d.line).collect();
    assert!(
        lines.contains(&line_of(&text, "id = m1", 1)),
        "{diagnostics}"
    );
    assert!(
        lines.contains(&line_of(&text, "title = = 2", 1)),
        "{diagnostics}"
    );
}

#[test]
fn a_table_defined_twice_is_a_syntax_error_naming_it() {
    let text = format!("{MINIMAL}\n[mission]\nname = \"again\"\n");
    let diagnostics = refused(&text);
    let duplicate = diagnostics
        .iter()
        .find(|d| d.message.contains("duplicate key"))
        .expect("a duplicate key error");
    assert_eq!(duplicate.code, DiagnosticCode::Syntax);
    assert_eq!(duplicate.line, line_of(&text, "[mission]", 2));
    assert!(duplicate.message.contains("mission"), "{duplicate}");
}

#[test]
fn a_key_written_twice_in_a_feature_names_the_feature() {
    let text = minimal_with("title = \"A\"", "title = \"A\"\nid = \"F-AGAIN\"");
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::Syntax,
        line_of(&text, "F-AGAIN", 1),
        "features[0].id",
    );
    assert!(
        diagnostic.message.contains("duplicate key \"id\""),
        "{diagnostic}"
    );
}

#[test]
fn a_wrong_type_names_the_field_and_both_types() {
    let text = minimal_with(
        "title = \"A\"",
        "title = \"A\"\nestimate_minutes = \"soon\"",
    );
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::WrongType,
        line_of(&text, "estimate_minutes", 1),
        "features[0].estimate_minutes",
    );
    assert!(
        diagnostic
            .message
            .contains("expected an integer, found a string"),
        "{diagnostic}"
    );
    assert_eq!(diagnostic.column, 20);
}

#[test]
fn a_wrong_element_type_names_the_index() {
    let text = minimal_with(
        "fulfills = [\"VAL-A-001\"]",
        "fulfills = [\"VAL-A-001\", 7]",
    );
    let diagnostics = refused(&text);
    expect_one(
        &diagnostics,
        DiagnosticCode::WrongType,
        line_of(&text, "fulfills", 1),
        "features[0].fulfills[1]",
    );
}

#[test]
fn a_table_where_an_array_of_tables_belongs_is_explained() {
    let text = MINIMAL.replace("[[milestones]]", "[milestones]");
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::WrongType,
        line_of(&text, "[milestones]", 1),
        "milestones",
    );
    assert!(
        diagnostic.message.contains("[[milestones]]"),
        "{diagnostic}"
    );
}

#[test]
fn an_unknown_field_suggests_the_close_one() {
    let text = minimal_with("title = \"A\"", "title = \"A\"\nprecondtions = [\"F-A\"]");
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::UnknownField,
        line_of(&text, "precondtions", 1),
        "features[0].precondtions",
    );
    assert_eq!(diagnostic.column, 1);
    assert!(
        diagnostic
            .message
            .contains("unknown field \"precondtions\" (did you mean \"preconditions\"?)"),
        "{diagnostic}"
    );
}

#[test]
fn an_unknown_field_far_from_any_lists_the_known_ones() {
    let text = minimal_with("[mission]", "[mission]\nowner = \"ops\"");
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::UnknownField,
        2,
        "mission.owner",
    );
    assert!(
        diagnostic.message.contains("expected one of: name, goal"),
        "{diagnostic}"
    );
}

#[test]
fn an_unknown_top_level_table_suggests_the_plural() {
    let text = format!("{MINIMAL}\n[[feature]]\nid = \"F-B\"\n");
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::UnknownField,
        line_of(&text, "[[feature]]", 1),
        "feature",
    );
    assert!(
        diagnostic.message.contains("did you mean \"features\""),
        "{diagnostic}"
    );
}

#[test]
fn unknown_fields_inside_a_check_depend_on_its_kind() {
    let text = minimal_with(
        "check = { kind = \"command\", run = \"true\" }",
        "check = { kind = \"command\", run = \"true\", expect_status = 200 }",
    );
    let diagnostics = refused(&text);
    expect_one(
        &diagnostics,
        DiagnosticCode::UnknownField,
        line_of(&text, "expect_status", 1),
        "assertions[0].check.expect_status",
    );
}

#[test]
fn a_missing_field_points_at_the_table_header() {
    let text = MINIMAL.replace("title = \"A\"\n", "");
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::MissingField,
        line_of(&text, "[[features]]", 1),
        "features[0]",
    );
    assert!(
        diagnostic.message.contains("missing field \"title\""),
        "{diagnostic}"
    );
}

#[test]
fn a_missing_mission_table_is_reported_at_the_start() {
    let text = MINIMAL.replace(
        "[mission]\nname = \"minimal\"\ngoal = \"prove the parser\"\n",
        "",
    );
    let diagnostics = refused(&text);
    let diagnostic = expect_one(&diagnostics, DiagnosticCode::MissingField, 1, "");
    assert!(diagnostic.message.contains("\"mission\""), "{diagnostic}");
}

#[test]
fn an_integer_out_of_range_gives_the_range() {
    let text = minimal_with("title = \"A\"", "title = \"A\"\nestimate_minutes = -5");
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::OutOfRange,
        line_of(&text, "estimate_minutes", 1),
        "features[0].estimate_minutes",
    );
    assert!(
        diagnostic.message.contains("from 0 to 4294967295"),
        "{diagnostic}"
    );
}

#[test]
fn an_empty_required_text_is_refused() {
    let text = minimal_with("statement = \"it works\"", "statement = \"  \"");
    let diagnostics = refused(&text);
    expect_one(
        &diagnostics,
        DiagnosticCode::EmptyValue,
        line_of(&text, "statement", 1),
        "assertions[0].statement",
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    let text = minimal_with(
        "title = \"A\"",
        "title = \"A\"\ndescription = \"café ☕\", estimate_minutes = 1",
    );
    // Not valid TOML (two keys on a line), which is the point: the error sits after
    // multi-byte characters.
    let diagnostics = refused(&text);
    let first = diagnostics.iter().next().expect("an error");
    let line = line_of(&text, "café", 1);
    assert_eq!(first.line, line);
    let line_text = text.lines().nth(line - 1).expect("the line exists");
    let comma_column = line_text.chars().position(|c| c == ',').expect("a comma") + 1;
    assert_eq!(first.column, comma_column, "{first}");
}

#[test]
fn every_error_is_reported_sorted_by_position_one_per_line() {
    let text = MINIMAL
        .replace("name = \"app\"", "name = \"app\"\nbranch = \"main\"")
        .replace("title = \"One\"", "title = 1")
        .replace("milestone = \"m1\"", "milestone = \"m9\"")
        .replace("statement = \"it works\"", "statment = \"it works\"");
    let diagnostics = refused(&text);
    let codes: Vec<DiagnosticCode> = diagnostics.errors().map(|d| d.code).collect();
    for expected in [
        DiagnosticCode::UnknownField,
        DiagnosticCode::WrongType,
        DiagnosticCode::UnknownMilestone,
        DiagnosticCode::MissingField,
    ] {
        assert!(
            codes.contains(&expected),
            "{expected} missing from:\n{diagnostics}"
        );
    }
    let positions: Vec<(usize, usize)> = diagnostics.iter().map(|d| (d.line, d.column)).collect();
    let mut sorted = positions.clone();
    sorted.sort_unstable();
    assert_eq!(positions, sorted);
    let rendered = diagnostics.to_string();
    assert_eq!(rendered.lines().count(), diagnostics.len());
    assert!(rendered.lines().all(|line| line.starts_with(FILE)));
    assert_eq!(diagnostics.kind(), ErrorKind::BadRequest);
    let as_error: &dyn std::error::Error = &diagnostics;
    assert_eq!(as_error.to_string(), rendered);
}

#[test]
fn codes_are_unique_and_well_formed() {
    let mut seen = std::collections::BTreeSet::new();
    for code in DiagnosticCode::ALL {
        let text = code.as_str();
        assert!(seen.insert(text), "{text} is used twice");
        assert_eq!(text.len(), 5);
        assert!(text.starts_with("SM") && text[2..].chars().all(|c| c.is_ascii_digit()));
        assert!(!code.summary().is_empty());
    }
    assert_eq!(
        DiagnosticCode::FeatureFulfillsNothing.severity(),
        Severity::Warning
    );
}

#[test]
fn windows_line_endings_are_read_and_counted() {
    let crlf = MINIMAL.replace('\n', "\r\n");
    super::accepted(&crlf);
    let broken = crlf.replace("milestone = \"m1\"", "milestone = \"m2\"");
    let diagnostics = refused(&broken);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::UnknownMilestone,
        line_of(&broken, "milestone = \"m2\"", 1),
        "features[0].milestone",
    );
    assert_eq!(diagnostic.column, 13);
}
