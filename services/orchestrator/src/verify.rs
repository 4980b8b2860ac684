//! Accepting a validation only on evidence, checked by code.
//!
//! A validator's word that a check passed is not enough: for every assertion the milestone
//! must prove, and every scrutiny step the mission runs, the evidence itself must show the
//! expected outcome (the exit code, the output, the HTTP status and body).

use sortie_model::plan::{Assertion, Check, Plan};
use sortie_model::protocol::CheckResult;
use sortie_model::records::{Evidence, Finding, Severity};

/// The scrutiny steps, in the order validators run them.
pub const SCRUTINY_STEPS: [&str; 3] = ["build", "test", "lint"];

/// The verdict on one validation attempt.
#[derive(Debug, PartialEq)]
pub struct Verdict {
    pub proven: bool,
    /// Every finding: the validator's own, and one for each check the evidence does not
    /// prove.
    pub findings: Vec<Finding>,
}

pub fn verify(
    plan: &Plan,
    assertions: &[&Assertion],
    checks: &[CheckResult],
    reported: Vec<Finding>,
) -> Verdict {
    let mut findings = reported;
    if !plan.settings.skip_scrutiny {
        for step in SCRUTINY_STEPS {
            if !plan.services.commands.contains_key(step) {
                continue;
            }
            let result = checks
                .iter()
                .find(|check| check.assertion.is_none() && check.check == step);
            if let Err(reason) = scrutiny_proven(result) {
                add_unless_reported(&mut findings, None, step, reason);
            }
        }
    }
    for assertion in assertions {
        let result = checks
            .iter()
            .find(|check| check.assertion.as_ref() == Some(&assertion.id));
        if let Err(reason) = assertion_proven(assertion, result) {
            add_unless_reported(&mut findings, Some(assertion), "assertion", reason);
        }
    }
    let proven = !findings
        .iter()
        .any(|finding| finding.severity >= Severity::Medium);
    Verdict { proven, findings }
}

fn add_unless_reported(
    findings: &mut Vec<Finding>,
    assertion: Option<&Assertion>,
    check: &str,
    reason: String,
) {
    let id = assertion.map(|assertion| assertion.id.clone());
    let already = findings.iter().any(|finding| {
        finding.assertion == id && finding.check == check && finding.severity >= Severity::Medium
    });
    if already {
        return;
    }
    let summary = match assertion {
        Some(assertion) => format!("{} is not proven: {reason}", assertion.id),
        None => format!("{check} is not proven: {reason}"),
    };
    findings.push(Finding {
        assertion: id,
        check: check.to_owned(),
        severity: Severity::High,
        summary,
        evidence: Vec::new(),
    });
}

fn scrutiny_proven(result: Option<&CheckResult>) -> Result<(), String> {
    let result = result.ok_or("the validator reported no result")?;
    if !result.passed {
        return Err("it failed".to_owned());
    }
    let succeeded = result
        .evidence
        .iter()
        .any(|evidence| matches!(evidence, Evidence::Command(run) if run.exit_code == Some(0)));
    if succeeded {
        Ok(())
    } else {
        Err("no command evidence with exit code 0".to_owned())
    }
}

