//! The `llm` agent against the scripted model server, in real temporary workspaces, over
//! both protocols.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sortie_agents::llm::{LlmAgent, LlmConfig, Protocol, RetryPolicy, TokenPrices};
use sortie_agents::{Agent, AgentEvent, AgentOutcome, AgentRequest, AgentRole, AgentTask};
use sortie_model::plan::Feature;
use sortie_settings::Secret;
use sortie_test_support::model_server::{ModelServer, RecordedRequest, Script, Turn, Usage};
use tokio::sync::mpsc;

const PROTOCOLS: [Protocol; 2] = [Protocol::Anthropic, Protocol::OpenAiChat];

fn feature() -> Feature {
    Feature {
        id: "F-GREETING".into(),
        title: "Greeting file".to_owned(),
        milestone: "m1".into(),
        repository: "app".into(),
        description: "Write a greeting next to the readme.".to_owned(),
        skill: None,
        preconditions: vec![],
        expected_behavior: vec!["src/greeting.txt greets".to_owned()],
        verification: vec!["cat src/greeting.txt".to_owned()],
        fulfills: vec![],
        touches: vec!["src/**".to_owned()],
        estimate_minutes: None,
        steps: vec![],
        fix: None,
    }
}

fn request(workspace: &Path, time_limit: Duration) -> AgentRequest {
    AgentRequest {
        workspace: workspace.to_path_buf(),
        role: AgentRole::Worker,
        task: AgentTask::Feature(feature()),
        skill: None,
        agents_md: Some("Keep files short.".to_owned()),
        time_limit,
        allowed_commands: vec!["cat".to_owned(), "ls".to_owned()],
        max_turns: None,
        mcp_servers: Vec::new(),
    }
}

fn prices() -> TokenPrices {
    TokenPrices {
        input_per_million: 3.0,
        output_per_million: 15.0,
        cached_input_per_million: Some(0.3),
    }
}

fn config(server: &ModelServer, protocol: Protocol) -> LlmConfig {
    let base_url = match protocol {
        Protocol::Anthropic => server.url(),
        Protocol::OpenAiChat => server.openai_base_url(),
    };
    let mut config = LlmConfig::new(protocol, base_url, "scripted-model");
    config.api_key = Some(Secret::new("test-key"));
    config.prices = Some(prices());
    config.retries = RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
    };
    config
}

fn workspace() -> tempfile::TempDir {
    let workspace = tempfile::tempdir().expect("workspace");
    std::fs::write(workspace.path().join("README.md"), "hello sortie\n").expect("readme");
    workspace
}

async fn run(config: LlmConfig, request: &AgentRequest) -> (AgentOutcome, Vec<AgentEvent>) {
    let agent = LlmAgent::new(config).expect("agent");
    let (sender, mut receiver) = mpsc::unbounded_channel();
    let outcome = agent.run(request, sender).await.expect("run");
    let mut events = Vec::new();
    while let Ok(event) = receiver.try_recv() {
        events.push(event);
    }
    (outcome, events)
}

