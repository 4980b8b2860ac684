//! What workers and validators report back: handoffs and findings.

use serde::{Deserialize, Serialize};

use crate::ids::AssertionId;
use crate::plan::EvidenceKind;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Blocking,
}

/// A command an agent or validator ran, with its outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommandRun {
    pub command: String,
    pub exit_code: Option<i32>,
    /// The last lines of the combined output.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub output_tail: String,
    pub duration_ms: u64,
}

/// What an agent's run used. `input_tokens` are the uncached input tokens;
/// `cached_input_tokens` were read from the provider's prompt cache.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_input_tokens: u64,
    /// Dollars, as the agent reported them or as computed from its model's prices; none
    /// when neither is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// Model requests answered.
    pub turns: u32,
    pub tool_calls: u32,
    /// The agent's wall time.
    #[serde(default)]
    pub wall_ms: u64,
}

impl Usage {
    /// Add `other` to this usage; dollars stay unknown only while both are unknown.
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cached_input_tokens += other.cached_input_tokens;
        self.cost_usd = match (self.cost_usd, other.cost_usd) {
            (None, None) => None,
            (mine, theirs) => Some(mine.unwrap_or(0.0) + theirs.unwrap_or(0.0)),
        };
        self.turns += other.turns;
        self.tool_calls += other.tool_calls;
        self.wall_ms += other.wall_ms;
    }
}

/// Something a worker noticed that is outside its feature.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiscoveredIssue {
    pub summary: String,
    pub severity: Severity,
}

/// The worker's structured report of one attempt.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Handoff {
    /// What was done.
    pub summary: String,
    /// What was left undone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_undone: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<CommandRun>,
    /// Tests run and their outcome.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<CommandRun>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub discovered_issues: Vec<DiscoveredIssue>,
    /// The commit the worker pushed to the integration branch, when it integrated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrated_commit: Option<String>,
    /// What the agent used: tokens, dollars, turns, tool calls, wall time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// A validator's report of a failed or doubtful assertion, with evidence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The assertion, or none for a scrutiny step (build, test, lint, review).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assertion: Option<AssertionId>,
    /// The scrutiny step or check that produced it (`build`, `test`, `assertion`, ...).
    pub check: String,
    pub severity: Severity,
    pub summary: String,
    pub evidence: Vec<Evidence>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evidence {
    Command(CommandRun),
    HttpExchange {
        method: String,
        url: String,
        status: Option<u16>,
        body_excerpt: String,
        duration_ms: u64,
    },
    Note {
        text: String,
    },
    /// A passage an agent quoted, which the validator found verbatim in a file of the
    /// checkout.
    FileExcerpt {
        /// The file, relative to the checkout.
        path: String,
        excerpt: String,
    },
    /// A PNG image an agent named, which the validator found (in the checkout or the
    /// validation's logs) starting with the PNG signature.
    Screenshot {
        path: String,
        bytes: u64,
    },
}

/// The programs whose successful run is an HTTP exchange an agent made.
const HTTP_CLIENTS: &[&str] = &["curl", "wget", "http", "https", "xh"];

impl Evidence {
    /// Whether this evidence is of the kind an agent check asks for. An `http_exchange`
    /// is an exchange the validator made, or a command an agent ran with an HTTP client
    /// (`curl`, `wget`, ...) that exited 0; a `command` is any command with an exit code.
    pub fn shows(&self, kind: EvidenceKind) -> bool {
        match (self, kind) {
            (Evidence::Command(run), EvidenceKind::Command) => run.exit_code.is_some(),
            (Evidence::HttpExchange { .. }, EvidenceKind::HttpExchange) => true,
            (Evidence::Command(run), EvidenceKind::HttpExchange) => run.made_http_request(),
            (Evidence::FileExcerpt { .. }, EvidenceKind::FileExcerpt) => true,
            (Evidence::Screenshot { .. }, EvidenceKind::Screenshot) => true,
            _ => false,
        }
    }
}