fn assertion_proven(assertion: &Assertion, result: Option<&CheckResult>) -> Result<(), String> {
    let result = result.ok_or("the validator reported no result")?;
    if !result.passed {
        return Err("the check failed".to_owned());
    }
    match &assertion.check {
        Check::Command {
            expect_exit,
            expect_output,
            ..
        } => {
            let pattern = expect_output
                .as_deref()
                .map(regex::Regex::new)
                .transpose()
                .map_err(|error| format!("its expect_output is not a valid pattern: {error}"))?;
            let proven = result.evidence.iter().any(|evidence| match evidence {
                Evidence::Command(run) => {
                    run.exit_code == Some(*expect_exit)
                        && pattern
                            .as_ref()
                            .is_none_or(|pattern| pattern.is_match(&run.output_tail))
                }
                _ => false,
            });
            if proven {
                Ok(())
            } else {
                Err(format!(
                    "no command evidence with exit code {expect_exit}{}",
                    expect_output
                        .as_deref()
                        .map(|pattern| format!(" and output matching {pattern:?}"))
                        .unwrap_or_default()
                ))
            }
        }
        Check::Http {
            expect_status,
            expect_body,
            ..
        } => {
            let proven = result.evidence.iter().any(|evidence| match evidence {
                Evidence::HttpExchange {
                    status,
                    body_excerpt,
                    ..
                } => {
                    *status == Some(*expect_status)
                        && expect_body
                            .as_deref()
                            .is_none_or(|expected| body_excerpt.contains(expected))
                }
                _ => false,
            });
            if proven {
                Ok(())
            } else {
                Err(format!("no HTTP exchange with status {expect_status}"))
            }
        }
        Check::Agent { evidence, .. } => {
            let missing: Vec<String> = evidence
                .iter()
                .filter(|kind| !result.evidence.iter().any(|given| given.shows(**kind)))
                .map(|kind| format!("{kind:?}"))
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "the verdict lacks evidence: {}",
                    missing.join(", ")
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sortie_model::plan::EvidenceKind;
    use sortie_model::records::CommandRun;

    fn command_assertion(expect_output: Option<&str>) -> Assertion {
        Assertion {
            id: "VAL-API-001".into(),
            statement: "the tests pass".to_owned(),
            check: Check::Command {
                run: "make test".to_owned(),
                expect_exit: 0,
                expect_output: expect_output.map(str::to_owned),
                timeout_seconds: None,
            },
        }
    }

    fn plan_without_scrutiny() -> Plan {
        let mut plan = sortie_ledger::conformance::sample_plan();
        plan.services.commands.clear();
        plan
    }

    fn run(exit_code: i32, output: &str) -> Evidence {
        Evidence::Command(CommandRun {
            command: "make test".to_owned(),
            exit_code: Some(exit_code),
            output_tail: output.to_owned(),
            duration_ms: 5,
        })
    }

    fn result(passed: bool, evidence: Vec<Evidence>) -> CheckResult {
        CheckResult {
            assertion: Some("VAL-API-001".into()),
            check: "assertion".to_owned(),
            passed,
            evidence,
        }
    }

    #[test]
    fn a_pass_with_matching_evidence_is_proven() {
        let assertion = command_assertion(Some("ok \\d+"));
        let checks = [result(true, vec![run(0, "ran: ok 12")])];
        let verdict = verify(&plan_without_scrutiny(), &[&assertion], &checks, vec![]);
        assert!(verdict.proven, "{verdict:?}");
        assert!(verdict.findings.is_empty());
    }

    #[test]
    fn a_claimed_pass_without_evidence_is_not_proven() {
        let assertion = command_assertion(None);
        let checks = [result(true, vec![])];
        let verdict = verify(&plan_without_scrutiny(), &[&assertion], &checks, vec![]);
        assert!(!verdict.proven);
        assert_eq!(
            verdict.findings[0].summary,
            "VAL-API-001 is not proven: no command evidence with exit code 0"
        );
    }

    #[test]
    fn evidence_that_contradicts_the_claim_is_not_proven() {
        let assertion = command_assertion(Some("^all good$"));
        let checks = [result(true, vec![run(0, "some failures")])];
        let verdict = verify(&plan_without_scrutiny(), &[&assertion], &checks, vec![]);
        assert!(!verdict.proven);
        let wrong_exit = [result(true, vec![run(2, "all good")])];
        assert!(!verify(&plan_without_scrutiny(), &[&assertion], &wrong_exit, vec![]).proven);
    }

    #[test]
    fn an_agent_verdict_is_proven_only_with_every_kind_of_evidence_it_asks_for() {
        let assertion = Assertion {
            id: "VAL-API-001".into(),
            statement: "the README says how to run it".to_owned(),
            check: Check::Agent {
                instructions: "Read the README.".to_owned(),
                evidence: vec![EvidenceKind::Command, EvidenceKind::FileExcerpt],
            },
        };
        let excerpt = Evidence::FileExcerpt {
            path: "README.md".to_owned(),
            excerpt: "cargo run".to_owned(),
        };
        let both = [result(true, vec![run(0, ""), excerpt])];
        assert!(verify(&plan_without_scrutiny(), &[&assertion], &both, vec![]).proven);
        let only_a_command = [result(true, vec![run(0, "")])];
        let verdict = verify(
            &plan_without_scrutiny(),
            &[&assertion],
            &only_a_command,
            vec![],
        );
        assert!(!verdict.proven);
        assert!(
            verdict.findings[0]
                .summary
                .ends_with("lacks evidence: FileExcerpt"),
            "{}",
            verdict.findings[0].summary
        );
    }

    #[test]
    fn a_missing_result_is_a_finding() {
        let assertion = command_assertion(None);
        let verdict = verify(&plan_without_scrutiny(), &[&assertion], &[], vec![]);
        assert!(!verdict.proven);
        assert_eq!(verdict.findings.len(), 1);
        assert_eq!(verdict.findings[0].assertion, Some("VAL-API-001".into()));
    }

    #[test]
    fn scrutiny_steps_need_a_zero_exit() {
        let mut plan = plan_without_scrutiny();
        plan.services
            .commands
            .insert("build".to_owned(), "make".to_owned());
        let failing_build = CheckResult {
            assertion: None,
            check: "build".to_owned(),
            passed: true,
            evidence: vec![run(1, "error")],
        };
        let verdict = verify(&plan, &[], &[failing_build], vec![]);
        assert!(!verdict.proven);
        assert_eq!(verdict.findings[0].check, "build");
        plan.settings.skip_scrutiny = true;
        assert!(
            verify(&plan, &[], &[], vec![]).proven,
            "skipped scrutiny needs no evidence"
        );
    }

    #[test]
    fn a_reported_finding_is_not_doubled() {
        let assertion = command_assertion(None);
        let reported = Finding {
            assertion: Some("VAL-API-001".into()),
            check: "assertion".to_owned(),
            severity: Severity::High,
            summary: "exit code 1, expected 0".to_owned(),
            evidence: vec![run(1, "FAILED")],
        };
        let checks = [result(false, vec![run(1, "FAILED")])];
        let verdict = verify(
            &plan_without_scrutiny(),
            &[&assertion],
            &checks,
            vec![reported],
        );
        assert_eq!(verdict.findings.len(), 1);
        assert!(!verdict.proven);
    }
}
