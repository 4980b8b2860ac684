//! A validator agent's answer about one assertion, and the code that checks its evidence
//! before a pass is accepted.
//!
//! The agent ends with a verdict (`<verdict>pass</verdict>` or `fail`) and its reason, and
//! quotes what it saw: file excerpts in `<excerpt path="...">` blocks, screenshots in
//! `<screenshot>` blocks. Its commands are not taken from its answer but from what its run
//! really ran ([`AgentOutcome::commands`]).
//!
//! Invariant: a pass is accepted only when every kind of evidence the assertion asks for
//! is there and checked: a command with an exit code; an HTTP client command (`curl`) that
//! exited 0; an excerpt found verbatim in a file of the checkout; a PNG that exists. A
//! quote that is not in its file, or a screenshot that is not a PNG, fails the check
//! whatever the verdict.

use std::path::{Component, Path, PathBuf};

use sortie_agents::AgentOutcome;
use sortie_model::AssertionId;
use sortie_model::plan::EvidenceKind;
use sortie_model::records::Evidence;

use crate::judge::{ASSERTION, Judged, judged};

/// What the agent is told to end with.
pub(crate) const ANSWER_FORMAT: &str = "<excerpt path=\"path/from/the/checkout/root\">\n\
the lines you quote, exactly as they are in the file\n\
</excerpt>\n\
<screenshot>path/of/a/screenshot.png</screenshot>\n\
<verdict>pass</verdict>\n\
<reason>why, in one or two sentences</reason>\n\
\n\
Write <verdict>fail</verdict> when the assertion does not hold or you could not check it. \
Give one <excerpt> block for each passage you quote and one <screenshot> block for each \
screenshot you took; leave out the blocks you have nothing for.";

/// The PNG signature, the first 8 bytes of every PNG file.
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// The most commands of an agent's run a check's evidence keeps (the last ones).
const COMMANDS_KEPT: usize = 20;

/// What the agent answered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Answer {
    /// `Some(true)` for pass, `Some(false)` for fail, none when there is no verdict.
    pub(crate) pass: Option<bool>,
    pub(crate) reason: String,
    pub(crate) excerpts: Vec<Quote>,
    pub(crate) screenshots: Vec<String>,
}

/// A passage the agent quoted from a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Quote {
    pub(crate) path: String,
    pub(crate) text: String,
}

/// Read the agent's answer. The last verdict counts; a verdict other than `pass` or
/// `fail` is no verdict.
pub(crate) fn parse(answer: &str) -> Answer {
    let pass = blocks(answer, "<verdict>", "</verdict>")
        .last()
        .and_then(|(_, body)| match body.trim().to_lowercase().as_str() {
            "pass" => Some(true),
            "fail" => Some(false),
            _ => None,
        });
    let reason = blocks(answer, "<reason>", "</reason>")
        .last()
        .map(|(_, body)| body.trim().to_owned())
        .unwrap_or_default();
    let excerpts = blocks(answer, "<excerpt", "</excerpt>")
        .into_iter()
        .filter_map(|(attributes, body)| {
            Some(Quote {
                path: attribute(attributes, "path")?,
                text: strip_one_newline(body).to_owned(),
            })
        })
        .collect();
    let screenshots = blocks(answer, "<screenshot>", "</screenshot>")
        .into_iter()
        .map(|(_, body)| body.trim().to_owned())
        .filter(|path| !path.is_empty())
        .collect();
    Answer {
        pass,
        reason,
        excerpts,
        screenshots,
    }
}

/// The blocks `open ... close` of `text`: for each, what stands between `open` and the
/// first `>` (attributes, when `open` does not end with `>`), and the body.
fn blocks<'a>(text: &'a str, open: &str, close: &str) -> Vec<(&'a str, &'a str)> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(open) {
        let after_open = &rest[start + open.len()..];
        let (attributes, after_tag) = if open.ends_with('>') {
            ("", after_open)
        } else {
            match after_open.find('>') {
                Some(end) => (&after_open[..end], &after_open[end + 1..]),
                None => break,
            }
        };
        let Some(end) = after_tag.find(close) else {
            break;
        };
        found.push((attributes, &after_tag[..end]));
        rest = &after_tag[end + close.len()..];
    }
    found
}

