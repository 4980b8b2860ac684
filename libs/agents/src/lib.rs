//! The coding agents Sortie's workers run, behind one interface.
//!
//! A worker hands an agent a workspace and a request (the feature, its skill, the
//! repository's AGENTS.md, limits); the agent works in the workspace and reports what it
//! did as a stream of [`AgentEvent`]s and an [`AgentOutcome`]. The worker, not the agent,
//! commits, checks the feature's `touches` and integrates. A validator hands an agent a
//! brief instead, as a reviewer ([`AgentRole::Reviewer`]) that may read and run but never
//! change the workspace, and checks the answer's evidence itself.
//!
//! The `scripted` agent needs no model and performs the steps the plan gives a feature; it
//! is labelled as what it is in every event it emits. The `llm` agent ([`llm::LlmAgent`])
//! is Sortie's own coding-agent loop over any OpenAI-compatible or Anthropic endpoint.

pub mod cli;
pub mod llm;
pub mod prices;
pub mod process;
mod scripted;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sortie_model::mcp::McpServer;
use sortie_model::plan::{Feature, SkillDefinition};
use sortie_model::records::CommandRun;
use sortie_settings::{AgentKind, AgentProfileSettings};
use tokio::sync::mpsc;

pub use scripted::ScriptedAgent;

/// What a worker or a validator asks an agent to do.
#[derive(Clone, Debug)]
pub struct AgentRequest {
    /// The git workspace the agent works in.
    pub workspace: PathBuf,
    /// What the agent may do there: change it (a worker) or only read it (a reviewer).
    pub role: AgentRole,
    /// What it is asked: a feature to build, or a brief to answer.
    pub task: AgentTask,
    pub skill: Option<SkillDefinition>,
    /// The repository's AGENTS.md, when it has one.
    pub agents_md: Option<String>,
    /// The agent's whole run is stopped at this limit.
    pub time_limit: Duration,
    /// Prefixes of the shell commands the agent may run (`cargo test`, `ls`); any other
    /// command is denied. See [`default_allowed_commands`].
    pub allowed_commands: Vec<String>,
    /// At most this many model turns, when set; otherwise the agent's own limit.
    pub max_turns: Option<u32>,
    /// MCP servers the agent is given, when its kind supports MCP (`claude-code`,
    /// `codex`, `droid`, `acp`); the others run without them.
    pub mcp_servers: Vec<McpServer>,
}

impl AgentRequest {
    /// The task's title, for what was left undone when a run fails.
    pub fn title(&self) -> &str {
        match &self.task {
            AgentTask::Feature(feature) => &feature.title,
            AgentTask::Brief(brief) => &brief.title,
        }
    }

    /// The feature's id or the brief's title, for logs.
    pub fn subject(&self) -> &str {
        match &self.task {
            AgentTask::Feature(feature) => feature.id.as_str(),
            AgentTask::Brief(brief) => &brief.title,
        }
    }
}

/// What an agent may do in its workspace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AgentRole {
    /// Builds a feature: reads, writes and runs the allowed commands.
    #[default]
    Worker,
    /// Judges work: reads and runs the allowed commands, never edits a file. The `llm`
    /// agent has no write tools, Claude Code is denied its edit tools, Codex runs in a
    /// read-only sandbox.
    Reviewer,
}

/// What an agent is asked to do.
#[derive(Clone, Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "one task per agent run, never kept in bulk"
)]
pub enum AgentTask {
    /// A feature of the plan, for a worker.
    Feature(Feature),
    /// A brief of the caller's own (a validator's check), answered in its format.
    Brief(Brief),
}

/// A task that is not a feature: what to do, and the form of the answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Brief {
    /// A short name for it (`check VAL-API-001`).
    pub title: String,
    /// What to do, in Markdown.
    pub text: String,
    /// The exact form the final answer must take; the agent ends with it (the `llm` agent
    /// as `finish`'s summary, a CLI agent as its final message), and the run's
    /// [`AgentOutcome::summary`] carries it.
    pub answer_format: String,
}

