//! The scripted model server over real HTTP: each protocol, streaming and not, and faults.

use std::time::Duration;

use serde_json::{Value, json};
use sortie_test_support::model_server::{ModelServer, Script, Turn, Usage};

/// One parsed server-sent event: its `event:` name, if any, and its data.
fn parse_sse(text: &str) -> Vec<(Option<String>, String)> {
    text.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let mut name = None;
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("event: ") {
                    name = Some(value.to_owned());
                } else if let Some(value) = line.strip_prefix("data: ") {
                    data.push(value);
                }
            }
            (name, data.join("\n"))
        })
        .collect()
}

fn data_json(events: &[(Option<String>, String)]) -> Vec<Value> {
    events
        .iter()
        .filter(|(_, data)| data != "[DONE]")
        .map(|(_, data)| serde_json::from_str(data).expect("each event's data is JSON"))
        .collect()
}

async fn post(url: String, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .header("x-api-key", "test-key")
        .json(&body)
        .send()
        .await
        .expect("the server answers")
}

fn anthropic_request(stream: bool) -> Value {
    json!({
        "model": "claude-test",
        "max_tokens": 1024,
        "stream": stream,
        "messages": [{"role": "user", "content": "read the readme"}],
    })
}

fn chat_request(stream: bool) -> Value {
    json!({
        "model": "local-model",
        "stream": stream,
        "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": "read the readme"}],
    })
}

#[tokio::test]
async fn anthropic_streams_text_and_a_tool_use() {
    let script = Script::new(
        "anthropic-stream",
        [Turn::text("I will read it.")
            .and_tool_call("read_file", json!({"path": "README.md"}))
            .with_usage(Usage {
                input_tokens: 50,
                output_tokens: 7,
                cached_input_tokens: 30,
            })],
    );
    let server = ModelServer::start(script).await.expect("server");
    let head = reqwest::Client::new()
        .head(server.url())
        .send()
        .await
        .expect("head");
    assert_eq!(head.status(), 200);

    let response = post(
        format!("{}/v1/messages?beta=true", server.url()),
        anthropic_request(true),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let events = parse_sse(&response.text().await.expect("body"));
    let names: Vec<&str> = events
        .iter()
        .map(|(name, _)| name.as_deref().expect("every event is named"))
        .collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names.last(), Some(&"message_stop"));
    let data = data_json(&events);
    let text: String = data
        .iter()
        .filter(|event| event["delta"]["type"] == "text_delta")
        .map(|event| event["delta"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, "I will read it.");
    let tool_start = data
        .iter()
        .find(|event| event["content_block"]["type"] == "tool_use")
        .expect("a tool_use block");
    assert_eq!(tool_start["content_block"]["id"], "call_0_0");
    assert_eq!(tool_start["content_block"]["name"], "read_file");
    let arguments: String = data
        .iter()
        .filter(|event| event["delta"]["type"] == "input_json_delta")
        .map(|event| event["delta"]["partial_json"].as_str().unwrap())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&arguments).unwrap(),
        json!({"path": "README.md"})
    );
    let delta = data
        .iter()
        .find(|event| event["type"] == "message_delta")
        .expect("a message_delta");
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert_eq!(delta["usage"]["input_tokens"], 50);
    assert_eq!(delta["usage"]["output_tokens"], 7);
    assert_eq!(delta["usage"]["cache_read_input_tokens"], 30);

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].method, "HEAD");
    assert_eq!(requests[0].turn, None);
    assert_eq!(requests[1].path, "/v1/messages");
    assert_eq!(requests[1].query.as_deref(), Some("beta=true"));
    assert_eq!(requests[1].header("X-Api-Key"), Some("test-key"));
    assert_eq!(requests[1].json()["model"], "claude-test");
    assert_eq!(requests[1].turn, Some(0));
    assert_eq!(server.turns_left(), 0);
}

#[tokio::test]
async fn anthropic_answers_plain_json_and_checks_tool_results() {
    let script = Script::new(
        "anthropic-json",
        [
            Turn::tool_call("run_command", json!({"command": "ls"})),
            Turn::final_answer("done"),
        ],
    );
    let server = ModelServer::start(script).await.expect("server");
    let url = format!("{}/v1/messages", server.url());
    let first: Value = post(url.clone(), anthropic_request(false))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(first["stop_reason"], "tool_use");
    assert_eq!(first["content"][0]["type"], "tool_use");
    assert_eq!(first["content"][0]["input"], json!({"command": "ls"}));
    assert_eq!(first["usage"]["input_tokens"], 100);

    let mut forgetful = anthropic_request(false);
    forgetful["messages"] = json!([
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": first["content"]},
        {"role": "user", "content": "I forgot the tool result"},
    ]);
    let refused = post(url.clone(), forgetful).await;
    assert_eq!(refused.status(), 400);
    let error: Value = refused.json().await.expect("json");
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert_eq!(server.turns_used(), 1, "a refused request uses no turn");

    let mut answered = anthropic_request(false);
    answered["messages"] = json!([
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": first["content"]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "call_0_0", "content": "a\nb"}
        ]},
    ]);
    let last: Value = post(url, answered).await.json().await.expect("json");
    assert_eq!(last["stop_reason"], "end_turn");
    assert_eq!(last["content"], json!([{"type": "text", "text": "done"}]));
    let recorded = server.model_requests();
    assert_eq!(recorded.len(), 2);
    assert_eq!(
        recorded[1].json()["messages"][2]["content"][0]["tool_use_id"],
        "call_0_0"
    );
}

