//! Anthropic's Messages API, as `POST /v1/messages` answers it.

use serde_json::{Value, json};

use super::SseEvent;
use super::script::{Reply, pieces};

pub(super) fn stop_reason(reply: &Reply) -> &'static str {
    if reply.tool_calls.is_empty() {
        "end_turn"
    } else {
        "tool_use"
    }
}

fn usage(reply: &Reply) -> Value {
    json!({
        "input_tokens": reply.usage.input_tokens,
        "output_tokens": reply.usage.output_tokens,
        "cache_read_input_tokens": reply.usage.cached_input_tokens,
        "cache_creation_input_tokens": 0,
    })
}

fn content(reply: &Reply, turn: usize) -> Vec<Value> {
    let mut blocks = Vec::new();
    if let Some(text) = &reply.text {
        blocks.push(json!({"type": "text", "text": text}));
    }
    for (id, call) in reply.identified_calls(turn) {
        blocks.push(json!({
            "type": "tool_use",
            "id": id,
            "name": call.name,
            "input": call.arguments,
        }));
    }
    blocks
}

/// The whole message, for a request that does not stream.
pub(super) fn message(reply: &Reply, turn: usize, model: &str) -> Value {
    json!({
        "id": format!("msg_scripted_{turn}"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content(reply, turn),
        "stop_reason": stop_reason(reply),
        "stop_sequence": null,
        "usage": usage(reply),
    })
}

/// The message as server-sent events, for a request with `"stream": true`.
pub(super) fn events(reply: &Reply, turn: usize, model: &str) -> Vec<SseEvent> {
    let mut events = Vec::new();
    let mut push = |name: &str, data: Value| events.push(SseEvent::named(name, data));
    push(
        "message_start",
        json!({
            "type": "message_start",
            "message": {
                "id": format!("msg_scripted_{turn}"),
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": null,
                "stop_sequence": null,
                "usage": {
                    "input_tokens": reply.usage.input_tokens,
                    "output_tokens": 1,
                    "cache_read_input_tokens": reply.usage.cached_input_tokens,
                    "cache_creation_input_tokens": 0,
                },
            },
        }),
    );
    push("ping", json!({"type": "ping"}));
    let mut index = 0;
    if let Some(text) = &reply.text {
        push(
            "content_block_start",
            json!({"type": "content_block_start", "index": index,
                   "content_block": {"type": "text", "text": ""}}),
        );
        for piece in pieces(text) {
            push(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index,
                       "delta": {"type": "text_delta", "text": piece}}),
            );
        }
        push(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        );
        index += 1;
    }
    for (id, call) in reply.identified_calls(turn) {
        push(
            "content_block_start",
            json!({"type": "content_block_start", "index": index,
                   "content_block": {"type": "tool_use", "id": id, "name": call.name, "input": {}}}),
        );
        for piece in pieces(&call.arguments.to_string()) {
            push(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index,
                       "delta": {"type": "input_json_delta", "partial_json": piece}}),
            );
        }
        push(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        );
        index += 1;
    }
    push(
        "message_delta",
        json!({
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason(reply), "stop_sequence": null},
            "usage": usage(reply),
        }),
    );
    push("message_stop", json!({"type": "message_stop"}));
    events
}

pub(super) fn error(status: u16, message: &str) -> Value {
    let kind = match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    };
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

/// What the real API would refuse with a 400: a missing model, `max_tokens` or
/// `messages`, and a `tool_use` whose `tool_result` does not follow in the next message.
pub(super) fn check(body: &Value) -> Result<(), String> {
    if !body["model"].is_string() {
        return Err("model: Field required".to_owned());
    }
    if !body["max_tokens"].is_u64() {
        return Err("max_tokens: Field required".to_owned());
    }
    let Some(messages) = body["messages"].as_array().filter(|list| !list.is_empty()) else {
        return Err("messages: at least one message is required".to_owned());
    };
    for (index, message) in messages.iter().enumerate() {
        if message["role"] != "assistant" {
            continue;
        }
        let tool_uses = message["content"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|block| block["type"] == "tool_use")
            .filter_map(|block| block["id"].as_str());
        let results: Vec<&str> = messages
            .get(index + 1)
            .and_then(|next| next["content"].as_array())
            .into_iter()
            .flatten()
            .filter(|block| block["type"] == "tool_result")
            .filter_map(|block| block["tool_use_id"].as_str())
            .collect();
        for id in tool_uses {
            if !results.contains(&id) {
                return Err(format!(
                    "messages.{}: `tool_use` ids were found without `tool_result` blocks \
                     immediately after: {id}",
                    index + 1
                ));
            }
        }
    }
    Ok(())
}
