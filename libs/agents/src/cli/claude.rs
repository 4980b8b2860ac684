//! Claude Code, driven as `claude -p PROMPT --output-format stream-json --verbose`.
//!
//! Edits are accepted (`--permission-mode acceptEdits`); the shell is allowed only for the
//! request's command prefixes (`Bash(cargo test:*)`), and the web tools are denied. Turns
//! and dollars are limited by the CLI itself (`--max-turns`, `--max-budget-usd`). The
//! feature's skill is placed where Claude Code looks for skills, in the run's own home.
//! A reviewer gets no edit tools: Edit, Write, MultiEdit and NotebookEdit are denied.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::Path;

use async_trait::async_trait;
use serde_json::Value;
use sortie_model::records::CommandRun;
use sortie_settings::AgentProfileSettings;
use tokio::sync::mpsc;

use super::{
    Invocation, ProcessEnd, RunHome, StreamReader, excerpt, json_line, parse_handoff, place_skill,
    program, read_anthropic_tokens, text_of,
};
use crate::process::tail;
use crate::{Agent, AgentError, AgentEvent, AgentOutcome, AgentRequest, AgentRole};

/// The tools a worker's Claude Code may use besides the shell.
const WORKER_TOOLS: &[&str] = &[
    "Read",
    "Edit",
    "MultiEdit",
    "Write",
    "Glob",
    "Grep",
    "LS",
    "NotebookEdit",
    "TodoWrite",
];

/// The tools a reviewer's Claude Code may use besides the shell: none that writes.
const REVIEWER_TOOLS: &[&str] = &["Read", "Glob", "Grep", "LS", "TodoWrite"];

/// Tools that reach outside the workspace.
const DENIED_TOOLS: &[&str] = &["WebFetch", "WebSearch"];

/// Tools that change files, denied to a reviewer.
const WRITE_TOOLS: &[&str] = &["Edit", "MultiEdit", "Write", "NotebookEdit"];

/// The Claude Code adapter, for one profile.
#[derive(Debug, Clone)]
pub struct ClaudeCode {
    profile: AgentProfileSettings,
}

impl ClaudeCode {
    pub fn new(profile: AgentProfileSettings) -> Self {
        Self { profile }
    }

    /// `mcp_config`: the file [`super::mcp::write_claude_config`] wrote, when the request
    /// has MCP servers.
    fn invocation(&self, request: &AgentRequest, mcp_config: Option<&Path>) -> Invocation {
        let profile = &self.profile;
        let mut args: Vec<OsString> = vec![
            "-p".into(),
            super::prompt::prompt(request).into(),
            "--output-format".into(),
            "stream-json".into(),
            "--verbose".into(),
            "--no-session-persistence".into(),
        ];
        let (permission_mode, tools, denied) = match request.role {
            AgentRole::Worker => ("acceptEdits", WORKER_TOOLS, DENIED_TOOLS.to_vec()),
            AgentRole::Reviewer => (
                "default",
                REVIEWER_TOOLS,
                [DENIED_TOOLS, WRITE_TOOLS].concat(),
            ),
        };
        args.push("--permission-mode".into());
        args.push(permission_mode.into());
        let mut allowed: Vec<String> = tools.iter().map(|tool| (*tool).to_owned()).collect();
        allowed.extend(
            request
                .allowed_commands
                .iter()
                .map(|prefix| format!("Bash({prefix}:*)")),
        );
        allowed.extend(super::mcp::claude_allowed_tools(&request.mcp_servers));
        args.push("--allowedTools".into());
        args.push(allowed.join(",").into());
        args.push("--disallowedTools".into());
        args.push(denied.join(",").into());
        if let Some(config) = mcp_config {
            args.push("--mcp-config".into());
            args.push(config.into());
        }
        // Only the request's servers, never one from a file in the workspace.
        args.push("--strict-mcp-config".into());
        if let Some(turns) = request.max_turns.or(profile.max_turns) {
            args.push("--max-turns".into());
            args.push(turns.to_string().into());
        }
        if let Some(dollars) = profile.max_budget_usd {
            args.push("--max-budget-usd".into());
            args.push(dollars.to_string().into());
        }
        if let Some(model) = &profile.model {
            args.push("--model".into());
            args.push(model.into());
        }
        args.extend(profile.args.iter().map(OsString::from));

        let mut env = profile.env.clone();
        for (name, value) in [
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
            ("DISABLE_TELEMETRY", "1"),
            ("DISABLE_AUTOUPDATER", "1"),
            ("DISABLE_ERROR_REPORTING", "1"),
        ] {
            env.entry(name.to_owned())
                .or_insert_with(|| value.to_owned());
        }
        if let Some(url) = &profile.base_url {
            env.insert("ANTHROPIC_BASE_URL".to_owned(), url.clone());
        }
        if let Some(key) = &profile.api_key {
            env.insert(
                "ANTHROPIC_API_KEY".to_owned(),
                key.expose_secret().to_owned(),
            );
        }
        Invocation {
            program: program(profile.command.as_deref(), "claude"),
            args,
            env,
        }
    }
}

