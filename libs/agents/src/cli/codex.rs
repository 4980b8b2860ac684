//! OpenAI's Codex CLI, driven as `codex exec --json`.
//!
//! Codex runs its commands in its own sandbox (`--sandbox workspace-write`: writes only in
//! the workspace, no network; a reviewer's is `read-only`) and asks no one for approval. It has no list of allowed
//! command prefixes, so Sortie judges its commands afterwards: a run that ran a command
//! outside the request's allowed prefixes fails, naming the commands. Codex reports
//! tokens but not dollars; dollars come from the price table (see [`crate::prices`]).

use std::ffi::OsString;

use async_trait::async_trait;
use serde_json::Value;
use sortie_model::records::CommandRun;
use sortie_settings::AgentProfileSettings;
use tokio::sync::mpsc;

use super::{
    Invocation, ProcessEnd, RunHome, StreamReader, command_allowed, excerpt, json_line,
    judge_completed, parse_handoff, place_skill, program, text_of,
};
use crate::prices::{TokenPrices, prices_for};
use crate::process::tail;
use crate::{Agent, AgentError, AgentEvent, AgentOutcome, AgentRequest, AgentRole};

/// The model Codex runs when its profile names none, for the price table.
const DEFAULT_MODEL: &str = "gpt-5-codex";

/// The variable that carries the key to a provider Sortie configures.
const PROVIDER_KEY_VARIABLE: &str = "SORTIE_CODEX_API_KEY";

/// The Codex adapter, for one profile.
#[derive(Debug, Clone)]
pub struct Codex {
    profile: AgentProfileSettings,
}

impl Codex {
    pub fn new(profile: AgentProfileSettings) -> Self {
        Self { profile }
    }

    fn invocation(&self, request: &AgentRequest, home: &RunHome) -> Invocation {
        let profile = &self.profile;
        let mut args: Vec<OsString> = vec![
            "exec".into(),
            "--json".into(),
            "--skip-git-repo-check".into(),
            "--sandbox".into(),
            match request.role {
                AgentRole::Worker => "workspace-write",
                AgentRole::Reviewer => "read-only",
            }
            .into(),
            "--cd".into(),
            request.workspace.clone().into_os_string(),
        ];
        if let Some(model) = &profile.model {
            args.push("--model".into());
            args.push(model.into());
        }
        let mut env = profile.env.clone();
        env.insert(
            "CODEX_HOME".to_owned(),
            home.path().join(".codex").display().to_string(),
        );
        if let Some(url) = &profile.base_url {
            // A provider of Sortie's own: the endpoint, over the Responses API.
            let key_variable = if profile.api_key.is_some() {
                PROVIDER_KEY_VARIABLE
            } else {
                "OPENAI_API_KEY"
            };
            args.push("-c".into());
            args.push("model_provider=sortie".into());
            args.push("-c".into());
            args.push(
                format!(
                    "model_providers.sortie={{name=\"sortie\",base_url={},wire_api=\"responses\",env_key=\"{key_variable}\"}}",
                    toml_string(url)
                )
                .into(),
            );
        }
        if let Some(key) = &profile.api_key {
            let key = key.expose_secret().to_owned();
            env.insert(PROVIDER_KEY_VARIABLE.to_owned(), key.clone());
            env.insert("OPENAI_API_KEY".to_owned(), key.clone());
            env.insert("CODEX_API_KEY".to_owned(), key);
        }
        for setting in super::mcp::codex_overrides(&request.mcp_servers) {
            args.push("-c".into());
            args.push(setting.into());
        }
        args.extend(profile.args.iter().map(OsString::from));
        args.push(super::prompt::prompt(request).into());
        Invocation {
            program: program(profile.command.as_deref(), "codex"),
            args,
            env,
        }
    }
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

#[async_trait]
impl Agent for Codex {
    fn name(&self) -> &str {
        "codex"
    }