#[tokio::test]
async fn chat_completions_stream_deltas_usage_and_done() {
    let script = Script::new(
        "chat-stream",
        [Turn::tool_calls([
            ("read_file", json!({"path": "a.txt"})),
            ("list_files", json!({})),
        ])
        .with_usage(Usage {
            input_tokens: 80,
            output_tokens: 12,
            cached_input_tokens: 20,
        })],
    );
    let server = ModelServer::start(script).await.expect("server");
    let response = post(
        format!("{}/chat/completions", server.openai_base_url()),
        chat_request(true),
    )
    .await;
    assert_eq!(response.status(), 200);
    let events = parse_sse(&response.text().await.expect("body"));
    assert_eq!(events.last().unwrap().1, "[DONE]");
    assert!(events.iter().all(|(name, _)| name.is_none()));
    let chunks = data_json(&events);
    let mut calls: Vec<(String, String, String)> = Vec::new();
    for chunk in &chunks {
        for call in chunk["choices"][0]["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let index = call["index"].as_u64().unwrap() as usize;
            if calls.len() <= index {
                calls.push(Default::default());
            }
            if let Some(id) = call["id"].as_str() {
                calls[index].0 = id.to_owned();
            }
            if let Some(name) = call["function"]["name"].as_str() {
                calls[index].1 = name.to_owned();
            }
            calls[index].2 += call["function"]["arguments"].as_str().unwrap_or_default();
        }
    }
    assert_eq!(
        calls,
        [
            (
                "call_0_0".to_owned(),
                "read_file".to_owned(),
                r#"{"path":"a.txt"}"#.to_owned()
            ),
            (
                "call_0_1".to_owned(),
                "list_files".to_owned(),
                "{}".to_owned()
            ),
        ]
    );
    let finish = chunks
        .iter()
        .find_map(|chunk| chunk["choices"][0]["finish_reason"].as_str())
        .expect("a finish reason");
    assert_eq!(finish, "tool_calls");
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(usage["prompt_tokens"], 100);
    assert_eq!(usage["completion_tokens"], 12);
    assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 20);
}

#[tokio::test]
async fn chat_completions_answer_plain_json() {
    let script = Script::new("chat-json", [Turn::final_answer("all done")]);
    let server = ModelServer::start(script).await.expect("server");
    let mut request = chat_request(false);
    request.as_object_mut().unwrap().remove("stream_options");
    let completion: Value = post(
        format!("{}/chat/completions", server.openai_base_url()),
        request,
    )
    .await
    .json()
    .await
    .expect("json");
    assert_eq!(completion["object"], "chat.completion");
    assert_eq!(completion["model"], "local-model");
    assert_eq!(completion["choices"][0]["message"]["content"], "all done");
    assert_eq!(completion["choices"][0]["finish_reason"], "stop");
    assert_eq!(completion["usage"]["completion_tokens"], 20);
}

#[tokio::test]
async fn chat_completions_refuse_an_unanswered_tool_call() {
    let server = ModelServer::start(Script::new("chat-check", [Turn::final_answer("x")]))
        .await
        .expect("server");
    let mut request = chat_request(false);
    request["messages"] = json!([
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_9", "type": "function", "function": {"name": "ls", "arguments": "{}"}}
        ]},
        {"role": "user", "content": "and?"},
    ]);
    let refused = post(
        format!("{}/chat/completions", server.openai_base_url()),
        request,
    )
    .await;
    assert_eq!(refused.status(), 400);
    let error: Value = refused.json().await.expect("json");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("call_9")
    );
    assert_eq!(server.turns_used(), 0);
}

#[tokio::test]
async fn responses_stream_items_as_codex_reads_them() {
    let script = Script::new(
        "responses-stream",
        [
            Turn::tool_call("exec_command", json!({"cmd": "ls"})),
            Turn::final_answer("listed"),
        ],
    );
    let server = ModelServer::start(script).await.expect("server");
    let url = format!("{}/responses", server.openai_base_url());
    let request = json!({
        "model": "gpt-5",
        "stream": true,
        "input": [{"type": "message", "role": "user",
                   "content": [{"type": "input_text", "text": "list"}]}],
    });
    let events = parse_sse(&post(url.clone(), request).await.text().await.expect("body"));
    let names: Vec<&str> = events
        .iter()
        .map(|(name, _)| name.as_deref().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.output_item.added",
            "response.output_item.done",
            "response.completed"
        ]
    );
    let data = data_json(&events);
    assert_eq!(data[2]["item"]["type"], "function_call");
    assert_eq!(data[2]["item"]["call_id"], "call_0_0");
    assert_eq!(data[2]["item"]["arguments"], r#"{"cmd":"ls"}"#);
    assert_eq!(data[3]["response"]["usage"]["input_tokens"], 100);
    assert_eq!(data[3]["response"]["usage"]["output_tokens"], 20);

    let follow_up = json!({
        "model": "gpt-5",
        "stream": true,
        "input": [
            {"type": "function_call", "call_id": "call_0_0", "name": "exec_command",
             "arguments": "{\"cmd\":\"ls\"}"},
            {"type": "function_call_output", "call_id": "call_0_0", "output": "a.txt"},
        ],
    });
    let events = parse_sse(&post(url, follow_up).await.text().await.expect("body"));
    let data = data_json(&events);
    let done = data
        .iter()
        .find(|event| event["type"] == "response.output_item.done")
        .expect("an item");
    assert_eq!(done["item"]["type"], "message");
    assert_eq!(done["item"]["content"][0]["text"], "listed");
    assert_eq!(
        server.model_requests()[1].json()["input"][1]["output"],
        "a.txt"
    );
}

