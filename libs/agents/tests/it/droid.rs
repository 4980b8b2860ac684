//! The real droid CLI, at its pinned version, driven through Sortie's adapter against the
//! scripted model server as a custom model (no Factory login): droid's own tools write
//! real files, a reviewer's edit is refused, and a hung model is killed at the limit.

use std::time::{Duration, Instant};

use serde_json::json;
use sortie_agents::{AgentEvent, AgentRole};
use sortie_settings::{AgentKind, AgentProfileSettings, Secret};
use sortie_test_support::agent_cli;
use sortie_test_support::model_server::{ModelServer, Script, Turn};

use crate::cli::{home_of, request, run, workspace};

const HANDOFF: &str = "Done.\n<handoff>\nsummary: Wrote src/greeting.txt.\nleft undone:\n\
                       - a test for it\n</handoff>";

/// A droid profile whose custom model is the scripted server's Chat Completions API.
fn profile(server: &ModelServer) -> AgentProfileSettings {
    let mut profile = AgentProfileSettings::of_kind(AgentKind::Droid);
    profile.command = Some(agent_cli::droid().display().to_string());
    profile.base_url = Some(server.openai_base_url());
    profile.model = Some("gpt-5".to_owned());
    profile.api_key = Some(Secret::new("sk-scripted"));
    profile
}

#[tokio::test]
async fn droid_writes_a_file_with_its_own_tool_and_reports_tokens_and_dollars() {
    let workspace = workspace();
    let target = workspace.path().join("src/greeting.txt");
    // For a GPT model droid edits with ApplyPatch, Codex's patch format.
    let patch = format!(
        "*** Begin Patch\n*** Add File: {}\n+Hello!\n*** End Patch",
        target.display()
    );
    let server = ModelServer::start(Script::new(
        "droid writes a file",
        [
            Turn::tool_call("ApplyPatch", json!({"input": patch})),
            Turn::tool_call(
                "Execute",
                json!({"command": "ls src", "riskLevel": "low", "riskLevelReason": "lists"}),
            ),
            Turn::final_answer(HANDOFF),
        ],
    ))
    .await
    .expect("the model server starts");
    // A server the workspace declares for droid is not started: only the request's are.
    let marker = workspace.path().with_extension("mcp-started");
    std::fs::create_dir_all(workspace.path().join(".factory")).expect(".factory/");
    std::fs::write(
        workspace.path().join(".factory/mcp.json"),
        json!({"mcpServers": {"spy": {
            "type": "stdio",
            "command": "sh",
            "args": ["-c", format!("touch {}", marker.display())],
        }}})
        .to_string(),
    )
    .expect(".factory/mcp.json");
    let request = request(workspace.path(), Duration::from_secs(120));
    let (outcome, events) = run(profile(&server), &request).await;

    assert!(!marker.exists(), "droid started the workspace's MCP server");
    let requests = server.model_requests();
    assert_eq!(
        outcome.failure, None,
        "events: {events:#?}\nrequests: {requests:#?}"
    );
    assert_eq!(
        std::fs::read_to_string(&target)
            .unwrap_or_else(|error| panic!("the file was not written ({error}): {events:#?}")),
        "Hello!\n"
    );
    assert_eq!(outcome.summary, "Wrote src/greeting.txt.");
    assert_eq!(outcome.left_undone, ["a test for it"]);
    assert!(matches!(&events[0], AgentEvent::Init { agent, .. } if agent == "droid"));
    assert!(
        events.iter().any(|event| matches!(
            event,
            AgentEvent::ToolResult { tool, denied: false, .. } if tool == "ApplyPatch"
        )),
        "{events:#?}"
    );
    assert!(
        outcome
            .commands
            .iter()
            .any(|command| command.command == "ls src" && command.exit_code == Some(0)),
        "{:?}",
        outcome.commands
    );
    assert_eq!(outcome.usage.tool_calls, 2);
    assert!(outcome.usage.input_tokens > 0, "{:?}", outcome.usage);
    assert!(
        outcome.usage.cost_usd.is_some_and(|dollars| dollars > 0.0),
        "gpt-5's dollars come from the price table: {:?}",
        outcome.usage
    );
    // The prompt carried the feature and the skill; the key was the profile's.
    let first = requests.first().expect("a model request");
    let body = first.raw_body.as_str();
    assert!(body.contains("F-GREETING"), "{body}");
    assert!(body.contains("Greet in English."), "{body}");
    assert_eq!(first.header("authorization"), Some("Bearer sk-scripted"));
    assert!(
        !home_of(workspace.path()).exists(),
        "the run's home is removed"
    );
}

#[tokio::test]
async fn a_reviewing_droid_that_tries_to_edit_fails() {
    let workspace = workspace();
    let target = workspace.path().join("src/greeting.txt");
    let patch = format!(
        "*** Begin Patch\n*** Add File: {}\n+Hello!\n*** End Patch",
        target.display()
    );
    let server = ModelServer::start(Script::new(
        "a reviewer tries to write",
        [
            Turn::tool_call("ApplyPatch", json!({"input": patch})),
            Turn::final_answer(HANDOFF),
        ],
    ))
    .await
    .expect("the model server starts");
    let mut request = request(workspace.path(), Duration::from_secs(120));
    request.role = AgentRole::Reviewer;
    let (outcome, events) = run(profile(&server), &request).await;
    let failure = outcome.failure.expect("a refused edit fails the run");
    assert!(
        failure.contains("refused") && failure.contains("ApplyPatch"),
        "{failure}\n{events:#?}"
    );
    assert!(!target.exists(), "the reviewer wrote nothing");
}

#[tokio::test]
async fn a_hung_droid_is_killed_at_its_time_limit() {
    let workspace = workspace();
    let server = ModelServer::start(Script::new("the model never answers", [Turn::hang()]))
        .await
        .expect("the model server starts");
    let request = request(workspace.path(), Duration::from_secs(8));
    let started = Instant::now();
    let (outcome, _) = run(profile(&server), &request).await;
    let failure = outcome.failure.expect("a killed run fails");
    assert!(failure.contains("time limit of 8s"), "{failure}");
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "the run ended at its limit, not when the CLI gave up: {:?}",
        started.elapsed()
    );
    assert_eq!(outcome.left_undone, ["Greeting file"]);
    assert!(!home_of(workspace.path()).exists());
}
