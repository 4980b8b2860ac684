//! OpenAI's Chat Completions API with tool calls, as OpenAI, vLLM, llama.cpp, Ollama,
//! LM Studio and LiteLLM serve it: the request, the whole answer, and streamed chunks.

use serde_json::{Value, json};

use super::client::{ModelError, excerpt};
use super::conversation::{Conversation, Message, ModelReply, ToolCall, TurnUsage};
use super::sse::SseEvent;
use super::tools::ToolSpec;

/// Relative to a base URL that ends in `/v1`, as OpenAI's clients take it.
pub(crate) const PATH: &str = "/chat/completions";

pub(crate) fn request_body(
    model: &str,
    max_output_tokens: u32,
    conversation: &Conversation,
    tools: &[ToolSpec],
    stream: bool,
) -> Value {
    let tools: Vec<Value> = tools
        .iter()
        .map(|tool| {
            json!({
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.parameters,
                },
            })
        })
        .collect();
    let mut body = json!({
        "model": model,
        "max_tokens": max_output_tokens,
        "messages": messages(conversation),
        "stream": stream,
    });
    // Endpoints refuse `tool_choice` without tools; a chat without tools sends neither.
    if !tools.is_empty() {
        body["tools"] = Value::Array(tools);
        body["tool_choice"] = json!("auto");
    }
    if stream {
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

fn messages(conversation: &Conversation) -> Vec<Value> {
    let mut messages = vec![json!({"role": "system", "content": conversation.system})];
    for message in &conversation.messages {
        match message {
            Message::User(text) => messages.push(json!({"role": "user", "content": text})),
            Message::Assistant { text, calls } => {
                let mut message = json!({
                    "role": "assistant",
                    "content": if text.is_empty() { Value::Null } else { json!(text) },
                });
                if !calls.is_empty() {
                    message["tool_calls"] = calls
                        .iter()
                        .map(|call| {
                            json!({
                                "id": call.id,
                                "type": "function",
                                "function": {"name": call.name, "arguments": call.arguments},
                            })
                        })
                        .collect();
                }
                messages.push(message);
            }
            Message::ToolResults(results) => {
                for result in results {
                    messages.push(json!({
                        "role": "tool",
                        "tool_call_id": result.call_id,
                        "content": result.content,
                    }));
                }
            }
        }
    }
    messages
}

fn usage(usage: &Value) -> Option<TurnUsage> {
    let prompt = usage["prompt_tokens"].as_u64()?;
    let cached = usage["prompt_tokens_details"]["cached_tokens"]
        .as_u64()
        .unwrap_or(0);
    Some(TurnUsage {
        input_tokens: prompt.saturating_sub(cached),
        output_tokens: usage["completion_tokens"].as_u64().unwrap_or(0),
        cached_input_tokens: cached,
    })
}

/// Arguments as JSON text: a string as it is, an object (as some servers send) printed.
fn arguments_text(arguments: &Value) -> String {
    match arguments {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn error_in(body: &Value) -> Option<ModelError> {
    let error = body.get("error")?;
    let message = error["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| error.to_string());
    Some(ModelError::Fatal(format!(
        "the model endpoint reported an error: {message}"
    )))
}

/// The answer to a request that did not stream.
pub(crate) fn parse_completion(body: &Value, turn: u32) -> Result<ModelReply, ModelError> {
    if let Some(error) = error_in(body) {
        return Err(error);
    }
    let choice = &body["choices"][0];
    let message = &choice["message"];
    if !message.is_object() {
        return Err(ModelError::Fatal(format!(
            "the model's answer has no choices[0].message: {}",
            excerpt(&body.to_string())
        )));
    }
    let calls = message["tool_calls"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(index, call)| ToolCall {
            id: call["id"]
                .as_str()
                .filter(|id| !id.is_empty())
                .map_or_else(|| format!("call_{turn}_{index}"), str::to_owned),
            name: call["function"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            arguments: arguments_text(&call["function"]["arguments"]),
        })
        .collect();
    Ok(ModelReply {
        text: message["content"].as_str().unwrap_or_default().to_owned(),
        calls,
        stop_reason: choice["finish_reason"].as_str().map(str::to_owned),
        usage: usage(&body["usage"]).unwrap_or_default(),
    })
}

/// Builds the answer from `data:` chunks, up to `data: [DONE]`.
#[derive(Debug, Default)]
pub(crate) struct StreamAssembler {
    text: String,
    /// By the chunk's `index`: id, name, arguments.
    calls: Vec<(u64, String, String, String)>,
    finish_reason: Option<String>,
    usage: TurnUsage,
    done: bool,
}

impl StreamAssembler {
    pub(crate) fn apply(&mut self, event: &SseEvent) -> Result<(), ModelError> {
        if event.data.trim() == "[DONE]" {
            self.done = true;
            return Ok(());
        }
        let data: Value = serde_json::from_str(&event.data).map_err(|error| {
            ModelError::Fatal(format!(
                "the model endpoint sent a malformed chunk ({error}): {}",
                excerpt(&event.data)
            ))
        })?;
        if let Some(error) = error_in(&data) {
            return Err(error);
        }
        if let Some(usage) = usage(&data["usage"]) {
            self.usage = usage;
        }
        let choice = &data["choices"][0];
        let delta = &choice["delta"];
        if let Some(text) = delta["content"].as_str() {
            self.text.push_str(text);
        }
        for (position, call) in delta["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let index = call["index"].as_u64().unwrap_or(position as u64);
            let entry = match self.calls.iter().position(|(known, ..)| *known == index) {
                Some(found) => &mut self.calls[found],
                None => {
                    self.calls
                        .push((index, String::new(), String::new(), String::new()));
                    self.calls.last_mut().expect("just pushed")
                }
            };
            if let Some(id) = call["id"].as_str().filter(|id| !id.is_empty()) {
                entry.1 = id.to_owned();
            }
            if let Some(name) = call["function"]["name"].as_str().filter(|n| !n.is_empty()) {
                entry.2 = name.to_owned();
            }
            entry
                .3
                .push_str(&arguments_text(&call["function"]["arguments"]));
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            self.finish_reason = Some(reason.to_owned());
        }
        Ok(())
    }

    /// The answer; a stream that stopped before `[DONE]` and before any finish reason was
    /// cut, and is retried.
    pub(crate) fn finish(self, turn: u32) -> Result<ModelReply, ModelError> {
        if !self.done && self.finish_reason.is_none() {
            return Err(ModelError::Retryable(
                "the model's stream ended before its finish reason".to_owned(),
            ));
        }
        let calls = self
            .calls
            .into_iter()
            .enumerate()
            .map(|(position, (_, id, name, arguments))| ToolCall {
                id: if id.is_empty() {
                    format!("call_{turn}_{position}")
                } else {
                    id
                },
                name,
                arguments,
            })
            .collect();
        Ok(ModelReply {
            text: self.text,
            calls,
            stop_reason: self.finish_reason,
            usage: self.usage,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(data: Value) -> SseEvent {
        SseEvent {
            name: None,
            data: data.to_string(),
        }
    }

    #[test]
    fn chunks_with_text_tool_calls_and_usage_are_assembled() {
        let mut assembler = StreamAssembler::default();
        for data in [
            json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": "On "}}]}),
            json!({"choices": [{"index": 0, "delta": {"content": "it."}}]}),
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "search", "arguments": ""}}]}}]}),
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"query\":"}}]}}]}),
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "\"x\"}"}}]}}]}),
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 1, "function": {"name": "list_files", "arguments": {}}}]}}]}),
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
            json!({"choices": [], "usage": {"prompt_tokens": 50, "completion_tokens": 9, "prompt_tokens_details": {"cached_tokens": 20}}}),
        ] {
            assembler.apply(&chunk(data)).expect("chunk");
        }
        assembler
            .apply(&SseEvent {
                name: None,
                data: "[DONE]".to_owned(),
            })
            .expect("done");
        let reply = assembler.finish(3).expect("reply");
        assert_eq!(reply.text, "On it.");
        assert_eq!(reply.calls.len(), 2);
        assert_eq!(reply.calls[0].id, "call_a");
        assert_eq!(reply.calls[0].arguments, "{\"query\":\"x\"}");
        assert_eq!(reply.calls[1].id, "call_3_1", "a missing id is made up");
        assert_eq!(reply.calls[1].arguments, "{}");
        assert_eq!(
            reply.usage,
            TurnUsage {
                input_tokens: 30,
                output_tokens: 9,
                cached_input_tokens: 20
            }
        );
    }

    #[test]
    fn a_cut_stream_is_retried_and_a_malformed_chunk_is_not() {
        let mut assembler = StreamAssembler::default();
        assembler
            .apply(&chunk(json!({"choices": [{"delta": {"content": "a"}}]})))
            .expect("chunk");
        let malformed = SseEvent {
            name: None,
            data: "{oops".to_owned(),
        };
        assert!(matches!(
            assembler.apply(&malformed),
            Err(ModelError::Fatal(message)) if message.contains("malformed")
        ));
        assert!(matches!(assembler.finish(0), Err(ModelError::Retryable(_))));
    }

    #[test]
    fn a_whole_completion_with_object_arguments_is_read() {
        let body = json!({
            "choices": [{"message": {"role": "assistant", "content": null, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "read_file", "arguments": {"path": "a"}}}
            ]}, "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 2},
        });
        let reply = parse_completion(&body, 0).expect("reply");
        assert_eq!(reply.text, "");
        assert_eq!(reply.calls[0].arguments, "{\"path\":\"a\"}");
        assert_eq!(reply.usage.input_tokens, 7);
    }
}
