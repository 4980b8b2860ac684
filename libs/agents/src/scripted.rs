//! The `scripted` agent: no model, only the steps the plan gives the feature.
//!
//! It runs commands and writes files in the workspace, one step after another, and
//! reports each as a tool call and its result, as a real agent's stream would. It is for
//! demos, tests and mechanical changes, and says that it is scripted in every run.

use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sortie_model::plan::ScriptedStep;
use tokio::sync::mpsc;

use crate::process::run_shell;
use crate::{Agent, AgentError, AgentEvent, AgentOutcome, AgentRequest, AgentTask};

#[derive(Debug, Default, Clone, Copy)]
pub struct ScriptedAgent;

#[async_trait]
impl Agent for ScriptedAgent {
    fn name(&self) -> &str {
        "scripted"
    }

    async fn run(
        &self,
        request: &AgentRequest,
        events: mpsc::UnboundedSender<AgentEvent>,
    ) -> Result<AgentOutcome, AgentError> {
        if !request.mcp_servers.is_empty() {
            let names: Vec<&str> = request
                .mcp_servers
                .iter()
                .map(|server| server.name.as_str())
                .collect();
            tracing::debug!(agent = "scripted", servers = ?names, "this agent does not support MCP; it runs without the request's MCP servers");
        }
        let emit = |event: AgentEvent| {
            // A worker that stopped listening does not stop the work.
            let _ = events.send(event);
        };
        let feature = match &request.task {
            AgentTask::Feature(feature) => feature,
            AgentTask::Brief(brief) => {
                let message = format!(
                    "the scripted agent has no model and cannot answer {:?}; name an agent \
                     profile that uses one",
                    brief.title
                );
                emit(AgentEvent::Error {
                    message: message.clone(),
                });
                return Ok(AgentOutcome {
                    left_undone: vec![brief.title.clone()],
                    failure: Some(message),
                    ..AgentOutcome::default()
                });
            }
        };
        emit(AgentEvent::Init {
            agent: "scripted".to_owned(),
            detail: format!(
                "scripted agent (no model): {} steps for {}",
                feature.steps.len(),
                feature.id
            ),
        });
        let mut outcome = AgentOutcome {
            summary: String::new(),
            left_undone: Vec::new(),
            commands: Vec::new(),
            failure: None,
            usage: crate::AgentUsage::default(),
        };
        if feature.steps.is_empty() {
            let message = format!(
                "feature {} has no scripted steps: the scripted agent cannot work it; \
                 run it with an agent that uses a model",
                feature.id
            );
            emit(AgentEvent::Error {
                message: message.clone(),
            });
            outcome.failure = Some(message);
            outcome.left_undone.push(feature.title.clone());
            return Ok(outcome);
        }
        let deadline = Instant::now() + request.time_limit;
        for (index, step) in feature.steps.iter().enumerate() {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                outcome.failure = Some(format!(
                    "the time limit of {}s ran out before step {}",
                    request.time_limit.as_secs(),
                    index + 1
                ));
                break;
            }
            if let Err(reason) =
                perform(&request.workspace, step, remaining, &emit, &mut outcome).await
            {
                let message = format!("step {} failed: {reason}", index + 1);
                emit(AgentEvent::Error {
                    message: message.clone(),
                });
                outcome.failure = Some(message);
                break;
            }
        }
        if let Some(failure) = &outcome.failure {
            outcome.summary = format!("scripted agent stopped: {failure}");
            outcome.left_undone.push(feature.title.clone());
        } else {
            outcome.summary = format!(
                "scripted agent performed {} steps for {}: {}",
                feature.steps.len(),
                feature.id,
                feature.title
            );
        }
        emit(AgentEvent::Result {
            summary: outcome.summary.clone(),
        });
        emit(AgentEvent::Usage {
            usage: outcome.usage.clone(),
        });
        Ok(outcome)
    }
}

