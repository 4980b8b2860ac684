//! Anthropic's Messages API with tool use: the request, the whole answer, and the
//! server-sent events of a streamed one.

use serde_json::{Value, json};

use super::client::{ModelError, excerpt};
use super::conversation::{Conversation, Message, ModelReply, ToolCall, TurnUsage};
use super::sse::SseEvent;
use super::tools::ToolSpec;

pub(crate) const PATH: &str = "/v1/messages";
pub(crate) const VERSION: &str = "2023-06-01";

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
                "name": tool.name,
                "description": tool.description,
                "input_schema": tool.parameters,
            })
        })
        .collect();
    let mut body = json!({
        "model": model,
        "max_tokens": max_output_tokens,
        // The system prompt is the same on every turn: let the provider cache it.
        "system": [{"type": "text", "text": conversation.system,
                    "cache_control": {"type": "ephemeral"}}],
        "messages": messages(conversation),
        "stream": stream,
    });
    if !tools.is_empty() {
        body["tools"] = Value::Array(tools);
    }
    body
}

/// The conversation as alternating user and assistant messages; user content that
/// follows user content joins the same message.
fn messages(conversation: &Conversation) -> Vec<Value> {
    let mut messages: Vec<(&str, Vec<Value>)> = Vec::new();
    for message in &conversation.messages {
        let (role, blocks) = match message {
            Message::User(text) => ("user", vec![json!({"type": "text", "text": text})]),
            Message::Assistant { text, calls } => {
                let mut blocks = Vec::new();
                if !text.is_empty() {
                    blocks.push(json!({"type": "text", "text": text}));
                }
                for call in calls {
                    let input: Value = serde_json::from_str(&call.arguments)
                        .ok()
                        .filter(Value::is_object)
                        .unwrap_or_else(|| json!({}));
                    blocks.push(json!({
                        "type": "tool_use", "id": call.id, "name": call.name, "input": input,
                    }));
                }
                if blocks.is_empty() {
                    blocks.push(json!({"type": "text", "text": "(no answer)"}));
                }
                ("assistant", blocks)
            }
            Message::ToolResults(results) => (
                "user",
                results
                    .iter()
                    .map(|result| {
                        json!({
                            "type": "tool_result",
                            "tool_use_id": result.call_id,
                            "content": result.content,
                            "is_error": result.is_error,
                        })
                    })
                    .collect(),
            ),
        };
        match messages.last_mut() {
            Some((last_role, last_blocks)) if *last_role == role => last_blocks.extend(blocks),
            _ => messages.push((role, blocks)),
        }
    }
    messages
        .into_iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect()
}

fn usage(usage: &Value, into: &mut TurnUsage) {
    let count = |key: &str| usage[key].as_u64();
    let input = count("input_tokens");
    let created = count("cache_creation_input_tokens");
    if input.is_some() || created.is_some() {
        into.input_tokens = input.unwrap_or(0) + created.unwrap_or(0);
    }
    if let Some(read) = count("cache_read_input_tokens") {
        into.cached_input_tokens = read;
    }
    if let Some(output) = count("output_tokens") {
        into.output_tokens = output;
    }
}

/// The answer to a request that did not stream.
pub(crate) fn parse_message(body: &Value) -> Result<ModelReply, ModelError> {
    if body["type"] == "error" {
        return Err(stream_error(body));
    }
    let Some(content) = body["content"].as_array() else {
        return Err(ModelError::Fatal(format!(
            "the model's answer has no content: {}",
            excerpt(&body.to_string())
        )));
    };
    let mut reply = ModelReply {
        stop_reason: body["stop_reason"].as_str().map(str::to_owned),
        ..ModelReply::default()
    };
    for block in content {
        match block["type"].as_str() {
            Some("text") => reply
                .text
                .push_str(block["text"].as_str().unwrap_or_default()),
            Some("tool_use") => reply.calls.push(ToolCall {
                id: block["id"].as_str().unwrap_or_default().to_owned(),
                name: block["name"].as_str().unwrap_or_default().to_owned(),
                arguments: block["input"].to_string(),
            }),
            _ => {}
        }
    }
    usage(&body["usage"], &mut reply.usage);
    Ok(reply)
}

fn stream_error(data: &Value) -> ModelError {
    let kind = data["error"]["type"].as_str().unwrap_or("error");
    let message = data["error"]["message"].as_str().unwrap_or_default();
    let text = format!("the model endpoint reported {kind}: {message}");
    match kind {
        "overloaded_error" | "api_error" | "rate_limit_error" => ModelError::Retryable(text),
        _ => ModelError::Fatal(text),
    }
}

#[derive(Debug)]
enum Block {
    Text(String),
    ToolUse {
        id: String,
        name: String,
        json: String,
    },
    Other,
}

/// Builds the answer from `message_start`, `content_block_*`, `message_delta` and
/// `message_stop` events.
#[derive(Debug, Default)]
pub(crate) struct StreamAssembler {
    blocks: Vec<(u64, Block)>,
    stop_reason: Option<String>,
    usage: TurnUsage,
    stopped: bool,
}

