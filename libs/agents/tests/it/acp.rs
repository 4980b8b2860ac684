//! A real ACP agent, Zed's Claude Code adapter (`claude-code-acp`) at its pinned version,
//! driven through Sortie's ACP client against the scripted model server: the agent writes
//! a real file through the client's `fs/write_text_file`, after asking for permission.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;
use sortie_agents::AgentEvent;
use sortie_settings::{AgentKind, AgentProfileSettings, Secret};
use sortie_test_support::agent_cli;
use sortie_test_support::model_server::{ModelServer, Script, Turn};

use crate::cli::{home_of, request, run, workspace};

const HANDOFF: &str = "Done.\n<handoff>\nsummary: Wrote src/greeting.txt.\nleft undone:\n\
                       - a test for it\n</handoff>";

#[tokio::test]
async fn claude_code_over_acp_writes_a_file_through_the_client_and_reports_the_handoff() {
    let adapter = agent_cli::claude_code_acp();
    let workspace = workspace();
    let workspace_path = workspace.path().canonicalize().expect("the workspace");
    let target = workspace_path.join("src/greeting.txt");
    let server = ModelServer::start(
        Script::new(
            "claude-code-acp writes a file",
            [
                // With the client's file system offered, the adapter writes through its own
                // `acp` MCP server, which calls the client.
                Turn::tool_call(
                    "mcp__acp__Write",
                    json!({"file_path": target.display().to_string(), "content": "Hello!\n"}),
                ),
                Turn::final_answer(HANDOFF),
            ],
        )
        // Claude Code's background calls (summaries, token counts) go to its small model.
        .with_side_model("claude-haiku"),
    )
    .await
    .expect("the model server starts");
    let mut profile = AgentProfileSettings::of_kind(AgentKind::Acp);
    profile.command = Some(adapter.display().to_string());
    profile.base_url = Some(server.url());
    profile.api_key = Some(Secret::new("sk-scripted"));
    profile.env = BTreeMap::from(
        [
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
            ("DISABLE_TELEMETRY", "1"),
            ("DISABLE_AUTOUPDATER", "1"),
            ("DISABLE_ERROR_REPORTING", "1"),
        ]
        .map(|(name, value)| (name.to_owned(), value.to_owned())),
    );
    let request = request(workspace.path(), Duration::from_secs(120));
    let (outcome, events) = run(profile, &request).await;

    let requests = server.model_requests();
    let summary: Vec<String> = server
        .requests()
        .iter()
        .map(|request| {
            format!(
                "{:?} {}",
                request.turn,
                request.raw_body.chars().take(200).collect::<String>()
            )
        })
        .collect();
    assert_eq!(
        outcome.failure, None,
        "events: {events:#?}\nrequests: {summary:#?}"
    );
    assert_eq!(
        std::fs::read_to_string(&target).expect("the file was written"),
        "Hello!\n"
    );
    assert_eq!(outcome.summary, "Wrote src/greeting.txt.");
    assert_eq!(outcome.left_undone, ["a test for it"]);
    assert!(matches!(&events[0], AgentEvent::Init { agent, .. } if agent == "acp"));
    assert!(
        events
            .iter()
            .any(|event| matches!(event, AgentEvent::ToolCall { tool, .. } if tool == "edit")),
        "{events:#?}"
    );
    assert_eq!(outcome.usage.tool_calls, 1, "{events:#?}");
    let first = requests.first().expect("a model request");
    assert!(first.raw_body.contains("F-GREETING"));
    assert_eq!(first.header("x-api-key"), Some("sk-scripted"));
    assert!(
        !home_of(workspace.path()).exists(),
        "the run's home is removed"
    );
}
