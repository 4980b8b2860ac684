//! Turning what was run into check results and findings.
//!
//! Invariant: a check passes exactly when its evidence shows it, judged the way the
//! orchestrator's evidence check judges it (the exit code and the output tail, the status
//! and the body excerpt), so the validator and the orchestrator never disagree. A check
//! without evidence never passes, and every failed check comes with a finding.

use std::time::Duration;

use sortie_model::AssertionId;
use sortie_model::protocol::CheckResult;
use sortie_model::records::{Evidence, Finding, Severity};

use crate::http::Exchange;
use crate::shell::{Ended, Finished};

/// The check name of an assertion's result.
pub(crate) const ASSERTION: &str = "assertion";

/// One check's result, and its finding when it failed.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Judged {
    pub(crate) check: CheckResult,
    pub(crate) finding: Option<Finding>,
}

/// Every check of a validation, and every finding.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Outcome {
    pub(crate) checks: Vec<CheckResult>,
    pub(crate) findings: Vec<Finding>,
}

impl Outcome {
    pub(crate) fn add(&mut self, judged: Judged) {
        self.checks.push(judged.check);
        self.findings.extend(judged.finding);
    }

    /// A finding that belongs to no single check (a service that never became healthy).
    pub(crate) fn add_finding(&mut self, finding: Finding) {
        self.findings.push(finding);
    }
}

pub(crate) fn judged(
    assertion: Option<&AssertionId>,
    check: &str,
    evidence: Vec<Evidence>,
    failure: Option<String>,
) -> Judged {
    let finding = failure.map(|summary| Finding {
        assertion: assertion.cloned(),
        check: check.to_owned(),
        severity: Severity::High,
        summary,
        evidence: evidence.clone(),
    });
    Judged {
        check: CheckResult {
            assertion: assertion.cloned(),
            check: check.to_owned(),
            passed: finding.is_none(),
            evidence,
        },
        finding,
    }
}

/// `1s`, `0.5s`.
pub(crate) fn seconds(duration: Duration) -> String {
    format!("{}s", duration.as_secs_f64())
}

/// How a run ended, against the exit code it should have ended with.
fn ended_text(ended: &Ended, expect_exit: i32) -> String {
    match ended {
        Ended::Exited(code) => format!("exit code {code}, expected {expect_exit}"),
        Ended::Signalled => format!("ended by a signal, expected exit code {expect_exit}"),
        Ended::TimedOut { limit } => format!(
            "still running at its time limit of {} and killed, expected exit code {expect_exit}",
            seconds(*limit)
        ),
        Ended::NotStarted { error } => format!("could not be started: {error}"),
    }
}

/// A scrutiny step (`build`, `test`, `lint`): it passes on exit code 0.
pub(crate) fn scrutiny(step: &str, finished: &Finished) -> Judged {
    let failure = (finished.ended != Ended::Exited(0))
        .then(|| format!("{step}: {}", ended_text(&finished.ended, 0)));
    judged(
        None,
        step,
        vec![Evidence::Command(finished.run.clone())],
        failure,
    )
}

/// A command assertion: it passes on the expected exit code and, when a pattern is given,
/// an output tail the pattern matches.
pub(crate) fn command(
    assertion: &AssertionId,
    expect_exit: i32,
    expect_output: Option<&str>,
    finished: &Finished,
) -> Judged {
    let evidence = vec![Evidence::Command(finished.run.clone())];
    let failure = if finished.ended != Ended::Exited(expect_exit) {
        Some(format!(
            "{assertion}: {}",
            ended_text(&finished.ended, expect_exit)
        ))
    } else {
        match expect_output.map(regex::Regex::new) {
            None => None,
            Some(Ok(pattern)) if pattern.is_match(&finished.run.output_tail) => None,
            Some(Ok(pattern)) => Some(format!(
                "{assertion}: exit code {expect_exit} as expected, but the output does not match {:?}",
                pattern.as_str()
            )),
            Some(Err(error)) => Some(format!(
                "{assertion}: expect_output is not a valid pattern: {error}"
            )),
        }
    };
    judged(Some(assertion), ASSERTION, evidence, failure)
}

