//! The lint's rules, one function each, in the order of their codes.

use std::collections::BTreeSet;

use crate::ids::AssertionId;
use crate::plan::{Check, Feature, Plan};
use crate::touches::{normalize_pattern, touches_overlap};

use super::{
    LintCode, LintFinding, LintSubject, MAX_ASSERTIONS_PER_MILESTONE, MAX_FEATURES_PER_MILESTONE,
};

/// Characters that make a `touches` pattern a glob rather than one path.
const GLOB_METACHARACTERS: &[char] = &['*', '?', '[', ']', '{', '}', '\\'];

/// SL001: a milestone with too many features, or too many assertions to prove at its end.
pub(super) fn milestones_too_large(plan: &Plan, findings: &mut Vec<LintFinding>) {
    for milestone in &plan.milestones {
        let feature_count = plan.features_of(&milestone.id).count();
        if feature_count > MAX_FEATURES_PER_MILESTONE {
            findings.push(LintFinding::new(
                LintCode::MilestoneTooLarge,
                LintSubject::Milestone(milestone.id.clone()),
                "",
                format!(
                    "milestone {} has {feature_count} features, more than \
                     {MAX_FEATURES_PER_MILESTONE}; split it into smaller milestones so \
                     each validation proves a small, coherent step",
                    milestone.id
                ),
            ));
        }
        if !plan.settings.validation {
            continue;
        }
        let assertion_count = assertions_proven_at_end(plan, milestone).len();
        if assertion_count > MAX_ASSERTIONS_PER_MILESTONE {
            findings.push(LintFinding::new(
                LintCode::MilestoneTooLarge,
                LintSubject::Milestone(milestone.id.clone()),
                "",
                format!(
                    "milestone {} must prove {assertion_count} assertions when it ends, \
                     more than {MAX_ASSERTIONS_PER_MILESTONE}; split it into smaller \
                     milestones so a failed validation points at a small change",
                    milestone.id
                ),
            ));
        }
    }
}

/// The assertions a milestone's validation proves: those its features fulfil, less the
/// HTTP checks when user-testing is skipped.
fn assertions_proven_at_end<'plan>(
    plan: &'plan Plan,
    milestone: &crate::plan::Milestone,
) -> BTreeSet<&'plan AssertionId> {
    let fulfilled: BTreeSet<&AssertionId> = plan
        .features_of(&milestone.id)
        .flat_map(|feature| &feature.fulfills)
        .collect();
    plan.assertions
        .iter()
        .filter(|assertion| fulfilled.contains(&assertion.id))
        .filter(|assertion| {
            !(plan.settings.skip_user_testing && matches!(assertion.check, Check::Http { .. }))
        })
        .map(|assertion| &assertion.id)
        .collect()
}

/// SL002: a feature with neither verification commands nor scripted steps.
pub(super) fn features_without_verification(plan: &Plan, findings: &mut Vec<LintFinding>) {
    for feature in &plan.features {
        if !feature.verification.is_empty() || !feature.steps.is_empty() {
            continue;
        }
        findings.push(LintFinding::new(
            LintCode::FeatureWithoutVerification,
            LintSubject::Feature(feature.id.clone()),
            "verification",
            format!(
                "feature {} has no verification steps; add the commands that show it works \
                 (a test run, a request to the service) so the worker can check its work \
                 before handing it off",
                feature.id
            ),
        ));
    }
}

/// SL003: an assertion no feature fulfils.
pub(super) fn unfulfilled_assertions(plan: &Plan, findings: &mut Vec<LintFinding>) {
    let fulfilled: BTreeSet<&AssertionId> = plan
        .features
        .iter()
        .flat_map(|feature| &feature.fulfills)
        .collect();
    for assertion in &plan.assertions {
        if fulfilled.contains(&assertion.id) {
            continue;
        }
        findings.push(LintFinding::new(
            LintCode::UnfulfilledAssertion,
            LintSubject::Assertion(assertion.id.clone()),
            "",
            format!(
                "no feature fulfills assertion {}, so no milestone ever proves it; add it \
                 to the `fulfills` of the feature that makes it true, or add a feature for it",
                assertion.id
            ),
        ));
    }
}

