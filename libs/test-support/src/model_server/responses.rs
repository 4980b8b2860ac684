//! OpenAI's Responses API, as `POST /v1/responses` answers it (what Codex CLI speaks).

use serde_json::{Value, json};

use super::SseEvent;
use super::script::{Reply, pieces};

fn usage(reply: &Reply) -> Value {
    let input_tokens = reply.usage.input_tokens + reply.usage.cached_input_tokens;
    json!({
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": reply.usage.cached_input_tokens},
        "output_tokens": reply.usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + reply.usage.output_tokens,
    })
}

/// The reply's output items, finished: a `message`, then one `function_call` a call.
fn output(reply: &Reply, turn: usize) -> Vec<Value> {
    let mut items = Vec::new();
    if let Some(text) = &reply.text {
        items.push(json!({
            "type": "message",
            "id": format!("msg_scripted_{turn}"),
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        }));
    }
    for (index, (call_id, call)) in reply.identified_calls(turn).into_iter().enumerate() {
        let mut item = json!({
            "type": "function_call",
            "id": format!("fc_scripted_{turn}_{index}"),
            "call_id": call_id,
            "name": call.name,
            "arguments": call.arguments.to_string(),
            "status": "completed",
        });
        // A tool of a namespace (Codex offers each MCP server's tools as one) is called
        // by its name within the namespace, with the namespace beside it.
        if let Some((namespace, name)) = call.name.split_once('/') {
            item["namespace"] = json!(namespace);
            item["name"] = json!(name);
        }
        items.push(item);
    }
    items
}

/// The whole response object.
pub(super) fn response(reply: &Reply, turn: usize, model: &str) -> Value {
    json!({
        "id": format!("resp_scripted_{turn}"),
        "object": "response",
        "created_at": 0,
        "status": "completed",
        "model": model,
        "output": output(reply, turn),
        "usage": usage(reply),
    })
}

/// The response as server-sent events, for a request with `"stream": true`.
pub(super) fn events(reply: &Reply, turn: usize, model: &str) -> Vec<SseEvent> {
    let mut events = Vec::new();
    let mut push = |name: &str, mut data: Value| {
        data["type"] = json!(name);
        events.push(SseEvent::named(name, data));
    };
    let mut started = response(reply, turn, model);
    started["status"] = json!("in_progress");
    started["output"] = json!([]);
    started["usage"] = Value::Null;
    push("response.created", json!({"response": started}));
    for (output_index, item) in output(reply, turn).into_iter().enumerate() {
        let mut added = item.clone();
        added["status"] = json!("in_progress");
        if item["type"] == "message" {
            added["content"] = json!([]);
        } else {
            added["arguments"] = json!("");
        }
        push(
            "response.output_item.added",
            json!({"output_index": output_index, "item": added}),
        );
        if item["type"] == "message" {
            let text = item["content"][0]["text"].as_str().unwrap_or_default();
            for piece in pieces(text) {
                push(
                    "response.output_text.delta",
                    json!({"item_id": item["id"], "output_index": output_index,
                           "content_index": 0, "delta": piece}),
                );
            }
        }
        push(
            "response.output_item.done",
            json!({"output_index": output_index, "item": item}),
        );
    }
    push(
        "response.completed",
        json!({"response": response(reply, turn, model)}),
    );
    events
}

pub(super) fn error(status: u16, message: &str) -> Value {
    super::chat::error(status, message)
}

/// What the real API would refuse with a 400: a missing model or input, and a
/// `function_call` without a `function_call_output` for its call id.
pub(super) fn check(body: &Value) -> Result<(), String> {
    if !body["model"].is_string() {
        return Err("Missing required parameter: 'model'".to_owned());
    }
    let input = &body["input"];
    if input.is_string() {
        return Ok(());
    }
    let Some(items) = input.as_array() else {
        return Err("Missing required parameter: 'input'".to_owned());
    };
    let outputs: Vec<&str> = items
        .iter()
        .filter(|item| item["type"] == "function_call_output")
        .filter_map(|item| item["call_id"].as_str())
        .collect();
    for item in items.iter().filter(|item| item["type"] == "function_call") {
        let call_id = item["call_id"].as_str().unwrap_or_default();
        if !outputs.contains(&call_id) {
            return Err(format!("No tool output found for function call {call_id}."));
        }
    }
    Ok(())
}
