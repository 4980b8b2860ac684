//! `docs/mission-file.md` explains every diagnostic code, and its full examples parse.

use sortie_model::mission_file::DiagnosticCode;

use super::{accepted, workspace_root};

fn guide() -> String {
    std::fs::read_to_string(workspace_root().join("docs/mission-file.md"))
        .expect("docs/mission-file.md exists")
}

#[test]
fn every_diagnostic_code_has_a_section() {
    let guide = guide();
    for code in DiagnosticCode::ALL {
        let heading = format!("### {code}");
        assert!(
            guide.lines().any(|line| line.starts_with(&heading)),
            "docs/mission-file.md has no \"{heading}\" section"
        );
    }
}

#[test]
fn every_complete_example_in_the_guide_parses() {
    let guide = guide();
    let mut examples = 0;
    let mut block: Option<String> = None;
    for line in guide.lines() {
        match (&mut block, line) {
            (None, "```toml") => block = Some(String::new()),
            (Some(text), "```") => {
                if text.starts_with("[mission]") {
                    accepted(text);
                    examples += 1;
                }
                block = None;
            }
            (Some(text), _) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(examples >= 1, "the guide has no complete example");
}
