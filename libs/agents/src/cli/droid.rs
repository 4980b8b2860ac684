//! Factory's droid CLI, driven as `droid exec -o stream-json`.
//!
//! A profile with a `base_url` reaches its endpoint as a custom model of droid's own
//! (`customModels` in `~/.factory/settings.json`, in the run's home, selected with
//! `-m custom:<model>`); droid then needs no Factory login. The key stays out of the file:
//! the entry names a variable that only the CLI's environment holds.
//!
//! A worker runs with `--auto medium` (edits, builds and tests); a reviewer with droid's
//! read-only default, where its edit tools are not permitted. Droid's autonomy levels
//! trust the risk the model itself declares for a command, so Sortie judges commands
//! afterwards: a run that ran one outside the request's allowed prefixes fails, naming
//! them, and so does one with a tool call droid refused. Droid reports tokens, not
//! dollars; dollars come from the price table (see [`crate::prices`]).
//!
//! The request's MCP servers go in `~/.factory/mcp.json` (Claude Code's shape), and the
//! settings' `mcpPolicy` allows those names only, so a `.factory/mcp.json` in the
//! workspace starts nothing.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::Path;

use async_trait::async_trait;
use serde_json::{Value, json};
use sortie_model::mcp::McpServer;
use sortie_model::records::CommandRun;
use sortie_settings::AgentProfileSettings;
use tokio::sync::mpsc;

use super::{
    Invocation, ProcessEnd, RunHome, StreamReader, command_allowed, excerpt, json_line,
    judge_completed, parse_handoff, place_skill, program, read_anthropic_tokens, text_of,
};
use crate::prices::{TokenPrices, prices_for};
use crate::process::tail;
use crate::{Agent, AgentError, AgentEvent, AgentOutcome, AgentRequest, AgentRole};

/// The variable that carries the profile's key to droid's custom model.
const KEY_VARIABLE: &str = "SORTIE_DROID_API_KEY";

/// The model of a custom-model entry when the profile names none.
const DEFAULT_CUSTOM_MODEL: &str = "default";

/// The output tokens droid may ask a custom model for in one turn.
const MAX_OUTPUT_TOKENS: u32 = 16_384;

/// The droid adapter, for one profile.
#[derive(Debug, Clone)]
pub struct Droid {
    profile: AgentProfileSettings,
}

impl Droid {
    pub fn new(profile: AgentProfileSettings) -> Self {
        Self { profile }
    }

    /// The model droid is told to run: the profile's custom model when it has an
    /// endpoint, else the profile's model from Factory's list, else droid's default.
    fn model_argument(&self) -> Option<String> {
        let profile = &self.profile;
        if profile.base_url.is_some() {
            let model = profile.model.as_deref().unwrap_or(DEFAULT_CUSTOM_MODEL);
            return Some(format!("custom:{model}"));
        }
        profile.model.clone()
    }

    fn invocation(&self, request: &AgentRequest) -> Invocation {
        let profile = &self.profile;
        let mut args: Vec<OsString> = vec![
            "exec".into(),
            "--output-format".into(),
            "stream-json".into(),
            "--cwd".into(),
            request.workspace.clone().into_os_string(),
        ];
        if request.role == AgentRole::Worker {
            args.push("--auto".into());
            args.push("medium".into());
        }
        if let Some(model) = self.model_argument() {
            args.push("--model".into());
            args.push(model.into());
        }
        args.extend(profile.args.iter().map(OsString::from));
        args.push(super::prompt::prompt(request).into());
        let mut env = profile.env.clone();
        if let Some(key) = &profile.api_key {
            env.insert(KEY_VARIABLE.to_owned(), key.expose_secret().to_owned());
        }
        Invocation {
            program: program(profile.command.as_deref(), "droid"),
            args,
            env,
        }
    }

