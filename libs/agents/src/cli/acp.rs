//! Any agent that speaks the Agent Client Protocol (ACP): JSON-RPC 2.0, one message a
//! line, over the agent's standard input and output. Gemini CLI, opencode and Zed's
//! Claude Code adapter are such agents; the profile's `command` and `args` start one.
//!
//! Sortie is the client: it sends `initialize`, `session/new` and one `session/prompt`,
//! turns the agent's `session/update` notifications into [`AgentEvent`]s, and answers the
//! agent's own requests. A permission is granted only for what the role allows (a
//! reviewer never edits) and for commands that start with an allowed prefix; files are
//! read and written only inside the workspace (a reviewer writes none); any other method
//! is answered with a JSON-RPC error. A denied permission or write fails the run, as does
//! a prompt that stops for any reason but `end_turn`. The run has its own home, a cleared
//! environment and a process group killed at the time limit, as every CLI run.

mod peer;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;
use serde_json::{Value, json};
use sortie_model::mcp::{McpServer, McpTransport};
use sortie_model::records::CommandRun;
use sortie_settings::AgentProfileSettings;
use tokio::sync::mpsc;

use super::{Invocation, RunHome, command_allowed, excerpt, parse_handoff, text_of};
use crate::prices::prices_for;
use crate::{Agent, AgentError, AgentEvent, AgentOutcome, AgentRequest, AgentRole};
use peer::{Peer, RpcError, Stop};

/// The ACP version Sortie speaks.
const PROTOCOL_VERSION: u64 = 1;

/// An ACP agent, for one profile.
#[derive(Debug, Clone)]
pub struct Acp {
    profile: AgentProfileSettings,
}

impl Acp {
    pub fn new(profile: AgentProfileSettings) -> Self {
        Self { profile }
    }

    /// The agent's program and arguments, and its endpoint and key in both vendors'
    /// variables (an ACP agent may speak either API).
    fn invocation(&self) -> Result<Invocation, AgentError> {
        let profile = &self.profile;
        let program = profile
            .command
            .as_deref()
            .filter(|command| !command.trim().is_empty())
            .ok_or_else(|| {
                AgentError::Config(
                    "an acp profile needs a command: the program that speaks ACP".to_owned(),
                )
            })?;
        let mut env = profile.env.clone();
        if let Some(url) = &profile.base_url {
            env.insert("ANTHROPIC_BASE_URL".to_owned(), url.clone());
            env.insert("OPENAI_BASE_URL".to_owned(), url.clone());
        }
        if let Some(key) = &profile.api_key {
            let key = key.expose_secret().to_owned();
            env.insert("ANTHROPIC_API_KEY".to_owned(), key.clone());
            env.insert("OPENAI_API_KEY".to_owned(), key);
        }
        if let Some(model) = &profile.model {
            env.insert("ANTHROPIC_MODEL".to_owned(), model.clone());
        }
        Ok(Invocation {
            program: program.to_owned(),
            args: profile.args.iter().map(OsString::from).collect(),
            env,
        })
    }
}

#[async_trait]
impl Agent for Acp {
    fn name(&self) -> &str {
        "acp"
    }

    async fn run(
        &self,
        request: &AgentRequest,
        events: mpsc::UnboundedSender<AgentEvent>,
    ) -> Result<AgentOutcome, AgentError> {
        let invocation = self.invocation()?;
        let home = RunHome::create(&request.workspace)?;
        let workspace = request.workspace.canonicalize().map_err(|error| {
            AgentError::Io(format!(
                "the workspace {}: {error}",
                request.workspace.display()
            ))
        })?;
        let client = Client {
            workspace,
            role: request.role,
            allowed_commands: request.allowed_commands.clone(),
            events: events.clone(),
            message: String::new(),
            tool_calls: HashMap::new(),
            commands: Vec::new(),
            denied: Vec::new(),
            tool_call_count: 0,
        };
        let started = super::start("acp", &invocation, &home, request, true)?;
        let mut peer = Peer::new(started, request.time_limit, client);
        let conversation = converse(&mut peer, request).await;
        let kill_now = matches!(conversation, Err(Stop::TimeLimit | Stop::Garbage));
        let (client, end) = peer.finish(kill_now).await;
        let mut outcome = client.outcome();
        match conversation {
            Ok(prompt_result) => {
                usage_of(&prompt_result, &mut outcome);
                let stop_reason = text_of(&prompt_result, "stopReason");
                if stop_reason != "end_turn" && outcome.failure.is_none() {
                    outcome.failure = Some(format!(
                        "the ACP agent's prompt stopped with {stop_reason:?}, not end_turn"
                    ));
                }
            }
            Err(stop) => {
                outcome.failure = Some(match stop {
                    Stop::TimeLimit => format!(
                        "acp was killed at its time limit of {}s",
                        request.time_limit.as_secs()
                    ),
                    Stop::Ended { waiting_for } => format!(
                        "the ACP agent stopped before it answered {waiting_for}: {}",
                        end.describe(&invocation.program)
                    ),
                    Stop::Garbage => format!(
                        "the ACP agent printed too many lines that are not JSON-RPC; it was \
                         stopped: {}",
                        end.describe(&invocation.program)
                    ),
                    Stop::Refused { method, message } => format!(
                        "the ACP agent answered {method} with an error: {}",
                        excerpt(&message)
                    ),
                });
            }
        }
        let prices = prices_for(self.profile.model.as_deref(), self.profile.prices);
        if outcome.usage.input_tokens + outcome.usage.output_tokens > 0 {
            outcome.usage.cost_usd = prices.map(|prices| prices.cost(&outcome.usage));
        }
        outcome.usage.wall_ms = end.wall_ms;
        if let Some(failure) = &outcome.failure {
            let _ = events.send(AgentEvent::Error {
                message: failure.clone(),
            });
            if outcome.left_undone.is_empty() {
                outcome.left_undone.push(request.title().to_owned());
            }
        } else {
            let _ = events.send(AgentEvent::Result {
                summary: outcome.summary.clone(),
            });
        }
        let _ = events.send(AgentEvent::Usage {
            usage: outcome.usage.clone(),
        });
        Ok(outcome)
    }
}

