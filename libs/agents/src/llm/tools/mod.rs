//! The tools the model may call, executed by Sortie inside the workspace only.

mod command;
mod files;
mod paths;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sortie_model::records::CommandRun;
use tokio::time::Instant;

use super::conversation::ToolCall;
use crate::AgentRole;
use crate::process::run_shell;

pub(crate) const FINISH: &str = "finish";
pub(crate) const RUN_COMMAND: &str = "run_command";
/// The tools that change files, which a reviewer does not get.
const WRITE_TOOLS: [&str; 2] = ["write_file", "edit_file"];

/// A tool as the model sees it: a name, what it does, and a JSON schema of its arguments.
#[derive(Clone, Debug)]
pub(crate) struct ToolSpec {
    pub(crate) name: &'static str,
    pub(crate) description: &'static str,
    pub(crate) parameters: Value,
}

/// The tools of a role: a reviewer gets no write tools, and its `finish` carries its
/// answer.
pub(crate) fn specs_for(role: AgentRole) -> Vec<ToolSpec> {
    let mut specs = specs();
    if role == AgentRole::Reviewer {
        specs.retain(|spec| !WRITE_TOOLS.contains(&spec.name));
        for spec in &mut specs {
            if spec.name == FINISH {
                spec.description = "End your review: your whole answer, in the form the \
                                    brief asks, as the summary. Call it exactly once, last.";
                spec.parameters["properties"]["summary"]["description"] =
                    json!("your whole answer, in the form the brief asks");
            }
        }
    }
    specs
}

pub(crate) fn specs() -> Vec<ToolSpec> {
    let string = |description: &str| json!({"type": "string", "description": description});
    let object = |properties: Value, required: &[&str]| json!({"type": "object", "properties": properties, "required": required});
    vec![
        ToolSpec {
            name: "read_file",
            description: "Read a text file of the workspace. Long files come in windows of lines.",
            parameters: object(
                json!({
                    "path": string("path relative to the workspace root"),
                    "start_line": {"type": "integer", "description": "first line to read, from 1"},
                    "max_lines": {"type": "integer", "description": "how many lines to read"},
                }),
                &["path"],
            ),
        },
        ToolSpec {
            name: "write_file",
            description: "Create or overwrite a file of the workspace with the given content.",
            parameters: object(
                json!({
                    "path": string("path relative to the workspace root"),
                    "content": string("the file's whole new content"),
                }),
                &["path", "content"],
            ),
        },
        ToolSpec {
            name: "edit_file",
            description: "Replace one exact occurrence of old_text in a file with new_text. \
                          Refused when old_text is absent or occurs more than once.",
            parameters: object(
                json!({
                    "path": string("path relative to the workspace root"),
                    "old_text": string("the exact text to replace, occurring once"),
                    "new_text": string("the text to put in its place"),
                }),
                &["path", "old_text", "new_text"],
            ),
        },
        ToolSpec {
            name: "list_files",
            description: "List the files under a directory of the workspace (default: all), \
                          skipping .git.",
            parameters: object(
                json!({"path": string("directory relative to the workspace root")}),
                &[],
            ),
        },
        ToolSpec {
            name: "search",
            description: "Find the lines of the workspace's files that contain a plain \
                          substring (not a regular expression), as path:line: text.",
            parameters: object(
                json!({
                    "query": string("the text to find"),
                    "path": string("a file or directory to search in (default: all)"),
                }),
                &["query"],
            ),
        },
        ToolSpec {
            name: RUN_COMMAND,
            description: "Run a shell command (sh -c) in the workspace root and get its exit \
                          code and the tail of its output. Only commands starting with an \
                          allowed prefix run.",
            parameters: object(
                json!({
                    "command": string("the command line"),
                    "timeout_seconds": {"type": "integer", "description": "a shorter time limit"},
                }),
                &["command"],
            ),
        },
        ToolSpec {
            name: FINISH,
            description: "End your work on the feature and hand it off: what you did, and \
                          what you left undone. Call it exactly once, last.",
            parameters: object(
                json!({
                    "summary": string("what was done, for the handoff"),
                    "left_undone": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "what was left undone, one item each (empty when done)",
                    },
                }),
                &["summary"],
            ),
        },
    ]
}

/// What calling a tool did.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ToolOutcome {
    Done(ToolReport),
    /// The model's handoff: the run ends.
    Finish {
        summary: String,
        left_undone: Vec<String>,
    },
}

#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ToolReport {
    /// What the model is told.
    pub(crate) content: String,
    pub(crate) is_error: bool,
    pub(crate) exit_code: Option<i32>,
    pub(crate) denied: bool,
    /// The command `run_command` ran, for the handoff.
    pub(crate) command: Option<CommandRun>,
}

impl ToolReport {
    fn ok(content: String) -> Self {
        Self {
            content,
            ..Self::default()
        }
    }

    fn error(content: String) -> Self {
        Self {
            content,
            is_error: true,
            ..Self::default()
        }
    }
}

/// The tools bound to one workspace and its command policy.
#[derive(Clone, Debug)]
pub(crate) struct Toolbox {
    workspace: Arc<PathBuf>,
    /// A reviewer's: the write tools are refused.
    read_only: bool,
    allowed_commands: Vec<String>,
    command_timeout: Duration,
}

