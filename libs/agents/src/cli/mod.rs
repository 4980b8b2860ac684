//! Coding-agent CLIs, driven as child processes: Claude Code ([`claude::ClaudeCode`]),
//! Codex ([`codex::Codex`]), droid ([`droid::Droid`]), and any agent that speaks the Agent
//! Client Protocol ([`acp`], a JSON-RPC client of its own over the same process start).
//!
//! Each run starts the CLI in the workspace, in a process group of its own, with a home
//! directory of its own (never the user's configuration). The JSON-lines adapters read
//! the stream it prints one line at a time. An adapter's [`StreamReader`] turns each line into
//! normalised [`AgentEvent`]s and, once the stream ends, into the run's outcome. The run
//! is killed, with everything it started, at the request's time limit.
//!
//! A CLI's exit code alone never makes a run a success: a run without a final result,
//! whose result says it failed, or whose tool calls were denied, fails with that reason;
//! a run that changed nothing is failed by the worker.

pub mod acp;
pub mod claude;
pub mod codex;
pub mod droid;
mod handoff;
mod mcp;
mod prompt;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use sortie_model::plan::SkillDefinition;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::process::{ProcessGroup, tail};
use crate::{AgentError, AgentEvent, AgentOutcome, AgentRequest, AgentUsage};

pub use handoff::{HANDOFF_FORMAT, parse_handoff};

/// Variables a CLI keeps from the worker's environment: what finds programs, names the
/// locale, reaches the network through a proxy, and the vendors' own keys and endpoints.
/// Everything else (the worker's database URL, its tokens) stays out.
const INHERITED_VARIABLES: &[&str] = &[
    "PATH",
    "LANG",
    "LC_ALL",
    "TZ",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
];

/// How many lines that are not the CLI's JSON a run may print before it is stopped.
pub(crate) const GARBAGE_LINES_ALLOWED: usize = 20;

/// One CLI run: the program, its arguments and its environment.
#[derive(Debug)]
pub(crate) struct Invocation {
    pub program: String,
    pub args: Vec<OsString>,
    /// Set on top of the inherited variables; `HOME` is always the run's own.
    pub env: BTreeMap<String, String>,
}

/// Reads one CLI's JSON stream.
pub(crate) trait StreamReader: Send {
    /// The events one line of the stream means. `Err` when the line is not what the CLI
    /// prints (not JSON, or JSON of no known shape).
    fn line(&mut self, line: &str) -> Result<Vec<AgentEvent>, String>;

    /// The run's outcome once its stream has ended, given how the process ended.
    fn finish(self: Box<Self>, exit: ProcessEnd) -> AgentOutcome;
}

/// How the CLI's process ended.
#[derive(Debug)]
pub(crate) struct ProcessEnd {
    /// The exit code; none when a signal ended it.
    pub code: Option<i32>,
    /// The end of what it printed on standard error.
    pub stderr_tail: String,
    /// The first lines it printed that were not its JSON stream.
    pub garbage: Vec<String>,
}

impl ProcessEnd {
    /// Why a stream that ended without a result ended, for the failure message.
    pub(crate) fn describe(&self, program: &str) -> String {
        let mut text = match self.code {
            Some(code) => format!("{program} exited with code {code}"),
            None => format!("{program} was ended by a signal"),
        };
        if let Some(first) = self.garbage.first() {
            text.push_str(&format!(
                "; it printed {} line(s) that are not its JSON stream, the first: {}",
                self.garbage.len(),
                excerpt(first)
            ));
        }
        let stderr = self.stderr_tail.trim();
        if !stderr.is_empty() {
            let last: Vec<&str> = stderr.lines().rev().take(5).collect();
            let last: Vec<&str> = last.into_iter().rev().collect();
            text.push_str(&format!("; its last error output: {}", last.join(" | ")));
        }
        text
    }
}

/// The home directory of one run, beside its workspace (`<workspace>.home`), removed
/// when the run ends. CLIs keep their configuration, sessions and caches there.
#[derive(Debug)]
pub(crate) struct RunHome {
    path: PathBuf,
}