/// The conversation: initialise, open a session in the workspace, send the prompt; the
/// prompt's result once the agent has finished its turn.
async fn converse(peer: &mut Peer<Client>, request: &AgentRequest) -> Result<Value, Stop> {
    let initialized = peer
        .call(
            "initialize",
            json!({
                "protocolVersion": PROTOCOL_VERSION,
                "clientCapabilities": {
                    "fs": {"readTextFile": true, "writeTextFile": true},
                    "terminal": false,
                },
                "clientInfo": {"name": "sortie", "version": env!("CARGO_PKG_VERSION")},
            }),
        )
        .await?;
    let agent_name = initialized
        .get("agentInfo")
        .map(|info| text_of(info, "name"))
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "an ACP agent".to_owned());
    let http_mcp = initialized
        .pointer("/agentCapabilities/mcpCapabilities/http")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let cwd = peer.handler().workspace.clone();
    let mcp_servers = mcp_servers(&request.mcp_servers, http_mcp);
    let session = peer
        .call(
            "session/new",
            json!({"cwd": cwd, "mcpServers": mcp_servers}),
        )
        .await?;
    let session_id = text_of(&session, "sessionId");
    peer.handler().send(AgentEvent::Init {
        agent: "acp".to_owned(),
        detail: format!("{agent_name}, session {session_id}"),
    });
    peer.call(
        "session/prompt",
        json!({
            "sessionId": session_id,
            "prompt": [{"type": "text", "text": super::prompt::prompt(request)}],
        }),
    )
    .await
}

/// The request's MCP servers as `session/new` names them; servers over HTTP only when
/// the agent says it can reach them.
fn mcp_servers(servers: &[McpServer], http_supported: bool) -> Vec<Value> {
    let pairs = |map: &BTreeMap<String, String>| -> Vec<Value> {
        map.iter()
            .map(|(name, value)| json!({"name": name, "value": value}))
            .collect()
    };
    servers
        .iter()
        .filter_map(|server| match &server.transport {
            McpTransport::Stdio { command, args, env } => Some(json!({
                "name": server.name,
                "command": command,
                "args": args,
                "env": pairs(env),
            })),
            McpTransport::Http { url, headers } if http_supported => Some(json!({
                "type": "http",
                "name": server.name,
                "url": url,
                "headers": pairs(headers),
            })),
            McpTransport::Http { .. } => {
                tracing::debug!(
                    server = %server.name,
                    "the ACP agent cannot reach MCP servers over HTTP; it runs without this one"
                );
                None
            }
        })
        .collect()
}

/// Tokens from the prompt's `usage`, when the agent reports them.
fn usage_of(prompt_result: &Value, outcome: &mut AgentOutcome) {
    let Some(usage) = prompt_result.get("usage") else {
        return;
    };
    let count = |name: &str| usage.get(name).and_then(Value::as_u64).unwrap_or(0);
    outcome.usage.input_tokens = count("inputTokens");
    outcome.usage.cached_input_tokens = count("cachedReadTokens");
    outcome.usage.output_tokens = count("outputTokens");
}

/// Sortie's side of the conversation: what the agent has said, and the answers to its
/// requests.
#[derive(Debug)]
pub(crate) struct Client {
    workspace: PathBuf,
    role: AgentRole,
    allowed_commands: Vec<String>,
    events: mpsc::UnboundedSender<AgentEvent>,
    /// The agent's message since its last tool call: at the end, its final answer.
    message: String,
    /// Each tool call's kind and title, by its id.
    tool_calls: HashMap<String, (String, String)>,
    commands: Vec<CommandRun>,
    /// What was denied, and why.
    denied: Vec<String>,
    tool_call_count: u32,
}