impl CommandRun {
    /// Whether the command ran an HTTP client (`curl`, `wget`, HTTPie, `xh`) as one of
    /// its simple commands, and exited 0.
    pub fn made_http_request(&self) -> bool {
        self.exit_code == Some(0)
            && self
                .command
                .split(['|', ';', '&', '\n', '(', ')'])
                .filter_map(|part| {
                    part.split_whitespace()
                        .find(|word| !word.contains('='))
                        .map(|word| word.rsplit('/').next().unwrap_or(word))
                })
                .any(|program| HTTP_CLIENTS.contains(&program))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(command: &str, exit_code: Option<i32>) -> Evidence {
        Evidence::Command(CommandRun {
            command: command.to_owned(),
            exit_code,
            output_tail: String::new(),
            duration_ms: 1,
        })
    }

    #[test]
    fn evidence_shows_the_kinds_it_is() {
        assert!(run("cargo test", Some(1)).shows(EvidenceKind::Command));
        assert!(!run("cargo test", None).shows(EvidenceKind::Command));
        assert!(
            run("curl -s http://127.0.0.1:8080/health", Some(0)).shows(EvidenceKind::HttpExchange)
        );
        assert!(
            run("cd app && /usr/bin/curl -sf localhost", Some(0)).shows(EvidenceKind::HttpExchange)
        );
        assert!(
            !run("curl -s http://127.0.0.1:8080/health", Some(7)).shows(EvidenceKind::HttpExchange)
        );
        assert!(!run("cat curl.txt", Some(0)).shows(EvidenceKind::HttpExchange));
        let excerpt = Evidence::FileExcerpt {
            path: "README.md".to_owned(),
            excerpt: "# app".to_owned(),
        };
        assert!(excerpt.shows(EvidenceKind::FileExcerpt));
        assert!(!excerpt.shows(EvidenceKind::Screenshot));
        let note = Evidence::Note {
            text: "looks fine".to_owned(),
        };
        for kind in [
            EvidenceKind::Command,
            EvidenceKind::HttpExchange,
            EvidenceKind::Screenshot,
            EvidenceKind::FileExcerpt,
        ] {
            assert!(!note.shows(kind), "{kind:?}");
        }
    }

    fn usage(input_tokens: u64, cost_usd: Option<f64>) -> Usage {
        Usage {
            input_tokens,
            output_tokens: input_tokens / 10,
            cached_input_tokens: input_tokens / 2,
            cost_usd,
            turns: 3,
            tool_calls: 5,
            wall_ms: 1_000,
        }
    }

    #[test]
    fn adding_usage_sums_every_count() {
        let mut total = usage(1_000, None);
        total.add(&usage(2_000, None));
        assert_eq!(
            total,
            Usage {
                input_tokens: 3_000,
                output_tokens: 300,
                cached_input_tokens: 1_500,
                cost_usd: None,
                turns: 6,
                tool_calls: 10,
                wall_ms: 2_000,
            }
        );
    }

    #[test]
    fn dollars_are_known_once_any_part_knows_them() {
        let mut total = Usage::default();
        total.add(&usage(1_000, None));
        assert_eq!(total.cost_usd, None);
        total.add(&usage(1_000, Some(0.25)));
        assert_eq!(total.cost_usd, Some(0.25));
        total.add(&usage(1_000, None));
        total.add(&usage(1_000, Some(0.5)));
        assert_eq!(total.cost_usd, Some(0.75));
        assert_eq!(total.input_tokens, 4_000);
    }

    #[test]
    fn a_handoff_without_usage_still_reads() {
        let handoff: Handoff =
            serde_json::from_str(r#"{"summary":"done"}"#).expect("an old handoff");
        assert_eq!(handoff.usage, None);
        let usage: Usage = serde_json::from_str(
            r#"{"input_tokens":1,"output_tokens":2,"cached_input_tokens":0,"turns":1,"tool_calls":0}"#,
        )
        .expect("usage without wall time or dollars");
        assert_eq!((usage.wall_ms, usage.cost_usd), (0, None));
    }
}