    async fn run(
        &self,
        request: &AgentRequest,
        events: mpsc::UnboundedSender<AgentEvent>,
    ) -> Result<AgentOutcome, AgentError> {
        let home = RunHome::create(&request.workspace)?;
        let codex_home = home.path().join(".codex");
        std::fs::create_dir_all(&codex_home)
            .map_err(|error| AgentError::Io(format!("creating CODEX_HOME: {error}")))?;
        if let Some(skill) = &request.skill {
            // Codex finds skills in `$CODEX_HOME/skills/<name>/SKILL.md`.
            place_skill(&codex_home.join("skills"), skill)?;
        }
        let invocation = self.invocation(request, &home);
        let model = self.profile.model.as_deref().unwrap_or(DEFAULT_MODEL);
        let reader = Box::new(CodexStream {
            allowed_commands: request.allowed_commands.clone(),
            prices: prices_for(Some(model), self.profile.prices),
            ..CodexStream::default()
        });
        super::run("codex", invocation, &home, request, reader, &events).await
    }
}

/// What Codex's `--json` output has said so far.
#[derive(Debug, Default)]
struct CodexStream {
    allowed_commands: Vec<String>,
    prices: Option<TokenPrices>,
    commands: Vec<CommandRun>,
    outside: Vec<String>,
    tool_calls: u32,
    turns_completed: u32,
    input_tokens: u64,
    cached_input_tokens: u64,
    output_tokens: u64,
    last_message: String,
    failed: Option<String>,
    last_error: Option<String>,
}

impl StreamReader for CodexStream {
    fn line(&mut self, line: &str) -> Result<Vec<AgentEvent>, String> {
        let (value, kind) = json_line(line)?;
        let mut events = Vec::new();
        match kind.as_str() {
            "thread.started" => events.push(AgentEvent::Init {
                agent: "codex".to_owned(),
                detail: format!("Codex, thread {}", text_of(&value, "thread_id")),
            }),
            "item.started" => {
                let item = value.get("item").unwrap_or(&Value::Null);
                if text_of(item, "type") == "command_execution" {
                    events.push(AgentEvent::ToolCall {
                        tool: "shell".to_owned(),
                        input: text_of(item, "command"),
                    });
                }
            }
            "item.completed" => {
                let item = value.get("item").unwrap_or(&Value::Null);
                self.completed_item(item, &mut events);
            }
            "turn.completed" => {
                self.turns_completed += 1;
                let usage = value.get("usage");
                let count = |name: &str| {
                    usage
                        .and_then(|usage| usage.get(name))
                        .and_then(Value::as_u64)
                        .unwrap_or(0)
                };
                // Codex counts cached tokens inside its input tokens.
                let cached = count("cached_input_tokens");
                self.input_tokens += count("input_tokens").saturating_sub(cached);
                self.cached_input_tokens += cached;
                self.output_tokens += count("output_tokens");
            }
            "turn.failed" => {
                let message = value
                    .get("error")
                    .map(|error| text_of(error, "message"))
                    .unwrap_or_default();
                events.push(AgentEvent::Error {
                    message: message.clone(),
                });
                self.failed = Some(message);
            }
            "error" => {
                let message = text_of(&value, "message");
                events.push(AgentEvent::Error {
                    message: message.clone(),
                });
                self.last_error = Some(message);
            }
            // turn.started, item.updated and what later versions add: known, not needed.
            _ => {}
        }
        Ok(events)
    }