impl RunHome {
    pub(crate) fn create(workspace: &Path) -> Result<Self, AgentError> {
        let mut name = workspace
            .file_name()
            .map(OsString::from)
            .unwrap_or_else(|| OsString::from("workspace"));
        name.push(".home");
        let path = workspace.with_file_name(name);
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).map_err(|error| {
            AgentError::Io(format!(
                "creating the agent's home {}: {error}",
                path.display()
            ))
        })?;
        Ok(Self { path })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunHome {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A started CLI: the child, its process group (killed when dropped), its piped output
/// and, when asked for, its piped input.
pub(crate) struct Started {
    pub child: Child,
    pub group: ProcessGroup,
    pub stdout: ChildStdout,
    pub stdin: Option<ChildStdin>,
    /// The end of what it prints on standard error, once it closes it.
    pub stderr_task: JoinHandle<String>,
}

/// Start `invocation` in the request's workspace with `home` as its home, the environment
/// cleared down to [`INHERITED_VARIABLES`], in a process group of its own. Its standard
/// input is piped when `with_stdin`, else closed.
pub(crate) fn start(
    agent: &str,
    invocation: &Invocation,
    home: &RunHome,
    request: &AgentRequest,
    with_stdin: bool,
) -> Result<Started, AgentError> {
    let mut command = Command::new(&invocation.program);
    command
        .args(&invocation.args)
        .current_dir(&request.workspace)
        .env_clear()
        .stdin(if with_stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    for name in INHERITED_VARIABLES {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command.env("HOME", home.path());
    command.envs(&invocation.env);
    let mut child = command.spawn().map_err(|error| {
        AgentError::Io(format!(
            "{agent} could not start `{}`: {error}",
            invocation.program
        ))
    })?;
    // Killed when the run ends, however it ends: nothing the CLI started outlives it.
    let group = ProcessGroup::led_by(child.id());
    let stdout = child.stdout.take().expect("stdout is piped");
    let stdin = child.stdin.take();
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let stderr_task = tokio::spawn(async move {
        let mut buffer = Vec::new();
        let _ = stderr.read_to_end(&mut buffer).await;
        tail(&buffer)
    });
    Ok(Started {
        child,
        group,
        stdout,
        stdin,
        stderr_task,
    })
}

/// Run `invocation` in the request's workspace with `home` as its home, feeding each line
/// of its standard output to `reader` and its events to `events`, until it ends or the
/// request's time limit kills it.
pub(crate) async fn run(
    agent: &str,
    invocation: Invocation,
    home: &RunHome,
    request: &AgentRequest,
    mut reader: Box<dyn StreamReader>,
    events: &mpsc::UnboundedSender<AgentEvent>,
) -> Result<AgentOutcome, AgentError> {
    let started = Instant::now();
    let Started {
        mut child,
        group,
        stdout,
        stdin: _,
        stderr_task,
    } = start(agent, &invocation, home, request, false)?;

    let mut lines = BufReader::new(stdout).lines();
    let mut garbage = Vec::new();
    let deadline = tokio::time::Instant::now() + request.time_limit;
    let mut timed_out = false;
    loop {
        match tokio::time::timeout_at(deadline, lines.next_line()).await {
            Err(_) => {
                timed_out = true;
                break;
            }
            Ok(Ok(Some(line))) => {
                if line.trim().is_empty() {
                    continue;
                }
                let _ = events.send(AgentEvent::Raw { line: line.clone() });
                match reader.line(&line) {
                    Ok(new_events) => {
                        for event in new_events {
                            let _ = events.send(event);
                        }
                    }
                    Err(reason) => {
                        tracing::debug!(agent, %reason, "a line that is not the CLI's stream");
                        garbage.push(line);
                        if garbage.len() > GARBAGE_LINES_ALLOWED {
                            break;
                        }
                    }
                }
            }
            Ok(Ok(None)) => break,
            Ok(Err(error)) => {
                garbage.push(format!("(unreadable output: {error})"));
                break;
            }
        }
    }
    let code = if timed_out {
        group.kill();
        let _ = child.kill().await;
        None
    } else {
        // The stream ended: the process is ending too; give it a moment, then end it.
        match tokio::time::timeout(Duration::from_secs(10), child.wait()).await {
            Ok(Ok(status)) => status.code(),
            _ => {
                group.kill();
                let _ = child.kill().await;
                None
            }
        }
    };
    drop(group);
    let stderr_tail = match tokio::time::timeout(Duration::from_secs(5), stderr_task).await {
        Ok(Ok(text)) => text,
        _ => String::new(),
    };
    let too_much_garbage = garbage.len() > GARBAGE_LINES_ALLOWED;
    let end = ProcessEnd {
        code,
        stderr_tail,
        garbage,
    };
    let mut outcome = reader.finish(end);
    outcome.usage.wall_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    if timed_out {
        outcome.failure = Some(format!(
            "{agent} was killed at its time limit of {}s",
            request.time_limit.as_secs()
        ));
    } else if too_much_garbage {
        outcome.failure = Some(format!(
            "{agent} printed more than {GARBAGE_LINES_ALLOWED} lines that are not its JSON \
             stream; it was stopped"
        ));
    }
    if let Some(failure) = &outcome.failure {
        let _ = events.send(AgentEvent::Error {
            message: failure.clone(),
        });
        if outcome.left_undone.is_empty() {
            outcome.left_undone.push(request.title().to_owned());
        }
    }
    let _ = events.send(AgentEvent::Usage {
        usage: outcome.usage.clone(),
    });
    Ok(outcome)
}

/// The CLI's program: the profile's command, else the name looked up on `PATH`.
pub(crate) fn program(command: Option<&str>, default: &str) -> String {
    command
        .filter(|command| !command.trim().is_empty())
        .unwrap_or(default)
        .to_owned()
}

/// The first 300 characters of a line, for a message.
pub(crate) fn excerpt(line: &str) -> String {
    let line = line.trim();
    if line.chars().count() > 300 {
        format!("{}…", line.chars().take(300).collect::<String>())
    } else {
        line.to_owned()
    }
}

/// One line of a CLI's JSON stream and its `type`; `Err` when it is not such a line.
pub(crate) fn json_line(line: &str) -> Result<(Value, String), String> {
    let value: Value = serde_json::from_str(line).map_err(|error| format!("not JSON: {error}"))?;
    let kind = value
        .get("type")
        .and_then(Value::as_str)
        .ok_or("a JSON line without a type")?
        .to_owned();
    Ok((value, kind))
}

/// The text field `name` of a JSON object; empty when absent.
pub(crate) fn text_of(value: &Value, name: &str) -> String {
    value
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Write `skill` as `dir/<name>/SKILL.md`, where CLIs that discover skills on disk look.
pub(crate) fn place_skill(dir: &Path, skill: &SkillDefinition) -> Result<(), AgentError> {
    let dir = dir.join(&skill.name);
    let text = format!(
        "---\nname: {}\ndescription: {}\n---\n\n{}\n",
        skill.name,
        skill.description.replace('\n', " "),
        skill.instructions.trim()
    );
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join("SKILL.md"), text))
        .map_err(|error| AgentError::Io(format!("placing skill {}: {error}", skill.name)))
}

/// Read tokens reported the way Anthropic reports them (`input_tokens`,
/// `cache_creation_input_tokens`, `cache_read_input_tokens`, `output_tokens`) into
/// `usage`: tokens written to the cache are input, tokens read from it are cached input.
pub(crate) fn read_anthropic_tokens(reported: Option<&Value>, usage: &mut AgentUsage) {
    let count = |name: &str| {
        reported
            .and_then(|reported| reported.get(name))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    usage.input_tokens = count("input_tokens") + count("cache_creation_input_tokens");
    usage.cached_input_tokens = count("cache_read_input_tokens");
    usage.output_tokens = count("output_tokens");
}

/// The last two things a completed run is judged on: commands it ran outside the allowed
/// prefixes, then an exit code other than 0.
pub(crate) fn judge_completed(agent: &str, outside: &[String], end: &ProcessEnd) -> Option<String> {
    if !outside.is_empty() {
        Some(format!(
            "{agent} ran {} command(s) outside the allowed commands: {}",
            outside.len(),
            outside.join(", ")
        ))
    } else if end.code.is_some_and(|code| code != 0) {
        Some(format!("{agent} completed but {}", end.describe(agent)))
    } else {
        None
    }
}

/// Whether `command` starts with one of the allowed prefixes (word by word: `git status`
/// allows `git status --short`, not `git statusx`).
pub(crate) fn command_allowed(command: &str, allowed: &[String]) -> bool {
    let command = command.trim();
    allowed.iter().any(|prefix| {
        let prefix = prefix.trim();
        command == prefix
            || command
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with(char::is_whitespace))
    })
}

/// A reviewer's request with a brief, for the adapters' invocation tests.
#[cfg(test)]
pub(crate) fn review_request(workspace: &Path) -> AgentRequest {
    AgentRequest {
        workspace: workspace.to_path_buf(),
        role: crate::AgentRole::Reviewer,
        task: crate::AgentTask::Brief(crate::Brief {
            title: "Check VAL-API-001".to_owned(),
            text: "Does the README say how to run it?".to_owned(),
            answer_format: "<verdict>pass</verdict>".to_owned(),
        }),
        skill: None,
        agents_md: None,
        time_limit: Duration::from_secs(60),
        allowed_commands: vec!["cat".to_owned()],
        max_turns: None,
        mcp_servers: Vec::new(),
    }
}

/// Feed `lines` to `stream` and finish it as a clean exit would.
#[cfg(test)]
pub(crate) fn read_all(
    mut stream: Box<dyn StreamReader>,
    lines: &[&str],
) -> (Vec<AgentEvent>, AgentOutcome) {
    let mut events = Vec::new();
    for line in lines {
        events.extend(stream.line(line).expect("a known line"));
    }
    let outcome = stream.finish(ProcessEnd {
        code: Some(0),
        stderr_tail: String::new(),
        garbage: Vec::new(),
    });
    (events, outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_commands_match_whole_words() {
        let allowed = vec!["git status".to_owned(), "ls".to_owned()];
        assert!(command_allowed("git status --short", &allowed));
        assert!(command_allowed("ls", &allowed));
        assert!(!command_allowed("git statusx", &allowed));
        assert!(!command_allowed("lsblk", &allowed));
        assert!(!command_allowed("rm -rf /", &allowed));
    }

    #[test]
    fn a_process_end_says_what_it_printed() {
        let end = ProcessEnd {
            code: Some(1),
            stderr_tail: "warming up\nError: invalid API key\n".to_owned(),
            garbage: vec!["<html>502 Bad Gateway</html>".to_owned()],
        };
        let text = end.describe("claude");
        assert!(text.starts_with("claude exited with code 1"), "{text}");
        assert!(text.contains("<html>502 Bad Gateway</html>"), "{text}");
        assert!(text.contains("Error: invalid API key"), "{text}");
    }
}