#[async_trait]
impl Agent for ClaudeCode {
    fn name(&self) -> &str {
        "claude-code"
    }

    async fn run(
        &self,
        request: &AgentRequest,
        events: mpsc::UnboundedSender<AgentEvent>,
    ) -> Result<AgentOutcome, AgentError> {
        let home = RunHome::create(&request.workspace)?;
        if let Some(skill) = &request.skill {
            // Claude Code finds user skills in `~/.claude/skills/<name>/SKILL.md`.
            place_skill(&home.path().join(".claude/skills"), skill)?;
        }
        let mcp_config = super::mcp::write_claude_config(home.path(), &request.mcp_servers)?;
        let invocation = self.invocation(request, mcp_config.as_deref());
        let reader = Box::new(ClaudeStream::default());
        super::run("claude-code", invocation, &home, request, reader, &events).await
    }
}

/// What Claude Code's `stream-json` output has said so far.
#[derive(Debug, Default)]
struct ClaudeStream {
    /// Tool calls by id: the tool's name and, for the shell, its command.
    calls: HashMap<String, (String, Option<String>)>,
    commands: Vec<CommandRun>,
    tool_calls: u32,
    denied_calls: Vec<String>,
    last_text: String,
    result: Option<Value>,
}

impl StreamReader for ClaudeStream {
    fn line(&mut self, line: &str) -> Result<Vec<AgentEvent>, String> {
        let (value, kind) = json_line(line)?;
        let mut events = Vec::new();
        match kind.as_str() {
            "system" if value.get("subtype").and_then(Value::as_str) == Some("init") => {
                events.push(AgentEvent::Init {
                    agent: "claude-code".to_owned(),
                    detail: format!(
                        "Claude Code, model {}, session {}",
                        text_of(&value, "model"),
                        text_of(&value, "session_id")
                    ),
                });
            }
            "assistant" => {
                for block in content_blocks(&value) {
                    match block.get("type").and_then(Value::as_str) {
                        Some("text") => {
                            let text = text_of(block, "text");
                            self.last_text = text.clone();
                            events.push(AgentEvent::Text { text });
                        }
                        Some("tool_use") => {
                            self.tool_calls += 1;
                            let tool = text_of(block, "name");
                            let input = block.get("input").cloned().unwrap_or(Value::Null);
                            let command = (tool == "Bash")
                                .then(|| input.get("command").and_then(Value::as_str))
                                .flatten()
                                .map(str::to_owned);
                            self.calls
                                .insert(text_of(block, "id"), (tool.clone(), command.clone()));
                            events.push(AgentEvent::ToolCall {
                                tool,
                                input: command.unwrap_or_else(|| input.to_string()),
                            });
                        }
                        _ => {}
                    }
                }
            }
            "user" => {
                for block in content_blocks(&value) {
                    if block.get("type").and_then(Value::as_str) != Some("tool_result") {
                        continue;
                    }
                    let (tool, command) = self
                        .calls
                        .get(&text_of(block, "tool_use_id"))
                        .cloned()
                        .unwrap_or_else(|| ("unknown".to_owned(), None));
                    let output = tool_result_text(block.get("content"));
                    let is_error = block
                        .get("is_error")
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    let denied = is_error && mentions_permission(&output);
                    let exit_code = command.as_ref().map(|_| {
                        if is_error {
                            exit_code_in(&output).unwrap_or(1)
                        } else {
                            0
                        }
                    });
                    if let Some(command) = command {
                        self.commands.push(CommandRun {
                            command,
                            exit_code: (!denied).then_some(exit_code).flatten(),
                            output_tail: tail(output.as_bytes()),
                            duration_ms: 0,
                        });
                    }
                    events.push(AgentEvent::ToolResult {
                        tool,
                        output,
                        exit_code,
                        denied,
                    });
                }
            }
            "result" => {
                for denial in value
                    .get("permission_denials")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let tool = text_of(denial, "tool_name");
                    let input = denial
                        .get("tool_input")
                        .and_then(|input| input.get("command"))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .unwrap_or_else(|| {
                            denial
                                .get("tool_input")
                                .map_or_else(String::new, Value::to_string)
                        });
                    self.denied_calls.push(format!("{tool}({input})"));
                }
                events.push(AgentEvent::Result {
                    summary: text_of(&value, "result"),
                });
                self.result = Some(value);
            }
            // Other system messages, partial messages and rate-limit notices: known, not
            // needed.
            _ => {}
        }
        Ok(events)
    }

    fn finish(self: Box<Self>, end: ProcessEnd) -> AgentOutcome {
        let mut outcome = AgentOutcome {
            commands: self.commands,
            ..AgentOutcome::default()
        };
        outcome.usage.tool_calls = self.tool_calls;
        let Some(result) = self.result else {
            outcome.summary = self.last_text;
            outcome.failure = Some(format!(
                "Claude Code printed no result: {}",
                end.describe("claude")
            ));
            return outcome;
        };
        read_anthropic_tokens(result.get("usage"), &mut outcome.usage);
        outcome.usage.cost_usd = result.get("total_cost_usd").and_then(Value::as_f64);
        outcome.usage.turns = result
            .get("num_turns")
            .and_then(Value::as_u64)
            .map_or(0, |turns| u32::try_from(turns).unwrap_or(u32::MAX));
        let text = text_of(&result, "result");
        let (summary, left_undone) = parse_handoff(&text);
        outcome.summary = summary;
        outcome.left_undone = left_undone;
        let subtype = text_of(&result, "subtype");
        let is_error = result
            .get("is_error")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        outcome.failure = if is_error || subtype != "success" {
            Some(format!(
                "Claude Code ended with {subtype}{}",
                if text.trim().is_empty() {
                    String::new()
                } else {
                    format!(": {}", excerpt(&text))
                }
            ))
        } else if !self.denied_calls.is_empty() {
            Some(format!(
                "{} tool call(s) were denied: {}",
                self.denied_calls.len(),
                self.denied_calls.join(", ")
            ))
        } else if end.code.is_some_and(|code| code != 0) {
            Some(format!(
                "Claude Code reported success but {}",
                end.describe("claude")
            ))
        } else {
            None
        };
        outcome
    }
}

