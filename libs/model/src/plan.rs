//! The plan: what a mission will do and how its work is proven.
//!
//! These are the clean, validated types the rest of Sortie works with. People write a
//! plan as a mission file (`mission.toml`); `crate::mission_file` parses that text,
//! validates it with the position of every error, and produces a [`Plan`].

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{AssertionId, FeatureId, MilestoneId, RepositoryName};
use crate::mcp::McpServer;

/// A mission's plan: one version of it. Every amendment is a new version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub mission: MissionHeader,
    /// The repositories the mission changes; each feature names the one it works in.
    pub repositories: Vec<Repository>,
    #[serde(default)]
    pub settings: MissionSettings,
    /// Milestones in the order they are worked and validated.
    pub milestones: Vec<Milestone>,
    pub features: Vec<Feature>,
    /// The validation contract, written before any code.
    #[serde(default)]
    pub assertions: Vec<Assertion>,
    /// Skills the plan defines itself, beside those found in the repositories.
    #[serde(default)]
    pub skills: Vec<SkillDefinition>,
    #[serde(default)]
    pub services: ServicesBlock,
    /// MCP servers the mission's agents are given, beside those the repository declares
    /// in `.mcp.json`; a server declared here wins over a repository's of the same name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mcp_servers: Vec<McpServer>,
    /// For the `scripted` agent only: the steps a fix feature performs when an assertion
    /// fails validation. A real agent works a fix out from the findings instead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scripted_fixes: Vec<ScriptedFix>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MissionHeader {
    pub name: String,
    pub goal: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Repository {
    pub name: RepositoryName,
    /// Where the repository is cloned from: a path or a git URL.
    pub url: String,
    /// The branch the mission starts from.
    #[serde(default = "default_base_branch")]
    pub base_branch: String,
    /// The branch features are merged into; defaults to `sortie/<mission name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_branch: Option<String>,
}

