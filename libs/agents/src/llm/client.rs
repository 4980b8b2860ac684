//! Talking to the model endpoint: one request per turn, streamed or whole, with bounded
//! retries and exponential backoff on 429, 5xx, cut streams and connection errors.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use serde_json::Value;
use tokio::time::Instant;

use super::conversation::{Conversation, ModelReply};
use super::sse::SseParser;
use super::tools::ToolSpec;
use super::{LlmConfig, Protocol, RetryPolicy, anthropic, openai};

/// How one request went wrong: worth another try, or not.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ModelError {
    Retryable(String),
    Fatal(String),
}

/// How asking the model for a turn failed, after any retries.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum CompletionError {
    /// The run's deadline came first.
    TimeLimit,
    Failed(String),
}

/// The most of a body quoted in an error.
const EXCERPT_CHARS: usize = 300;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) fn excerpt(text: &str) -> String {
    let text = text.trim();
    if text.chars().count() <= EXCERPT_CHARS {
        return text.to_owned();
    }
    format!("{}…", text.chars().take(EXCERPT_CHARS).collect::<String>())
}

#[derive(Debug)]
pub(crate) struct ModelClient {
    http: reqwest::Client,
    url: String,
    config: LlmConfig,
}

impl ModelClient {
    pub(crate) fn new(config: &LlmConfig) -> Result<Self, String> {
        let base = config.base_url.trim_end_matches('/');
        let parsed = reqwest::Url::parse(base)
            .map_err(|error| format!("the base URL {base:?} is not a URL: {error}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("the base URL {base:?} is not http or https"));
        }
        if config.model.trim().is_empty() {
            return Err("the model name is empty".to_owned());
        }
        let path = match config.protocol {
            Protocol::Anthropic => anthropic::PATH,
            Protocol::OpenAiChat => openai::PATH,
        };
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|error| format!("building the HTTP client: {error}"))?;
        Ok(Self {
            http,
            url: format!("{base}{path}"),
            config: config.clone(),
        })
    }

    /// The model's answer to the conversation, retrying what is worth retrying, until
    /// `deadline` at the latest.
    pub(crate) async fn complete(
        &self,
        conversation: &Conversation,
        tools: &[ToolSpec],
        turn: u32,
        deadline: Instant,
    ) -> Result<ModelReply, CompletionError> {
        let config = &self.config;
        let body = match config.protocol {
            Protocol::Anthropic => anthropic::request_body(
                &config.model,
                config.max_output_tokens,
                conversation,
                tools,
                config.stream,
            ),
            Protocol::OpenAiChat => openai::request_body(
                &config.model,
                config.max_output_tokens,
                conversation,
                tools,
                config.stream,
            ),
        };
        let mut retry = 0;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(CompletionError::TimeLimit);
            }
            let attempt_deadline = (now + config.request_timeout).min(deadline);
            let attempt = tokio::time::timeout_at(attempt_deadline, self.send(&body, turn)).await;
            let (error, retry_after) = match attempt {
                Ok(Ok(reply)) => return Ok(reply),
                Ok(Err(failure)) => failure,
                Err(_) if attempt_deadline >= deadline => return Err(CompletionError::TimeLimit),
                Err(_) => (
                    ModelError::Retryable(format!(
                        "the model endpoint did not answer within {}s",
                        config.request_timeout.as_secs()
                    )),
                    None,
                ),
            };
            let message = match error {
                ModelError::Fatal(message) => return Err(CompletionError::Failed(message)),
                ModelError::Retryable(message) => message,
            };
            if retry >= config.retries.max_retries {
                return Err(CompletionError::Failed(format!(
                    "{message} (gave up after {} attempts)",
                    retry + 1
                )));
            }
            let delay = backoff(&config.retries, retry, retry_after);
            tracing::warn!(
                model = %config.model,
                retry = retry + 1,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                error = %message,
                "model request failed; retrying"
            );
            tokio::time::sleep_until((Instant::now() + delay).min(deadline)).await;
            retry += 1;
        }
    }

    async fn send(
        &self,
        body: &Value,
        turn: u32,
    ) -> Result<ModelReply, (ModelError, Option<Duration>)> {
        let mut request = self.http.post(&self.url).json(body);
        let key = self
            .config
            .api_key
            .as_ref()
            .map(|key| key.expose_secret())
            .filter(|key| !key.is_empty());
        match self.config.protocol {
            Protocol::Anthropic => {
                request = request.header("anthropic-version", anthropic::VERSION);
                if let Some(key) = key {
                    request = request.header("x-api-key", key);
                }
            }
            Protocol::OpenAiChat => {
                if let Some(key) = key {
                    request = request.bearer_auth(key);
                }
            }
        }
        let mut response = request.send().await.map_err(|error| {
            let message = format!(
                "could not reach the model endpoint {}: {}",
                self.url,
                error_chain(&error)
            );
            (ModelError::Retryable(message), None)
        })?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let text = response.text().await.unwrap_or_default();
            let message = format!("the model endpoint answered {status}: {}", excerpt(&text));
            let retryable = status == StatusCode::TOO_MANY_REQUESTS
                || status == StatusCode::REQUEST_TIMEOUT
                || status.is_server_error();
            let error = if retryable {
                ModelError::Retryable(message)
            } else {
                ModelError::Fatal(message)
            };
            return Err((error, retry_after));
        }
        let streamed = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("text/event-stream"));
        let cut = |error: reqwest::Error| {
            let message = format!("the model's answer was cut: {}", error_chain(&error));
            (ModelError::Retryable(message), None)
        };
        if !streamed {
            let bytes = response.bytes().await.map_err(cut)?;
            let body: Value = serde_json::from_slice(&bytes).map_err(|error| {
                let message = format!(
                    "the model endpoint's answer is not JSON ({error}): {}",
                    excerpt(&String::from_utf8_lossy(&bytes))
                );
                (ModelError::Fatal(message), None)
            })?;
            let reply = match self.config.protocol {
                Protocol::Anthropic => anthropic::parse_message(&body),
                Protocol::OpenAiChat => openai::parse_completion(&body, turn),
            };
            return reply.map_err(|error| (error, None));
        }
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        let mut anthropic_stream = anthropic::StreamAssembler::default();
        let mut openai_stream = openai::StreamAssembler::default();
        loop {
            let chunk = response.chunk().await.map_err(cut)?;
            let ended = chunk.is_none();
            match chunk {
                Some(chunk) => events.extend(parser.push(&chunk)),
                None => events.extend(parser.finish()),
            }
            for event in events.drain(..) {
                let applied = match self.config.protocol {
                    Protocol::Anthropic => anthropic_stream.apply(&event),
                    Protocol::OpenAiChat => openai_stream.apply(&event),
                };
                applied.map_err(|error| (error, None))?;
            }
            if ended {
                break;
            }
        }
        let reply = match self.config.protocol {
            Protocol::Anthropic => anthropic_stream.finish(),
            Protocol::OpenAiChat => openai_stream.finish(turn),
        };
        reply.map_err(|error| (error, None))
    }
}