/// SL004: a precondition between two features of one milestone and repository whose
/// touches are disjoint, where the later feature never mentions the earlier one.
pub(super) fn needless_preconditions(plan: &Plan, findings: &mut Vec<LintFinding>) {
    for later in &plan.features {
        for (index, precondition) in later.preconditions.iter().enumerate() {
            let Some(earlier) = plan.feature(precondition) else {
                continue;
            };
            let same_place =
                earlier.milestone == later.milestone && earlier.repository == later.repository;
            // Empty touches cover everything, and so always overlap.
            if !same_place || touches_overlap(&earlier.touches, &later.touches) {
                continue;
            }
            if mentions(later, earlier) {
                continue;
            }
            findings.push(LintFinding::new(
                LintCode::NeedlessPrecondition,
                LintSubject::Feature(later.id.clone()),
                format!("preconditions[{index}]"),
                format!(
                    "{} waits for {} but they touch disjoint paths; if {} does not use {}'s \
                     work, drop the precondition so they run in parallel",
                    later.id, earlier.id, later.id, earlier.id
                ),
            ));
        }
    }
}

/// Whether the later feature's description or expected behaviour names the earlier
/// feature's id or one of the plain paths (no glob) it touches: a stated reason to wait.
fn mentions(later: &Feature, earlier: &Feature) -> bool {
    let texts = std::iter::once(&later.description).chain(&later.expected_behavior);
    let plain_paths: Vec<String> = earlier
        .touches
        .iter()
        .filter(|pattern| !pattern.contains(GLOB_METACHARACTERS))
        .map(|pattern| normalize_pattern(pattern))
        .collect();
    texts.into_iter().any(|text| {
        text.contains(earlier.id.as_str()) || plain_paths.iter().any(|path| text.contains(path))
    })
}

/// SL005: an HTTP check whose service the services block does not start, while
/// user-testing, which runs HTTP checks, is on.
pub(super) fn http_checks_without_service(plan: &Plan, findings: &mut Vec<LintFinding>) {
    if plan.settings.skip_user_testing || !plan.settings.validation {
        return;
    }
    let started: BTreeSet<&str> = plan
        .services
        .start
        .iter()
        .map(|service| service.name.as_str())
        .collect();
    for assertion in &plan.assertions {
        let Check::Http { service, .. } = &assertion.check else {
            continue;
        };
        if started.contains(service.as_str()) {
            continue;
        }
        let message = if started.is_empty() {
            format!(
                "assertion {} calls service {service:?} over HTTP but the services block \
                 starts no service; add a [[services.start]] entry named {service:?} with the \
                 command that starts the application, or set skip_user_testing",
                assertion.id
            )
        } else {
            format!(
                "assertion {} calls service {service:?} over HTTP but the services block \
                 does not start it; add a [[services.start]] entry named {service:?} or name \
                 one of the services it starts",
                assertion.id
            )
        };
        findings.push(LintFinding::new(
            LintCode::HttpCheckWithoutService,
            LintSubject::Assertion(assertion.id.clone()),
            "check.service",
            message,
        ));
    }
}

/// SL006: a feature without touches beside other features of its milestone and
/// repository: it may change anything, so it never runs beside them.
pub(super) fn features_without_touches(plan: &Plan, findings: &mut Vec<LintFinding>) {
    for feature in &plan.features {
        if !feature.touches.is_empty() {
            continue;
        }
        let neighbours = plan
            .features_of(&feature.milestone)
            .filter(|other| other.id != feature.id && other.repository == feature.repository)
            .count();
        if neighbours == 0 {
            continue;
        }
        findings.push(LintFinding::new(
            LintCode::FeatureWithoutTouches,
            LintSubject::Feature(feature.id.clone()),
            "touches",
            format!(
                "feature {} declares no touches, so it may change anything and cannot run \
                 beside the {neighbours} other feature(s) of milestone {}; list the paths it \
                 changes",
                feature.id, feature.milestone
            ),
        ));
    }
}
