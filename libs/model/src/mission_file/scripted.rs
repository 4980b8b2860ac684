//! Reads what the `scripted` agent does: the `steps` of a feature and the top-level
//! `[[scripted_fixes]]`. A step is a table with exactly one action key (`run`, `write`,
//! `append`, `replace`, `sleep_ms`) and only the keys that action allows.

use toml::de::DeValue;

use crate::plan::ScriptedStep;

use super::diagnostic::DiagnosticCode;
use super::raw::{RawScriptedFix, RawStep};
use super::read::read_touches;
use super::reader::TableReader;
use super::rules::{self, StepPathProblem};
use super::source::{Located, Sink};

pub(crate) const SCRIPTED_FIX_FIELDS: &[&str] = &["assertion", "touches", "steps"];

/// The action keys; a step has exactly one of them.
const ACTIONS: &[&str] = &["run", "write", "append", "replace", "sleep_ms"];

/// Every key some step may have; any other key is an unknown field.
const STEP_FIELDS: &[&str] = &[
    "run",
    "expect_exit",
    "write",
    "append",
    "content",
    "replace",
    "find",
    "with",
    "sleep_ms",
];

/// The keys a step with this action may have, the action first.
fn fields_of(action: &str) -> &'static [&'static str] {
    match action {
        "run" => &["run", "expect_exit"],
        "write" => &["write", "content"],
        "append" => &["append", "content"],
        "replace" => &["replace", "find", "with"],
        _ => &["sleep_ms"],
    }
}

/// The `steps` of a feature or a scripted fix: `[[features.steps]]` or an inline array
/// of tables.
pub(crate) fn read_steps(owner: &TableReader<'_, '_>, sink: &mut Sink<'_>) -> Vec<RawStep> {
    owner
        .array_of_tables("steps", STEP_FIELDS, sink)
        .iter()
        .filter_map(|step| read_step(step, sink))
        .collect()
}

pub(crate) fn read_scripted_fix(
    table: &TableReader<'_, '_>,
    sink: &mut Sink<'_>,
) -> RawScriptedFix {
    let assertion = table.required_string("assertion", sink);
    let touches = read_touches(table, sink);
    let steps = match table.value("steps") {
        None => {
            table.report_missing(
                "steps",
                sink,
                " (what the fix does, in [[scripted_fixes.steps]])",
            );
            Vec::new()
        }
        Some(value) => {
            if matches!(value.get_ref(), DeValue::Array(array) if array.is_empty()) {
                sink.report(
                    DiagnosticCode::InvalidScriptedStep,
                    value.span(),
                    &table.path().key("steps"),
                    "a scripted fix needs at least one step",
                );
            }
            read_steps(table, sink)
        }
    };
    RawScriptedFix {
        assertion,
        touches,
        steps,
    }
}

/// One step, or `None` once its problems are reported.
fn read_step(step: &TableReader<'_, '_>, sink: &mut Sink<'_>) -> Option<RawStep> {
    let keys = step.keys();
    let actions: Vec<&(&str, _)> = keys
        .iter()
        .filter(|(key, _)| ACTIONS.contains(key))
        .collect();
    let action = match actions.as_slice() {
        [] => {
            sink.report(
                DiagnosticCode::InvalidScriptedStep,
                step.span(),
                step.path(),
                format!(
                    "missing action: a step needs exactly one of {}",
                    ACTIONS.join(", ")
                ),
            );
            return None;
        }
        [(only, _)] => *only,
        [(first, _), (second, second_span), ..] => {
            sink.report(
                DiagnosticCode::InvalidScriptedStep,
                second_span.clone(),
                &step.path().key(second),
                format!(
                    "a step has exactly one action, but this one has both {first:?} and \
                     {second:?}; split it into two steps"
                ),
            );
            return None;
        }
    };
    let allowed = fields_of(action);
    let misplaced: Vec<_> = keys
        .iter()
        .filter(|(key, _)| STEP_FIELDS.contains(key) && !allowed.contains(key))
        .collect();
    for (key, span) in &misplaced {
        sink.report(
            DiagnosticCode::InvalidScriptedStep,
            span.clone(),
            &step.path().key(key),
            format!(
                "{key:?} does not belong to a {action} step, which allows only: {}",
                allowed.join(", ")
            ),
        );
    }
    let read = match action {
        "run" => read_run(step, sink),
        "write" | "append" => read_write(step, action, sink),
        "replace" => read_replace(step, sink),
        _ => step
            .optional_integer::<u64>("sleep_ms", sink)
            .map(|duration| RawStep {
                step: ScriptedStep::Sleep {
                    sleep_ms: duration.into_inner(),
                },
                file: None,
            }),
    };
    read.filter(|_| misplaced.is_empty())
}

