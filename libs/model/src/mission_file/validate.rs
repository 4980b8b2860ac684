//! Checks across the plan: unique ids, references that resolve, and a validation
//! contract that every feature and milestone takes part in.

use std::collections::{BTreeMap, BTreeSet};

use super::diagnostic::DiagnosticCode;
use super::graph;
use super::raw::RawPlan;
use super::source::{FieldPath, Located, Sink};
use super::step_checks;
use super::suggest;

/// Ids of one kind, each with where it was first defined.
pub(crate) type IdTable<'raw> = BTreeMap<&'raw str, &'raw Located>;

pub(crate) fn validate(raw: &RawPlan, sink: &mut Sink<'_>) {
    check_not_empty(raw, sink);
    let milestones = unique_ids(
        "milestone id",
        raw.milestones.iter().map(|item| &item.id),
        sink,
    );
    let repositories = unique_ids(
        "repository name",
        raw.repositories.iter().map(|item| &item.name),
        sink,
    );
    let features = unique_ids("feature id", raw.features.iter().map(|item| &item.id), sink);
    let assertions = unique_ids(
        "assertion id",
        raw.assertions.iter().map(|item| &item.id),
        sink,
    );
    unique_ids("skill name", raw.skills.iter().map(|item| &item.name), sink);
    let services = unique_ids(
        "service name",
        raw.services.iter().map(|item| &item.name),
        sink,
    );
    unique_ids(
        "MCP server name",
        raw.mcp_servers.iter().map(|item| &item.name),
        sink,
    );
    unique_ids(
        "scripted fix for assertion",
        raw.scripted_fixes.iter().map(|item| &item.assertion),
        sink,
    );

    check_feature_references(
        raw,
        &milestones,
        &repositories,
        &features,
        &assertions,
        sink,
    );
    check_http_services(raw, &services, sink);
    check_coverage(raw, sink);
    check_unused_skills(raw, sink);
    check_ports(raw, sink);
    step_checks::check_scripted(raw, &assertions, sink);
    graph::check_preconditions(raw, &milestones, &features, sink);
}

fn check_not_empty(raw: &RawPlan, sink: &mut Sink<'_>) {
    let sections = [
        (
            "repositories",
            raw.repositories.is_empty(),
            "[[repositories]]",
        ),
        ("milestones", raw.milestones.is_empty(), "[[milestones]]"),
        ("features", raw.features.is_empty(), "[[features]]"),
    ];
    for (field, is_empty, header) in sections {
        if is_empty {
            sink.report(
                DiagnosticCode::EmptyPlan,
                0..0,
                &FieldPath::root().key(field),
                format!("the plan has no {field}; add at least one {header}"),
            );
        }
    }
}

/// Reports every id defined a second time, at the second definition.
fn unique_ids<'raw>(
    what: &str,
    ids: impl Iterator<Item = &'raw Option<Located>>,
    sink: &mut Sink<'_>,
) -> IdTable<'raw> {
    let mut table = IdTable::new();
    for id in ids.flatten() {
        match table.get(id.text.as_str()) {
            Some(first) => {
                let first_line = sink.line_of(&first.span);
                sink.report_at(
                    DiagnosticCode::DuplicateId,
                    id,
                    format!(
                        "duplicate {what} {:?} (first defined on line {first_line})",
                        id.text
                    ),
                );
            }
            None => {
                table.insert(id.text.as_str(), id);
            }
        }
    }
    table
}

pub(crate) fn unknown(what: &str, reference: &Located, known: &IdTable<'_>) -> String {
    let hint = suggest::did_you_mean(&reference.text, known.keys().copied());
    format!("unknown {what} {:?}{hint}", reference.text)
}

fn check_feature_references(
    raw: &RawPlan,
    milestones: &IdTable<'_>,
    repositories: &IdTable<'_>,
    features: &IdTable<'_>,
    assertions: &IdTable<'_>,
    sink: &mut Sink<'_>,
) {
    for feature in &raw.features {
        if let Some(milestone) = &feature.milestone
            && !milestones.contains_key(milestone.text.as_str())
        {
            let message = unknown("milestone", milestone, milestones);
            sink.report_at(DiagnosticCode::UnknownMilestone, milestone, message);
        }
        match &feature.repository {
            Some(repository) if !repositories.contains_key(repository.text.as_str()) => {
                let message = unknown("repository", repository, repositories);
                sink.report_at(DiagnosticCode::UnknownRepository, repository, message);
            }
            Some(_) => {}
            None if raw.repositories.len() > 1 => {
                let names: Vec<&str> = repositories.keys().copied().collect();
                sink.report(
                    DiagnosticCode::MissingField,
                    feature.place.header.clone(),
                    &feature.place.path,
                    format!(
                        "missing field \"repository\" (required because the plan has {} \
                         repositories: {})",
                        raw.repositories.len(),
                        names.join(", ")
                    ),
                );
            }
            None => {}
        }
        for precondition in &feature.preconditions {
            if !features.contains_key(precondition.text.as_str()) {
                let message = unknown("feature", precondition, features);
                sink.report_at(DiagnosticCode::UnknownFeature, precondition, message);
            }
        }
        for assertion in &feature.fulfills {
            if !assertions.contains_key(assertion.text.as_str()) {
                let message = unknown("assertion", assertion, assertions);
                sink.report_at(DiagnosticCode::UnknownAssertion, assertion, message);
            }
        }
        warn_repeated_entries(&feature.preconditions, sink);
        warn_repeated_entries(&feature.fulfills, sink);
    }
}

