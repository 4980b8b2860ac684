//! Values that are wrong on their own: id syntax, globs, settings, checks, branches.

use sortie_model::mission_file::DiagnosticCode;

use super::{MINIMAL, expect_one, line_of, minimal_with, refused};

fn with_touches(globs: &str) -> String {
    minimal_with(
        "title = \"A\"",
        &format!("title = \"A\"\ntouches = {globs}"),
    )
}

#[test]
fn an_invalid_glob_is_refused() {
    let text = with_touches("[\"src/**\", \"src/[ab\"]");
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::InvalidGlob,
        line_of(&text, "touches", 1),
        "features[0].touches[1]",
    );
    assert!(
        diagnostic.message.contains("invalid glob \"src/[ab\""),
        "{diagnostic}"
    );
}

#[test]
fn an_absolute_touches_path_is_refused() {
    let text = with_touches("[\"/etc/**\"]");
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::PathOutsideRepository,
        line_of(&text, "touches", 1),
        "features[0].touches[0]",
    );
    assert!(diagnostic.message.contains("absolute"), "{diagnostic}");
}

#[test]
fn a_touches_path_that_climbs_out_is_refused() {
    let text = with_touches("[\"src/../../secrets/*\"]");
    let diagnostics = refused(&text);
    expect_one(
        &diagnostics,
        DiagnosticCode::PathOutsideRepository,
        line_of(&text, "touches", 1),
        "features[0].touches[0]",
    );
}

#[test]
fn an_assertion_id_must_look_like_val_area_nnn() {
    let text = MINIMAL.replace("VAL-A-001", "VAL-a-1");
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::InvalidId,
        line_of(&text, "id = \"VAL-a-1\"", 1),
        "assertions[0].id",
    );
    assert!(diagnostic.message.contains("VAL-AREA-NNN"), "{diagnostic}");
}

#[test]
fn a_feature_id_with_a_space_is_refused() {
    let text = minimal_with("id = \"F-A\"", "id = \"F A\"");
    let diagnostics = refused(&text);
    expect_one(
        &diagnostics,
        DiagnosticCode::InvalidId,
        line_of(&text, "id = \"F A\"", 1),
        "features[0].id",
    );
}

#[test]
fn a_milestone_id_that_is_empty_is_refused() {
    let text = MINIMAL.replace("\"m1\"", "\"\"");
    let diagnostics = refused(&text);
    expect_one(
        &diagnostics,
        DiagnosticCode::InvalidId,
        line_of(&text, "id = \"\"", 1),
        "milestones[0].id",
    );
}

#[test]
fn the_mission_name_must_fit_in_a_branch_name() {
    let text = minimal_with("name = \"minimal\"", "name = \"my mission\"");
    let diagnostics = refused(&text);
    expect_one(&diagnostics, DiagnosticCode::InvalidId, 2, "mission.name");
}

#[test]
fn an_invalid_branch_name_is_refused() {
    let text = minimal_with(
        "url = \"/srv/git/app.git\"",
        "url = \"/srv/git/app.git\"\nbase_branch = \"feature..x\"",
    );
    let diagnostics = refused(&text);
    expect_one(
        &diagnostics,
        DiagnosticCode::InvalidBranch,
        line_of(&text, "base_branch", 1),
        "repositories[0].base_branch",
    );
}

#[test]
fn settings_that_cannot_work_are_refused() {
    let text = format!(
        "{MINIMAL}\n[settings]\nmax_parallel_workers = 0\nmax_attempts_per_feature = 0\nmax_fix_rounds = 0\n"
    );
    let diagnostics = refused(&text);
    let fields: Vec<(&str, usize)> = diagnostics
        .iter()
        .map(|d| {
            assert_eq!(d.code, DiagnosticCode::InvalidSetting, "{d}");
            (d.field.as_str(), d.line)
        })
        .collect();
    assert_eq!(
        fields,
        [
            (
                "settings.max_parallel_workers",
                line_of(&text, "max_parallel_workers", 1)
            ),
            (
                "settings.max_attempts_per_feature",
                line_of(&text, "max_attempts_per_feature", 1)
            ),
        ]
    );
}

#[test]
fn an_empty_agent_profile_is_refused() {
    let text = format!("{MINIMAL}\n[settings.agents]\nworker = \"\"\n");
    let diagnostics = refused(&text);
    expect_one(
        &diagnostics,
        DiagnosticCode::EmptyValue,
        line_of(&text, "worker", 1),
        "settings.agents.worker",
    );
}