#[derive(Debug, Deserialize)]
struct RunArgs {
    command: String,
    #[serde(default)]
    timeout_seconds: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct FinishArgs {
    summary: String,
    #[serde(default)]
    left_undone: Vec<String>,
}

impl Toolbox {
    pub(crate) fn new(
        workspace: &Path,
        role: AgentRole,
        allowed_commands: Vec<String>,
        command_timeout: Duration,
    ) -> std::io::Result<Self> {
        Ok(Self {
            workspace: Arc::new(workspace.canonicalize()?),
            read_only: role == AgentRole::Reviewer,
            allowed_commands,
            command_timeout,
        })
    }

    /// Call a tool; a command runs until `deadline` at the latest.
    pub(crate) async fn call(&self, call: &ToolCall, deadline: Instant) -> ToolOutcome {
        let arguments = if call.arguments.trim().is_empty() {
            "{}"
        } else {
            call.arguments.as_str()
        };
        let report = match call.name.as_str() {
            name if self.read_only && WRITE_TOOLS.contains(&name) => ToolReport {
                content: format!("{name} is not available: a reviewer never changes a file"),
                is_error: true,
                denied: true,
                ..ToolReport::default()
            },
            "read_file" => self.blocking(arguments, files::read).await,
            "write_file" => self.blocking(arguments, files::write).await,
            "edit_file" => self.blocking(arguments, files::edit).await,
            "list_files" => self.blocking(arguments, files::list).await,
            "search" => self.blocking(arguments, files::search).await,
            RUN_COMMAND => match parse::<RunArgs>(arguments) {
                Ok(args) => self.run_command(args, deadline).await,
                Err(report) => report,
            },
            FINISH => match parse::<FinishArgs>(arguments) {
                Ok(args) => {
                    return ToolOutcome::Finish {
                        summary: args.summary,
                        left_undone: args.left_undone,
                    };
                }
                Err(report) => report,
            },
            other => ToolReport::error(format!(
                "there is no tool named {other:?}; the tools are: {}",
                specs()
                    .iter()
                    .map(|spec| spec.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        };
        ToolOutcome::Done(report)
    }

    async fn blocking<A>(
        &self,
        arguments: &str,
        tool: fn(&Path, &A) -> Result<String, String>,
    ) -> ToolReport
    where
        A: DeserializeOwned + Send + 'static,
    {
        let args = match parse::<A>(arguments) {
            Ok(args) => args,
            Err(report) => return report,
        };
        let workspace = Arc::clone(&self.workspace);
        match tokio::task::spawn_blocking(move || tool(&workspace, &args)).await {
            Ok(Ok(content)) => ToolReport::ok(content),
            Ok(Err(message)) => ToolReport::error(message),
            Err(error) => ToolReport::error(format!("the tool failed: {error}")),
        }
    }

    async fn run_command(&self, args: RunArgs, deadline: Instant) -> ToolReport {
        if let Some(reason) = command::denial(&args.command, &self.allowed_commands) {
            return ToolReport {
                content: format!("command denied: {reason}"),
                is_error: true,
                denied: true,
                ..ToolReport::default()
            };
        }
        let requested = args
            .timeout_seconds
            .map_or(self.command_timeout, Duration::from_secs);
        let remaining = deadline.saturating_duration_since(Instant::now());
        let limit = requested.min(self.command_timeout).min(remaining);
        match run_shell(&self.workspace, &args.command, limit).await {
            Ok(run) => {
                let status = match run.exit_code {
                    Some(code) => format!("exit code {code}"),
                    None => format!("killed at its time limit of {}s", limit.as_secs()),
                };
                ToolReport {
                    content: format!("{status}\n{}", run.output_tail),
                    is_error: run.exit_code != Some(0),
                    exit_code: run.exit_code,
                    denied: false,
                    command: Some(run),
                }
            }
            Err(error) => ToolReport::error(format!("could not start the command: {error}")),
        }
    }
}

fn parse<A: DeserializeOwned>(arguments: &str) -> Result<A, ToolReport> {
    serde_json::from_str(arguments).map_err(|error| {
        ToolReport::error(format!(
            "the arguments are not valid for this tool ({error}); send a JSON object as the \
             tool's schema describes"
        ))
    })
}

/// A short, human description of a call's input, for events: the command, the path, the
/// query or the summary, else the arguments as they came.
pub(crate) fn describe(call: &ToolCall) -> String {
    let arguments: Value = serde_json::from_str(&call.arguments).unwrap_or(Value::Null);
    let field = match call.name.as_str() {
        RUN_COMMAND => "command",
        "search" => "query",
        FINISH => "summary",
        _ => "path",
    };
    match arguments[field].as_str() {
        Some(value) => value.to_owned(),
        None => call.arguments.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_reviewer_has_no_write_tools_and_is_refused_them() {
        let names: Vec<&str> = specs_for(AgentRole::Reviewer)
            .iter()
            .map(|spec| spec.name)
            .collect();
        assert!(!names.contains(&"write_file") && !names.contains(&"edit_file"));
        assert!(names.contains(&RUN_COMMAND) && names.contains(&FINISH));
        assert_eq!(specs_for(AgentRole::Worker).len(), specs().len());

        let workspace = tempfile::tempdir().expect("workspace");
        let toolbox = Toolbox::new(
            workspace.path(),
            AgentRole::Reviewer,
            Vec::new(),
            Duration::from_secs(5),
        )
        .expect("toolbox");
        let call = ToolCall {
            id: "c1".to_owned(),
            name: "write_file".to_owned(),
            arguments: r#"{"path":"a.txt","content":"x"}"#.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        let ToolOutcome::Done(report) = toolbox.call(&call, deadline).await else {
            panic!("write_file does not finish the run");
        };
        assert!(report.denied && report.is_error, "{report:?}");
        assert!(!workspace.path().join("a.txt").exists());
    }
}