impl Client {
    fn send(&self, event: AgentEvent) {
        let _ = self.events.send(event);
    }

    /// The message so far, as an event, before something else happens.
    fn flush_message(&mut self) {
        let text = std::mem::take(&mut self.message);
        if !text.trim().is_empty() {
            self.send(AgentEvent::Text { text });
        }
    }

    fn outcome(mut self) -> AgentOutcome {
        let final_message = self.message.clone();
        self.flush_message();
        let (summary, left_undone) = parse_handoff(&final_message);
        let mut outcome = AgentOutcome {
            summary,
            left_undone,
            commands: self.commands,
            ..AgentOutcome::default()
        };
        outcome.usage.turns = 1;
        outcome.usage.tool_calls = self.tool_call_count;
        if !self.denied.is_empty() {
            outcome.failure = Some(format!(
                "the ACP agent was denied {} request(s): {}",
                self.denied.len(),
                self.denied.join("; ")
            ));
        }
        outcome
    }

    /// A `session/update` notification.
    fn update(&mut self, params: &Value) {
        let update = params.get("update").unwrap_or(&Value::Null);
        match text_of(update, "sessionUpdate").as_str() {
            "agent_message_chunk" => {
                let content = update.get("content").unwrap_or(&Value::Null);
                if text_of(content, "type") == "text" {
                    self.message.push_str(&text_of(content, "text"));
                }
            }
            "tool_call" => {
                self.flush_message();
                let kind = text_of(update, "kind");
                let title = text_of(update, "title");
                let tool = if kind.is_empty() { "tool" } else { &kind }.to_owned();
                let entry = (tool.clone(), title.clone());
                // Agents may announce a call again once its input is complete: one call,
                // an event again only when it says more.
                match self.tool_calls.insert(text_of(update, "toolCallId"), entry) {
                    Some(known) if known.1 == title => return,
                    Some(_) => {}
                    None => self.tool_call_count += 1,
                }
                self.send(AgentEvent::ToolCall { tool, input: title });
            }
            "tool_call_update" => {
                let status = text_of(update, "status");
                if status != "completed" && status != "failed" {
                    return;
                }
                let (tool, title) = self
                    .tool_calls
                    .get(&text_of(update, "toolCallId"))
                    .cloned()
                    .unwrap_or_else(|| ("tool".to_owned(), String::new()));
                let output = content_text(update.get("content"));
                if tool == "execute" {
                    self.commands.push(CommandRun {
                        command: title.trim_matches('`').to_owned(),
                        exit_code: None,
                        output_tail: excerpt(&output),
                        duration_ms: 0,
                    });
                }
                self.send(AgentEvent::ToolResult {
                    tool,
                    output,
                    exit_code: None,
                    denied: false,
                });
            }
            "plan" => {
                let entries: Vec<String> = update
                    .get("entries")
                    .and_then(Value::as_array)
                    .map(|entries| {
                        entries
                            .iter()
                            .map(|entry| text_of(entry, "content"))
                            .collect()
                    })
                    .unwrap_or_default();
                if !entries.is_empty() {
                    self.send(AgentEvent::Text {
                        text: format!("plan: {}", entries.join("; ")),
                    });
                }
            }
            // Thoughts, the user's own message echoed, modes, commands: not needed.
            _ => {}
        }
    }

    /// The answer to one of the agent's requests.
    fn answer(&mut self, method: &str, params: &Value) -> Result<Value, RpcError> {
        match method {
            "session/request_permission" => Ok(self.permission(params)),
            "fs/read_text_file" => self.read_text_file(params),
            "fs/write_text_file" => self.write_text_file(params),
            _ => Err(RpcError::method_not_found(method)),
        }
    }

    /// Grant or deny a tool call: a reviewer never changes the workspace, and a command
    /// must start with an allowed prefix.
    fn permission(&mut self, params: &Value) -> Value {
        let tool_call = params.get("toolCall").unwrap_or(&Value::Null);
        let kind = text_of(tool_call, "kind");
        let title = text_of(tool_call, "title");
        let refusal = if self.role == AgentRole::Reviewer
            && matches!(kind.as_str(), "edit" | "delete" | "move")
        {
            Some("a reviewer may not change the workspace".to_owned())
        } else if kind == "execute" {
            let command = command_of(tool_call);
            (!command_allowed(&command, &self.allowed_commands))
                .then(|| format!("`{command}` is not an allowed command"))
        } else {
            None
        };
        let options = params
            .get("options")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let wanted: &[&str] = match &refusal {
            None => &["allow_once", "allow_always"],
            Some(reason) => {
                self.deny(&kind, &title, reason);
                &["reject_once", "reject_always"]
            }
        };
        let chosen = wanted.iter().find_map(|wanted| {
            options
                .iter()
                .find(|option| text_of(option, "kind") == *wanted)
        });
        match chosen {
            Some(option) => {
                json!({"outcome": {"outcome": "selected", "optionId": option["optionId"]}})
            }
            None => json!({"outcome": {"outcome": "cancelled"}}),
        }
    }