#[tokio::test]
async fn error_statuses_come_with_the_protocols_error_body() {
    let script = Script::new(
        "statuses",
        [
            Turn::rate_limited(),
            Turn::status(500, "upstream exploded"),
            Turn::error_status(529),
        ],
    );
    let server = ModelServer::start(script).await.expect("server");
    let url = format!("{}/v1/messages", server.url());
    let limited = post(url.clone(), anthropic_request(true)).await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "0");
    let body: Value = limited.json().await.expect("json");
    assert_eq!(body["error"]["type"], "rate_limit_error");

    let exploded = post(url.clone(), anthropic_request(true)).await;
    assert_eq!(exploded.status(), 500);
    assert_eq!(exploded.text().await.unwrap(), "upstream exploded");

    let overloaded = post(url, anthropic_request(true)).await;
    assert_eq!(overloaded.status(), 529);
    let body: Value = overloaded.json().await.expect("json");
    assert_eq!(body["error"]["type"], "overloaded_error");
}

#[tokio::test]
async fn a_request_past_the_script_gets_a_500_naming_it() {
    let server = ModelServer::start(Script::new("short-script", [Turn::final_answer("one")]))
        .await
        .expect("server");
    let url = format!("{}/chat/completions", server.openai_base_url());
    assert_eq!(post(url.clone(), chat_request(false)).await.status(), 200);
    let past = post(url, chat_request(false)).await;
    assert_eq!(past.status(), 500);
    let body: Value = past.json().await.expect("json");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("\"short-script\""), "{message}");
    assert!(message.contains("1 turns"), "{message}");
    assert_eq!(server.requests().len(), 2);
    assert_eq!(server.requests()[1].turn, None);
}

#[tokio::test]
async fn malformed_bodies_are_sent_as_they_are() {
    let script = Script::new(
        "malformed",
        [Turn::malformed("{not json"), Turn::malformed("<html>oops")],
    );
    let server = ModelServer::start(script).await.expect("server");
    let url = format!("{}/chat/completions", server.openai_base_url());
    let streamed = post(url.clone(), chat_request(true)).await;
    assert_eq!(streamed.status(), 200);
    assert_eq!(streamed.text().await.unwrap(), "data: {not json\n\n");
    let whole = post(url, chat_request(false)).await;
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.text().await.unwrap(), "<html>oops");
}

#[tokio::test]
async fn a_cut_stream_ends_in_a_body_error_after_its_first_events() {
    let script = Script::new(
        "cut",
        [
            Turn::text("a long answer").cut_after(2),
            Turn::text("a long answer").cut_after(0),
        ],
    );
    let server = ModelServer::start(script).await.expect("server");
    let url = format!("{}/v1/messages", server.url());
    let mut response = post(url.clone(), anthropic_request(true)).await;
    assert_eq!(response.status(), 200);
    let mut received = Vec::new();
    let error = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => received.extend_from_slice(&chunk),
            Ok(None) => panic!("the stream ended cleanly"),
            Err(error) => break error,
        }
    };
    assert!(error.is_body() || error.is_decode(), "{error:?}");
    let events = parse_sse(&String::from_utf8(received).unwrap());
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].0.as_deref(), Some("message_start"));

    let whole = post(url, anthropic_request(false)).await;
    assert!(whole.text().await.is_err(), "half a JSON body, then a cut");
}

#[tokio::test]
async fn a_hanging_turn_never_answers_until_the_server_is_dropped() {
    let server = ModelServer::start(Script::new("hang", [Turn::hang()]))
        .await
        .expect("server");
    let url = format!("{}/v1/messages", server.url());
    let request = tokio::spawn(post(url, anthropic_request(true)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!request.is_finished(), "a hanging turn answered");
    assert_eq!(server.turns_used(), 1);
    let address = server.address();
    drop(server);
    let response = tokio::time::timeout(Duration::from_secs(10), request)
        .await
        .expect("the held request is released when the server stops")
        .expect("join");
    assert_eq!(response.status(), 503);
    let stopped = async {
        while tokio::net::TcpStream::connect(address).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), stopped)
        .await
        .expect("the server stops listening when dropped");
}
