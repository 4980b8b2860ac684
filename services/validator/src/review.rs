//! The review half of scrutiny: the validator's agent, as a read-only reviewer, reads the
//! milestone's change (the commits of its features on the integration branch, found by
//! their `Sortie-Feature` trailers) against its features and the validation contract,
//! and returns findings. A blocking, high or medium finding holds the milestone back, as
//! the orchestrator judges every finding; low and info ones are kept for people. A review
//! that does not say it is done is a review that did not happen.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use sortie_agents::{Agent, Brief};
use sortie_model::plan::Feature;
use sortie_model::protocol::{CheckResult, ValidationTask};
use sortie_model::records::{Evidence, Finding, Severity};
use tokio::process::Command;

use crate::agent_check::run_reviewer;
use crate::judge::{self, Judged};

/// The check name of the review.
pub(crate) const REVIEW: &str = "review";

/// The most of the milestone's diff the brief carries; the agent can read the rest.
const DIFF_BUDGET: usize = 96 * 1024;

/// The most commits of the integration branch searched for the milestone's features.
const COMMITS_SEARCHED: &str = "5000";

/// How long one git command of the review may take.
const GIT_LIMIT: Duration = Duration::from_secs(60);

/// What the reviewer must end its answer with.
pub(crate) const DONE: &str = "<review>done</review>";

const ANSWER_FORMAT: &str = "For each problem, one block:\n\
<finding severity=\"blocking|high|medium|low|info\" feature=\"F-ID\">what is wrong, \
where (path:line), and why it matters</finding>\n\
Blocking, high and medium findings hold the milestone back (a fix is made for them); low \
and info ones are kept for people. Then end with exactly <review>done</review>. A review \
that finds nothing is just <review>done</review>.";

/// The review's result: its check, and every finding the reviewer returned.
#[derive(Debug)]
pub(crate) struct Reviewed {
    pub(crate) judged: Judged,
    pub(crate) findings: Vec<Finding>,
}

/// Review the task's milestone with `agent` in `checkout`, within `limit`.
pub(crate) async fn review(
    agent: &dyn Agent,
    task: &ValidationTask,
    checkout: &Path,
    limit: Duration,
    activity: impl Fn(String),
) -> Reviewed {
    let diff = match milestone_diff(checkout, &task.commit, &task.features).await {
        Ok(diff) => diff,
        Err(reason) => return not_reviewed(&format!("reading the milestone's change: {reason}")),
    };
    let outcome = run_reviewer(agent, task, checkout, brief(task, &diff), limit, |what| {
        activity(format!("reviewing: {what}"));
    })
    .await;
    if let Some(failure) = &outcome.failure {
        return not_reviewed(&format!("the reviewer's run failed: {failure}"));
    }
    judge_review(&outcome.summary, outcome.commands)
}

fn not_reviewed(reason: &str) -> Reviewed {
    Reviewed {
        judged: judge::not_run(None, REVIEW, reason, Vec::new()),
        findings: Vec::new(),
    }
}

/// The findings of a reviewer's `answer`; the review passes when it is done and nothing it
/// found holds the milestone back (medium or worse).
pub(crate) fn judge_review(
    answer: &str,
    commands: Vec<sortie_model::records::CommandRun>,
) -> Reviewed {
    if !answer.contains(DONE) {
        return not_reviewed(&format!(
            "the reviewer's answer does not end with {DONE}, so the review is not complete"
        ));
    }
    let findings: Vec<Finding> = parse_findings(answer)
        .into_iter()
        .map(|(severity, feature, text)| Finding {
            assertion: None,
            check: REVIEW.to_owned(),
            severity,
            summary: match feature {
                Some(feature) => format!("review of {feature}: {text}"),
                None => format!("review: {text}"),
            },
            evidence: Vec::new(),
        })
        .collect();
    let failing = findings
        .iter()
        .filter(|finding| finding.severity >= Severity::Medium)
        .count();
    let mut evidence: Vec<Evidence> = commands.into_iter().map(Evidence::Command).collect();
    evidence.push(Evidence::Note {
        text: format!(
            "{} finding(s), {failing} of them medium or worse",
            findings.len()
        ),
    });
    Reviewed {
        judged: Judged {
            check: CheckResult {
                assertion: None,
                check: REVIEW.to_owned(),
                passed: failing == 0,
                evidence,
            },
            // The failing findings themselves are the check's findings.
            finding: None,
        },
        findings,
    }
}

/// `(severity, feature, text)` of every `<finding ...>text</finding>` block.
fn parse_findings(answer: &str) -> Vec<(Severity, Option<String>, String)> {
    let mut found = Vec::new();
    let mut rest = answer;
    while let Some(start) = rest.find("<finding") {
        let after = &rest[start + "<finding".len()..];
        let Some(close) = after.find('>') else {
            break;
        };
        let attributes = &after[..close];
        let body = &after[close + 1..];
        let Some(end) = body.find("</finding>") else {
            break;
        };
        let text = body[..end].trim().to_owned();
        let severity = match attribute(attributes, "severity")
            .map(|severity| severity.to_lowercase())
            .as_deref()
        {
            Some("blocking") => Severity::Blocking,
            Some("high") => Severity::High,
            Some("low") => Severity::Low,
            Some("info") => Severity::Info,
            // Unsaid or unknown: medium, which holds the milestone back.
            _ => Severity::Medium,
        };
        if !text.is_empty() {
            found.push((severity, attribute(attributes, "feature"), text));
        }
        rest = &body[end + "</finding>".len()..];
    }
    found
}

