//! The real Claude Code and Codex CLIs, at their pinned versions, driven through Sortie's
//! adapters against the scripted model server, in real workspaces: the CLI's own tools
//! write real files, and the adapter reports the events, the usage and the handoff.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use sortie_agents::{AgentEvent, AgentOutcome, AgentRequest, AgentRole, AgentTask, for_profile};
use sortie_model::plan::{Feature, SkillDefinition};
use sortie_settings::{AgentKind, AgentProfileSettings, Secret};
use sortie_test_support::agent_cli;
use sortie_test_support::model_server::{ModelServer, Script, Turn};
use tempfile::TempDir;
use tokio::sync::mpsc;

const HANDOFF: &str = "Done.\n<handoff>\nsummary: Wrote src/greeting.txt.\nleft undone:\n\
                       - a test for it\n</handoff>";

fn feature() -> Feature {
    Feature {
        id: "F-GREETING".into(),
        title: "Greeting file".to_owned(),
        milestone: "m1".into(),
        repository: "app".into(),
        description: "Write a greeting in src/greeting.txt.".to_owned(),
        skill: Some("writing".to_owned()),
        preconditions: vec![],
        expected_behavior: vec!["src/greeting.txt greets".to_owned()],
        verification: vec![],
        fulfills: vec![],
        touches: vec!["src/**".to_owned()],
        estimate_minutes: None,
        steps: vec![],
        fix: None,
    }
}

/// A workspace outside the system's temporary directory: Codex will not build its
/// sandbox helper inside it.
pub(crate) fn workspace() -> TempDir {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("agent-cli");
    std::fs::create_dir_all(&root).expect("the scratch root");
    let dir = tempfile::Builder::new()
        .prefix("ws-")
        .tempdir_in(root)
        .expect("a workspace");
    std::fs::create_dir_all(dir.path().join("src")).expect("src/");
    std::fs::write(dir.path().join("README.md"), "# app\n").expect("README.md");
    dir
}

pub(crate) fn request(workspace: &Path, time_limit: Duration) -> AgentRequest {
    AgentRequest {
        workspace: workspace.to_path_buf(),
        role: AgentRole::Worker,
        task: AgentTask::Feature(feature()),
        skill: Some(SkillDefinition {
            name: "writing".to_owned(),
            description: "Writes short text files".to_owned(),
            instructions: "Keep every file under ten lines.".to_owned(),
        }),
        agents_md: Some("Greet in English.".to_owned()),
        time_limit,
        allowed_commands: vec!["echo".to_owned(), "ls".to_owned(), "cat".to_owned()],
        max_turns: Some(8),
        mcp_servers: Vec::new(),
    }
}

pub(crate) fn profile(
    kind: AgentKind,
    command: &Path,
    server: &ModelServer,
) -> AgentProfileSettings {
    let mut profile = AgentProfileSettings::of_kind(kind);
    profile.command = Some(command.display().to_string());
    profile.api_key = Some(Secret::new("sk-scripted"));
    profile.base_url = Some(match kind {
        AgentKind::Codex => server.openai_base_url(),
        _ => server.url(),
    });
    if kind == AgentKind::Codex {
        profile.model = Some("gpt-5".to_owned());
    }
    profile
}

/// Run the profile's agent; its events without the raw lines they were read from.
pub(crate) async fn run(
    profile: AgentProfileSettings,
    request: &AgentRequest,
) -> (AgentOutcome, Vec<AgentEvent>) {
    let (outcome, events) = run_keeping_raw(profile, request).await;
    let events = events
        .into_iter()
        .filter(|event| !matches!(event, AgentEvent::Raw { .. }))
        .collect();
    (outcome, events)
}