#[test]
fn service_ports_must_be_set_and_distinct() {
    let text = format!(
        "{MINIMAL}\n[[services.start]]\nname = \"zero\"\nrun = \"a\"\nport = 0\n\
         \n[[services.start]]\nname = \"api\"\nrun = \"b\"\nport = 8080\n\
         \n[[services.start]]\nname = \"web\"\nrun = \"c\"\nport = 8080\n"
    );
    let diagnostics = refused(&text);
    let problems: Vec<(usize, &str, &str)> = diagnostics
        .iter()
        .map(|d| (d.line, d.field.as_str(), d.message.as_str()))
        .collect();
    assert_eq!(problems.len(), 2, "{diagnostics}");
    assert_eq!(problems[0].0, line_of(&text, "port = 0", 1));
    assert_eq!(problems[0].1, "services.start[0].port");
    assert_eq!(problems[1].0, line_of(&text, "port = 8080", 2));
    assert_eq!(problems[1].1, "services.start[2].port");
    assert!(
        problems[1].2.contains(&format!(
            "already used by service \"api\" (line {})",
            line_of(&text, "port = 8080", 1)
        )),
        "{diagnostics}"
    );
    assert!(
        diagnostics
            .iter()
            .all(|d| d.code == DiagnosticCode::InvalidSetting)
    );
}

fn with_check(check: &str) -> String {
    let text = minimal_with(
        "check = { kind = \"command\", run = \"true\" }",
        &format!("check = {check}"),
    );
    format!("{text}\n[[services.start]]\nname = \"api\"\nrun = \"serve\"\nport = 8080\n")
}

#[test]
fn an_unknown_check_kind_suggests_the_close_one() {
    let text = with_check("{ kind = \"comand\", run = \"true\" }");
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::UnknownVariant,
        line_of(&text, "comand", 1),
        "assertions[0].check.kind",
    );
    assert!(
        diagnostic.message.contains("did you mean \"command\""),
        "{diagnostic}"
    );
}

#[test]
fn a_check_without_a_kind_is_refused() {
    let text = with_check("{ run = \"true\" }");
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::MissingField,
        line_of(&text, "check =", 1),
        "assertions[0].check",
    );
    assert!(diagnostic.message.contains("\"kind\""), "{diagnostic}");
}

#[test]
fn an_assertion_without_a_check_is_refused() {
    let text = MINIMAL.replace("check = { kind = \"command\", run = \"true\" }\n", "");
    let diagnostics = refused(&text);
    expect_one(
        &diagnostics,
        DiagnosticCode::MissingField,
        line_of(&text, "[[assertions]]", 1),
        "assertions[0]",
    );
}

#[test]
fn an_http_check_that_cannot_work_is_refused() {
    let text = with_check(
        "{ kind = \"http\", service = \"api\", method = \"get\", path = \"todos\", expect_status = 42 }",
    );
    let diagnostics = refused(&text);
    let line = line_of(&text, "kind = \"http\"", 1);
    let method = expect_one(
        &diagnostics,
        DiagnosticCode::UnknownVariant,
        line,
        "assertions[0].check.method",
    );
    assert!(method.message.contains("did you mean \"GET\""), "{method}");
    let problems: Vec<&str> = diagnostics
        .iter()
        .filter(|d| d.code == DiagnosticCode::InvalidCheck)
        .map(|d| d.field.as_str())
        .collect();
    assert_eq!(
        problems,
        [
            "assertions[0].check.path",
            "assertions[0].check.expect_status"
        ]
    );
}

#[test]
fn an_agent_check_needs_known_evidence() {
    let text =
        with_check("{ kind = \"agent\", instructions = \"look\", evidence = [\"screenshots\"] }");
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::UnknownVariant,
        line_of(&text, "kind = \"agent\"", 1),
        "assertions[0].check.evidence[0]",
    );
    assert!(
        diagnostic.message.contains("did you mean \"screenshot\""),
        "{diagnostic}"
    );

    let empty = with_check("{ kind = \"agent\", instructions = \"look\", evidence = [] }");
    let diagnostics = refused(&empty);
    expect_one(
        &diagnostics,
        DiagnosticCode::InvalidCheck,
        line_of(&empty, "kind = \"agent\"", 1),
        "assertions[0].check.evidence",
    );
}

#[test]
fn a_command_check_timeout_must_be_positive() {
    let text = with_check("{ kind = \"command\", run = \"true\", timeout_seconds = 0 }");
    let diagnostics = refused(&text);
    expect_one(
        &diagnostics,
        DiagnosticCode::InvalidCheck,
        line_of(&text, "timeout_seconds", 1),
        "assertions[0].check.timeout_seconds",
    );
}