fn content_blocks(value: &Value) -> impl Iterator<Item = &Value> {
    value
        .get("message")
        .and_then(|message| message.get("content"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// A tool result's content: a string, or a list of text blocks.
fn tool_result_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(blocks)) => blocks
            .iter()
            .filter_map(|block| block.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn mentions_permission(output: &str) -> bool {
    let output = output.to_lowercase();
    ["permission", "not allowed", "requires approval"]
        .iter()
        .any(|phrase| output.contains(phrase))
}

/// The exit code in a failed shell result (`Exit code 2`).
fn exit_code_in(output: &str) -> Option<i32> {
    let rest = &output[output.find("Exit code ")? + "Exit code ".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(lines: &[&str]) -> (Vec<AgentEvent>, AgentOutcome) {
        crate::cli::read_all(Box::new(ClaudeStream::default()), lines)
    }

    #[test]
    fn a_reviewer_is_denied_the_edit_tools() {
        let request = crate::cli::review_request(std::path::Path::new("/tmp/checkout"));
        let invocation = ClaudeCode::new(AgentProfileSettings::of_kind(
            sortie_settings::AgentKind::ClaudeCode,
        ))
        .invocation(&request, None);
        let args: Vec<String> = invocation
            .args
            .iter()
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect();
        let after = |flag: &str| {
            let index = args.iter().position(|arg| arg == flag).expect(flag);
            args[index + 1].clone()
        };
        assert_eq!(after("--permission-mode"), "default");
        let allowed = after("--allowedTools");
        assert_eq!(allowed, "Read,Glob,Grep,LS,TodoWrite,Bash(cat:*)");
        let denied = after("--disallowedTools");
        for tool in ["Edit", "MultiEdit", "Write", "NotebookEdit", "WebFetch"] {
            assert!(denied.split(',').any(|name| name == tool), "{denied}");
        }
        assert!(after("-p").contains("<verdict>pass</verdict>"));
    }

    const INIT: &str = r#"{"type":"system","subtype":"init","model":"claude-sonnet-4-5","session_id":"s1","tools":["Bash","Write"]}"#;

    #[test]
    fn a_successful_run_yields_events_usage_commands_and_the_handoff() {
        let (events, outcome) = read(&[
            INIT,
            r#"{"type":"assistant","message":{"content":[{"type":"text","text":"Running the tests."},{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"cargo test"}}]}}"#,
            r#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t1","content":"Exit code 101\ntest failed","is_error":true}]}}"#,
            r#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"t2","name":"Write","input":{"file_path":"src/a.rs","content":"x"}}]}}"#,
            r#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t2","content":[{"type":"text","text":"File created"}]}]}}"#,
            r#"{"type":"result","subtype":"success","is_error":false,"num_turns":3,"result":"Done.\n<handoff>\nsummary: Wrote src/a.rs.\nleft undone:\n- the docs\n</handoff>","total_cost_usd":0.0125,"usage":{"input_tokens":100,"cache_creation_input_tokens":20,"cache_read_input_tokens":300,"output_tokens":40},"permission_denials":[]}"#,
        ]);
        assert!(
            matches!(&events[0], AgentEvent::Init { detail, .. } if detail.contains("claude-sonnet-4-5"))
        );
        assert!(events.contains(&AgentEvent::ToolCall {
            tool: "Bash".to_owned(),
            input: "cargo test".to_owned()
        }));
        assert!(events.iter().any(|event| matches!(
            event,
            AgentEvent::ToolResult { tool, exit_code: Some(101), denied: false, .. } if tool == "Bash"
        )));
        assert_eq!(outcome.failure, None);
        assert_eq!(outcome.summary, "Wrote src/a.rs.");
        assert_eq!(outcome.left_undone, ["the docs"]);
        assert_eq!(outcome.commands.len(), 1);
        assert_eq!(outcome.commands[0].exit_code, Some(101));
        assert_eq!(outcome.usage.input_tokens, 120);
        assert_eq!(outcome.usage.cached_input_tokens, 300);
        assert_eq!(outcome.usage.output_tokens, 40);
        assert_eq!(outcome.usage.cost_usd, Some(0.0125));
        assert_eq!(outcome.usage.turns, 3);
        assert_eq!(outcome.usage.tool_calls, 2);
    }

    #[test]
    fn denied_tool_calls_fail_a_run_that_says_it_succeeded() {
        let (events, outcome) = read(&[
            INIT,
            r#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"curl http://example.com"}}]}}"#,
            r#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t1","content":"Claude requested permissions to use Bash, but you haven't granted it yet.","is_error":true}]}}"#,
            r#"{"type":"result","subtype":"success","is_error":false,"num_turns":2,"result":"I could not fetch it.","permission_denials":[{"tool_name":"Bash","tool_use_id":"t1","tool_input":{"command":"curl http://example.com"}}]}"#,
        ]);
        assert!(
            events
                .iter()
                .any(|event| matches!(event, AgentEvent::ToolResult { denied: true, .. }))
        );
        let failure = outcome.failure.expect("a denied call fails the run");
        assert!(
            failure.contains("Bash(curl http://example.com)"),
            "{failure}"
        );
    }

    #[test]
    fn an_error_result_or_no_result_fails() {
        let (_, outcome) = read(&[
            INIT,
            r#"{"type":"result","subtype":"error_max_turns","is_error":true,"num_turns":5}"#,
        ]);
        assert!(
            outcome
                .failure
                .is_some_and(|failure| failure.contains("error_max_turns"))
        );
        let (_, outcome) = read(&[INIT]);
        assert!(
            outcome
                .failure
                .is_some_and(|failure| failure.contains("printed no result"))
        );
    }

    #[test]
    fn lines_that_are_not_the_stream_are_refused() {
        let mut stream = ClaudeStream::default();
        assert!(stream.line("Welcome to Claude Code!").is_err());
        assert!(stream.line(r#"{"no_type":1}"#).is_err());
        assert!(stream.line(r#"{"type":"rate_limit_event"}"#).is_ok());
    }
}
