//! The planning conversation: the planner's questions one by one, a proposal, then
//! `approve`, `revise <instruction>` or `quit`. It reads and writes through `BufRead` and
//! `Write`, so tests drive it without a terminal.
//!
//! Reading a line blocks the thread; the conversation reads only while no model request
//! is in flight, and `sortie plan` does nothing else meanwhile.

use std::io::{self, BufRead, Write};
use std::path::Path;

use sortie_agents::llm::ChatModel;
use sortie_planner::{Answer, PlanError, Proposal, Response, Survey};

use super::{cost_estimate, outline, write_mission};
use crate::{exit, usage_line};

/// What the conversation plans with, and where an approved plan is written.
#[derive(Clone, Copy, Debug)]
pub struct Conversation<'a> {
    pub goal: &'a str,
    pub survey: &'a Survey,
    pub model: &'a ChatModel,
    pub output: &'a Path,
    /// Overwrite an existing output file.
    pub force: bool,
}

const COMMANDS: &str = "approve | revise <what to change> | show | quit";

/// Runs the conversation and returns `sortie plan`'s exit code: completed once the plan is
/// approved and written, failed when the person quits (or the input ends) before.
pub async fn converse(
    conversation: &Conversation<'_>,
    mut input: impl BufRead,
    mut output: impl Write,
) -> anyhow::Result<i32> {
    let asked =
        match sortie_planner::questions(conversation.goal, conversation.survey, conversation.model)
            .await
        {
            Ok(asked) => asked,
            Err(error) => return Ok(planning_failed(&mut output, &error)?),
        };
    let mut answers = Vec::with_capacity(asked.len());
    if !asked.is_empty() {
        writeln!(
            output,
            "{} questions before planning (an empty answer skips, ? lets the planner decide):",
            asked.len()
        )?;
    }
    for (index, question) in asked.into_iter().enumerate() {
        writeln!(output, "[{}] {}", index + 1, question.text)?;
        let Some(line) = prompt_line(&mut input, &mut output, "> ")? else {
            writeln!(output, "left without writing a mission file")?;
            return Ok(exit::FAILED);
        };
        let response = match line.trim() {
            "" => Response::Skipped,
            "?" => Response::DecideYourself,
            text => Response::Text(text.to_owned()),
        };
        answers.push(Answer { question, response });
    }

    writeln!(output, "planning...")?;
    let mut proposal = match sortie_planner::propose(
        conversation.goal,
        conversation.survey,
        &answers,
        conversation.model,
    )
    .await
    {
        Ok(proposal) => proposal,
        Err(error) => return Ok(planning_failed(&mut output, &error)?),
    };
    show_proposal(&mut output, &proposal, conversation.model)?;

    loop {
        let Some(line) = prompt_line(&mut input, &mut output, &format!("[{COMMANDS}]> "))? else {
            writeln!(output, "left without writing a mission file")?;
            return Ok(exit::FAILED);
        };
        let line = line.trim();
        let (command, argument) = line
            .split_once(char::is_whitespace)
            .map_or((line, ""), |(command, argument)| (command, argument.trim()));
        match command {
            "" => {}
            "approve" => {
                match write_mission(conversation.output, conversation.force, &proposal).await {
                    Ok(()) => {
                        writeln!(output, "wrote {}", conversation.output.display())?;
                        return Ok(exit::COMPLETED);
                    }
                    Err(error) if error.kind() == io::ErrorKind::AlreadyExists => writeln!(
                        output,
                        "{} exists; move it away and approve again, or quit and rerun with \
                         --force or -o",
                        conversation.output.display()
                    )?,
                    Err(error) => {
                        return Err(anyhow::Error::new(error)
                            .context(format!("writing {}", conversation.output.display())));
                    }
                }
            }
            "revise" if argument.is_empty() => {
                writeln!(output, "say what to change: revise <what to change>")?;
            }
            "revise" => {
                writeln!(output, "revising...")?;
                match sortie_planner::revise(&proposal, argument, conversation.model).await {
                    Ok(revised) => {
                        proposal = revised;
                        show_proposal(&mut output, &proposal, conversation.model)?;
                    }
                    Err(error) => writeln!(
                        output,
                        "the revision failed, the plan is unchanged: {error}"
                    )?,
                }
            }
            "show" => write!(output, "{}", proposal.mission_toml)?,
            "quit" | "exit" => {
                writeln!(output, "left without writing a mission file")?;
                return Ok(exit::FAILED);
            }
            _ => writeln!(output, "unknown command {command:?}; commands: {COMMANDS}")?,
        }
    }
}

/// Writes `prompt` and reads one line; `None` at the end of the input.
fn prompt_line(
    input: &mut impl BufRead,
    output: &mut impl Write,
    prompt: &str,
) -> io::Result<Option<String>> {
    write!(output, "{prompt}")?;
    output.flush()?;
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        writeln!(output)?;
        return Ok(None);
    }
    Ok(Some(line))
}

/// The proposal's warnings, outline, estimated cost and what planning cost.
fn show_proposal(
    output: &mut impl Write,
    proposal: &Proposal,
    model: &ChatModel,
) -> io::Result<()> {
    for warning in proposal.warnings.iter() {
        writeln!(output, "{warning}")?;
    }
    for finding in &proposal.lint {
        writeln!(output, "{finding}")?;
    }
    write!(output, "{}", outline(&proposal.plan))?;
    writeln!(output, "{}", cost_estimate(&proposal.plan, model))?;
    writeln!(
        output,
        "proposed after {} {}; {}",
        proposal.tries,
        if proposal.tries == 1 { "try" } else { "tries" },
        usage_line(&proposal.usage)
    )
}

/// Says why planning stopped and returns the exit code for it.
fn planning_failed(output: &mut impl Write, error: &PlanError) -> io::Result<i32> {
    writeln!(output, "sortie: {error}")?;
    Ok(match error {
        PlanError::NoValidPlan { .. } => exit::FAILED,
        PlanError::Model(_) => exit::UNAVAILABLE,
    })
}
