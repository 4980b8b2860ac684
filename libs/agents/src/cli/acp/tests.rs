//! The ACP client against a scripted agent (`peer_script.py`, run by Python 3).

use std::path::Path;
use std::time::{Duration, Instant};

use sortie_settings::{AgentKind, AgentProfileSettings};
use tempfile::TempDir;
use tokio::sync::mpsc;

use super::Acp;
use sortie_model::mcp::{McpServer, McpTransport};

use crate::{Agent, AgentEvent, AgentOutcome, AgentRequest, AgentRole};

const SCRIPT: &str = include_str!("peer_script.py");

/// A workspace with a README, and the scripted agent beside it.
fn workspace() -> (TempDir, std::path::PathBuf) {
    let root = tempfile::tempdir().expect("a scratch directory");
    let workspace = root.path().join("ws");
    std::fs::create_dir_all(workspace.join("src")).expect("the workspace");
    std::fs::write(workspace.join("README.md"), "# app\n").expect("README.md");
    std::fs::write(root.path().join("peer_script.py"), SCRIPT).expect("the script");
    (root, workspace)
}

/// A worker's request allowed `ls` and `cat`.
fn worker_request(workspace: &Path, time_limit: Duration) -> AgentRequest {
    let mut request = crate::cli::review_request(workspace);
    request.role = AgentRole::Worker;
    request.allowed_commands = vec!["ls".to_owned(), "cat".to_owned()];
    request.time_limit = time_limit;
    request
}

async fn run(
    root: &Path,
    scenario: &str,
    request: &AgentRequest,
) -> (AgentOutcome, Vec<AgentEvent>) {
    let mut profile = AgentProfileSettings::of_kind(AgentKind::Acp);
    profile.command = Some("python3".to_owned());
    profile.args = vec![
        root.join("peer_script.py").display().to_string(),
        scenario.to_owned(),
    ];
    let (sender, mut receiver) = mpsc::unbounded_channel();
    let outcome = Acp::new(profile)
        .run(request, sender)
        .await
        .expect("the agent runs");
    let mut events = Vec::new();
    while let Ok(event) = receiver.try_recv() {
        events.push(event);
    }
    (outcome, events)
}

