//! What workers and validators report back: handoffs and findings.

use serde::{Deserialize, Serialize};

use crate::ids::AssertionId;

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
}