    /// Droid's user settings: the profile's endpoint as its one custom model, and an MCP
    /// policy that allows only the request's servers (droid would otherwise start the
    /// servers of a `.factory/mcp.json` in the workspace).
    fn settings(&self, servers: &[McpServer]) -> Value {
        let profile = &self.profile;
        let names: Vec<&str> = servers.iter().map(|server| server.name.as_str()).collect();
        let mcp_policy = json!({ "enabled": true, "allowlist": names });
        let Some(base_url) = &profile.base_url else {
            return json!({ "mcpPolicy": mcp_policy });
        };
        let model = profile.model.as_deref().unwrap_or(DEFAULT_CUSTOM_MODEL);
        let api_key = if profile.api_key.is_some() {
            format!("${{{KEY_VARIABLE}}}")
        } else {
            // Droid will not start a custom model without a key; an endpoint that needs
            // none accepts any.
            "none".to_owned()
        };
        json!({
            "mcpPolicy": mcp_policy,
            "customModels": [{
                "model": model,
                "displayName": model,
                "baseUrl": base_url,
                "apiKey": api_key,
                "provider": provider(profile.protocol.as_deref()),
                "maxOutputTokens": MAX_OUTPUT_TOKENS,
            }],
        })
    }

    /// Droid's configuration in the run's home: settings, MCP servers and the skill.
    fn configure(&self, request: &AgentRequest, home: &Path) -> Result<(), AgentError> {
        let factory = home.join(".factory");
        let write = |name: &str, value: &Value| {
            std::fs::create_dir_all(&factory)
                .and_then(|()| {
                    std::fs::write(
                        factory.join(name),
                        serde_json::to_string_pretty(value).unwrap_or_default(),
                    )
                })
                .map_err(|error| AgentError::Io(format!("writing droid's {name}: {error}")))
        };
        write("settings.json", &self.settings(&request.mcp_servers))?;
        // Droid's user MCP file has Claude Code's shape: `{"mcpServers": {...}}`.
        write("mcp.json", &super::mcp::claude_config(&request.mcp_servers))?;
        if let Some(skill) = &request.skill {
            // Droid finds user skills in `~/.factory/skills/<name>/SKILL.md`.
            place_skill(&factory.join("skills"), skill)?;
        }
        Ok(())
    }
}

/// Droid's provider for a profile's `protocol`: Anthropic Messages, OpenAI Responses, or
/// (by default) any OpenAI-compatible Chat Completions endpoint.
fn provider(protocol: Option<&str>) -> &'static str {
    match protocol {
        Some("anthropic") => "anthropic",
        Some("openai_responses") => "openai",
        _ => "generic-chat-completion-api",
    }
}

#[async_trait]
impl Agent for Droid {
    fn name(&self) -> &str {
        "droid"
    }

    async fn run(
        &self,
        request: &AgentRequest,
        events: mpsc::UnboundedSender<AgentEvent>,
    ) -> Result<AgentOutcome, AgentError> {
        let home = RunHome::create(&request.workspace)?;
        self.configure(request, home.path())?;
        let invocation = self.invocation(request);
        let reader = Box::new(DroidStream {
            allowed_commands: request.allowed_commands.clone(),
            prices: prices_for(self.profile.model.as_deref(), self.profile.prices),
            ..DroidStream::default()
        });
        super::run("droid", invocation, &home, request, reader, &events).await
    }
}

/// What droid's `stream-json` output has said so far.
#[derive(Debug, Default)]
struct DroidStream {
    allowed_commands: Vec<String>,
    prices: Option<TokenPrices>,
    /// Tool calls by id: the tool's name and, for the shell, its command.
    calls: HashMap<String, (String, Option<String>)>,
    commands: Vec<CommandRun>,
    outside: Vec<String>,
    denied_calls: Vec<String>,
    tool_calls: u32,
    last_text: String,
    last_error: Option<String>,
    completion: Option<Value>,
}

