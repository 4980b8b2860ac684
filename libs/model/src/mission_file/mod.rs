//! The mission file (`mission.toml`): the plan as people write it.
//!
//! [`parse`] reads the text, reports every problem it finds with the file, line, column
//! and field path, and produces a [`Plan`] only when there are no errors: nothing is
//! ever partly accepted. `docs/mission-file.md` describes the format and every
//! diagnostic code.
//!
//! The work is done in four steps:
//! 1. the TOML is parsed into a tree that keeps byte spans (`toml::de::DeTable`);
//! 2. `read` walks the tree into a raw plan, reporting unknown fields, missing fields,
//!    wrong types and values that are wrong on their own (id syntax, globs, ranges);
//! 3. `validate`, `graph` and `step_checks` check the plan as a whole (duplicates,
//!    references, coverage of the validation contract, cycles, milestone order, the
//!    files scripted steps change);
//! 4. `convert` turns the raw plan into the clean [`Plan`].

mod checks;
mod convert;
mod diagnostic;
mod graph;
mod mcp;
mod raw;
mod read;
mod reader;
mod rules;
mod scripted;
mod source;
mod step_checks;
mod suggest;
mod syntax;
mod validate;

use toml::de::DeTable;

use crate::plan::Plan;

pub use diagnostic::{Diagnostic, DiagnosticCode, Diagnostics, Severity};

use source::{FieldPath, Sink};

/// A mission file that was accepted: its plan, and the warnings about it.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedMission {
    pub plan: Plan,
    /// Only warnings; empty when the file is clean.
    pub warnings: Diagnostics,
}

/// Parses and validates a mission file. `file_name` is only used in diagnostics.
///
/// On failure the diagnostics hold every error found, and the warnings too. TOML syntax
/// errors stop the parse before the plan is checked, since the rest of the tree cannot
/// be trusted.
pub fn parse(file_name: &str, text: &str) -> Result<ParsedMission, Diagnostics> {
    let mut sink = Sink::new(text);
    let (document, syntax_errors) = DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        for error in &syntax_errors {
            syntax::report_syntax_error(error, &document, text, &mut sink);
        }
        return Err(sink.into_diagnostics(file_name));
    }
    let raw = read::read_plan(&document, &mut sink);
    validate::validate(&raw, &mut sink);
    if sink.has_errors() {
        return Err(sink.into_diagnostics(file_name));
    }
    match convert::to_plan(raw) {
        Some(plan) => Ok(ParsedMission {
            plan,
            warnings: sink.into_diagnostics(file_name),
        }),
        None => {
            debug_assert!(false, "validation passed but the plan is incomplete");
            sink.report(
                DiagnosticCode::Internal,
                0..0,
                &FieldPath::root(),
                "the mission file was valid but the plan could not be built; please \
                 report this as a bug in Sortie",
            );
            Err(sink.into_diagnostics(file_name))
        }
    }
}
