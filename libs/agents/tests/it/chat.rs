//! A chat with the model, without tools, against the scripted model server over both
//! protocols.

use std::time::Duration;

use sortie_agents::llm::{ChatError, ChatMessage, ChatModel, LlmConfig, Protocol, RetryPolicy};
use sortie_test_support::model_server::{ModelServer, Script, Turn, Usage};

const PROTOCOLS: [Protocol; 2] = [Protocol::Anthropic, Protocol::OpenAiChat];
const TIME_LIMIT: Duration = Duration::from_secs(20);

fn model(server: &ModelServer, protocol: Protocol, stream: bool) -> ChatModel {
    let base_url = match protocol {
        Protocol::Anthropic => server.url(),
        Protocol::OpenAiChat => server.openai_base_url(),
    };
    let mut config = LlmConfig::new(protocol, base_url, "scripted-model");
    config.stream = stream;
    config.retries = RetryPolicy {
        max_retries: 2,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
    };
    ChatModel::new(config).expect("chat model")
}

/// Every text of a request's messages, in order, whichever protocol carried them.
fn message_texts(body: &serde_json::Value) -> Vec<(String, String)> {
    let mut texts = Vec::new();
    for message in body["messages"].as_array().into_iter().flatten() {
        let role = message["role"].as_str().unwrap_or_default().to_owned();
        if let Some(text) = message["content"].as_str() {
            texts.push((role.clone(), text.to_owned()));
        }
        for block in message["content"].as_array().into_iter().flatten() {
            if let Some(text) = block["text"].as_str() {
                texts.push((role.clone(), text.to_owned()));
            }
        }
    }
    texts
}

#[tokio::test]
async fn a_chat_sends_the_system_prompt_and_the_messages_without_tools_and_returns_the_text() {
    for protocol in PROTOCOLS {
        for stream in [true, false] {
            let usage = Usage {
                input_tokens: 300,
                output_tokens: 40,
                cached_input_tokens: 0,
            };
            let script = Script::new(
                format!("chat over {protocol:?}, stream {stream}"),
                [Turn::final_answer("here is the plan").with_usage(usage)],
            );
            let server = ModelServer::start(script).await.expect("server");
            let chat = model(&server, protocol, stream);
            let messages = [
                ChatMessage::User("propose a plan".to_owned()),
                ChatMessage::Assistant("no toml here".to_owned()),
                ChatMessage::User("error E0001 at line 3".to_owned()),
            ];
            let reply = chat
                .complete("you are the planner", &messages, TIME_LIMIT)
                .await
                .expect("reply");
            assert_eq!(reply.text, "here is the plan", "{protocol:?} {stream}");
            assert!(!reply.hit_output_limit());
            assert_eq!(reply.usage.turns, 1);
            assert_eq!(reply.usage.output_tokens, 40);
            assert!(reply.usage.input_tokens > 0);
            assert_eq!(reply.usage.tool_calls, 0);

            let requests = server.model_requests();
            assert_eq!(requests.len(), 1);
            let body = requests[0].json();
            assert!(body.get("tools").is_none(), "{protocol:?}: {body}");
            assert!(body.get("tool_choice").is_none(), "{protocol:?}: {body}");
            assert!(
                body.to_string().contains("you are the planner"),
                "{protocol:?}: the system prompt is sent"
            );
            let texts = message_texts(body);
            let expected = [
                ("user", "propose a plan"),
                ("assistant", "no toml here"),
                ("user", "error E0001 at line 3"),
            ];
            let tail: Vec<(&str, &str)> = texts
                .iter()
                .filter(|(role, _)| role != "system")
                .map(|(role, text)| (role.as_str(), text.as_str()))
                .collect();
            assert_eq!(tail, expected, "{protocol:?}");
        }
    }
}

#[tokio::test]
async fn a_chat_retries_a_server_error_and_gives_up_after_its_retries() {
    for protocol in PROTOCOLS {
        let script = Script::new(
            "one 503, then an answer",
            [Turn::error_status(503), Turn::final_answer("recovered")],
        );
        let server = ModelServer::start(script).await.expect("server");
        let reply = model(&server, protocol, true)
            .complete("system", &[ChatMessage::User("hi".to_owned())], TIME_LIMIT)
            .await
            .expect("reply after a retry");
        assert_eq!(reply.text, "recovered");
        assert_eq!(server.turns_used(), 2);

        let script = Script::new("always 500", (0..3).map(|_| Turn::error_status(500)));
        let server = ModelServer::start(script).await.expect("server");
        let error = model(&server, protocol, true)
            .complete("system", &[ChatMessage::User("hi".to_owned())], TIME_LIMIT)
            .await
            .expect_err("three failures");
        assert!(
            matches!(&error, ChatError::Failed(message) if message.contains("gave up after 3 attempts")),
            "{error}"
        );
    }
}
