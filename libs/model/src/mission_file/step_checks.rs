//! Checks on the scripted agent's work across the plan: each scripted fix names a real
//! assertion, and every file a step changes is covered by the touches it runs under, as
//! the worker would otherwise refuse the change.

use std::collections::BTreeSet;

use crate::touches::{TouchMatcher, normalize_pattern};

use super::diagnostic::DiagnosticCode;
use super::raw::{RawPlan, RawStep};
use super::source::Sink;
use super::validate::{IdTable, unknown};

pub(crate) fn check_scripted(raw: &RawPlan, assertions: &IdTable<'_>, sink: &mut Sink<'_>) {
    for fix in &raw.scripted_fixes {
        if let Some(assertion) = &fix.assertion
            && !assertions.contains_key(assertion.text.as_str())
        {
            let message = unknown("assertion", assertion, assertions);
            sink.report_at(DiagnosticCode::UnknownAssertion, assertion, message);
        }
    }
    for feature in &raw.features {
        check_files_are_touched(
            &feature.steps,
            &feature.touches,
            "the feature's touches",
            sink,
        );
    }
    for fix in &raw.scripted_fixes {
        if !fix.touches.is_empty() {
            check_files_are_touched(&fix.steps, &fix.touches, "the scripted fix's touches", sink);
            continue;
        }
        let Some(assertion) = &fix.assertion else {
            continue;
        };
        // A fix without touches may change what the features fulfilling its assertion
        // may change. Their union over every repository is at least what the fix gets in
        // any one of them, so this never refuses a fix the orchestrator would allow.
        let fulfilling: Vec<&Vec<String>> = raw
            .features
            .iter()
            .filter(|feature| {
                feature
                    .fulfills
                    .iter()
                    .any(|fulfilled| fulfilled.text == assertion.text)
            })
            .map(|feature| &feature.touches)
            .collect();
        if fulfilling.is_empty() || fulfilling.iter().any(|touches| touches.is_empty()) {
            continue;
        }
        let inherited: Vec<String> = fulfilling
            .into_iter()
            .flatten()
            .cloned()
            .collect::<BTreeSet<String>>()
            .into_iter()
            .collect();
        let whose = format!(
            "the touches of the features that fulfill {:?}, which a scripted fix without \
             touches inherits",
            assertion.text
        );
        check_files_are_touched(&fix.steps, &inherited, &whose, sink);
    }
}

/// Reports every file a step changes that `touches` does not cover. Nothing to check
/// when the touches are empty (anything may change) or invalid (already reported).
fn check_files_are_touched(
    steps: &[RawStep],
    touches: &[String],
    whose: &str,
    sink: &mut Sink<'_>,
) {
    if touches.is_empty() {
        return;
    }
    let Ok(matcher) = TouchMatcher::new(touches) else {
        return;
    };
    for file in steps.iter().filter_map(|step| step.file.as_ref()) {
        if matcher.is_match(&normalize_pattern(&file.text)) {
            continue;
        }
        let listed: Vec<String> = touches
            .iter()
            .map(|pattern| format!("{pattern:?}"))
            .collect();
        sink.report_at(
            DiagnosticCode::StepOutsideTouches,
            file,
            format!(
                "{:?} is not covered by {whose} ({}); add it to the touches or change the step",
                file.text,
                listed.join(", ")
            ),
        );
    }
}