/// The value of `name="value"` in a tag's attributes.
fn attribute(attributes: &str, name: &str) -> Option<String> {
    let start = attributes.find(&format!("{name}=\""))? + name.len() + 2;
    let end = attributes[start..].find('"')?;
    Some(attributes[start..start + end].trim().to_owned()).filter(|value| !value.is_empty())
}

/// The patches of the commits, reachable from `commit`, whose `Sortie-Feature` trailer
/// names one of `features`, newest first, cut at the budget.
async fn milestone_diff(
    checkout: &Path,
    commit: &str,
    features: &[Feature],
) -> Result<String, String> {
    let log = git(
        checkout,
        &[
            "log",
            "--max-count",
            COMMITS_SEARCHED,
            "--format=%H%x09%(trailers:key=Sortie-Feature,valueonly,separator=%x2C)",
            commit,
            "--",
        ],
    )
    .await?;
    let mut diff = String::new();
    for line in log.lines() {
        let Some((sha, trailer)) = line.split_once('\t') else {
            continue;
        };
        let ours = trailer.split(',').any(|name| {
            features
                .iter()
                .any(|feature| feature.id.as_str() == name.trim())
        });
        if !ours {
            continue;
        }
        let shown = git(
            checkout,
            &[
                "show",
                "--stat",
                "--patch",
                "--format=commit %H%n%n%B",
                sha,
                "--",
            ],
        )
        .await?;
        if diff.len() + shown.len() > DIFF_BUDGET {
            let _ = write!(
                diff,
                "\n[the rest of the change is left out here: read it with git log and git show]\n"
            );
            break;
        }
        diff.push_str(&shown);
        diff.push('\n');
    }
    Ok(diff)
}

async fn git(checkout: &Path, args: &[&str]) -> Result<String, String> {
    let run = Command::new("git")
        .args(args)
        .current_dir(checkout)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(GIT_LIMIT, run)
        .await
        .map_err(|_| format!("git {} ran past {}s", args[0], GIT_LIMIT.as_secs()))?
        .map_err(|error| format!("git {}: {error}", args[0]))?;
    if !output.status.success() {
        return Err(format!(
            "git {} failed: {}",
            args[0],
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// What the reviewer is asked: the milestone's features, its contract, and its change.
fn brief(task: &ValidationTask, diff: &str) -> Brief {
    let mut text = format!(
        "You review milestone {} of mission {} in a checkout of commit {}. Do not change \
         any file. Read the change below against the features it was made for and the \
         validation contract; read the code around it where you need to. Report what a \
         careful reviewer would hold the milestone back for: bugs, behaviour a feature \
         promised and does not have, changes no feature asked for, security problems, \
         tests that do not test. Do not report style.\n\n## The features\n",
        task.milestone, task.mission_name, task.commit
    );
    for feature in &task.features {
        let _ = writeln!(text, "### {}: {}", feature.id, feature.title);
        if !feature.description.trim().is_empty() {
            let _ = writeln!(text, "{}", feature.description.trim());
        }
        for behaviour in &feature.expected_behavior {
            let _ = writeln!(text, "- expected: {behaviour}");
        }
        if !feature.touches.is_empty() {
            let _ = writeln!(text, "- may change: {}", feature.touches.join(", "));
        }
    }
    if !task.assertions.is_empty() {
        text.push_str("\n## The validation contract\n");
        for assertion in &task.assertions {
            let _ = writeln!(text, "- {}: {}", assertion.id, assertion.statement.trim());
        }
    }
    text.push_str("\n## The change\n");
    if diff.trim().is_empty() {
        text.push_str("(no commit of these features was found; read the checkout)\n");
    } else {
        let _ = write!(text, "```diff\n{diff}```\n");
    }
    Brief {
        title: format!("Review milestone {}", task.milestone),
        text,
        answer_format: ANSWER_FORMAT.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_are_read_with_their_severity_and_feature() {
        let answer = "Looked at it.\n\
            <finding severity=\"high\" feature=\"F-LINT\">lint.sh exits 0 on errors (lint.sh:1)</finding>\n\
            <finding severity=\"low\">a typo in README.md</finding>\n\
            <finding>no severity given</finding>\n\
            <review>done</review>";
        let reviewed = judge_review(answer, Vec::new());
        assert!(!reviewed.judged.check.passed);
        let summaries: Vec<(Severity, &str)> = reviewed
            .findings
            .iter()
            .map(|finding| (finding.severity, finding.summary.as_str()))
            .collect();
        assert_eq!(
            summaries,
            [
                (
                    Severity::High,
                    "review of F-LINT: lint.sh exits 0 on errors (lint.sh:1)"
                ),
                (Severity::Low, "review: a typo in README.md"),
                (Severity::Medium, "review: no severity given"),
            ]
        );
    }

    #[test]
    fn low_findings_pass_and_an_unfinished_review_fails() {
        let reviewed = judge_review(
            "<finding severity=\"info\">fine</finding><review>done</review>",
            Vec::new(),
        );
        assert!(reviewed.judged.check.passed);
        assert_eq!(reviewed.findings.len(), 1);
        let unfinished = judge_review("<finding severity=\"info\">fine</finding>", Vec::new());
        assert!(!unfinished.judged.check.passed);
        assert!(
            unfinished
                .judged
                .finding
                .is_some_and(|finding| finding.summary.contains("not complete"))
        );
    }
}