fn warn_repeated_entries(entries: &[Located], sink: &mut Sink<'_>) {
    let mut seen = BTreeSet::new();
    for entry in entries {
        if !seen.insert(entry.text.as_str()) {
            sink.report_at(
                DiagnosticCode::DuplicateListEntry,
                entry,
                format!("{:?} is listed twice", entry.text),
            );
        }
    }
}

fn check_http_services(raw: &RawPlan, services: &IdTable<'_>, sink: &mut Sink<'_>) {
    let called = raw
        .assertions
        .iter()
        .filter_map(|assertion| assertion.check.as_ref()?.http_service.as_ref());
    for service in called {
        if services.contains_key(service.text.as_str()) {
            continue;
        }
        let message = if services.is_empty() {
            format!(
                "unknown service {:?}: no services are defined in [[services.start]]",
                service.text
            )
        } else {
            unknown("service", service, services)
        };
        sink.report_at(DiagnosticCode::UnknownService, service, message);
    }
}

fn check_coverage(raw: &RawPlan, sink: &mut Sink<'_>) {
    let fulfilled: BTreeSet<&str> = raw
        .features
        .iter()
        .flat_map(|feature| &feature.fulfills)
        .map(|assertion| assertion.text.as_str())
        .collect();
    for id in raw
        .assertions
        .iter()
        .filter_map(|assertion| assertion.id.as_ref())
    {
        if !fulfilled.contains(id.text.as_str()) {
            sink.report_at(
                DiagnosticCode::UnfulfilledAssertion,
                id,
                format!(
                    "no feature fulfills assertion {:?}; add it to the fulfills of the \
                     feature that makes it true",
                    id.text
                ),
            );
        }
    }
    for feature in &raw.features {
        if feature.fulfills.is_empty() {
            let (span, path) = match &feature.id {
                Some(id) => (id.span.clone(), id.path.clone()),
                None => (feature.place.header.clone(), feature.place.path.clone()),
            };
            let name = feature.id.as_ref().map_or("", |id| id.text.as_str());
            sink.report(
                DiagnosticCode::FeatureFulfillsNothing,
                span,
                &path,
                format!("feature {name:?} fulfills no assertion, so no validation proves it"),
            );
        }
    }
    let used_milestones: BTreeSet<&str> = raw
        .features
        .iter()
        .filter_map(|feature| feature.milestone.as_ref())
        .map(|milestone| milestone.text.as_str())
        .collect();
    for id in raw
        .milestones
        .iter()
        .filter_map(|milestone| milestone.id.as_ref())
    {
        if !used_milestones.contains(id.text.as_str()) {
            sink.report_at(
                DiagnosticCode::EmptyMilestone,
                id,
                format!("milestone {:?} has no features", id.text),
            );
        }
    }
}

fn check_unused_skills(raw: &RawPlan, sink: &mut Sink<'_>) {
    let used: BTreeSet<&str> = raw
        .features
        .iter()
        .filter_map(|feature| feature.skill.as_ref())
        .map(|skill| skill.text.as_str())
        .collect();
    for name in raw.skills.iter().filter_map(|skill| skill.name.as_ref()) {
        if !used.contains(name.text.as_str()) {
            sink.report_at(
                DiagnosticCode::UnusedSkill,
                name,
                format!("skill {:?} is defined but no feature uses it", name.text),
            );
        }
    }
}

fn check_ports(raw: &RawPlan, sink: &mut Sink<'_>) {
    let mut first_user: BTreeMap<u16, (&str, usize)> = BTreeMap::new();
    for service in &raw.services {
        let Some(port) = &service.port else {
            continue;
        };
        let name = service.name.as_ref().map_or("", |name| name.text.as_str());
        let number = *port.get_ref();
        if number == 0 {
            // Already refused on its own.
            continue;
        }
        match first_user.get(&number) {
            Some((first_name, first_line)) => sink.report(
                DiagnosticCode::InvalidSetting,
                port.span(),
                &service.place.path.key("port"),
                format!(
                    "port {number} is already used by service {first_name:?} (line {first_line})"
                ),
            ),
            None => {
                let line = sink.line_of(&port.span());
                first_user.insert(number, (name, line));
            }
        }
    }
}