/// Run the profile's agent; every event, the raw lines included.
pub(crate) async fn run_keeping_raw(
    profile: AgentProfileSettings,
    request: &AgentRequest,
) -> (AgentOutcome, Vec<AgentEvent>) {
    let profiles = BTreeMap::from([("agent".to_owned(), profile)]);
    let agent = for_profile("agent", &profiles).expect("the profile makes an agent");
    let (sender, mut receiver) = mpsc::unbounded_channel();
    let outcome = agent.run(request, sender).await.expect("the agent runs");
    let mut events = Vec::new();
    while let Ok(event) = receiver.try_recv() {
        events.push(event);
    }
    (outcome, events)
}

pub(crate) fn home_of(workspace: &Path) -> std::path::PathBuf {
    let mut name = workspace.file_name().expect("a name").to_os_string();
    name.push(".home");
    workspace.with_file_name(name)
}

#[tokio::test]
async fn claude_code_writes_a_file_with_its_own_tool_and_reports_the_handoff_and_cost() {
    let claude = agent_cli::claude();
    let workspace = workspace();
    let target = workspace.path().join("src/greeting.txt");
    let server = ModelServer::start(Script::new(
        "claude writes a file",
        [
            Turn::tool_call(
                "Write",
                json!({"file_path": "src/greeting.txt", "content": "Hello!\n"}),
            ),
            Turn::final_answer(HANDOFF),
        ],
    ))
    .await
    .expect("the model server starts");
    let request = request(workspace.path(), Duration::from_secs(120));
    let (outcome, all_events) =
        run_keeping_raw(profile(AgentKind::ClaudeCode, &claude, &server), &request).await;
    // Every line Claude Code printed is kept, ahead of the events read from it.
    assert!(
        matches!(&all_events[0], AgentEvent::Raw { line } if line.contains("\"init\"")),
        "{all_events:#?}"
    );
    assert!(all_events.iter().any(
        |event| matches!(event, AgentEvent::Raw { line } if line.contains("\"type\":\"result\""))
    ));
    let events: Vec<AgentEvent> = all_events
        .into_iter()
        .filter(|event| !matches!(event, AgentEvent::Raw { .. }))
        .collect();

    let requests = server.model_requests();
    assert_eq!(
        outcome.failure, None,
        "events: {events:#?}\nrequests: {requests:#?}"
    );
    assert_eq!(
        std::fs::read_to_string(&target).expect("the file was written"),
        "Hello!\n"
    );
    assert_eq!(outcome.summary, "Wrote src/greeting.txt.");
    assert_eq!(outcome.left_undone, ["a test for it"]);
    assert!(matches!(&events[0], AgentEvent::Init { agent, .. } if agent == "claude-code"));
    assert!(
        events
            .iter()
            .any(|event| matches!(event, AgentEvent::ToolCall { tool, .. } if tool == "Write")),
        "{events:#?}"
    );
    assert!(
        events.iter().any(|event| matches!(
            event,
            AgentEvent::ToolResult { tool, denied: false, .. } if tool == "Write"
        )),
        "{events:#?}"
    );
    assert!(
        matches!(events.last(), Some(AgentEvent::Usage { usage }) if *usage == outcome.usage),
        "the stream ends with the run's usage: {:?}",
        events.last()
    );
    assert_eq!(outcome.usage.tool_calls, 1);
    assert!(outcome.usage.turns >= 2, "{:?}", outcome.usage);
    assert!(outcome.usage.output_tokens > 0, "{:?}", outcome.usage);
    assert!(outcome.usage.cost_usd.is_some(), "{:?}", outcome.usage);
    assert!(outcome.usage.wall_ms > 0);
    // The prompt carried the feature, the skill and AGENTS.md; the key was the profile's.
    let first = requests.first().expect("a model request");
    let body = first.raw_body.as_str();
    assert!(body.contains("F-GREETING"), "{body}");
    assert!(body.contains("Keep every file under ten lines."), "{body}");
    assert!(body.contains("Greet in English."), "{body}");
    assert_eq!(first.header("x-api-key"), Some("sk-scripted"));
    assert!(
        !home_of(workspace.path()).exists(),
        "the run's home is removed"
    );
}