    fn finish(self: Box<Self>, end: ProcessEnd) -> AgentOutcome {
        let mut outcome = AgentOutcome {
            commands: self.commands,
            ..AgentOutcome::default()
        };
        outcome.usage.input_tokens = self.input_tokens;
        outcome.usage.cached_input_tokens = self.cached_input_tokens;
        outcome.usage.output_tokens = self.output_tokens;
        outcome.usage.turns = self.turns_completed;
        outcome.usage.tool_calls = self.tool_calls;
        outcome.usage.cost_usd = self.prices.map(|prices| prices.cost(&outcome.usage));
        let (summary, left_undone) = parse_handoff(&self.last_message);
        outcome.summary = summary;
        outcome.left_undone = left_undone;
        outcome.failure = if let Some(message) = self.failed {
            Some(format!("Codex's turn failed: {}", excerpt(&message)))
        } else if self.turns_completed == 0 {
            Some(format!(
                "Codex completed no turn: {}{}",
                end.describe("codex"),
                self.last_error
                    .map(|error| format!("; its last error: {}", excerpt(&error)))
                    .unwrap_or_default()
            ))
        } else {
            judge_completed("codex", &self.outside, &end)
        };
        outcome
    }
}

impl CodexStream {
    fn completed_item(&mut self, item: &Value, events: &mut Vec<AgentEvent>) {
        match text_of(item, "type").as_str() {
            "agent_message" => {
                let text = text_of(item, "text");
                self.last_message = text.clone();
                events.push(AgentEvent::Text { text });
            }
            "command_execution" => {
                self.tool_calls += 1;
                let command = text_of(item, "command");
                let output = text_of(item, "aggregated_output");
                let exit_code = item
                    .get("exit_code")
                    .and_then(Value::as_i64)
                    .and_then(|code| i32::try_from(code).ok());
                let denied = text_of(item, "status") == "declined";
                if !command_allowed(unwrap_shell(&command), &self.allowed_commands) {
                    self.outside.push(command.clone());
                }
                self.commands.push(CommandRun {
                    command,
                    exit_code,
                    output_tail: tail(output.as_bytes()),
                    duration_ms: 0,
                });
                events.push(AgentEvent::ToolResult {
                    tool: "shell".to_owned(),
                    output,
                    exit_code,
                    denied,
                });
            }
            "file_change" => {
                self.tool_calls += 1;
                let paths: Vec<String> = item
                    .get("changes")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|change| {
                        format!("{} {}", text_of(change, "kind"), text_of(change, "path"))
                    })
                    .collect();
                events.push(AgentEvent::ToolCall {
                    tool: "apply_patch".to_owned(),
                    input: paths.join(", "),
                });
                events.push(AgentEvent::ToolResult {
                    tool: "apply_patch".to_owned(),
                    output: text_of(item, "status"),
                    exit_code: None,
                    denied: false,
                });
            }
            "mcp_tool_call" => {
                self.tool_calls += 1;
                events.push(AgentEvent::ToolCall {
                    tool: format!("{}.{}", text_of(item, "server"), text_of(item, "tool")),
                    input: item
                        .get("arguments")
                        .map_or_else(String::new, Value::to_string),
                });
            }
            "error" => events.push(AgentEvent::Error {
                message: text_of(item, "message"),
            }),
            _ => {}
        }
    }
}