    fn deny(&mut self, kind: &str, title: &str, reason: &str) {
        self.denied.push(format!("{title}: {reason}"));
        self.send(AgentEvent::ToolResult {
            tool: if kind.is_empty() { "tool" } else { kind }.to_owned(),
            output: reason.to_owned(),
            exit_code: None,
            denied: true,
        });
    }

    fn read_text_file(&mut self, params: &Value) -> Result<Value, RpcError> {
        let path = self.inside_workspace(params)?;
        let text = std::fs::read_to_string(&path)
            .map_err(|error| RpcError::failed(format!("reading {}: {error}", path.display())))?;
        let first = params
            .get("line")
            .and_then(Value::as_u64)
            .map_or(0, |line| line.saturating_sub(1));
        let limit = params.get("limit").and_then(Value::as_u64);
        let content = if first == 0 && limit.is_none() {
            text
        } else {
            let lines = text
                .split_inclusive('\n')
                .skip(usize::try_from(first).unwrap_or(usize::MAX));
            match limit {
                Some(limit) => lines
                    .take(usize::try_from(limit).unwrap_or(usize::MAX))
                    .collect(),
                None => lines.collect(),
            }
        };
        Ok(json!({"content": content}))
    }

    fn write_text_file(&mut self, params: &Value) -> Result<Value, RpcError> {
        let asked = text_of(params, "path");
        if self.role == AgentRole::Reviewer {
            let reason = "a reviewer may not change the workspace";
            self.deny("edit", &format!("write {asked}"), reason);
            return Err(RpcError::failed(reason.to_owned()));
        }
        let path = match self.inside_workspace(params) {
            Ok(path) => path,
            Err(error) => {
                self.deny("edit", &format!("write {asked}"), &error.message);
                return Err(error);
            }
        };
        let content = text_of(params, "content");
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|error| {
                RpcError::failed(format!("creating {}: {error}", parent.display()))
            })?;
        }
        std::fs::write(&path, content)
            .map_err(|error| RpcError::failed(format!("writing {}: {error}", path.display())))?;
        Ok(Value::Null)
    }

    /// The request's `path`, when it is inside the workspace (relative paths are taken
    /// from the workspace; `..` and links that lead out are refused).
    fn inside_workspace(&self, params: &Value) -> Result<PathBuf, RpcError> {
        let asked = text_of(params, "path");
        let outside = || RpcError::failed(format!("{asked} is outside the workspace"));
        let mut path = PathBuf::new();
        for component in self.workspace.join(&asked).components() {
            match component {
                Component::ParentDir => {
                    if !path.pop() {
                        return Err(outside());
                    }
                }
                Component::CurDir => {}
                other => path.push(other),
            }
        }
        // The deepest part that exists, resolved, must still be in the workspace.
        let existing = path
            .ancestors()
            .find(|ancestor| ancestor.exists())
            .unwrap_or(Path::new("/"));
        let resolved = existing.canonicalize().map_err(|_| outside())?;
        if asked.is_empty() || !resolved.starts_with(&self.workspace) || path == self.workspace {
            return Err(outside());
        }
        Ok(path)
    }
}

impl peer::Handler for Client {
    fn raw(&mut self, line: &str) {
        self.send(AgentEvent::Raw {
            line: line.to_owned(),
        });
    }

    fn notification(&mut self, method: &str, params: &Value) {
        if method == "session/update" {
            self.update(params);
        }
    }

    fn request(&mut self, method: &str, params: &Value) -> Result<Value, RpcError> {
        self.answer(method, params)
    }
}

/// The command of an `execute` tool call: its raw input's `command` (a string or a list
/// of words), else its title without the backticks agents put around it.
fn command_of(tool_call: &Value) -> String {
    let raw = tool_call.get("rawInput").unwrap_or(&Value::Null);
    match raw.get("command") {
        Some(Value::String(command)) => command.clone(),
        Some(Value::Array(words)) => words
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" "),
        _ => text_of(tool_call, "title").trim_matches('`').to_owned(),
    }
}

/// The text of a tool call's content blocks.
fn content_text(content: Option<&Value>) -> String {
    let Some(blocks) = content.and_then(Value::as_array) else {
        return String::new();
    };
    blocks
        .iter()
        .filter_map(|block| block.get("content"))
        .map(|inner| text_of(inner, "text"))
        .filter(|text| !text.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}
