//! One run of the `llm` agent: ask the model, run the tools it calls, send back their
//! results, until it calls `finish` or a limit ends the run.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::client::{CompletionError, ModelClient};
use super::conversation::{Conversation, Message, ToolResult, TurnUsage};
use super::tools::{self, FINISH, ToolOutcome, ToolSpec, Toolbox};
use super::{LlmConfig, prompt};
use crate::{AgentError, AgentEvent, AgentOutcome, AgentRequest, AgentRole};

/// After the deadline, how long the run may take to notice it before it is dropped.
const BACKSTOP: Duration = Duration::from_secs(5);
/// The most of a tool's output an event carries.
const EVENT_OUTPUT_CHARS: usize = 4_000;

const KEEP_GOING: &str = "Continue the work with the tools. When the feature is done, or \
                          you cannot go further, call finish with a summary and what was \
                          left undone.";
const KEEP_REVIEWING: &str = "Continue the review with the tools. When you have your \
                              answer, call finish with it, in the form the brief asks, as \
                              the summary.";
const CUT_AT_OUTPUT_LIMIT: &str = "Your answer was cut at the output token limit. Continue \
                                   in smaller steps, with the tools.";

/// How a run ended.
enum Ended {
    Finished {
        summary: String,
        left_undone: Vec<String>,
    },
    Failed(String),
    TimeLimit,
}

struct Session<'a> {
    client: &'a ModelClient,
    config: &'a LlmConfig,
    toolbox: Toolbox,
    tools: Vec<ToolSpec>,
    tool_definitions_chars: usize,
    conversation: Conversation,
    outcome: AgentOutcome,
    /// What the model is told when it answers without calling a tool.
    keep_going: &'static str,
    events: mpsc::UnboundedSender<AgentEvent>,
}

pub(crate) async fn run(
    client: &ModelClient,
    config: &LlmConfig,
    request: &AgentRequest,
    events: mpsc::UnboundedSender<AgentEvent>,
) -> Result<AgentOutcome, AgentError> {
    let deadline = Instant::now() + request.time_limit;
    let max_turns = request.max_turns.unwrap_or(config.max_turns).max(1);
    let toolbox = Toolbox::new(
        &request.workspace,
        request.role,
        request.allowed_commands.clone(),
        config.command_timeout,
    )
    .map_err(|error| {
        AgentError::Io(format!(
            "the workspace {}: {error}",
            request.workspace.display()
        ))
    })?;
    let tools = tools::specs_for(request.role);
    let tool_definitions_chars = tools
        .iter()
        .map(|tool| tool.name.len() + tool.description.len() + tool.parameters.to_string().len())
        .sum();
    let mut session = Session {
        client,
        config,
        toolbox,
        tools,
        tool_definitions_chars,
        conversation: Conversation::new(prompt::system(request), prompt::task(request)),
        outcome: AgentOutcome::default(),
        keep_going: match request.role {
            AgentRole::Worker => KEEP_GOING,
            AgentRole::Reviewer => KEEP_REVIEWING,
        },
        events,
    };
    session.emit(AgentEvent::Init {
        agent: "llm".to_owned(),
        detail: format!(
            "llm agent: model {} over {}, {} tools, up to {max_turns} turns",
            config.model,
            config.protocol.describe(),
            session.tools.len()
        ),
    });
    let ended = tokio::time::timeout_at(deadline + BACKSTOP, session.drive(deadline, max_turns))
        .await
        .unwrap_or(Ended::TimeLimit);
    let failure = match ended {
        Ended::Finished {
            summary,
            left_undone,
        } => {
            session.outcome.summary = summary;
            session.outcome.left_undone = left_undone;
            None
        }
        Ended::Failed(reason) => Some(reason),
        Ended::TimeLimit => Some(format!(
            "the time limit of {} ran out after {} turns",
            seconds(request.time_limit),
            session.outcome.usage.turns
        )),
    };
    if let Some(failure) = failure {
        session.emit(AgentEvent::Error {
            message: failure.clone(),
        });
        session.outcome.summary = format!("llm agent stopped: {failure}");
        session.outcome.left_undone.push(request.title().to_owned());
        session.outcome.failure = Some(failure);
    }
    let usage = &session.outcome.usage;
    tracing::info!(
        task = %request.subject(),
        model = %config.model,
        turns = usage.turns,
        tool_calls = usage.tool_calls,
        input_tokens = usage.input_tokens,
        output_tokens = usage.output_tokens,
        cached_input_tokens = usage.cached_input_tokens,
        cost_usd = usage.cost_usd,
        failed = session.outcome.failure.is_some(),
        "llm agent run ended"
    );
    session.emit(AgentEvent::Result {
        summary: session.outcome.summary.clone(),
    });
    session.emit(AgentEvent::Usage {
        usage: session.outcome.usage.clone(),
    });
    Ok(session.outcome)
}