/// The command inside Codex's shell wrapper: `bash -lc 'cargo test'` is `cargo test`.
fn unwrap_shell(command: &str) -> &str {
    for wrapper in ["/bin/bash -lc ", "bash -lc ", "/bin/sh -c ", "sh -c "] {
        if let Some(inner) = command.strip_prefix(wrapper) {
            let inner = inner.trim();
            for quote in ['\'', '"'] {
                if let Some(unquoted) = inner
                    .strip_prefix(quote)
                    .and_then(|rest| rest.strip_suffix(quote))
                {
                    return unquoted;
                }
            }
            return inner;
        }
    }
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream() -> Box<CodexStream> {
        Box::new(CodexStream {
            allowed_commands: vec!["ls".to_owned(), "cargo test".to_owned()],
            prices: prices_for(Some("gpt-5"), None),
            ..CodexStream::default()
        })
    }

    fn read(lines: &[&str]) -> (Vec<AgentEvent>, AgentOutcome) {
        crate::cli::read_all(stream(), lines)
    }

    #[test]
    fn a_reviewer_runs_in_a_read_only_sandbox() {
        let workspace = tempfile::tempdir().expect("workspace");
        let request = crate::cli::review_request(workspace.path());
        let home = RunHome::create(workspace.path()).expect("home");
        let invocation = Codex::new(AgentProfileSettings::of_kind(
            sortie_settings::AgentKind::Codex,
        ))
        .invocation(&request, &home);
        let args: Vec<String> = invocation
            .args
            .iter()
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect();
        let sandbox = args
            .iter()
            .position(|arg| arg == "--sandbox")
            .expect("sandbox");
        assert_eq!(args[sandbox + 1], "read-only");
    }

    #[test]
    fn a_completed_turn_yields_commands_tokens_dollars_and_the_handoff() {
        let (events, outcome) = read(&[
            r#"{"type":"thread.started","thread_id":"th1"}"#,
            r#"{"type":"turn.started"}"#,
            r#"{"type":"item.started","item":{"id":"i1","type":"command_execution","command":"bash -lc 'cargo test'","status":"in_progress"}}"#,
            r#"{"type":"item.completed","item":{"id":"i1","type":"command_execution","command":"bash -lc 'cargo test'","aggregated_output":"ok","exit_code":0,"status":"completed"}}"#,
            r#"{"type":"item.completed","item":{"id":"i2","type":"file_change","changes":[{"path":"src/a.rs","kind":"add"}],"status":"completed"}}"#,
            r#"{"type":"item.completed","item":{"id":"i3","type":"agent_message","text":"<handoff>\nsummary: Added a.rs\nleft undone: none\n</handoff>"}}"#,
            r#"{"type":"turn.completed","usage":{"input_tokens":1000000,"cached_input_tokens":400000,"output_tokens":100000}}"#,
        ]);
        assert!(matches!(&events[0], AgentEvent::Init { detail, .. } if detail.contains("th1")));
        assert_eq!(outcome.failure, None);
        assert_eq!(outcome.summary, "Added a.rs");
        assert!(outcome.left_undone.is_empty());
        assert_eq!(outcome.commands.len(), 1);
        assert_eq!(outcome.commands[0].exit_code, Some(0));
        assert_eq!(outcome.usage.input_tokens, 600_000);
        assert_eq!(outcome.usage.cached_input_tokens, 400_000);
        assert_eq!(outcome.usage.output_tokens, 100_000);
        assert_eq!(outcome.usage.tool_calls, 2);
        // 0.6 M × $1.25 + 0.4 M × $0.125 + 0.1 M × $10
        let dollars = outcome.usage.cost_usd.expect("gpt-5 has prices");
        assert!((dollars - (0.75 + 0.05 + 1.0)).abs() < 1e-9, "{dollars}");
    }

    #[test]
    fn a_command_outside_the_allowed_ones_fails_the_run() {
        let (_, outcome) = read(&[
            r#"{"type":"item.completed","item":{"id":"i1","type":"command_execution","command":"bash -lc 'curl http://example.com'","aggregated_output":"","exit_code":6,"status":"failed"}}"#,
            r#"{"type":"turn.completed","usage":{"input_tokens":10,"cached_input_tokens":0,"output_tokens":5}}"#,
        ]);
        let failure = outcome.failure.expect("a disallowed command fails the run");
        assert!(failure.contains("curl http://example.com"), "{failure}");
    }

    #[test]
    fn a_failed_turn_or_no_turn_fails() {
        let (_, outcome) = read(&[
            r#"{"type":"error","message":"Reconnecting... 1/5"}"#,
            r#"{"type":"turn.failed","error":{"message":"stream disconnected"}}"#,
        ]);
        assert!(
            outcome
                .failure
                .is_some_and(|failure| failure.contains("stream disconnected"))
        );
        let (_, outcome) = read(&[r#"{"type":"error","message":"unexpected status 401"}"#]);
        let failure = outcome.failure.expect("no turn is a failure");
        assert!(failure.contains("completed no turn"), "{failure}");
        assert!(failure.contains("401"), "{failure}");
    }

    #[test]
    fn shell_wrappers_are_unwrapped() {
        assert_eq!(unwrap_shell("bash -lc 'ls -la'"), "ls -la");
        assert_eq!(unwrap_shell("/bin/bash -lc \"cargo test\""), "cargo test");
        assert_eq!(unwrap_shell("ls"), "ls");
    }
}