/// The wait before retry number `retry + 1`: the base delay doubled each time, up to the
/// limit, with random jitter in its upper half; at least what the server asked for with
/// `retry-after`, but never more than the limit.
pub(crate) fn backoff(policy: &RetryPolicy, retry: u32, retry_after: Option<Duration>) -> Duration {
    let exponential = policy
        .base_delay
        .saturating_mul(2u32.saturating_pow(retry))
        .min(policy.max_delay);
    let half = exponential / 2;
    let jitter_nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
    let jitter = if jitter_nanos == 0 {
        Duration::ZERO
    } else {
        Duration::from_nanos(random() % jitter_nanos)
    };
    (half + jitter)
        .max(retry_after.unwrap_or(Duration::ZERO))
        .min(policy.max_delay)
}

/// A random number from the standard library's randomly keyed hasher.
fn random() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0);
    hasher.finish()
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_retries: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        }
    }

    #[test]
    fn backoff_doubles_within_jitter_and_stops_at_the_limit() {
        for (retry, low, high) in [(0, 50, 100), (1, 100, 200), (2, 200, 400), (6, 500, 1_000)] {
            let delay = backoff(&policy(), retry, None);
            assert!(
                delay >= Duration::from_millis(low) && delay <= Duration::from_millis(high),
                "retry {retry}: {delay:?}"
            );
        }
    }

    #[test]
    fn backoff_waits_as_long_as_the_server_asks_up_to_the_limit() {
        let asked = backoff(&policy(), 0, Some(Duration::from_millis(700)));
        assert_eq!(asked, Duration::from_millis(700));
        let too_long = backoff(&policy(), 0, Some(Duration::from_secs(60)));
        assert_eq!(too_long, Duration::from_secs(1));
    }

    #[test]
    fn excerpts_are_short() {
        assert_eq!(excerpt("  short \n"), "short");
        assert_eq!(
            excerpt(&"x".repeat(1_000)).chars().count(),
            EXCERPT_CHARS + 1
        );
    }
}