impl StreamAssembler {
    pub(crate) fn apply(&mut self, event: &SseEvent) -> Result<(), ModelError> {
        let data: Value = serde_json::from_str(&event.data).map_err(|error| {
            ModelError::Fatal(format!(
                "the model endpoint sent a malformed event ({error}): {}",
                excerpt(&event.data)
            ))
        })?;
        let kind = data["type"]
            .as_str()
            .or(event.name.as_deref())
            .unwrap_or_default();
        match kind {
            "message_start" => usage(&data["message"]["usage"], &mut self.usage),
            "content_block_start" => {
                let index = data["index"].as_u64().unwrap_or(self.blocks.len() as u64);
                let block = &data["content_block"];
                let block = match block["type"].as_str() {
                    Some("text") => Block::Text(block["text"].as_str().unwrap_or("").to_owned()),
                    Some("tool_use") => Block::ToolUse {
                        id: block["id"].as_str().unwrap_or_default().to_owned(),
                        name: block["name"].as_str().unwrap_or_default().to_owned(),
                        json: String::new(),
                    },
                    _ => Block::Other,
                };
                self.blocks.push((index, block));
            }
            "content_block_delta" => {
                let index = data["index"].as_u64();
                let Some((_, block)) = self
                    .blocks
                    .iter_mut()
                    .rev()
                    .find(|(block_index, _)| Some(*block_index) == index)
                else {
                    return Err(ModelError::Fatal(format!(
                        "the model endpoint sent a delta for a block it never started: {}",
                        excerpt(&event.data)
                    )));
                };
                let delta = &data["delta"];
                match (block, delta["type"].as_str()) {
                    (Block::Text(text), Some("text_delta")) => {
                        text.push_str(delta["text"].as_str().unwrap_or_default());
                    }
                    (Block::ToolUse { json, .. }, Some("input_json_delta")) => {
                        json.push_str(delta["partial_json"].as_str().unwrap_or_default());
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(reason) = data["delta"]["stop_reason"].as_str() {
                    self.stop_reason = Some(reason.to_owned());
                }
                usage(&data["usage"], &mut self.usage);
            }
            "message_stop" => self.stopped = true,
            "error" => return Err(stream_error(&data)),
            _ => {}
        }
        Ok(())
    }

    pub(crate) fn finish(self) -> Result<ModelReply, ModelError> {
        if !self.stopped {
            return Err(ModelError::Retryable(
                "the model's stream ended before message_stop".to_owned(),
            ));
        }
        let mut reply = ModelReply {
            stop_reason: self.stop_reason,
            usage: self.usage,
            ..ModelReply::default()
        };
        for (_, block) in self.blocks {
            match block {
                Block::Text(text) => reply.text.push_str(&text),
                Block::ToolUse { id, name, json } => reply.calls.push(ToolCall {
                    id,
                    name,
                    arguments: if json.trim().is_empty() {
                        "{}".to_owned()
                    } else {
                        json
                    },
                }),
                Block::Other => {}
            }
        }
        Ok(reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::conversation::ToolResult;

    fn event(data: Value) -> SseEvent {
        SseEvent {
            name: data["type"].as_str().map(str::to_owned),
            data: data.to_string(),
        }
    }

    #[test]
    fn a_stream_with_text_and_a_tool_use_is_assembled() {
        let mut assembler = StreamAssembler::default();
        for data in [
            json!({"type": "message_start", "message": {"usage": {"input_tokens": 10, "cache_read_input_tokens": 5, "output_tokens": 1}}}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Let me "}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "look."}}),
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {}}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"path\":"}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "\"a\"}"}}),
            json!({"type": "content_block_stop", "index": 1}),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 30}}),
            json!({"type": "message_stop"}),
        ] {
            assembler.apply(&event(data)).expect("event");
        }
        let reply = assembler.finish().expect("reply");
        assert_eq!(reply.text, "Let me look.");
        assert_eq!(
            reply.calls,
            [ToolCall {
                id: "toolu_1".to_owned(),
                name: "read_file".to_owned(),
                arguments: "{\"path\":\"a\"}".to_owned(),
            }]
        );
        assert_eq!(reply.stop_reason.as_deref(), Some("tool_use"));
        assert_eq!(
            reply.usage,
            TurnUsage {
                input_tokens: 10,
                output_tokens: 30,
                cached_input_tokens: 5
            }
        );
    }

    #[test]
    fn a_stream_without_message_stop_is_retried() {
        let mut assembler = StreamAssembler::default();
        assembler
            .apply(&event(json!({"type": "message_start", "message": {}})))
            .expect("start");
        assert!(matches!(assembler.finish(), Err(ModelError::Retryable(_))));
    }

    #[test]
    fn an_overloaded_error_event_is_retried_and_a_bad_request_is_not() {
        let mut assembler = StreamAssembler::default();
        let overloaded =
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}});
        assert!(matches!(
            assembler.apply(&event(overloaded)),
            Err(ModelError::Retryable(_))
        ));
        let invalid =
            json!({"type": "error", "error": {"type": "invalid_request_error", "message": "no"}});
        assert!(matches!(
            assembler.apply(&event(invalid)),
            Err(ModelError::Fatal(_))
        ));
    }

    #[test]
    fn tool_results_and_a_following_note_share_one_user_message() {
        let mut conversation = Conversation::new("system".to_owned(), "task".to_owned());
        conversation.messages.push(Message::Assistant {
            text: String::new(),
            calls: vec![ToolCall {
                id: "t1".to_owned(),
                name: "list_files".to_owned(),
                arguments: "not json".to_owned(),
            }],
        });
        conversation
            .messages
            .push(Message::ToolResults(vec![ToolResult {
                call_id: "t1".to_owned(),
                content: "a.txt".to_owned(),
                is_error: false,
            }]));
        conversation
            .messages
            .push(Message::User("go on".to_owned()));
        let messages = messages(&conversation);
        assert_eq!(messages.len(), 3);
        assert_eq!(messages[1]["content"][0]["input"], json!({}));
        assert_eq!(messages[2]["content"][0]["type"], "tool_result");
        assert_eq!(messages[2]["content"][1]["text"], "go on");
    }
}