async fn perform(
    workspace: &Path,
    step: &ScriptedStep,
    remaining: Duration,
    emit: &impl Fn(AgentEvent),
    outcome: &mut AgentOutcome,
) -> Result<(), String> {
    match step {
        ScriptedStep::Run { run, expect_exit } => {
            emit(AgentEvent::ToolCall {
                tool: "shell".to_owned(),
                input: run.clone(),
            });
            let result = run_shell(workspace, run, remaining)
                .await
                .map_err(|error| format!("could not start `{run}`: {error}"))?;
            emit(AgentEvent::ToolResult {
                tool: "shell".to_owned(),
                output: result.output_tail.clone(),
                exit_code: result.exit_code,
                denied: false,
            });
            let exit_code = result.exit_code;
            outcome.commands.push(result);
            match exit_code {
                Some(code) if code == *expect_exit => Ok(()),
                Some(code) => Err(format!("`{run}` exited {code}, expected {expect_exit}")),
                None => Err(format!("`{run}` was killed at its time limit")),
            }
        }
        ScriptedStep::Write { write, content } => {
            let path = inside(workspace, write)?;
            emit(AgentEvent::ToolCall {
                tool: "write".to_owned(),
                input: write.clone(),
            });
            if let Some(parent) = path.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|error| format!("creating the directory of {write}: {error}"))?;
            }
            tokio::fs::write(&path, content)
                .await
                .map_err(|error| format!("writing {write}: {error}"))?;
            emit(file_result("write", write, content.len()));
            Ok(())
        }
        ScriptedStep::Append { append, content } => {
            let path = inside(workspace, append)?;
            emit(AgentEvent::ToolCall {
                tool: "append".to_owned(),
                input: append.clone(),
            });
            if let Some(parent) = path.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|error| format!("creating the directory of {append}: {error}"))?;
            }
            let mut text = match tokio::fs::read_to_string(&path).await {
                Ok(text) => text,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
                Err(error) => return Err(format!("reading {append}: {error}")),
            };
            text.push_str(content);
            tokio::fs::write(&path, text)
                .await
                .map_err(|error| format!("writing {append}: {error}"))?;
            emit(file_result("append", append, content.len()));
            Ok(())
        }
        ScriptedStep::Replace {
            replace,
            find,
            with,
        } => {
            let path = inside(workspace, replace)?;
            emit(AgentEvent::ToolCall {
                tool: "replace".to_owned(),
                input: format!("{replace}: {find:?} -> {with:?}"),
            });
            let text = tokio::fs::read_to_string(&path)
                .await
                .map_err(|error| format!("reading {replace}: {error}"))?;
            let count = text.matches(find.as_str()).count();
            if count == 0 {
                return Err(format!("{replace} does not contain {find:?}"));
            }
            tokio::fs::write(&path, text.replace(find.as_str(), with))
                .await
                .map_err(|error| format!("writing {replace}: {error}"))?;
            emit(AgentEvent::ToolResult {
                tool: "replace".to_owned(),
                output: format!("replaced {count} occurrences in {replace}"),
                exit_code: None,
                denied: false,
            });
            Ok(())
        }
        ScriptedStep::Sleep { sleep_ms } => {
            emit(AgentEvent::Text {
                text: format!("thinking for {sleep_ms} ms"),
            });
            tokio::time::sleep(Duration::from_millis(*sleep_ms).min(remaining)).await;
            Ok(())
        }
    }
}

fn file_result(tool: &str, path: &str, bytes: usize) -> AgentEvent {
    AgentEvent::ToolResult {
        tool: tool.to_owned(),
        output: format!("{path}: {bytes} bytes"),
        exit_code: None,
        denied: false,
    }
}

