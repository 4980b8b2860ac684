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
}

#[cfg(test)]
mod tests {
    use super::*;

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