/// The commands a coding agent may run unless its request says otherwise: reading the
/// workspace, git's read-only views, and the usual build and test tools.
pub fn default_allowed_commands() -> Vec<String> {
    [
        "ls",
        "cat",
        "head",
        "tail",
        "wc",
        "grep",
        "diff",
        "pwd",
        "echo",
        "true",
        "test",
        "git status",
        "git diff",
        "git log",
        "git show",
        "cargo build",
        "cargo check",
        "cargo test",
        "cargo clippy",
        "cargo fmt",
        "cargo run",
        "npm test",
        "npm run",
        "npx tsc",
        "pytest",
        "python -m pytest",
        "python3 -m pytest",
        "go build",
        "go test",
        "go vet",
        "make",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// One thing an agent did, normalised across agents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AgentEvent {
    Init {
        agent: String,
        detail: String,
    },
    Text {
        text: String,
    },
    ToolCall {
        tool: String,
        input: String,
    },
    ToolResult {
        tool: String,
        output: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
        denied: bool,
    },
    Result {
        summary: String,
    },
    Error {
        message: String,
    },
    /// What the run used: tokens, dollars, turns, tool calls, wall time. Sent once, as the
    /// run ends.
    Usage {
        usage: AgentUsage,
    },
    /// A line of the agent's own output, as it printed it, ahead of the events read from
    /// it: the record of what the CLI really said.
    Raw {
        line: String,
    },
}

impl AgentEvent {
    /// A one-line description, for Mission Control's "what is it doing now"; none for a
    /// raw line, which says nothing new.
    pub fn activity(&self) -> Option<String> {
        Some(match self {
            AgentEvent::Init { agent, .. } => format!("{agent} starting"),
            AgentEvent::Text { text } => first_line(text),
            AgentEvent::ToolCall { tool, input } => format!("{tool}: {}", first_line(input)),
            AgentEvent::ToolResult {
                tool, exit_code, ..
            } => match exit_code {
                Some(code) => format!("{tool} exited {code}"),
                None => format!("{tool} done"),
            },
            AgentEvent::Result { summary } => first_line(summary),
            AgentEvent::Error { message } => format!("error: {}", first_line(message)),
            AgentEvent::Usage { usage } => format!(
                "used {} tokens in, {} out{}",
                usage.input_tokens + usage.cached_input_tokens,
                usage.output_tokens,
                usage
                    .cost_usd
                    .map(|dollars| format!(", ${dollars:.4}"))
                    .unwrap_or_default()
            ),
            AgentEvent::Raw { .. } => return None,
        })
    }
}

fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() > 120 {
        format!("{}…", line.chars().take(120).collect::<String>())
    } else {
        line.to_owned()
    }
}

/// How an agent's run ended.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgentOutcome {
    /// What was done, for the handoff.
    pub summary: String,
    /// What was left undone.
    pub left_undone: Vec<String>,
    /// The commands the agent ran, with their exit codes.
    pub commands: Vec<CommandRun>,
    /// Why the run failed, when it did.
    pub failure: Option<String>,
    /// What the run used: tokens, dollars, turns, tool calls.
    pub usage: AgentUsage,
}

/// What an agent's run used: the handoff carries it (see [`Usage`]).
pub use sortie_model::records::Usage as AgentUsage;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(
        "agent profile {name:?} is not configured (agents.{name} in the settings); the profiles are: {known}"
    )]
    UnknownProfile { name: String, known: String },
    #[error("the agent could not run: {0}")]
    Io(String),
    #[error("the agent is misconfigured: {0}")]
    Config(String),
}

#[async_trait]
pub trait Agent: Send + Sync + std::fmt::Debug {
    /// The profile name (`scripted`, ...).
    fn name(&self) -> &str;

    /// Work on the request in its workspace, sending events as they happen. The run ends
    /// at the request's time limit at the latest.
    async fn run(
        &self,
        request: &AgentRequest,
        events: mpsc::UnboundedSender<AgentEvent>,
    ) -> Result<AgentOutcome, AgentError>;
}

/// The agent for a profile name: the profile `agents.<name>` of the settings, else one of
/// the built-in profiles (`scripted`, and `claude-code` and `codex` with the CLI on `PATH`
/// and the vendor's endpoint).
pub fn for_profile(
    name: &str,
    profiles: &BTreeMap<String, AgentProfileSettings>,
) -> Result<Box<dyn Agent>, AgentError> {
    let profile = match profiles.get(name) {
        Some(profile) => profile.clone(),
        None => match name {
            "scripted" => AgentProfileSettings::of_kind(AgentKind::Scripted),
            "claude-code" => AgentProfileSettings::of_kind(AgentKind::ClaudeCode),
            "codex" => AgentProfileSettings::of_kind(AgentKind::Codex),
            _ => {
                let mut known: Vec<&str> = vec!["scripted", "claude-code", "codex"];
                known.extend(profiles.keys().map(String::as_str));
                known.sort_unstable();
                known.dedup();
                return Err(AgentError::UnknownProfile {
                    name: name.to_owned(),
                    known: known.join(", "),
                });
            }
        },
    };
    match profile.kind {
        AgentKind::Scripted => Ok(Box::new(ScriptedAgent)),
        AgentKind::ClaudeCode => Ok(Box::new(cli::claude::ClaudeCode::new(profile))),
        AgentKind::Codex => Ok(Box::new(cli::codex::Codex::new(profile))),
        AgentKind::Droid => Ok(Box::new(cli::droid::Droid::new(profile))),
        AgentKind::Acp => Ok(Box::new(cli::acp::Acp::new(profile))),
        AgentKind::Llm => Ok(Box::new(llm::LlmAgent::from_profile(name, &profile)?)),
    }
}