impl StreamReader for DroidStream {
    fn line(&mut self, line: &str) -> Result<Vec<AgentEvent>, String> {
        let (value, kind) = json_line(line)?;
        let mut events = Vec::new();
        match kind.as_str() {
            "system" if text_of(&value, "subtype") == "init" => events.push(AgentEvent::Init {
                agent: "droid".to_owned(),
                detail: format!(
                    "droid, model {}, session {}",
                    text_of(&value, "model"),
                    text_of(&value, "session_id")
                ),
            }),
            "message" if text_of(&value, "role") == "assistant" => {
                let text = text_of(&value, "text");
                self.last_text = text.clone();
                events.push(AgentEvent::Text { text });
            }
            "tool_call" => {
                self.tool_calls += 1;
                let tool = text_of(&value, "toolName");
                let parameters = value.get("parameters").cloned().unwrap_or(Value::Null);
                let command = (tool == "Execute")
                    .then(|| parameters.get("command").and_then(Value::as_str))
                    .flatten()
                    .map(str::to_owned);
                if let Some(command) = &command
                    && !command_allowed(command, &self.allowed_commands)
                {
                    self.outside.push(command.clone());
                }
                self.calls
                    .insert(text_of(&value, "id"), (tool.clone(), command.clone()));
                events.push(AgentEvent::ToolCall {
                    tool,
                    input: command.unwrap_or_else(|| parameters.to_string()),
                });
            }
            "tool_result" => events.push(self.tool_result(&value)),
            "error" => {
                let message = text_of(&value, "message");
                if mentions_permission(&message) && self.denied_calls.is_empty() {
                    self.denied_calls.push(excerpt(&message));
                }
                self.last_error = Some(message.clone());
                events.push(AgentEvent::Error { message });
            }
            "completion" => {
                events.push(AgentEvent::Result {
                    summary: text_of(&value, "finalText"),
                });
                self.completion = Some(value);
            }
            // The user's message and what later versions add: known, not needed.
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
        let Some(completion) = self.completion else {
            outcome.summary = self.last_text;
            outcome.failure = Some(format!(
                "droid did not complete: {}{}{}",
                end.describe("droid"),
                self.last_error
                    .map(|error| format!("; its last error: {}", excerpt(&error)))
                    .unwrap_or_default(),
                if self.denied_calls.is_empty() {
                    String::new()
                } else {
                    format!("; {}", denied_text(&self.denied_calls))
                },
            ));
            return outcome;
        };
        read_anthropic_tokens(completion.get("usage"), &mut outcome.usage);
        outcome.usage.turns = completion
            .get("numTurns")
            .and_then(Value::as_u64)
            .map_or(0, |turns| u32::try_from(turns).unwrap_or(u32::MAX));
        outcome.usage.cost_usd = self.prices.map(|prices| prices.cost(&outcome.usage));
        let text = text_of(&completion, "finalText");
        let (summary, left_undone) = parse_handoff(&text);
        outcome.summary = summary;
        outcome.left_undone = left_undone;
        outcome.failure = if text.trim().is_empty() {
            Some("droid completed without a final answer".to_owned())
        } else if !self.denied_calls.is_empty() {
            Some(format!(
                "droid completed, but {}",
                denied_text(&self.denied_calls)
            ))
        } else {
            judge_completed("droid", &self.outside, &end)
        };
        outcome
    }
}

impl DroidStream {
    fn tool_result(&mut self, value: &Value) -> AgentEvent {
        let (tool, command) = self
            .calls
            .get(&text_of(value, "id"))
            .cloned()
            .unwrap_or_else(|| (text_of(value, "toolId"), None));
        let is_error = value
            .get("isError")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let output = if is_error {
            value
                .get("error")
                .map(|error| text_of(error, "message"))
                .unwrap_or_default()
        } else {
            match value.get("value") {
                Some(Value::String(text)) => text.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            }
        };
        let denied = is_error && mentions_permission(&output);
        if denied {
            self.denied_calls.push(format!(
                "{tool}({})",
                command.clone().unwrap_or_else(|| excerpt(&output))
            ));
        }
        let exit_code = command
            .as_ref()
            .map(|_| exit_code_in(&output).unwrap_or(if is_error { 1 } else { 0 }));
        if let Some(command) = command {
            self.commands.push(CommandRun {
                command,
                exit_code: (!denied).then_some(exit_code).flatten(),
                output_tail: tail(output.as_bytes()),
                duration_ms: 0,
            });
        }
        AgentEvent::ToolResult {
            tool,
            output,
            exit_code,
            denied,
        }
    }
}

/// "it refused N tool call(s): ..." for a failure message.
fn denied_text(denied: &[String]) -> String {
    format!(
        "it refused {} tool call(s): {}",
        denied.len(),
        denied.join(", ")
    )
}

/// Whether droid's message says a tool or a command was not permitted.
fn mentions_permission(message: &str) -> bool {
    let message = message.to_lowercase();
    message.contains("not permitted") || message.contains("insufficient permission")
}

/// The code in droid's `[Process exited with code N]`.
fn exit_code_in(output: &str) -> Option<i32> {
    let (_, rest) = output.rsplit_once("[Process exited with code ")?;
    rest.split(']').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sortie_settings::{AgentKind, Secret};

    fn stream() -> Box<DroidStream> {
        Box::new(DroidStream {
            allowed_commands: vec!["ls".to_owned(), "cargo test".to_owned()],
            prices: prices_for(Some("gpt-5"), None),
            ..DroidStream::default()
        })
    }

    fn read(lines: &[&str]) -> (Vec<AgentEvent>, AgentOutcome) {
        crate::cli::read_all(stream(), lines)
    }

    fn args_of(invocation: &Invocation) -> Vec<String> {
        invocation
            .args
            .iter()
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect()
    }

    fn endpoint_profile() -> AgentProfileSettings {
        let mut profile = AgentProfileSettings::of_kind(AgentKind::Droid);
        profile.base_url = Some("http://127.0.0.1:9/v1".to_owned());
        profile.model = Some("gpt-5".to_owned());
        profile.api_key = Some(Secret::new("sk-test"));
        profile
    }

    #[test]
    fn a_worker_edits_with_medium_autonomy_and_a_reviewer_stays_read_only() {
        let workspace = tempfile::tempdir().expect("workspace");
        let droid = Droid::new(endpoint_profile());
        let review = args_of(&droid.invocation(&crate::cli::review_request(workspace.path())));
        assert!(!review.iter().any(|arg| arg == "--auto"), "{review:?}");
        let mut work = crate::cli::review_request(workspace.path());
        work.role = AgentRole::Worker;
        let work = args_of(&droid.invocation(&work));
        let auto = work.iter().position(|arg| arg == "--auto").expect("--auto");
        assert_eq!(work[auto + 1], "medium");
        let model = work
            .iter()
            .position(|arg| arg == "--model")
            .expect("--model");
        assert_eq!(work[model + 1], "custom:gpt-5");
    }

    #[test]
    fn the_endpoint_is_a_custom_model_whose_key_stays_in_the_environment() {
        let workspace = tempfile::tempdir().expect("workspace");
        let droid = Droid::new(endpoint_profile());
        let settings = droid.settings(&[]);
        let entry = &settings["customModels"][0];
        assert_eq!(entry["model"], "gpt-5");
        assert_eq!(entry["baseUrl"], "http://127.0.0.1:9/v1");
        assert_eq!(entry["provider"], "generic-chat-completion-api");
        assert_eq!(entry["apiKey"], format!("${{{KEY_VARIABLE}}}"));
        assert!(!settings.to_string().contains("sk-test"));
        assert_eq!(
            settings["mcpPolicy"],
            json!({"enabled": true, "allowlist": []})
        );
        let invocation = droid.invocation(&crate::cli::review_request(workspace.path()));
        assert_eq!(invocation.env[KEY_VARIABLE], "sk-test");
        assert_eq!(provider(Some("anthropic")), "anthropic");
        assert_eq!(provider(Some("openai_responses")), "openai");
    }

    #[test]
    fn a_completed_run_yields_events_commands_tokens_dollars_and_the_handoff() {
        let (events, outcome) = read(&[
            r#"{"type":"system","subtype":"init","cwd":"/ws","session_id":"s1","tools":["Read"],"model":"custom:gpt-5-0"}"#,
            r#"{"type":"message","role":"user","id":"m0","text":"do it","session_id":"s1"}"#,
            r#"{"type":"tool_call","id":"c1","toolId":"Create","toolName":"Create","parameters":{"file_path":"/ws/a.txt","content":"a"},"session_id":"s1"}"#,
            r#"{"type":"tool_result","id":"c1","toolId":"Create","isError":false,"value":"{\"success\":true}","session_id":"s1"}"#,
            r#"{"type":"tool_call","id":"c2","toolId":"Execute","toolName":"Execute","parameters":{"command":"cargo test","riskLevel":"medium"},"session_id":"s1"}"#,
            r#"{"type":"tool_result","id":"c2","toolId":"Execute","isError":true,"error":{"type":"tool_error","message":"Error: Command failed (exit code: 101)\n\n[Process exited with code 101]"},"session_id":"s1"}"#,
            r#"{"type":"message","role":"assistant","id":"m1","text":"<handoff>\nsummary: Added a.txt\nleft undone: none\n</handoff>","session_id":"s1"}"#,
            r#"{"type":"completion","finalText":"<handoff>\nsummary: Added a.txt\nleft undone: none\n</handoff>","numTurns":3,"durationMs":200,"session_id":"s1","usage":{"input_tokens":1000000,"output_tokens":100000,"cache_read_input_tokens":0,"cache_creation_input_tokens":0,"factory_credits":0}}"#,
        ]);
        assert!(matches!(&events[0], AgentEvent::Init { detail, .. } if detail.contains("s1")));
        assert_eq!(outcome.failure, None);
        assert_eq!(outcome.summary, "Added a.txt");
        assert!(outcome.left_undone.is_empty());
        assert_eq!(outcome.commands.len(), 1);
        assert_eq!(outcome.commands[0].command, "cargo test");
        assert_eq!(outcome.commands[0].exit_code, Some(101));
        assert_eq!(outcome.usage.input_tokens, 1_000_000);
        assert_eq!(outcome.usage.output_tokens, 100_000);
        assert_eq!(outcome.usage.turns, 3);
        assert_eq!(outcome.usage.tool_calls, 2);
        // 1 M × $1.25 + 0.1 M × $10
        let dollars = outcome.usage.cost_usd.expect("gpt-5 has prices");
        assert!((dollars - 2.25).abs() < 1e-9, "{dollars}");
    }

    #[test]
    fn a_refused_tool_call_fails_a_run_that_completed() {
        let (events, outcome) = read(&[
            r#"{"type":"tool_call","id":"c1","toolId":"Create","toolName":"Create","parameters":{"file_path":"/ws/a.txt","content":"a"}}"#,
            r#"{"type":"tool_result","id":"c1","toolId":"Create","isError":true,"error":{"type":"tool_error","message":"Error: Tool Create is not permitted in this exec session."}}"#,
            r#"{"type":"completion","finalText":"Done.","numTurns":2,"usage":{"input_tokens":10,"output_tokens":5}}"#,
        ]);
        assert!(events.iter().any(
            |event| matches!(event, AgentEvent::ToolResult { denied: true, tool, .. } if tool == "Create")
        ));
        let failure = outcome.failure.expect("a refused call fails the run");
        assert!(failure.contains("refused 1 tool call"), "{failure}");
    }

    #[test]
    fn a_command_outside_the_allowed_ones_fails_the_run() {
        let (_, outcome) = read(&[
            r#"{"type":"tool_call","id":"c1","toolId":"Execute","toolName":"Execute","parameters":{"command":"curl http://example.com","riskLevel":"low"}}"#,
            r#"{"type":"tool_result","id":"c1","toolId":"Execute","isError":false,"value":"Command completed successfully\n\n[Process exited with code 0]"}"#,
            r#"{"type":"completion","finalText":"Done.","numTurns":2,"usage":{"input_tokens":10,"output_tokens":5}}"#,
        ]);
        let failure = outcome.failure.expect("a disallowed command fails the run");
        assert!(failure.contains("curl http://example.com"), "{failure}");
    }

    #[test]
    fn no_completion_or_an_empty_one_fails() {
        let (_, outcome) = read(&[
            r#"{"type":"error","source":"cli","message":"Exec ended early: insufficient permission to proceed. Re-run with --auto medium or --auto high."}"#,
        ]);
        let failure = outcome.failure.expect("no completion is a failure");
        assert!(failure.contains("did not complete"), "{failure}");
        assert!(failure.contains("insufficient permission"), "{failure}");
        let (_, outcome) = read(&[
            r#"{"type":"completion","finalText":"","numTurns":1,"usage":{"input_tokens":10,"output_tokens":0}}"#,
        ]);
        let failure = outcome.failure.expect("an empty completion is a failure");
        assert!(failure.contains("without a final answer"), "{failure}");
    }

    #[test]
    fn exit_codes_are_read_from_the_shell_output() {
        assert_eq!(exit_code_in("ok\n\n[Process exited with code 0]"), Some(0));
        assert_eq!(exit_code_in("boom\n[Process exited with code 2]"), Some(2));
        assert_eq!(exit_code_in("no code"), None);
    }
}