/// The value of `name="value"` among a tag's attributes.
fn attribute(attributes: &str, name: &str) -> Option<String> {
    let start = attributes.find(&format!("{name}=\""))? + name.len() + 2;
    let length = attributes[start..].find('"')?;
    let value = attributes[start..start + length].trim();
    (!value.is_empty()).then(|| value.to_owned())
}

/// A block's body without the newline after its opening tag and before its closing one.
fn strip_one_newline(body: &str) -> &str {
    let body = body.strip_prefix("\r\n").unwrap_or(body);
    let body = body.strip_prefix('\n').unwrap_or(body);
    let body = body.strip_suffix('\n').unwrap_or(body);
    body.strip_suffix('\r').unwrap_or(body)
}

/// Where the validation's files are: the checkout, and the directory of its logs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Places<'a> {
    pub(crate) checkout: &'a Path,
    pub(crate) logs: &'a Path,
}

/// Judge the agent's run: its verdict, and the evidence code checked. Reads the files the
/// answer names; call it off the async threads.
pub(crate) fn judge(
    assertion: &AssertionId,
    required: &[EvidenceKind],
    outcome: &AgentOutcome,
    places: Places<'_>,
) -> Judged {
    let fail = |evidence: Vec<Evidence>, reason: String| {
        judged(
            Some(assertion),
            ASSERTION,
            evidence,
            Some(format!("{assertion}: {reason}")),
        )
    };
    let skipped = outcome.commands.len().saturating_sub(COMMANDS_KEPT);
    let mut evidence: Vec<Evidence> = outcome.commands[skipped..]
        .iter()
        .cloned()
        .map(Evidence::Command)
        .collect();
    if let Some(failure) = &outcome.failure {
        evidence.push(Evidence::Note {
            text: failure.clone(),
        });
        return fail(evidence, format!("the validator agent failed: {failure}"));
    }
    let answer = parse(&outcome.summary);
    let reason = if answer.reason.is_empty() {
        "no reason given".to_owned()
    } else {
        answer.reason.clone()
    };
    let Some(pass) = answer.pass else {
        evidence.push(Evidence::Note {
            text: outcome.summary.clone(),
        });
        return fail(
            evidence,
            "the validator agent gave no verdict (<verdict>pass</verdict> or \
             <verdict>fail</verdict>)"
                .to_owned(),
        );
    };
    let mut problems = Vec::new();
    for quote in &answer.excerpts {
        match check_excerpt(places.checkout, quote) {
            Ok(()) => evidence.push(Evidence::FileExcerpt {
                path: quote.path.clone(),
                excerpt: quote.text.clone(),
            }),
            Err(problem) => problems.push(problem),
        }
    }
    for path in &answer.screenshots {
        match check_screenshot(places, path) {
            Ok(bytes) => evidence.push(Evidence::Screenshot {
                path: path.clone(),
                bytes,
            }),
            Err(problem) => problems.push(problem),
        }
    }
    evidence.push(Evidence::Note {
        text: format!(
            "verdict: {}; reason: {reason}",
            if pass { "pass" } else { "fail" }
        ),
    });
    if !pass {
        return fail(
            evidence,
            format!("the validator agent judged it failed: {reason}"),
        );
    }
    if !problems.is_empty() {
        return fail(
            evidence,
            format!(
                "the validator agent said pass, but its evidence does not hold: {}",
                problems.join("; ")
            ),
        );
    }
    let missing: Vec<&str> = required
        .iter()
        .filter(|kind| !evidence.iter().any(|given| given.shows(**kind)))
        .map(|kind| missing_text(*kind))
        .collect();
    if !missing.is_empty() {
        return fail(
            evidence,
            format!(
                "the validator agent said pass without the evidence the check requires: {}",
                missing.join("; ")
            ),
        );
    }
    judged(Some(assertion), ASSERTION, evidence, None)
}

