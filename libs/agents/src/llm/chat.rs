//! Asking the model for text alone: a system prompt and a conversation in, the model's
//! reply and what it used out, with the same client, protocols and retries as the `llm`
//! agent but no tools. The planner talks to the model this way.

use std::time::Duration;

use tokio::time::Instant;

use super::LlmConfig;
use super::client::{CompletionError, ModelClient};
use super::conversation::{Conversation, Message};
use crate::{AgentError, AgentUsage};

/// One message of a chat after the system prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChatMessage {
    User(String),
    Assistant(String),
}

/// The model's answer to a chat.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChatReply {
    pub text: String,
    /// Why the model stopped, in the protocol's words (`end_turn`, `stop`, `max_tokens`,
    /// `length`).
    pub stop_reason: Option<String>,
    /// The tokens of this one request (`turns` is 1), and its dollars when the model's
    /// prices are known.
    pub usage: AgentUsage,
}

impl ChatReply {
    /// Whether the model stopped because it hit its output limit.
    pub fn hit_output_limit(&self) -> bool {
        matches!(self.stop_reason.as_deref(), Some("max_tokens" | "length"))
    }
}

/// How a chat request failed, after any retries.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("the model did not answer within {}s", .0.as_secs())]
    TimeLimit(Duration),
    #[error("the model request failed: {0}")]
    Failed(String),
}

/// A model endpoint to chat with, without tools.
#[derive(Debug)]
pub struct ChatModel {
    client: ModelClient,
    config: LlmConfig,
}

impl ChatModel {
    /// A chat model for `config`; refuses a base URL that is not http(s) and an empty
    /// model.
    pub fn new(config: LlmConfig) -> Result<Self, AgentError> {
        let client = ModelClient::new(&config).map_err(AgentError::Config)?;
        Ok(Self { client, config })
    }

    pub fn config(&self) -> &LlmConfig {
        &self.config
    }

    /// The model's reply to `messages` under `system`, retrying what is worth retrying,
    /// within `time_limit` in all.
    pub async fn complete(
        &self,
        system: &str,
        messages: &[ChatMessage],
        time_limit: Duration,
    ) -> Result<ChatReply, ChatError> {
        let conversation = Conversation {
            system: system.to_owned(),
            messages: messages
                .iter()
                .map(|message| match message {
                    ChatMessage::User(text) => Message::User(text.clone()),
                    ChatMessage::Assistant(text) => Message::Assistant {
                        text: text.clone(),
                        calls: Vec::new(),
                    },
                })
                .collect(),
        };
        let deadline = Instant::now() + time_limit;
        let reply = match self.client.complete(&conversation, &[], 0, deadline).await {
            Ok(reply) => reply,
            Err(CompletionError::TimeLimit) => return Err(ChatError::TimeLimit(time_limit)),
            Err(CompletionError::Failed(message)) => return Err(ChatError::Failed(message)),
        };
        let mut usage = AgentUsage {
            input_tokens: reply.usage.input_tokens,
            output_tokens: reply.usage.output_tokens,
            cached_input_tokens: reply.usage.cached_input_tokens,
            turns: 1,
            ..AgentUsage::default()
        };
        usage.cost_usd = self.config.prices.map(|prices| prices.cost(&usage));
        Ok(ChatReply {
            text: reply.text,
            stop_reason: reply.stop_reason,
            usage,
        })
    }
}
