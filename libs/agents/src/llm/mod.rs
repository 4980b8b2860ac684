//! The `llm` agent: Sortie's own small coding-agent loop over a model endpoint.
//!
//! It speaks OpenAI Chat Completions with tool calls (OpenAI, vLLM, llama.cpp, Ollama, LM
//! Studio, LiteLLM) and Anthropic Messages with tool use, streamed or whole. The model
//! works through tools Sortie executes inside the workspace (`read_file`, `write_file`,
//! `edit_file`, `list_files`, `search`, `run_command` for allowed commands only) and ends
//! by calling `finish` with its handoff. Every run has a wall-time limit, a turn limit and
//! a context budget, and reports its tokens and, when prices are known, its dollars.

mod anthropic;
mod chat;
mod client;
mod conversation;
mod openai;
pub(crate) mod prompt;
mod run;
mod sse;
mod tools;

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sortie_settings::{AgentProfileSettings, Secret};
use tokio::sync::mpsc;

use crate::{Agent, AgentError, AgentEvent, AgentOutcome, AgentRequest};
pub use chat::{ChatError, ChatMessage, ChatModel, ChatReply};
use client::ModelClient;

/// The HTTP protocol the endpoint speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Protocol {
    /// `POST {base_url}/chat/completions`; the base URL usually ends in `/v1`.
    #[serde(rename = "openai_chat")]
    OpenAiChat,
    /// `POST {base_url}/v1/messages`.
    #[serde(rename = "anthropic")]
    Anthropic,
}

impl Protocol {
    fn describe(self) -> &'static str {
        match self {
            Protocol::OpenAiChat => "OpenAI chat completions",
            Protocol::Anthropic => "Anthropic messages",
        }
    }
}

pub use crate::prices::TokenPrices;

/// Retries of a model request that failed with 429, a 5xx, a cut stream, a connection
/// error or no answer within the request timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first wait; each retry doubles it.
    pub base_delay: Duration,
    /// No wait is longer, even when the server asks for more with `retry-after`.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(16),
        }
    }
}

/// Where the model is and how far a run may go.
#[derive(Clone, Debug)]
pub struct LlmConfig {
    pub protocol: Protocol,
    /// `http://host:port/v1` for OpenAI chat completions, `http://host:port` for
    /// Anthropic messages. This build has no TLS: an `https` endpoint needs a proxy.
    pub base_url: String,
    pub model: String,
    /// Sent as `x-api-key` (Anthropic) or a bearer token (OpenAI); never logged.
    pub api_key: Option<Secret>,
    /// Model requests per run, unless the request sets fewer or more.
    pub max_turns: u32,
    /// `max_tokens` of each model request.
    pub max_output_tokens: u32,
    /// Above this estimated size, old tool outputs are dropped, then long ones truncated.
    pub context_budget_tokens: u64,
    pub prices: Option<TokenPrices>,
    /// One model request, retries apart.
    pub request_timeout: Duration,
    pub retries: RetryPolicy,
    /// The longest one `run_command` may take.
    pub command_timeout: Duration,
    /// Ask for server-sent events (the default) or whole answers.
    pub stream: bool,
}

impl LlmConfig {
    /// A configuration with Sortie's defaults: 50 turns, 8192 output tokens a turn, a
    /// budget of 100,000 context tokens, 5 minutes a request, 10 minutes a command,
    /// streaming, no prices.
    pub fn new(protocol: Protocol, base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            protocol,
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            max_turns: 50,
            max_output_tokens: 8_192,
            context_budget_tokens: 100_000,
            prices: None,
            request_timeout: Duration::from_secs(300),
            retries: RetryPolicy::default(),
            command_timeout: Duration::from_secs(600),
            stream: true,
        }
    }

    /// The configuration of profile `agents.<name>`: `base_url` and `model` are required,
    /// `protocol` is `openai_chat` (the default) or `anthropic`.
    pub fn from_profile(name: &str, profile: &AgentProfileSettings) -> Result<Self, AgentError> {
        let required = |value: &Option<String>, field: &str| {
            value
                .clone()
                .filter(|value| !value.trim().is_empty())
                .ok_or_else(|| {
                    AgentError::Config(format!(
                        "agents.{name}.{field} is not set: the llm agent needs it"
                    ))
                })
        };
        let base_url = required(&profile.base_url, "base_url")?;
        let model = required(&profile.model, "model")?;
        let protocol = match profile.protocol.as_deref() {
            None | Some("openai_chat") => Protocol::OpenAiChat,
            Some("anthropic") => Protocol::Anthropic,
            Some(other) => {
                return Err(AgentError::Config(format!(
                    "agents.{name}.protocol is {other:?}; it is openai_chat or anthropic"
                )));
            }
        };
        let mut config = Self::new(protocol, base_url, model);
        config.api_key = profile.api_key.clone();
        if let Some(turns) = profile.max_turns {
            config.max_turns = turns;
        }
        config.prices = crate::prices::prices_for(Some(&config.model), profile.prices);
        Ok(config)
    }
}

/// Sortie's built-in coding agent over a model endpoint.
#[derive(Debug)]
pub struct LlmAgent {
    client: ModelClient,
    config: LlmConfig,
}

impl LlmAgent {
    /// An agent for `config`; refuses a base URL that is not http(s) and an empty model.
    pub fn new(config: LlmConfig) -> Result<Self, AgentError> {
        let client = ModelClient::new(&config).map_err(AgentError::Config)?;
        Ok(Self { client, config })
    }

    /// The agent of profile `agents.<name>` (see [`LlmConfig::from_profile`]).
    pub fn from_profile(name: &str, profile: &AgentProfileSettings) -> Result<Self, AgentError> {
        Self::new(LlmConfig::from_profile(name, profile)?)
    }

    pub fn config(&self) -> &LlmConfig {
        &self.config
    }
}

#[async_trait]
impl Agent for LlmAgent {
    fn name(&self) -> &str {
        "llm"
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
            tracing::debug!(agent = "llm", servers = ?names, "this agent does not support MCP; it runs without the request's MCP servers");
        }
        run::run(&self.client, &self.config, request, events).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_base_url_or_model_is_refused() {
        let bad_url = LlmConfig::new(Protocol::Anthropic, "localhost:8080", "m");
        assert!(matches!(LlmAgent::new(bad_url), Err(AgentError::Config(_))));
        let no_model = LlmConfig::new(Protocol::OpenAiChat, "http://127.0.0.1:1/v1", " ");
        assert!(matches!(
            LlmAgent::new(no_model),
            Err(AgentError::Config(_))
        ));
    }

    #[test]
    fn the_api_key_never_prints() {
        let mut config = LlmConfig::new(Protocol::Anthropic, "http://127.0.0.1:1", "m");
        config.api_key = Some(Secret::new("sk-very-secret"));
        let agent = LlmAgent::new(config).expect("agent");
        assert!(!format!("{agent:?}").contains("sk-very-secret"));
    }
}
