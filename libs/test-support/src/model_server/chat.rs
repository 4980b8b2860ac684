//! OpenAI's Chat Completions API, as `POST /v1/chat/completions` answers it.

use serde_json::{Value, json};

use super::SseEvent;
use super::script::{Reply, pieces};

fn finish_reason(reply: &Reply) -> &'static str {
    if reply.tool_calls.is_empty() {
        "stop"
    } else {
        "tool_calls"
    }
}

fn usage(reply: &Reply) -> Value {
    let prompt_tokens = reply.usage.input_tokens + reply.usage.cached_input_tokens;
    json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": reply.usage.output_tokens,
        "total_tokens": prompt_tokens + reply.usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": reply.usage.cached_input_tokens},
    })
}

/// The whole completion, for a request that does not stream.
pub(super) fn completion(reply: &Reply, turn: usize, model: &str) -> Value {
    let tool_calls: Vec<Value> = reply
        .identified_calls(turn)
        .into_iter()
        .map(|(id, call)| {
            json!({
                "id": id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments.to_string()},
            })
        })
        .collect();
    let mut message = json!({"role": "assistant", "content": reply.text});
    if !tool_calls.is_empty() {
        message["tool_calls"] = Value::Array(tool_calls);
    }
    json!({
        "id": format!("chatcmpl-scripted-{turn}"),
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(reply)}],
        "usage": usage(reply),
    })
}

/// The completion as `data:` chunks, then `data: [DONE]`.
pub(super) fn chunks(
    reply: &Reply,
    turn: usize,
    model: &str,
    include_usage: bool,
) -> Vec<SseEvent> {
    let id = format!("chatcmpl-scripted-{turn}");
    let chunk = |choices: Value| {
        SseEvent::data(json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": choices,
        }))
    };
    let delta = |delta: Value| chunk(json!([{"index": 0, "delta": delta, "finish_reason": null}]));
    let mut events = vec![delta(json!({"role": "assistant", "content": ""}))];
    if let Some(text) = &reply.text {
        for piece in pieces(text) {
            events.push(delta(json!({"content": piece})));
        }
    }
    for (index, (call_id, call)) in reply.identified_calls(turn).into_iter().enumerate() {
        events.push(delta(json!({"tool_calls": [{
            "index": index,
            "id": call_id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }]})));
        for piece in pieces(&call.arguments.to_string()) {
            events.push(delta(json!({"tool_calls": [{
                "index": index,
                "function": {"arguments": piece},
            }]})));
        }
    }
    events.push(chunk(
        json!([{"index": 0, "delta": {}, "finish_reason": finish_reason(reply)}]),
    ));
    if include_usage {
        events.push(SseEvent::data(json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [],
            "usage": usage(reply),
        })));
    }
    events.push(SseEvent::done());
    events
}

pub(super) fn error(status: u16, message: &str) -> Value {
    let kind = match status {
        400 | 404 => "invalid_request_error",
        401 => "authentication_error",
        429 => "rate_limit_exceeded",
        _ => "server_error",
    };
    json!({"error": {"message": message, "type": kind, "param": null, "code": null}})
}

/// What the real API would refuse with a 400: a missing model or messages, and an
/// assistant's tool call without a `tool` message answering it.
pub(super) fn check(body: &Value) -> Result<(), String> {
    if !body["model"].is_string() {
        return Err("you must provide a model parameter".to_owned());
    }
    let Some(messages) = body["messages"].as_array().filter(|list| !list.is_empty()) else {
        return Err("'messages' must contain at least one message".to_owned());
    };
    for (index, message) in messages.iter().enumerate() {
        let Some(calls) = message["tool_calls"].as_array() else {
            continue;
        };
        let answered: Vec<&str> = messages[index + 1..]
            .iter()
            .take_while(|next| next["role"] == "tool")
            .filter_map(|next| next["tool_call_id"].as_str())
            .collect();
        for call in calls {
            let id = call["id"].as_str().unwrap_or_default();
            if !answered.contains(&id) {
                return Err(format!(
                    "an assistant message with 'tool_calls' must be followed by tool messages \
                     responding to each 'tool_call_id'; missing: {id}"
                ));
            }
        }
    }
    Ok(())
}