#[tokio::test]
async fn a_file_is_written_through_the_client_and_the_handoff_and_usage_are_read() {
    let (root, workspace) = workspace();
    let mut request = worker_request(&workspace, Duration::from_secs(30));
    request.mcp_servers = vec![McpServer {
        name: "tracker".to_owned(),
        transport: McpTransport::Stdio {
            command: "tracker-mcp".to_owned(),
            args: vec!["--stdio".to_owned()],
            env: [("TRACKER_TOKEN".to_owned(), "t".to_owned())].into(),
        },
    }];
    let (outcome, events) = run(root.path(), "write", &request).await;

    assert_eq!(outcome.failure, None, "{events:#?}");
    assert_eq!(
        std::fs::read_to_string(workspace.join("src/greeting.txt")).expect("the file"),
        "Hello!\n"
    );
    assert_eq!(outcome.summary, "Wrote src/greeting.txt.");
    assert!(outcome.left_undone.is_empty(), "{:?}", outcome.left_undone);
    assert_eq!(outcome.usage.input_tokens, 120);
    assert_eq!(outcome.usage.output_tokens, 30);
    assert_eq!(outcome.usage.tool_calls, 1);
    let texts: Vec<&str> = events
        .iter()
        .filter_map(|event| match event {
            AgentEvent::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    let final_text = texts.last().expect("the final message");
    // The permission was granted, the file read, and the terminal (not offered) refused
    // as an unknown method.
    assert!(final_text.contains("permission yes"), "{final_text}");
    assert!(final_text.contains("write ok"), "{final_text}");
    assert!(final_text.contains(r##"read "# app\n""##), "{final_text}");
    assert!(final_text.contains("terminal -32601"), "{final_text}");
    // Every line the agent printed is kept, the banner that is not JSON-RPC too.
    assert!(events.iter().any(
        |event| matches!(event, AgentEvent::Raw { line } if line == "a banner that is not JSON-RPC")
    ));
    let events: Vec<AgentEvent> = events
        .into_iter()
        .filter(|event| !matches!(event, AgentEvent::Raw { .. }))
        .collect();
    assert!(
        matches!(&events[0], AgentEvent::Init { detail, .. } if detail.contains("scripted-acp"))
    );
    assert!(events.iter().any(|event| matches!(
        event,
        AgentEvent::ToolCall { tool, input } if tool == "edit" && input == "Write src/greeting.txt"
    )));
    assert!(matches!(
        events.iter().rev().nth(1),
        Some(AgentEvent::Result { .. })
    ));
    assert!(matches!(events.last(), Some(AgentEvent::Usage { .. })));
    // The session was given the request's MCP servers, in ACP's form.
    let servers: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(workspace.join("mcp-servers.json")).expect("the servers"),
    )
    .expect("JSON");
    assert_eq!(
        servers,
        serde_json::json!([{
            "name": "tracker",
            "command": "tracker-mcp",
            "args": ["--stdio"],
            "env": [{"name": "TRACKER_TOKEN", "value": "t"}],
        }])
    );
}

#[tokio::test]
async fn a_reviewer_may_run_an_allowed_command_but_neither_edit_nor_write() {
    let (root, workspace) = workspace();
    let request = crate::cli::review_request(&workspace);
    let (outcome, events) = run(root.path(), "review", &request).await;

    let failure = outcome.failure.expect("a denied edit fails the run");
    assert!(
        failure.contains("a reviewer may not change the workspace"),
        "{failure}"
    );
    assert_eq!(
        std::fs::read_to_string(workspace.join("README.md")).expect("README.md"),
        "# app\n"
    );
    assert!(
        events.iter().any(
            |event| matches!(event, AgentEvent::Text { text } if text == "edit no; write error; cat yes")
        ),
        "{events:#?}"
    );
}

#[tokio::test]
async fn a_command_outside_the_allowed_prefixes_and_a_write_outside_the_workspace_are_denied() {
    let (root, workspace) = workspace();
    let request = worker_request(&workspace, Duration::from_secs(30));
    let (outcome, events) = run(root.path(), "deny", &request).await;

    let failure = outcome.failure.expect("a denied run fails");
    assert!(
        failure.contains("`rm -rf src` is not an allowed command"),
        "{failure}"
    );
    assert!(failure.contains("outside the workspace"), "{failure}");
    assert!(!root.path().join("outside.txt").exists());
    assert!(workspace.join("src").is_dir());
    let texts: Vec<&AgentEvent> = events
        .iter()
        .filter(|event| matches!(event, AgentEvent::Text { .. }))
        .collect();
    assert!(
        matches!(texts.last(), Some(AgentEvent::Text { text }) if text == "rm no; escape error"),
        "{texts:?}"
    );
    assert!(events.iter().any(|event| matches!(
        event,
        AgentEvent::ToolResult { denied: true, tool, .. } if tool == "execute"
    )));
    assert_eq!(outcome.left_undone, vec!["Check VAL-API-001".to_owned()]);
}

#[tokio::test]
async fn an_agent_that_prints_no_json_rpc_is_stopped() {
    let (root, workspace) = workspace();
    let started = Instant::now();
    let request = worker_request(&workspace, Duration::from_secs(60));
    let (outcome, _) = run(root.path(), "garbage", &request).await;

    let failure = outcome.failure.expect("garbage fails the run");
    assert!(failure.contains("not JSON-RPC"), "{failure}");
    assert!(failure.contains("loading plugin 0"), "{failure}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "it was stopped, not waited for"
    );
}

#[tokio::test]
async fn a_hanging_agent_is_killed_with_what_it_started_at_the_time_limit() {
    let (root, workspace) = workspace();
    let started = Instant::now();
    let request = worker_request(&workspace, Duration::from_secs(3));
    let (outcome, _) = run(root.path(), "hang", &request).await;

    let failure = outcome.failure.expect("a hang fails the run");
    assert!(failure.contains("time limit of 3s"), "{failure}");
    assert!(started.elapsed() < Duration::from_secs(20));
    let pid = std::fs::read_to_string(workspace.join("sleeper.pid")).expect("the sleeper's pid");
    let stat = format!("/proc/{}/stat", pid.trim());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        // Gone, or a zombie nobody has reaped yet: either way no longer running.
        let state = std::fs::read_to_string(&stat).unwrap_or_default();
        if state.is_empty() || state.contains(") Z") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the agent's child still runs: {state}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test]
async fn a_profile_without_a_command_is_a_configuration_error() {
    let (_root, workspace) = workspace();
    let request = crate::cli::review_request(&workspace);
    let (sender, _receiver) = mpsc::unbounded_channel();
    let error = Acp::new(AgentProfileSettings::of_kind(AgentKind::Acp))
        .run(&request, sender)
        .await
        .expect_err("no command");
    assert!(error.to_string().contains("needs a command"), "{error}");
}