fn missing_text(kind: EvidenceKind) -> &'static str {
    match kind {
        EvidenceKind::Command => "command evidence (it ran no command)",
        EvidenceKind::HttpExchange => {
            "http_exchange evidence (it ran no HTTP client, such as curl, that exited 0)"
        }
        EvidenceKind::FileExcerpt => "file_excerpt evidence (it quoted no <excerpt> of a file)",
        EvidenceKind::Screenshot => "screenshot evidence (it named no <screenshot> PNG)",
    }
}

/// A relative path that stays inside its root, joined to it.
fn inside(root: &Path, path: &str) -> Option<PathBuf> {
    let relative = Path::new(path);
    let plain = relative
        .components()
        .all(|component| matches!(component, Component::Normal(_) | Component::CurDir));
    (plain && !path.is_empty()).then(|| root.join(relative))
}

fn check_excerpt(checkout: &Path, quote: &Quote) -> Result<(), String> {
    let path = &quote.path;
    if quote.text.trim().is_empty() {
        return Err(format!("the excerpt of {path} is empty"));
    }
    let file = inside(checkout, path)
        .ok_or_else(|| format!("the excerpt names {path:?}, which is not inside the checkout"))?;
    let contents = std::fs::read(&file)
        .map_err(|error| format!("the excerpt names {path}, which cannot be read: {error}"))?;
    let contents = String::from_utf8_lossy(&contents);
    if contents.contains(&quote.text) || contents.contains(quote.text.trim()) {
        Ok(())
    } else {
        Err(format!(
            "the excerpt it quoted from {path} is not in that file of the checkout"
        ))
    }
}

/// The screenshot's size, when it is a PNG in the checkout or the logs.
fn check_screenshot(places: Places<'_>, path: &str) -> Result<u64, String> {
    let candidates = [places.checkout, places.logs]
        .into_iter()
        .filter_map(|root| inside(root, path));
    for file in candidates {
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        if !bytes.starts_with(PNG_SIGNATURE) {
            return Err(format!("the screenshot {path} is not a PNG"));
        }
        return Ok(u64::try_from(bytes.len()).unwrap_or(u64::MAX));
    }
    Err(format!(
        "the screenshot {path} is neither in the checkout nor in the validation's logs"
    ))
}

#[cfg(test)]
mod tests {
    use sortie_model::records::CommandRun;

    use super::*;

    fn id() -> AssertionId {
        AssertionId::new("VAL-DOC-001")
    }

    fn outcome(summary: &str, commands: &[(&str, i32)]) -> AgentOutcome {
        AgentOutcome {
            summary: summary.to_owned(),
            commands: commands
                .iter()
                .map(|(command, code)| CommandRun {
                    command: (*command).to_owned(),
                    exit_code: Some(*code),
                    output_tail: String::new(),
                    duration_ms: 3,
                })
                .collect(),
            ..AgentOutcome::default()
        }
    }

