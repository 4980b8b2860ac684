//! The bodies of the messages services exchange over the bus.
//!
//! Invariant: bodies only gain fields (with defaults); a field is never renamed or removed,
//! so a newer service reads an older one's messages and the other way round.

use serde::{Deserialize, Serialize};

use crate::ids::{AssertionId, AttemptFence, MilestoneId, MissionId};
use crate::mcp::McpServer;
use crate::plan::{Assertion, Feature, Repository, ServicesBlock, SkillDefinition};
use crate::records::{Evidence, Finding, Handoff};

/// The kinds of envelope bodies, as the envelope's `kind` names them.
pub mod kind {
    pub const FEATURE_TASK: &str = "feature_task";
    pub const VALIDATION_TASK: &str = "validation_task";
    pub const REPORT: &str = "report";
}

/// Where a task's repository lives and which branches it uses.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RepositoryTarget {
    pub repository: Repository,
    /// The mission's integration branch in this repository.
    pub integration_branch: String,
}

/// A feature attempt for a worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureTask {
    pub mission: MissionId,
    pub mission_name: String,
    pub plan_version: i32,
    pub fence: AttemptFence,
    pub feature: Feature,
    pub target: RepositoryTarget,
    /// The skill the plan defines for the feature, when it defines one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skill: Option<SkillDefinition>,
    /// The agent profile to run (`scripted`, `claude-code`, ...).
    pub agent: String,
    /// How often the worker reports that it is still alive.
    pub heartbeat_seconds: u32,
    /// The longest the attempt may run.
    pub time_limit_seconds: u32,
    /// The MCP servers the plan declares; the worker adds the repository's `.mcp.json`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mcp_servers: Vec<McpServer>,
}

/// A milestone validation for a validator, pinned to one commit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValidationTask {
    pub mission: MissionId,
    pub mission_name: String,
    pub plan_version: i32,
    pub fence: AttemptFence,
    pub milestone: MilestoneId,
    pub target: RepositoryTarget,
    /// The integration branch's commit to validate.
    pub commit: String,
    /// The assertions this validation must prove, from the approved plan.
    pub assertions: Vec<Assertion>,
    pub services: ServicesBlock,
    pub run_scrutiny: bool,
    pub run_user_testing: bool,
    pub heartbeat_seconds: u32,
    pub time_limit_seconds: u32,
    /// The validator's agent profile (`settings.agents.validator`), which judges the agent
    /// checks; `scripted` judges none.
    #[serde(default = "scripted_validator")]
    pub agent: String,
    /// The milestone's features in this repository (fix features included), for the
    /// review half of scrutiny.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<Feature>,
    /// The MCP servers the plan declares, given to the validator's agent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mcp_servers: Vec<McpServer>,
}

fn scripted_validator() -> String {
    "scripted".to_owned()
}

/// What a worker or validator tells the orchestrator about an attempt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "report", rename_all = "snake_case")]
#[expect(
    clippy::large_enum_variant,
    reason = "reports are decoded one at a time and handled at once, never kept in bulk"
)]
pub enum Report {
    /// The attempt was taken and work began.
    Started { fence: AttemptFence, worker: String },
    /// The attempt is still being worked.
    Heartbeat {
        fence: AttemptFence,
        worker: String,
        /// What the agent is doing now, for Mission Control.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        activity: Option<String>,
    },
    /// A feature attempt ended.
    FeatureFinished {
        fence: AttemptFence,
        worker: String,
        outcome: Outcome,
        handoff: Handoff,
        /// The attempt's work, rebased onto the integration branch and pushed to its own
        /// branch, for the merge queue to integrate.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        proposal: Option<IntegrationProposal>,
    },
    /// A validation attempt ended.
    ValidationFinished {
        fence: AttemptFence,
        worker: String,
        /// The commit that was validated.
        commit: String,
        /// Every check run, passed or not, with its evidence.
        checks: Vec<CheckResult>,
        findings: Vec<Finding>,
    },
}

impl Report {
    pub fn fence(&self) -> AttemptFence {
        match self {
            Report::Started { fence, .. }
            | Report::Heartbeat { fence, .. }
            | Report::FeatureFinished { fence, .. }
            | Report::ValidationFinished { fence, .. } => *fence,
        }
    }

    pub fn worker(&self) -> &str {
        match self {
            Report::Started { worker, .. }
            | Report::Heartbeat { worker, .. }
            | Report::FeatureFinished { worker, .. }
            | Report::ValidationFinished { worker, .. } => worker,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    Failed {
        reason: String,
        /// Paths that conflicted with work integrated first, when that was the reason.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        conflicting_paths: Vec<String>,
    },
}

/// A worker's finished work, ready for the merge queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntegrationProposal {
    /// The branch the worker pushed (`sortie/attempts/<attempt>`).
    pub branch: String,
    /// The commit at its head: the attempt's work as one commit.
    pub commit: String,
    /// The integration branch's commit the work was rebased onto.
    pub base: String,
    /// The paths the commit changes.
    pub changed_paths: Vec<String>,
}

/// One check a validator ran.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The assertion checked, or none for a scrutiny step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assertion: Option<AssertionId>,
    /// `build`, `test`, `lint`, or `assertion`.
    pub check: String,
    pub passed: bool,
    pub evidence: Vec<Evidence>,
}