/// The path inside the workspace; a path that would leave it is refused.
fn inside(workspace: &Path, relative: &str) -> Result<PathBuf, String> {
    let path = Path::new(relative);
    let stays_inside = path
        .components()
        .all(|component| matches!(component, Component::Normal(_) | Component::CurDir));
    if relative.is_empty() || !stays_inside {
        return Err(format!("{relative:?} is not a path inside the workspace"));
    }
    Ok(workspace.join(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sortie_model::plan::Feature;

    fn feature(steps: Vec<ScriptedStep>) -> Feature {
        Feature {
            id: "F-ONE".into(),
            title: "one".to_owned(),
            milestone: "m1".into(),
            repository: "app".into(),
            description: String::new(),
            skill: None,
            preconditions: vec![],
            expected_behavior: vec![],
            verification: vec![],
            fulfills: vec![],
            touches: vec![],
            estimate_minutes: None,
            steps,
            fix: None,
        }
    }

    async fn run(
        steps: Vec<ScriptedStep>,
        limit: Duration,
    ) -> (tempfile::TempDir, AgentOutcome, Vec<AgentEvent>) {
        let workspace = tempfile::tempdir().expect("workspace");
        let request = AgentRequest {
            workspace: workspace.path().to_path_buf(),
            role: crate::AgentRole::Worker,
            task: AgentTask::Feature(feature(steps)),
            skill: None,
            agents_md: None,
            time_limit: limit,
            allowed_commands: Vec::new(),
            max_turns: None,
            mcp_servers: Vec::new(),
        };
        let (sender, mut receiver) = mpsc::unbounded_channel();
        let outcome = ScriptedAgent.run(&request, sender).await.expect("run");
        let mut events = Vec::new();
        while let Ok(event) = receiver.try_recv() {
            events.push(event);
        }
        (workspace, outcome, events)
    }

    #[tokio::test]
    async fn performs_every_kind_of_step() {
        let steps = vec![
            ScriptedStep::Write {
                write: "src/a.txt".to_owned(),
                content: "hello world\n".to_owned(),
            },
            ScriptedStep::Append {
                append: "src/a.txt".to_owned(),
                content: "again\n".to_owned(),
            },
            ScriptedStep::Replace {
                replace: "src/a.txt".to_owned(),
                find: "world".to_owned(),
                with: "sortie".to_owned(),
            },
            ScriptedStep::Sleep { sleep_ms: 1 },
            ScriptedStep::Run {
                run: "grep -c sortie src/a.txt".to_owned(),
                expect_exit: 0,
            },
        ];
        let (workspace, outcome, events) = run(steps, Duration::from_secs(30)).await;
        assert_eq!(outcome.failure, None);
        let text = std::fs::read_to_string(workspace.path().join("src/a.txt")).expect("file");
        assert_eq!(text, "hello sortie\nagain\n");
        assert_eq!(outcome.commands.len(), 1);
        assert_eq!(outcome.commands[0].exit_code, Some(0));
        assert_eq!(outcome.commands[0].output_tail, "1\n");
        assert!(
            matches!(&events[0], AgentEvent::Init { detail, .. } if detail.starts_with("scripted agent (no model)"))
        );
        assert!(matches!(
            events.iter().rev().nth(1),
            Some(AgentEvent::Result { .. })
        ));
        assert!(matches!(events.last(), Some(AgentEvent::Usage { .. })));
    }

    #[tokio::test]
    async fn a_wrong_exit_code_stops_the_run() {
        let steps = vec![
            ScriptedStep::Run {
                run: "exit 3".to_owned(),
                expect_exit: 0,
            },
            ScriptedStep::Write {
                write: "never.txt".to_owned(),
                content: String::new(),
            },
        ];
        let (workspace, outcome, _) = run(steps, Duration::from_secs(30)).await;
        assert_eq!(
            outcome.failure.as_deref(),
            Some("step 1 failed: `exit 3` exited 3, expected 0")
        );
        assert!(!workspace.path().join("never.txt").exists());
    }

    #[tokio::test]
    async fn a_command_past_the_limit_is_killed() {
        let steps = vec![ScriptedStep::Run {
            run: "sleep 30".to_owned(),
            expect_exit: 0,
        }];
        let started = Instant::now();
        let (_workspace, outcome, _) = run(steps, Duration::from_millis(300)).await;
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the command was not killed"
        );
        assert!(
            outcome
                .failure
                .as_deref()
                .is_some_and(|failure| failure.contains("time limit"))
        );
    }

    #[tokio::test]
    async fn paths_outside_the_workspace_are_refused() {
        let steps = vec![ScriptedStep::Write {
            write: "../escape.txt".to_owned(),
            content: "x".to_owned(),
        }];
        let (_workspace, outcome, _) = run(steps, Duration::from_secs(30)).await;
        assert!(
            outcome
                .failure
                .as_deref()
                .is_some_and(|failure| failure.contains("not a path inside"))
        );
    }

    #[tokio::test]
    async fn a_feature_without_steps_fails_with_the_reason() {
        let (_workspace, outcome, _) = run(vec![], Duration::from_secs(30)).await;
        assert!(
            outcome
                .failure
                .as_deref()
                .is_some_and(|failure| failure.contains("no scripted steps"))
        );
    }
}
