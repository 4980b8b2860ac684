//! Reads an assertion's `check`: a table tagged by `kind`, whose allowed fields depend on
//! the kind.

use toml::de::DeValue;

use crate::plan::{Check, EvidenceKind, default_http_method};

use super::diagnostic::DiagnosticCode;
use super::raw::RawCheck;
use super::reader::{TableReader, as_string, report_wrong_type};
use super::source::Sink;
use super::suggest;

const CHECK_KINDS: &[&str] = &["command", "http", "agent"];
const COMMAND_FIELDS: &[&str] = &[
    "kind",
    "run",
    "expect_exit",
    "expect_output",
    "timeout_seconds",
];
const HTTP_FIELDS: &[&str] = &[
    "kind",
    "service",
    "method",
    "path",
    "body",
    "expect_status",
    "expect_body",
];
const AGENT_FIELDS: &[&str] = &["kind", "instructions", "evidence"];
const HTTP_METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
const EVIDENCE_KINDS: &[(&str, EvidenceKind)] = &[
    ("command", EvidenceKind::Command),
    ("http_exchange", EvidenceKind::HttpExchange),
    ("screenshot", EvidenceKind::Screenshot),
    ("file_excerpt", EvidenceKind::FileExcerpt),
];

/// Reads `check` of an assertion that has one.
pub(crate) fn read_check(assertion: &TableReader<'_, '_>, sink: &mut Sink<'_>) -> Option<RawCheck> {
    let value = assertion.value("check")?;
    let path = assertion.path().key("check");
    let DeValue::Table(table) = value.get_ref() else {
        report_wrong_type(value.span(), &path, "a table", value.get_ref(), sink);
        return None;
    };
    let Some(kind_value) = table.get("kind") else {
        sink.report(
            DiagnosticCode::MissingField,
            value.span(),
            &path,
            format!(
                "missing field \"kind\" (one of: {})",
                CHECK_KINDS.join(", ")
            ),
        );
        return None;
    };
    let kind = as_string(kind_value, &path.key("kind"), sink)?;
    let fields = match kind.text.as_str() {
        "command" => COMMAND_FIELDS,
        "http" => HTTP_FIELDS,
        "agent" => AGENT_FIELDS,
        other => {
            let hint = suggest::did_you_mean(other, CHECK_KINDS.iter().copied());
            sink.report_at(
                DiagnosticCode::UnknownVariant,
                &kind,
                format!(
                    "unknown check kind {other:?}{hint}; expected one of: {}",
                    CHECK_KINDS.join(", ")
                ),
            );
            return None;
        }
    };
    let check = TableReader::new(table, value.span(), path, fields, sink);
    match kind.text.as_str() {
        "command" => Some(read_command(&check, sink)),
        "http" => Some(read_http(&check, sink)),
        _ => Some(read_agent(&check, sink)),
    }
}

fn read_command(check: &TableReader<'_, '_>, sink: &mut Sink<'_>) -> RawCheck {
    let run = check.required_text("run", sink);
    let expect_exit = check
        .optional_integer::<i32>("expect_exit", sink)
        .map_or(0, toml::Spanned::into_inner);
    // The regex is not compiled here: this crate has no regex engine. The validator
    // reports a bad expression when it runs the check.
    let expect_output = check
        .optional_string("expect_output", sink)
        .map(|pattern| pattern.text);
    let timeout_seconds = check.optional_integer::<u32>("timeout_seconds", sink);
    if let Some(timeout) = &timeout_seconds
        && *timeout.get_ref() == 0
    {
        sink.report(
            DiagnosticCode::InvalidCheck,
            timeout.span(),
            &check.path().key("timeout_seconds"),
            "timeout_seconds must be at least 1",
        );
    }
    RawCheck {
        check: Check::Command {
            run,
            expect_exit,
            expect_output,
            timeout_seconds: timeout_seconds.map(toml::Spanned::into_inner),
        },
        http_service: None,
    }
}

fn read_http(check: &TableReader<'_, '_>, sink: &mut Sink<'_>) -> RawCheck {
    let service = check.required_string("service", sink);
    let method = match check.optional_string("method", sink) {
        Some(method) if HTTP_METHODS.contains(&method.text.as_str()) => method.text,
        Some(method) => {
            let hint = suggest::did_you_mean(&method.text, HTTP_METHODS.iter().copied());
            sink.report_at(
                DiagnosticCode::UnknownVariant,
                &method,
                format!(
                    "unknown HTTP method {:?}{hint}; expected one of: {}",
                    method.text,
                    HTTP_METHODS.join(", ")
                ),
            );
            method.text
        }
        None => default_http_method(),
    };
    let request_path = check.required_string("path", sink);
    if let Some(request_path) = &request_path
        && !request_path.text.starts_with('/')
    {
        sink.report_at(
            DiagnosticCode::InvalidCheck,
            request_path,
            format!("request path {:?} must start with '/'", request_path.text),
        );
    }
    let expect_status = check.required_integer::<u16>("expect_status", sink);
    if let Some(status) = &expect_status
        && !(100..=599).contains(status.get_ref())
    {
        sink.report(
            DiagnosticCode::InvalidCheck,
            status.span(),
            &check.path().key("expect_status"),
            format!("{} is not an HTTP status (100 to 599)", status.get_ref()),
        );
    }
    RawCheck {
        check: Check::Http {
            service: service
                .as_ref()
                .map(|service| service.text.clone())
                .unwrap_or_default(),
            method,
            path: request_path.map(|path| path.text).unwrap_or_default(),
            body: check.optional_string("body", sink).map(|body| body.text),
            expect_status: expect_status.map_or(0, toml::Spanned::into_inner),
            expect_body: check
                .optional_string("expect_body", sink)
                .map(|expected| expected.text),
        },
        http_service: service,
    }
}

fn read_agent(check: &TableReader<'_, '_>, sink: &mut Sink<'_>) -> RawCheck {
    let instructions = check.required_text("instructions", sink);
    let mut evidence = Vec::new();
    if check.has("evidence") {
        let names = check.string_list("evidence", sink);
        let is_empty_list = matches!(
            check.value("evidence").map(|value| value.get_ref()),
            Some(DeValue::Array(array)) if array.is_empty()
        );
        if is_empty_list {
            sink.report(
                DiagnosticCode::InvalidCheck,
                check
                    .value("evidence")
                    .map_or(check.span(), toml::Spanned::span),
                &check.path().key("evidence"),
                "an agent check must name at least one kind of evidence",
            );
        }
        for name in names {
            match EVIDENCE_KINDS.iter().find(|(word, _)| *word == name.text) {
                Some((_, kind)) => evidence.push(*kind),
                None => {
                    let words = EVIDENCE_KINDS.iter().map(|(word, _)| *word);
                    let hint = suggest::did_you_mean(&name.text, words.clone());
                    let expected: Vec<&str> = words.collect();
                    sink.report_at(
                        DiagnosticCode::UnknownVariant,
                        &name,
                        format!(
                            "unknown evidence kind {:?}{hint}; expected one of: {}",
                            name.text,
                            expected.join(", ")
                        ),
                    );
                }
            }
        }
    } else {
        check.report_missing(
            "evidence",
            sink,
            " (the evidence the validator must return, for example [\"command\"])",
        );
    }
    RawCheck {
        check: Check::Agent {
            instructions,
            evidence,
        },
        http_service: None,
    }
}