fn read_run(step: &TableReader<'_, '_>, sink: &mut Sink<'_>) -> Option<RawStep> {
    let run = step.required_text("run", sink);
    let expect_exit = step
        .optional_integer::<i32>("expect_exit", sink)
        .map_or(0, toml::Spanned::into_inner);
    Some(RawStep {
        step: ScriptedStep::Run { run, expect_exit },
        file: None,
    })
}

fn read_write(step: &TableReader<'_, '_>, action: &str, sink: &mut Sink<'_>) -> Option<RawStep> {
    let file = read_file(step, action, sink);
    // Writing or appending nothing is allowed: an empty file is a file.
    let content = required_companion(step, "content", " (the text to write)", sink);
    let file = file?;
    let content = content?.text;
    let path = file.text.clone();
    let scripted_step = if action == "write" {
        ScriptedStep::Write {
            write: path,
            content,
        }
    } else {
        ScriptedStep::Append {
            append: path,
            content,
        }
    };
    Some(RawStep {
        step: scripted_step,
        file: Some(file),
    })
}

fn read_replace(step: &TableReader<'_, '_>, sink: &mut Sink<'_>) -> Option<RawStep> {
    let file = read_file(step, "replace", sink);
    let find = required_companion(step, "find", " (the text to replace)", sink);
    if let Some(find) = &find
        && find.text.is_empty()
    {
        sink.report_at(
            DiagnosticCode::EmptyValue,
            find,
            "\"find\" must not be empty: there is nothing to replace",
        );
    }
    // Replacing with nothing deletes the text, so `with` may be empty.
    let with = required_companion(step, "with", " (the text to put instead)", sink);
    let file = file?;
    Some(RawStep {
        step: ScriptedStep::Replace {
            replace: file.text.clone(),
            find: find?.text,
            with: with?.text,
        },
        file: Some(file),
    })
}

/// A string the step's action needs beside the action key.
fn required_companion(
    step: &TableReader<'_, '_>,
    key: &str,
    why: &str,
    sink: &mut Sink<'_>,
) -> Option<Located> {
    if !step.has(key) {
        step.report_missing(key, sink, why);
        return None;
    }
    step.optional_string(key, sink)
}

/// The file a `write`, `append` or `replace` step changes: relative to the repository
/// root, inside it, and naming a file.
fn read_file(step: &TableReader<'_, '_>, action: &str, sink: &mut Sink<'_>) -> Option<Located> {
    let file = step.optional_string(action, sink)?;
    if file.text.trim().is_empty() {
        sink.report_at(
            DiagnosticCode::EmptyValue,
            &file,
            format!("{action:?} must name a file"),
        );
        return None;
    }
    match rules::check_step_path(&file.text) {
        Ok(()) => Some(file),
        Err(StepPathProblem::OutsideRepository(reason)) => {
            sink.report_at(
                DiagnosticCode::PathOutsideRepository,
                &file,
                format!("{:?} {reason}", file.text),
            );
            None
        }
        Err(StepPathProblem::NotAFile(reason)) => {
            sink.report_at(
                DiagnosticCode::InvalidScriptedStep,
                &file,
                format!("{:?} {reason}", file.text),
            );
            None
        }
    }
}