/// What an HTTP assertion expects.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HttpExpectation<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) status: u16,
    pub(crate) body: Option<&'a str>,
}

/// An HTTP assertion: it passes on the expected status and, when a text is given, a body
/// excerpt that contains it.
pub(crate) fn http(
    assertion: &AssertionId,
    expected: HttpExpectation<'_>,
    exchange: &Exchange,
) -> Judged {
    let mut evidence = vec![exchange.evidence()];
    if let Some(error) = &exchange.error {
        evidence.push(Evidence::Note {
            text: error.clone(),
        });
    }
    let request = format!("{} {}", expected.method, expected.path);
    let failure = match exchange.status {
        None => Some(format!(
            "{assertion}: {request} got no answer: {}",
            exchange.error.as_deref().unwrap_or("no status")
        )),
        Some(status) if status != expected.status => Some(format!(
            "{assertion}: {request} answered {status}, expected {}",
            expected.status
        )),
        Some(status) => expected
            .body
            .filter(|text| !exchange.body_excerpt.contains(text))
            .map(|text| format!("{assertion}: {request} answered {status} without {text:?}")),
    };
    judged(Some(assertion), ASSERTION, evidence, failure)
}

/// A check that could not be run, and why: it fails, with the reason as its evidence.
pub(crate) fn not_run(
    assertion: Option<&AssertionId>,
    check: &str,
    reason: &str,
    mut evidence: Vec<Evidence>,
) -> Judged {
    evidence.push(Evidence::Note {
        text: reason.to_owned(),
    });
    let subject = assertion.map_or(check, AssertionId::as_str);
    judged(
        assertion,
        check,
        evidence,
        Some(format!("{subject}: not checked: {reason}")),
    )
}

/// An agent-judged assertion, which the scripted validator profile cannot judge.
pub(crate) fn agent(assertion: &AssertionId) -> Judged {
    not_run(
        Some(assertion),
        ASSERTION,
        "the scripted validator cannot judge an agent check; it needs a validator agent",
        Vec::new(),
    )
}

#[cfg(test)]
mod tests {
    use sortie_model::records::CommandRun;

    use super::*;

    fn finished(ended: Ended, output: &str) -> Finished {
        Finished {
            run: CommandRun {
                command: "make test".to_owned(),
                exit_code: match ended {
                    Ended::Exited(code) => Some(code),
                    _ => None,
                },
                output_tail: output.to_owned(),
                duration_ms: 12,
            },
            ended,
        }
    }

    fn id() -> AssertionId {
        AssertionId::new("VAL-API-003")
    }

    #[test]
    fn a_command_with_the_expected_exit_and_output_passes() {
        let judged = command(
            &id(),
            0,
            Some(r"ok \d+"),
            &finished(Ended::Exited(0), "ran: ok 12"),
        );
        assert!(judged.check.passed);
        assert_eq!(judged.check.check, "assertion");
        assert_eq!(judged.check.assertion, Some(id()));
        assert!(judged.finding.is_none());
        assert!(
            matches!(&judged.check.evidence[0], Evidence::Command(run) if run.exit_code == Some(0))
        );
    }

    #[test]
    fn a_wrong_exit_code_is_a_finding_with_the_evidence() {
        let judged = command(&id(), 0, None, &finished(Ended::Exited(1), "FAILED"));
        assert!(!judged.check.passed);
        let finding = judged.finding.unwrap();
        assert_eq!(finding.summary, "VAL-API-003: exit code 1, expected 0");
        assert_eq!(finding.severity, Severity::High);
        assert_eq!(finding.check, "assertion");
        assert_eq!(finding.evidence, judged.check.evidence);
    }

    #[test]
    fn an_expected_non_zero_exit_passes() {
        let judged = command(&id(), 2, None, &finished(Ended::Exited(2), ""));
        assert!(judged.check.passed);
    }

