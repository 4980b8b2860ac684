//! Asking the model for a mission file, and repairing its mistakes with the parser's
//! diagnostics and the planning lint's errors (its warnings go with the proposal); a first
//! proposal and every revision go through the same loop, [`answer_until_valid`].

use std::time::Duration;

use sortie_agents::AgentUsage;
use sortie_agents::llm::{ChatError, ChatMessage, ChatModel};
use sortie_model::lint::{self, LintFinding};
use sortie_model::mission_file::{self, Diagnostic, Diagnostics, Severity};
use sortie_model::plan::Plan;

use crate::prompt;
use crate::questions::Answer;
use crate::survey::Survey;

/// The most answers the model may give: the first, then repairs. After this many refused
/// answers, [`propose`] gives up with the last one's problems.
pub const MAX_TRIES: usize = 3;

/// How long one model request may take, its retries included.
pub const REQUEST_TIME_LIMIT: Duration = Duration::from_secs(600);

/// The name diagnostics give the proposed file.
const FILE_NAME: &str = "mission.toml";

/// A plan the parser accepted.
#[derive(Clone, Debug, PartialEq)]
pub struct Proposal {
    /// The mission file, as the model wrote it.
    pub mission_toml: String,
    pub plan: Plan,
    /// The parser's warnings about it; no errors.
    pub warnings: Diagnostics,
    /// The planning lint's warnings about it (`sortie_model::lint`); no errors.
    pub lint: Vec<LintFinding>,
    /// How many answers it took, the accepted one included.
    pub tries: usize,
    /// Tokens and dollars of every request for this proposal (not earlier ones), summed.
    pub usage: AgentUsage,
    /// The conversation that led to it, the accepted answer last: [`revise`] goes on
    /// from here.
    conversation: Vec<ChatMessage>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// Every answer was refused; `problems` are the last answer's.
    #[error(
        "the model gave no valid mission file in {tries} tries; the last answer's problems:\n{problems}"
    )]
    NoValidPlan {
        tries: usize,
        /// The last answer's problems, one a line.
        problems: String,
        /// The last answer's diagnostics; empty when it had no toml block or only the
        /// planning lint refused it.
        diagnostics: Vec<Diagnostic>,
        /// Tokens and dollars of every request, summed.
        usage: AgentUsage,
    },
    #[error(transparent)]
    Model(#[from] ChatError),
}

/// Why one answer was refused.
enum Refusal {
    NoTomlBlock,
    Invalid(Diagnostics),
    /// The parser accepted it; the planning lint found errors.
    Linted(Vec<LintFinding>),
}

/// A mission file for `goal` in the surveyed repository, from `model`, with the person's
/// `answers` to the planner's [`questions`](crate::questions()) (none is fine): each refused
/// answer is sent back with its diagnostics, at most [`MAX_TRIES`] answers in all.
pub async fn propose(
    goal: &str,
    survey: &Survey,
    answers: &[Answer],
    model: &ChatModel,
) -> Result<Proposal, PlanError> {
    let first_request = prompt::first_request(goal, survey, answers);
    answer_until_valid(vec![ChatMessage::User(first_request)], model).await
}

/// `proposal` changed as the person's `instruction` says ("split milestone 2"), in the
/// same conversation and through the same checks and repairs as the first proposal.
pub async fn revise(
    proposal: &Proposal,
    instruction: &str,
    model: &ChatModel,
) -> Result<Proposal, PlanError> {
    let mut messages = proposal.conversation.clone();
    messages.push(ChatMessage::User(prompt::revision(instruction)));
    answer_until_valid(messages, model).await
}

/// Sends `messages` and checks the answer, sending each refused one back with its
/// problems, until one is accepted or [`MAX_TRIES`] were refused.
async fn answer_until_valid(
    mut messages: Vec<ChatMessage>,
    model: &ChatModel,
) -> Result<Proposal, PlanError> {
    let mut usage = AgentUsage::default();
    let mut last_refusal = Refusal::NoTomlBlock;
    for tries in 1..=MAX_TRIES {
        let reply = model
            .complete(prompt::SYSTEM, &messages, REQUEST_TIME_LIMIT)
            .await?;
        usage.add(&reply.usage);
        let refusal = match prompt::toml_block(&reply.text) {
            None => Refusal::NoTomlBlock,
            Some(mission_toml) => match mission_file::parse(FILE_NAME, mission_toml) {
                Ok(parsed) => {
                    let findings = lint::lint(&parsed.plan);
                    if lint::has_errors(&findings) {
                        Refusal::Linted(findings)
                    } else {
                        tracing::info!(tries, "the model's mission file was accepted");
                        let mission_toml = mission_toml.to_owned();
                        messages.push(ChatMessage::Assistant(reply.text));
                        return Ok(Proposal {
                            mission_toml,
                            plan: parsed.plan,
                            warnings: parsed.warnings,
                            lint: findings,
                            tries,
                            usage,
                            conversation: messages,
                        });
                    }
                }
                Err(diagnostics) => Refusal::Invalid(diagnostics),
            },
        };
        let feedback = match &refusal {
            Refusal::NoTomlBlock => prompt::NO_TOML_BLOCK.to_owned(),
            Refusal::Invalid(diagnostics) => prompt::refused(diagnostics),
            Refusal::Linted(findings) => prompt::linted(findings),
        };
        tracing::info!(
            tries,
            errors = match &refusal {
                Refusal::NoTomlBlock => 1,
                Refusal::Invalid(diagnostics) => diagnostics.errors().count(),
                Refusal::Linted(findings) => findings
                    .iter()
                    .filter(|finding| finding.severity == Severity::Error)
                    .count(),
            },
            "the model's mission file was refused"
        );
        messages.push(ChatMessage::Assistant(reply.text));
        messages.push(ChatMessage::User(feedback));
        last_refusal = refusal;
    }
    let (problems, diagnostics) = match last_refusal {
        Refusal::NoTomlBlock => ("the answer had no ```toml block".to_owned(), Vec::new()),
        Refusal::Invalid(diagnostics) => (diagnostics.to_string(), diagnostics.into_vec()),
        Refusal::Linted(findings) => (
            findings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
            Vec::new(),
        ),
    };
    Err(PlanError::NoValidPlan {
        tries: MAX_TRIES,
        problems,
        diagnostics,
        usage,
    })
}