impl Session<'_> {
    fn emit(&self, event: AgentEvent) {
        // A worker that stopped listening does not stop the work.
        let _ = self.events.send(event);
    }

    async fn drive(&mut self, deadline: Instant, max_turns: u32) -> Ended {
        loop {
            if self.outcome.usage.turns >= max_turns {
                return Ended::Failed(format!(
                    "the model did not call finish within its limit of {max_turns} turns"
                ));
            }
            let changed = self.conversation.fit(
                self.config.context_budget_tokens,
                self.tool_definitions_chars,
            );
            if changed > 0 {
                tracing::debug!(changed, "tool outputs shortened for the context budget");
            }
            let reply = match self
                .client
                .complete(
                    &self.conversation,
                    &self.tools,
                    self.outcome.usage.turns,
                    deadline,
                )
                .await
            {
                Ok(reply) => reply,
                Err(CompletionError::TimeLimit) => return Ended::TimeLimit,
                Err(CompletionError::Failed(message)) => return Ended::Failed(message),
            };
            self.count(reply.usage);
            if !reply.text.trim().is_empty() {
                self.emit(AgentEvent::Text {
                    text: reply.text.clone(),
                });
            }
            let calls = reply.calls.clone();
            let nudge = if reply.hit_output_limit() {
                CUT_AT_OUTPUT_LIMIT
            } else {
                self.keep_going
            };
            self.conversation.messages.push(Message::Assistant {
                text: reply.text,
                calls: calls.clone(),
            });
            if calls.is_empty() {
                self.conversation
                    .messages
                    .push(Message::User(nudge.to_owned()));
                continue;
            }
            let mut results = Vec::with_capacity(calls.len());
            for call in &calls {
                self.outcome.usage.tool_calls += 1;
                self.emit(AgentEvent::ToolCall {
                    tool: call.name.clone(),
                    input: tools::describe(call),
                });
                match self.toolbox.call(call, deadline).await {
                    ToolOutcome::Finish {
                        summary,
                        left_undone,
                    } => {
                        self.emit(AgentEvent::ToolResult {
                            tool: FINISH.to_owned(),
                            output: "handed off".to_owned(),
                            exit_code: None,
                            denied: false,
                        });
                        return Ended::Finished {
                            summary,
                            left_undone,
                        };
                    }
                    ToolOutcome::Done(report) => {
                        self.emit(AgentEvent::ToolResult {
                            tool: call.name.clone(),
                            output: tail(&report.content, EVENT_OUTPUT_CHARS),
                            exit_code: report.exit_code,
                            denied: report.denied,
                        });
                        if let Some(command) = report.command {
                            self.outcome.commands.push(command);
                        }
                        results.push(ToolResult {
                            call_id: call.id.clone(),
                            content: report.content,
                            is_error: report.is_error,
                        });
                    }
                }
                if Instant::now() >= deadline {
                    return Ended::TimeLimit;
                }
            }
            self.conversation
                .messages
                .push(Message::ToolResults(results));
        }
    }

    fn count(&mut self, turn: TurnUsage) {
        let usage = &mut self.outcome.usage;
        usage.turns += 1;
        usage.input_tokens += turn.input_tokens;
        usage.output_tokens += turn.output_tokens;
        usage.cached_input_tokens += turn.cached_input_tokens;
        usage.cost_usd = self.config.prices.map(|prices| prices.cost(usage));
    }
}

fn tail(text: &str, max_chars: usize) -> String {
    let count = text.chars().count();
    if count <= max_chars {
        return text.to_owned();
    }
    format!(
        "…{}",
        text.chars().skip(count - max_chars).collect::<String>()
    )
}

/// `90s`, or `1.5s` for a limit that is not whole seconds.
fn seconds(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{:.1}s", duration.as_secs_f64())
    }
}