    #[test]
    fn output_that_does_not_match_fails() {
        let judged = command(
            &id(),
            0,
            Some("^all good$"),
            &finished(Ended::Exited(0), "some failures"),
        );
        assert_eq!(
            judged.finding.unwrap().summary,
            "VAL-API-003: exit code 0 as expected, but the output does not match \"^all good$\""
        );
        let invalid = command(&id(), 0, Some("("), &finished(Ended::Exited(0), ""));
        assert!(
            invalid
                .finding
                .unwrap()
                .summary
                .contains("not a valid pattern")
        );
    }

    #[test]
    fn a_timed_out_command_says_it_was_killed() {
        let ended = Ended::TimedOut {
            limit: Duration::from_millis(1500),
        };
        let judged = command(&id(), 0, None, &finished(ended, ""));
        assert_eq!(
            judged.finding.unwrap().summary,
            "VAL-API-003: still running at its time limit of 1.5s and killed, expected exit code 0"
        );
    }

    #[test]
    fn scrutiny_passes_only_on_exit_zero() {
        let passed = scrutiny("build", &finished(Ended::Exited(0), "compiled"));
        assert!(passed.check.passed);
        assert_eq!(passed.check.assertion, None);
        assert_eq!(passed.check.check, "build");
        let failed = scrutiny("lint", &finished(Ended::Exited(2), "warning"));
        let finding = failed.finding.unwrap();
        assert_eq!(finding.summary, "lint: exit code 2, expected 0");
        assert_eq!(finding.check, "lint");
        assert_eq!(finding.assertion, None);
    }

    fn exchange(status: Option<u16>, body: &str, error: Option<&str>) -> Exchange {
        Exchange {
            method: "GET".to_owned(),
            url: "http://127.0.0.1:8080/notes?q=x".to_owned(),
            status,
            body_excerpt: body.to_owned(),
            duration_ms: 3,
            error: error.map(str::to_owned),
        }
    }

    fn expectation(body: Option<&str>) -> HttpExpectation<'_> {
        HttpExpectation {
            method: "GET",
            path: "/notes?q=x",
            status: 200,
            body,
        }
    }

    #[test]
    fn an_http_answer_with_the_status_and_text_passes() {
        let judged = http(
            &id(),
            expectation(Some("milk")),
            &exchange(Some(200), "[\"milk\"]", None),
        );
        assert!(judged.check.passed, "{judged:?}");
        assert!(matches!(
            &judged.check.evidence[0],
            Evidence::HttpExchange { status: Some(200), body_excerpt, .. } if body_excerpt.contains("milk")
        ));
    }

    #[test]
    fn an_http_answer_without_the_text_fails() {
        let judged = http(
            &id(),
            expectation(Some("milk")),
            &exchange(Some(200), "[]", None),
        );
        assert_eq!(
            judged.finding.unwrap().summary,
            "VAL-API-003: GET /notes?q=x answered 200 without \"milk\""
        );
        let wrong_status = http(&id(), expectation(None), &exchange(Some(404), "", None));
        assert_eq!(
            wrong_status.finding.unwrap().summary,
            "VAL-API-003: GET /notes?q=x answered 404, expected 200"
        );
        let no_answer = http(
            &id(),
            expectation(None),
            &exchange(None, "", Some("connection refused")),
        );
        assert_eq!(
            no_answer.finding.unwrap().summary,
            "VAL-API-003: GET /notes?q=x got no answer: connection refused"
        );
    }

    #[test]
    fn an_agent_check_is_never_passed_by_the_scripted_validator() {
        let judged = agent(&id());
        assert!(!judged.check.passed);
        let finding = judged.finding.unwrap();
        assert!(
            finding.summary.contains("scripted validator cannot judge"),
            "{}",
            finding.summary
        );
        assert!(matches!(&finding.evidence[0], Evidence::Note { .. }));
    }
}