    fn checkout() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("a checkout");
        std::fs::write(
            dir.path().join("README.md"),
            "# notes\n\nRun it with:\n\n    python3 server.py\n",
        )
        .unwrap();
        let mut png = PNG_SIGNATURE.to_vec();
        png.extend_from_slice(b"rest of the image");
        std::fs::write(dir.path().join("home.png"), png).unwrap();
        std::fs::write(dir.path().join("fake.png"), "not an image").unwrap();
        dir
    }

    fn places(dir: &Path) -> Places<'_> {
        Places {
            checkout: dir,
            logs: dir,
        }
    }

    #[test]
    fn an_answer_is_read_from_its_blocks() {
        let answer = parse(
            "I looked.\n<excerpt path=\"README.md\">\nRun it with:\n</excerpt>\n\
             <screenshot> home.png </screenshot>\n<verdict>maybe</verdict>\n\
             <verdict> PASS </verdict>\n<reason>It says how.</reason>",
        );
        assert_eq!(answer.pass, Some(true));
        assert_eq!(answer.reason, "It says how.");
        assert_eq!(
            answer.excerpts,
            [Quote {
                path: "README.md".to_owned(),
                text: "Run it with:".to_owned(),
            }]
        );
        assert_eq!(answer.screenshots, ["home.png"]);
        assert_eq!(parse("<verdict>perhaps</verdict>").pass, None);
        assert_eq!(parse("pass").pass, None);
    }

    #[test]
    fn a_pass_with_every_kind_of_evidence_passes() {
        let dir = checkout();
        let answer = "<excerpt path=\"README.md\">\n    python3 server.py\n</excerpt>\n\
                      <screenshot>home.png</screenshot>\n\
                      <verdict>pass</verdict><reason>documented</reason>";
        let required = [
            EvidenceKind::Command,
            EvidenceKind::HttpExchange,
            EvidenceKind::FileExcerpt,
            EvidenceKind::Screenshot,
        ];
        let run = outcome(
            answer,
            &[("cat README.md", 0), ("curl -sf http://127.0.0.1:1/", 0)],
        );
        let judged = judge(&id(), &required, &run, places(dir.path()));
        assert!(judged.check.passed, "{judged:#?}");
        assert!(judged.check.evidence.iter().any(|evidence| matches!(
            evidence,
            Evidence::Screenshot { path, bytes } if path == "home.png" && *bytes > 8
        )));
    }

    #[test]
    fn a_pass_without_the_required_evidence_names_what_is_missing() {
        let dir = checkout();
        let run = outcome("<verdict>pass</verdict>", &[("cat README.md", 0)]);
        let required = [EvidenceKind::HttpExchange, EvidenceKind::FileExcerpt];
        let finding = judge(&id(), &required, &run, places(dir.path()))
            .finding
            .expect("a finding");
        assert!(
            finding.summary.contains("http_exchange evidence"),
            "{}",
            finding.summary
        );
        assert!(
            finding.summary.contains("file_excerpt evidence"),
            "{}",
            finding.summary
        );
        let curl_failed = outcome("<verdict>pass</verdict>", &[("curl -sf http://x/", 7)]);
        let judged = judge(
            &id(),
            &[EvidenceKind::HttpExchange],
            &curl_failed,
            places(dir.path()),
        );
        assert!(!judged.check.passed);
    }

    #[test]
    fn evidence_that_does_not_hold_fails_a_pass() {
        let dir = checkout();
        for (answer, problem) in [
            (
                "<excerpt path=\"README.md\">\nRun it with make\n</excerpt><verdict>pass</verdict>",
                "not in that file",
            ),
            (
                "<excerpt path=\"../secret\">\nx\n</excerpt><verdict>pass</verdict>",
                "not inside the checkout",
            ),
            (
                "<screenshot>fake.png</screenshot><verdict>pass</verdict>",
                "is not a PNG",
            ),
            (
                "<screenshot>gone.png</screenshot><verdict>pass</verdict>",
                "neither in the checkout",
            ),
        ] {
            let judged = judge(&id(), &[], &outcome(answer, &[]), places(dir.path()));
            let summary = judged.finding.expect("a finding").summary;
            assert!(summary.contains(problem), "{summary}");
        }
    }

    #[test]
    fn a_fail_or_no_verdict_or_a_failed_run_fails() {
        let dir = checkout();
        let failed = judge(
            &id(),
            &[],
            &outcome(
                "<verdict>fail</verdict><reason>No README section.</reason>",
                &[],
            ),
            places(dir.path()),
        );
        assert_eq!(
            failed.finding.expect("a finding").summary,
            "VAL-DOC-001: the validator agent judged it failed: No README section."
        );
        let silent = judge(&id(), &[], &outcome("looks good", &[]), places(dir.path()));
        assert!(
            silent
                .finding
                .expect("a finding")
                .summary
                .contains("gave no verdict")
        );
        let mut broken = outcome("<verdict>pass</verdict>", &[]);
        broken.failure = Some("the time limit of 60s ran out".to_owned());
        let judged = judge(&id(), &[], &broken, places(dir.path()));
        assert!(!judged.check.passed);
        assert!(
            judged
                .finding
                .expect("a finding")
                .summary
                .contains("the validator agent failed: the time limit")
        );
    }
}