/// The text of the tool results a model request carried, in either protocol.
fn tool_results(request: &RecordedRequest) -> Vec<(String, String)> {
    let body = request.json();
    let mut results = Vec::new();
    for message in body["messages"].as_array().into_iter().flatten() {
        if message["role"] == "tool" {
            results.push((
                message["tool_call_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                message["content"].as_str().unwrap_or_default().to_owned(),
            ));
        }
        for block in message["content"].as_array().into_iter().flatten() {
            if block["type"] == "tool_result" {
                results.push((
                    block["tool_use_id"].as_str().unwrap_or_default().to_owned(),
                    block["content"].as_str().unwrap_or_default().to_owned(),
                ));
            }
        }
    }
    results
}

fn last_tool_result(request: &RecordedRequest) -> String {
    tool_results(request).pop().expect("a tool result").1
}

fn the_full_script(protocol: Protocol, stream: bool) -> Script {
    let usage = Usage {
        input_tokens: 1_000,
        output_tokens: 200,
        cached_input_tokens: 4_000,
    };
    Script::new(
        format!("full run over {protocol:?}, stream {stream}"),
        [
            Turn::text("I will read the readme first.")
                .and_tool_call("read_file", json!({"path": "README.md"}))
                .with_usage(usage),
            Turn::tool_call(
                "write_file",
                json!({"path": "src/greeting.txt", "content": "hello from the llm agent\n"}),
            )
            .with_usage(usage),
            Turn::tool_call("run_command", json!({"command": "cat src/greeting.txt"}))
                .with_usage(usage),
            Turn::tool_call(
                "finish",
                json!({"summary": "wrote src/greeting.txt", "left_undone": ["a second greeting"]}),
            )
            .with_usage(usage),
        ],
    )
}

#[tokio::test]
async fn reads_writes_runs_and_finishes_over_each_protocol() {
    for protocol in PROTOCOLS {
        for stream in [true, false] {
            let server = ModelServer::start(the_full_script(protocol, stream))
                .await
                .expect("server");
            let workspace = workspace();
            let mut config = config(&server, protocol);
            config.stream = stream;
            let (outcome, events) =
                run(config, &request(workspace.path(), Duration::from_secs(60))).await;
            let case = format!("{protocol:?}, stream {stream}");

            assert_eq!(outcome.failure, None, "{case}");
            assert_eq!(outcome.summary, "wrote src/greeting.txt", "{case}");
            assert_eq!(outcome.left_undone, ["a second greeting"], "{case}");
            let written = std::fs::read_to_string(workspace.path().join("src/greeting.txt"))
                .expect("the file the model wrote");
            assert_eq!(written, "hello from the llm agent\n", "{case}");
            assert_eq!(outcome.commands.len(), 1, "{case}");
            assert_eq!(outcome.commands[0].command, "cat src/greeting.txt");
            assert_eq!(outcome.commands[0].exit_code, Some(0));
            assert_eq!(
                outcome.commands[0].output_tail,
                "hello from the llm agent\n"
            );

            let usage = &outcome.usage;
            assert_eq!(usage.turns, 4, "{case}");
            assert_eq!(usage.tool_calls, 4, "{case}");
            assert_eq!(usage.input_tokens, 4_000, "{case}");
            assert_eq!(usage.output_tokens, 800, "{case}");
            assert_eq!(usage.cached_input_tokens, 16_000, "{case}");
            let expected_cost = (4_000.0 * 3.0 + 800.0 * 15.0 + 16_000.0 * 0.3) / 1e6;
            let cost = usage.cost_usd.expect("a cost");
            assert!((cost - expected_cost).abs() < 1e-12, "{case}: {cost}");

            assert!(
                matches!(&events[0], AgentEvent::Init { agent, .. } if agent == "llm"),
                "{case}"
            );
            assert!(events.contains(&AgentEvent::Text {
                text: "I will read the readme first.".to_owned()
            }));
            let calls: Vec<(&str, &str)> = events
                .iter()
                .filter_map(|event| match event {
                    AgentEvent::ToolCall { tool, input } => Some((tool.as_str(), input.as_str())),
                    _ => None,
                })
                .collect();
            assert_eq!(
                calls,
                [
                    ("read_file", "README.md"),
                    ("write_file", "src/greeting.txt"),
                    ("run_command", "cat src/greeting.txt"),
                    ("finish", "wrote src/greeting.txt"),
                ],
                "{case}"
            );
            assert!(events.contains(&AgentEvent::ToolResult {
                tool: "run_command".to_owned(),
                output: "exit code 0\nhello from the llm agent\n".to_owned(),
                exit_code: Some(0),
                denied: false,
            }));
            assert_eq!(
                events.iter().rev().nth(1),
                Some(&AgentEvent::Result {
                    summary: "wrote src/greeting.txt".to_owned()
                })
            );
            assert!(
                matches!(events.last(), Some(AgentEvent::Usage { usage }) if *usage == outcome.usage),
                "the run ends with what it used: {:?}",
                events.last()
            );

            let requests = server.model_requests();
            assert_eq!(requests.len(), 4, "{case}");
            assert_eq!(requests[0].json()["model"], "scripted-model");
            assert_eq!(requests[0].json()["stream"], stream);
            let first_task = requests[0].raw_body.as_str();
            assert!(
                first_task.contains("F-GREETING"),
                "{case}: the feature is in the prompt"
            );
            assert!(
                first_task.contains("Keep files short."),
                "{case}: AGENTS.md too"
            );
            assert_eq!(
                tool_results(&requests[1]),
                [("call_0_0".to_owned(), "hello sortie\n".to_owned())],
                "{case}"
            );
            assert_eq!(
                last_tool_result(&requests[2]),
                "wrote 25 bytes to src/greeting.txt"
            );
            assert_eq!(
                last_tool_result(&requests[3]),
                "exit code 0\nhello from the llm agent\n"
            );
            match protocol {
                Protocol::Anthropic => {
                    assert_eq!(requests[0].path, "/v1/messages");
                    assert_eq!(requests[0].header("x-api-key"), Some("test-key"));
                    assert_eq!(requests[0].header("anthropic-version"), Some("2023-06-01"));
                }
                Protocol::OpenAiChat => {
                    assert_eq!(requests[0].path, "/v1/chat/completions");
                    assert_eq!(requests[0].header("authorization"), Some("Bearer test-key"));
                }
            }
        }
    }
}

#[tokio::test]
async fn a_rate_limit_or_a_cut_stream_is_retried() {
    for protocol in PROTOCOLS {
        let finish = || Turn::tool_call("finish", json!({"summary": "done"}));
        let script = Script::new(
            "retries",
            [
                Turn::rate_limited(),
                Turn::error_status(503),
                Turn::text("half an answer").cut_after(2),
                finish(),
            ],
        );
        let server = ModelServer::start(script).await.expect("server");
        let workspace = workspace();
        let (outcome, _) = run(
            config(&server, protocol),
            &request(workspace.path(), Duration::from_secs(60)),
        )
        .await;
        assert_eq!(outcome.failure, None, "{protocol:?}");
        assert_eq!(outcome.summary, "done");
        assert_eq!(outcome.usage.turns, 1, "only answered requests are turns");
        assert_eq!(server.model_requests().len(), 4, "{protocol:?}");
    }
}

#[tokio::test]
async fn retries_are_bounded() {
    let script = Script::new("always failing", (0..10).map(|_| Turn::error_status(500)));
    let server = ModelServer::start(script).await.expect("server");
    let workspace = workspace();
    let (outcome, events) = run(
        config(&server, Protocol::OpenAiChat),
        &request(workspace.path(), Duration::from_secs(60)),
    )
    .await;
    let failure = outcome.failure.expect("a failure");
    assert!(failure.contains("500"), "{failure}");
    assert!(failure.contains("gave up after 4 attempts"), "{failure}");
    assert_eq!(server.model_requests().len(), 4);
    assert!(events.contains(&AgentEvent::Error { message: failure }));
}

#[tokio::test]
async fn a_malformed_answer_is_a_clear_error_without_retries() {
    for protocol in PROTOCOLS {
        for stream in [true, false] {
            let script = Script::new("malformed", [Turn::malformed("{this is not json")]);
            let server = ModelServer::start(script).await.expect("server");
            let workspace = workspace();
            let mut config = config(&server, protocol);
            config.stream = stream;
            let (outcome, _) =
                run(config, &request(workspace.path(), Duration::from_secs(60))).await;
            let failure = outcome.failure.expect("a failure");
            let case = format!("{protocol:?}, stream {stream}");
            assert!(
                failure.contains("malformed") || failure.contains("not JSON"),
                "{case}: {failure}"
            );
            assert!(failure.contains("{this is not json"), "{case}: {failure}");
            assert_eq!(server.model_requests().len(), 1, "{case}: not retried");
            assert_eq!(outcome.left_undone, ["Greeting file"]);
        }
    }
}

#[tokio::test]
async fn a_denied_command_is_reported_and_not_run() {
    for protocol in PROTOCOLS {
        let script = Script::new(
            "denied",
            [
                Turn::tool_call("run_command", json!({"command": "touch src/forbidden"})),
                Turn::tool_call("run_command", json!({"command": "ls && touch forbidden"})),
                Turn::tool_call("finish", json!({"summary": "could not"})),
            ],
        );
        let server = ModelServer::start(script).await.expect("server");
        let workspace = workspace();
        let (outcome, events) = run(
            config(&server, protocol),
            &request(workspace.path(), Duration::from_secs(60)),
        )
        .await;
        assert_eq!(outcome.failure, None);
        assert!(outcome.commands.is_empty(), "denied commands never ran");
        assert!(!workspace.path().join("forbidden").exists());
        assert!(!workspace.path().join("src/forbidden").exists());
        let denied: Vec<&AgentEvent> = events
            .iter()
            .filter(|event| matches!(event, AgentEvent::ToolResult { denied: true, .. }))
            .collect();
        assert_eq!(denied.len(), 2, "{protocol:?}: {events:?}");
        let requests = server.model_requests();
        let told = last_tool_result(&requests[1]);
        assert!(told.starts_with("command denied:"), "{told}");
        assert!(told.contains("cat, ls"), "{told}");
        assert!(last_tool_result(&requests[2]).contains("`touch forbidden`"));
    }
}

#[tokio::test]
async fn paths_outside_the_workspace_are_refused() {
    let script = Script::new(
        "escape",
        [
            Turn::tool_call(
                "write_file",
                json!({"path": "../escaped.txt", "content": "x"}),
            ),
            Turn::tool_call("read_file", json!({"path": "/etc/hostname"})),
            Turn::tool_call("finish", json!({"summary": "tried"})),
        ],
    );
    let server = ModelServer::start(script).await.expect("server");
    let parent = tempfile::tempdir().expect("parent");
    let workspace = parent.path().join("workspace");
    std::fs::create_dir(&workspace).expect("workspace");
    let (outcome, _) = run(
        config(&server, Protocol::Anthropic),
        &request(&workspace, Duration::from_secs(60)),
    )
    .await;
    assert_eq!(outcome.failure, None);
    assert!(!parent.path().join("escaped.txt").exists());
    let requests = server.model_requests();
    assert!(last_tool_result(&requests[1]).contains("leaves the workspace"));
    assert!(last_tool_result(&requests[2]).contains("outside the workspace"));
    let body = requests[1].json();
    let result_block = &body["messages"][2]["content"][0];
    assert_eq!(result_block["is_error"], true);
}

#[tokio::test]
async fn a_run_past_its_time_limit_is_stopped_at_the_limit() {
    for protocol in PROTOCOLS {
        let script = Script::new(
            "hang",
            [Turn::tool_call("list_files", json!({})), Turn::hang()],
        );
        let server = ModelServer::start(script).await.expect("server");
        let workspace = workspace();
        let started = Instant::now();
        let (outcome, events) = run(
            config(&server, protocol),
            &request(workspace.path(), Duration::from_millis(1_500)),
        )
        .await;
        let elapsed = started.elapsed();
        assert!(
            elapsed < Duration::from_secs(30),
            "the run was not stopped: {elapsed:?}"
        );
        let failure = outcome.failure.expect("a failure");
        assert!(
            failure.contains("time limit of 1.5s ran out after 1 turns"),
            "{protocol:?}: {failure}"
        );
        assert!(matches!(
            events.iter().rev().nth(1),
            Some(AgentEvent::Result { .. })
        ));
        assert!(matches!(events.last(), Some(AgentEvent::Usage { .. })));
        assert_eq!(server.turns_used(), 2);
    }
}

#[tokio::test]
async fn a_model_that_never_finishes_stops_at_the_turn_limit() {
    for protocol in PROTOCOLS {
        let script = Script::new(
            "chatty",
            (0..5).map(|turn| Turn::text(format!("still thinking ({turn})"))),
        );
        let server = ModelServer::start(script).await.expect("server");
        let workspace = workspace();
        let mut request = request(workspace.path(), Duration::from_secs(60));
        request.max_turns = Some(3);
        let (outcome, events) = run(config(&server, protocol), &request).await;
        assert_eq!(
            outcome.failure.as_deref(),
            Some("the model did not call finish within its limit of 3 turns")
        );
        assert_eq!(outcome.usage.turns, 3);
        assert_eq!(server.model_requests().len(), 3, "{protocol:?}");
        let texts = events
            .iter()
            .filter(|event| matches!(event, AgentEvent::Text { .. }))
            .count();
        assert_eq!(texts, 3);
        // Each answer without tool calls is followed by a reminder to use them.
        let last = server.model_requests().pop().expect("a request");
        assert!(last.raw_body.contains("call finish with a summary"));
    }
}

#[tokio::test]
async fn old_tool_outputs_are_dropped_past_the_context_budget() {
    let read_big = || Turn::tool_call("read_file", json!({"path": "big.txt"}));
    let script = Script::new(
        "budget",
        [
            read_big(),
            read_big(),
            Turn::tool_call("finish", json!({"summary": "read it twice"})),
        ],
    );
    let server = ModelServer::start(script).await.expect("server");
    let workspace = workspace();
    // About 6,500 tokens: one copy fits the budget, two do not.
    std::fs::write(
        workspace.path().join("big.txt"),
        "line of text\n".repeat(2_000),
    )
    .expect("big file");
    let mut config = config(&server, Protocol::OpenAiChat);
    config.context_budget_tokens = 10_000;
    let (outcome, _) = run(config, &request(workspace.path(), Duration::from_secs(60))).await;
    assert_eq!(outcome.failure, None);
    let requests = server.model_requests();
    let first = tool_results(&requests[1]);
    assert_eq!(
        first[0].1.len(),
        26_000,
        "within the budget, the output is whole"
    );
    let later = tool_results(&requests[2]);
    assert!(
        later[0].1.starts_with("[output elided"),
        "the older output is dropped: {}",
        later[0].1
    );
    assert_eq!(later[1].1.len(), 26_000, "the latest output is kept whole");
    let body: &Value = requests[2].json();
    assert!(body.to_string().len() < 40_000);
}
