//! The mission file: parsing, every diagnostic, the published example and the docs.

mod docs;
mod errors_graph;
mod errors_references;
mod errors_structure;
mod errors_values;
mod example;
mod mcp_servers;
mod notes_example;
mod properties;
mod scripted;

use std::path::PathBuf;

use sortie_model::mission_file::{self, Diagnostic, DiagnosticCode, Diagnostics, ParsedMission};

pub(crate) const FILE: &str = "mission.toml";

/// A small valid mission that tests change one thing in.
pub(crate) const MINIMAL: &str = r#"[mission]
name = "minimal"
goal = "prove the parser"

[[repositories]]
name = "app"
url = "/srv/git/app.git"

[[milestones]]
id = "m1"
title = "One"

[[features]]
id = "F-A"
title = "A"
milestone = "m1"
fulfills = ["VAL-A-001"]

[[assertions]]
id = "VAL-A-001"
statement = "it works"
check = { kind = "command", run = "true" }
"#;

pub(crate) fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) fn accepted(text: &str) -> ParsedMission {
    match mission_file::parse(FILE, text) {
        Ok(parsed) => parsed,
        Err(diagnostics) => panic!("expected the mission to parse, got:\n{diagnostics}"),
    }
}

pub(crate) fn refused(text: &str) -> Diagnostics {
    match mission_file::parse(FILE, text) {
        Ok(parsed) => panic!("expected the mission to be refused, got {:?}", parsed.plan),
        Err(diagnostics) => diagnostics,
    }
}

/// The 1-based line of the `occurrence`-th (from 1) line containing `needle`.
pub(crate) fn line_of(text: &str, needle: &str, occurrence: usize) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, line)| line.contains(needle))
        .nth(occurrence - 1)
        .map(|(index, _)| index + 1)
        .unwrap_or_else(|| panic!("{needle:?} occurs fewer than {occurrence} times"))
}

/// The one diagnostic with this code, checked to name the file, the line and the field,
/// in the struct and in the line a person reads.
pub(crate) fn expect_one<'d>(
    diagnostics: &'d Diagnostics,
    code: DiagnosticCode,
    line: usize,
    field: &str,
) -> &'d Diagnostic {
    let matching: Vec<&Diagnostic> = diagnostics.iter().filter(|d| d.code == code).collect();
    assert_eq!(
        matching.len(),
        1,
        "expected one {code} diagnostic, got:\n{diagnostics}"
    );
    let diagnostic = matching[0];
    assert_eq!(diagnostic.file, FILE);
    assert_eq!(diagnostic.line, line, "wrong line in: {diagnostic}");
    assert_eq!(diagnostic.field, field, "wrong field in: {diagnostic}");
    assert_eq!(diagnostic.severity, code.severity());
    let rendered = diagnostic.to_string();
    assert!(
        rendered.starts_with(&format!("{FILE}:{line}:")),
        "rendered: {rendered}"
    );
    assert!(
        rendered.contains(&format!("[{code}]")),
        "rendered: {rendered}"
    );
    if !field.is_empty() {
        assert!(
            rendered.contains(&format!(" {field}: ")),
            "rendered: {rendered}"
        );
    }
    diagnostic
}

/// `MINIMAL` with `from` replaced by `to` (which must occur).
pub(crate) fn minimal_with(from: &str, to: &str) -> String {
    assert!(MINIMAL.contains(from), "{from:?} is not in MINIMAL");
    MINIMAL.replacen(from, to, 1)
}