#[tokio::test]
async fn claude_code_with_a_denied_command_fails_though_it_says_it_succeeded() {
    let claude = agent_cli::claude();
    let workspace = workspace();
    let server = ModelServer::start(Script::new(
        "claude runs a command it may not",
        [
            Turn::tool_call(
                "Bash",
                json!({"command": "curl http://127.0.0.1:9/", "description": "fetch"}),
            ),
            Turn::final_answer(HANDOFF),
        ],
    ))
    .await
    .expect("the model server starts");
    let request = request(workspace.path(), Duration::from_secs(120));
    let (outcome, events) = run(profile(AgentKind::ClaudeCode, &claude, &server), &request).await;
    let failure = outcome.failure.expect("a denied call fails the run");
    assert!(
        failure.contains("denied") && failure.contains("curl"),
        "{failure}\n{events:#?}"
    );
    assert!(
        events
            .iter()
            .any(|event| matches!(event, AgentEvent::ToolResult { denied: true, .. })),
        "{events:#?}"
    );
}

#[tokio::test]
async fn a_hung_claude_code_is_killed_at_its_time_limit() {
    let claude = agent_cli::claude();
    let workspace = workspace();
    let server = ModelServer::start(Script::new("the model never answers", [Turn::hang()]))
        .await
        .expect("the model server starts");
    let request = request(workspace.path(), Duration::from_secs(8));
    let started = Instant::now();
    let (outcome, _) = run(profile(AgentKind::ClaudeCode, &claude, &server), &request).await;
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

#[tokio::test]
async fn a_cli_that_prints_garbage_fails_with_what_it_printed() {
    let workspace = workspace();
    let fake = workspace.path().join("not-claude.sh");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'Welcome! Please log in at https://example.com'\necho 'bye' >&2\nexit 3\n",
    )
    .expect("the script");
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("executable");
    let server = ModelServer::start(Script::new("unused", []))
        .await
        .expect("the model server starts");
    let request = request(workspace.path(), Duration::from_secs(30));
    let (outcome, _) = run(profile(AgentKind::ClaudeCode, &fake, &server), &request).await;
    let failure = outcome.failure.expect("garbage is a failure");
    assert!(failure.contains("printed no result"), "{failure}");
    assert!(failure.contains("exited with code 3"), "{failure}");
    assert!(failure.contains("Please log in"), "{failure}");
    assert!(failure.contains("bye"), "{failure}");
}

#[tokio::test]
async fn codex_runs_a_command_in_its_sandbox_and_reports_tokens_and_dollars() {
    let codex = agent_cli::codex();
    let workspace = workspace();
    let target = workspace.path().join("src/greeting.txt");
    let server = ModelServer::start(Script::new(
        "codex writes a file",
        [
            Turn::tool_call(
                "exec_command",
                json!({"cmd": "echo Hello! > src/greeting.txt"}),
            ),
            Turn::final_answer(HANDOFF),
        ],
    ))
    .await
    .expect("the model server starts");
    let request = request(workspace.path(), Duration::from_secs(120));
    let (outcome, events) = run(profile(AgentKind::Codex, &codex, &server), &request).await;
    let requests = server.model_requests();
    assert_eq!(
        outcome.failure, None,
        "events: {events:#?}\nrequests: {requests:#?}"
    );
    assert_eq!(
        std::fs::read_to_string(&target).expect("the file was written"),
        "Hello!\n"
    );
    assert_eq!(outcome.summary, "Wrote src/greeting.txt.");
    assert!(
        outcome
            .commands
            .iter()
            .any(|command| command.command.contains("echo Hello!") && command.exit_code == Some(0)),
        "{:?}",
        outcome.commands
    );
    assert!(outcome.usage.input_tokens > 0, "{:?}", outcome.usage);
    assert!(
        outcome.usage.cost_usd.is_some_and(|dollars| dollars > 0.0),
        "gpt-5's dollars come from the price table: {:?}",
        outcome.usage
    );
    assert_eq!(
        requests
            .first()
            .and_then(|request| request.header("authorization")),
        Some("Bearer sk-scripted")
    );
}