pub(crate) fn default_base_branch() -> String {
    "main".to_owned()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct MissionSettings {
    /// How many features may run at the same time.
    pub max_parallel_workers: u32,
    /// Whether milestones are validated at all.
    pub validation: bool,
    pub skip_scrutiny: bool,
    pub skip_user_testing: bool,
    /// Attempts per feature before it fails and the mission waits for a person.
    pub max_attempts_per_feature: u32,
    /// Rounds of fix features per milestone before the milestone is blocked.
    pub max_fix_rounds: u32,
    /// The agent profile each role runs with.
    pub agents: AgentProfiles,
}

impl Default for MissionSettings {
    fn default() -> Self {
        Self {
            max_parallel_workers: 4,
            validation: true,
            skip_scrutiny: false,
            skip_user_testing: false,
            max_attempts_per_feature: 3,
            max_fix_rounds: 3,
            agents: AgentProfiles::default(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AgentProfiles {
    pub worker: String,
    pub validator: String,
    pub planner: String,
}

impl Default for AgentProfiles {
    fn default() -> Self {
        Self {
            worker: "scripted".to_owned(),
            validator: "scripted".to_owned(),
            planner: "scripted".to_owned(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Milestone {
    pub id: MilestoneId,
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// One unit of work for one worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Feature {
    pub id: FeatureId,
    pub title: String,
    pub milestone: MilestoneId,
    /// The repository the feature works in and integrates into.
    pub repository: RepositoryName,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The skill handed to the worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skill: Option<String>,
    /// Features that must be done before this one starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preconditions: Vec<FeatureId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expected_behavior: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verification: Vec<String>,
    /// The assertions of the validation contract this feature makes true.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fulfills: Vec<AssertionId>,
    /// Path globs the feature may change. Empty means it may change anything, and so it
    /// never runs beside another feature of its repository.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub touches: Vec<String>,
    /// A rough size in minutes, used to rank features by critical path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate_minutes: Option<u32>,
    /// For the `scripted` agent only: what it does in the workspace, step by step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<ScriptedStep>,
    /// Set on the fix features the orchestrator creates after a failed validation; a
    /// mission file cannot set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<FixOrigin>,
}

/// One step of the `scripted` agent, which needs no model: it runs commands and writes
/// files, and produces the same commits and handoff a real agent would.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ScriptedStep {
    /// Run a shell command in the workspace; the step fails on another exit code.
    Run {
        run: String,
        #[serde(default)]
        expect_exit: i32,
    },
    /// Write a file (creating its directories), replacing what was there.
    Write { write: String, content: String },
    /// Append to a file, creating it when missing.
    Append { append: String, content: String },
    /// Replace every occurrence of a text in a file; the step fails when there is none.
    Replace {
        replace: String,
        find: String,
        with: String,
    },
    /// Wait, to stand in for an agent's thinking time.
    Sleep { sleep_ms: u64 },
}

/// Why a fix feature exists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FixOrigin {
    /// The milestone's fix round, from 1.
    pub round: u32,
    /// The findings the fix must clear.
    pub findings: Vec<String>,
}

/// For the `scripted` agent: how to fix one assertion when validation finds it false.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScriptedFix {
    pub assertion: AssertionId,
    /// What the fix may change; empty means what the assertion's features may change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub touches: Vec<String>,
    pub steps: Vec<ScriptedStep>,
}

impl Feature {
    /// The weight the scheduler gives this feature on a critical path.
    pub fn weight(&self) -> u64 {
        u64::from(self.estimate_minutes.unwrap_or(1).max(1))
    }
}

/// One line of the validation contract.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Assertion {
    pub id: AssertionId,
    pub statement: String,
    pub check: Check,
}

/// How an assertion is checked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Check {
    /// Run a shell command in the repository.
    Command {
        run: String,
        #[serde(default)]
        expect_exit: i32,
        /// A regular expression the combined output must match.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expect_output: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_seconds: Option<u32>,
    },
    /// Call a running service over HTTP.
    Http {
        /// The service (from the services block) to call.
        service: String,
        #[serde(default = "default_http_method")]
        method: String,
        path: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
        expect_status: u16,
        /// Text the response body must contain.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expect_body: Option<String>,
    },
    /// A validator agent judges it, and must return the evidence named here.
    Agent {
        instructions: String,
        evidence: Vec<EvidenceKind>,
    },
}

pub(crate) fn default_http_method() -> String {
    "GET".to_owned()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    Command,
    HttpExchange,
    Screenshot,
    FileExcerpt,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SkillDefinition {
    pub name: String,
    pub description: String,
    pub instructions: String,
}

/// How the repository is built, tested and started, for scrutiny and user-testing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ServicesBlock {
    /// Named commands; `build`, `test` and `lint` are the ones scrutiny runs.
    pub commands: BTreeMap<String, String>,
    /// Services user-testing starts.
    pub start: Vec<ServiceDefinition>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceDefinition {
    pub name: String,
    /// The command that starts the service in the foreground.
    pub run: String,
    pub port: u16,
    /// An HTTP path that answers 2xx once the service is up.
    #[serde(default = "default_health_path")]
    pub health: String,
    #[serde(default = "default_health_timeout")]
    pub health_timeout_seconds: u32,
    /// A command that stops the service; without one it is sent SIGTERM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<String>,
}

pub(crate) fn default_health_path() -> String {
    "/".to_owned()
}

pub(crate) fn default_health_timeout() -> u32 {
    30
}

impl Plan {
    pub fn feature(&self, id: &FeatureId) -> Option<&Feature> {
        self.features.iter().find(|feature| &feature.id == id)
    }

    pub fn milestone_index(&self, id: &MilestoneId) -> Option<usize> {
        self.milestones
            .iter()
            .position(|milestone| &milestone.id == id)
    }

    pub fn features_of<'plan>(
        &'plan self,
        milestone: &'plan MilestoneId,
    ) -> impl Iterator<Item = &'plan Feature> + 'plan {
        self.features
            .iter()
            .filter(move |feature| &feature.milestone == milestone)
    }

    /// The JSON Schema of a plan, as published in `docs/plan.schema.json`.
    pub fn json_schema() -> serde_json::Value {
        let schema = schemars::schema_for!(Plan);
        serde_json::to_value(schema).expect("a schema is always serialisable")
    }
}
