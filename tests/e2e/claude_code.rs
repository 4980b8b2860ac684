//! A mission whose workers run the real Claude Code CLI, through its adapter, against the
//! scripted model server: Claude Code's own Write tool makes each feature's change, and
//! the mission integrates, validates and completes with the attempts' usage on record.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;
use sortie_cli::follow::follow;
use sortie_e2e::{Stage, exclusive, integration_branch};
use sortie_git::{GitConfig, seed_bare_repository};
use sortie_model::api::{AttemptSubject, SubmitMission};
use sortie_model::state::AttemptState;
use sortie_test_support::agent_cli;
use sortie_test_support::model_server::{ModelServer, Script, Turn};

use crate::checks;

const MISSION: &str = r#"
[mission]
name = "greetings-by-claude"
goal = "two greeting files, written by Claude Code"

[[repositories]]
name = "app"
url = "placeholder"

[settings]
max_parallel_workers = 1

[settings.agents]
worker = "claude"

[[milestones]]
id = "m1"
title = "Greetings"

[[features]]
id = "F-HELLO"
title = "hello.txt"
milestone = "m1"
repository = "app"
description = "Write hello.txt."
fulfills = ["VAL-HELLO-001"]
touches = ["hello.txt"]

[[features]]
id = "F-BYE"
title = "bye.txt"
milestone = "m1"
repository = "app"
description = "Write bye.txt."
preconditions = ["F-HELLO"]
fulfills = ["VAL-BYE-001"]
touches = ["bye.txt"]

[[assertions]]
id = "VAL-HELLO-001"
statement = "hello.txt says hello"
check = { kind = "command", run = "grep -q hello hello.txt" }

[[assertions]]
id = "VAL-BYE-001"
statement = "bye.txt says bye"
check = { kind = "command", run = "grep -q bye bye.txt" }
"#;

fn handoff(file: &str) -> String {
    format!("Done.\n<handoff>\nsummary: Wrote {file}.\nleft undone: none\n</handoff>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mission_runs_on_claude_code_and_completes() {
    let _one_at_a_time = exclusive().await;
    let claude = agent_cli::claude();
    // The features run one after the other (F-BYE needs F-HELLO), so the model's turns
    // come in this order.
    let server = ModelServer::start(Script::new(
        "two features by Claude Code",
        [
            Turn::tool_call(
                "Write",
                json!({"file_path": "hello.txt", "content": "hello\n"}),
            ),
            Turn::final_answer(handoff("hello.txt")),
            Turn::tool_call("Write", json!({"file_path": "bye.txt", "content": "bye\n"})),
            Turn::final_answer(handoff("bye.txt")),
        ],
    ))
    .await
    .expect("the model server starts");
    let env: Vec<(String, String)> = [
        ("SORTIE__AGENTS__CLAUDE__KIND", "claude-code".to_owned()),
        (
            "SORTIE__AGENTS__CLAUDE__COMMAND",
            claude.display().to_string(),
        ),
        ("SORTIE__AGENTS__CLAUDE__BASE_URL", server.url()),
        ("SORTIE__AGENTS__CLAUDE__API_KEY", "sk-scripted".to_owned()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect();
    let stage = Stage::start(1, env).await.expect("start Sortie");
    let source = stage.work.path().join("app-source");
    std::fs::create_dir_all(&source).expect("source");
    std::fs::write(source.join("README.md"), "# app\n").expect("readme");
    let bare = stage.repository("app");
    seed_bare_repository(&GitConfig::default(), &source, &bare, "main", "start")
        .await
        .expect("seed");
    let client = stage.client();
    let submitted = client
        .submit(&SubmitMission {
            mission_file: MISSION.to_owned(),
            file_name: "greetings.toml".to_owned(),
            repositories: BTreeMap::from([("app".to_owned(), bare.display().to_string())]),
            tenant: None,
            team: None,
            submitted_by: Some("e2e".to_owned()),
            launch: true,
            approve: true,
        })
        .await
        .expect("submit");
    let followed = follow(
        &client,
        submitted.id,
        Duration::from_millis(200),
        Duration::from_secs(240),
        |line| println!("{line}"),
    )
    .await
    .unwrap_or_else(|error| panic!("{error}\n{}", stage.logs()));
    let status = followed.status;
    assert_eq!(
        status.mission.state.as_str(),
        "completed",
        "{status:#?}\n{}\nmodel requests: {}",
        stage.logs(),
        server.model_requests().len()
    );
    checks::every_feature_accepted_once(&status);
    let branch = integration_branch(&bare).expect("integration branch");
    checks::every_feature_integrated_once(&status, &bare, &branch);
    checks::integrated_attempt_branches_removed(&status, &bare);
    for (file, text) in [("hello.txt", "hello\n"), ("bye.txt", "bye\n")] {
        let shown =
            sortie_e2e::git(&bare, &["show", &format!("{branch}:{file}")]).expect("the file");
        assert_eq!(shown, text, "{file}");
    }
    assert_eq!(server.turns_left(), 0, "every scripted turn was used");
    let total = &status.mission.usage;
    assert!(total.turns >= 4, "{total:?}");
    assert_eq!(total.tool_calls, 2, "{total:?}");
    assert!(
        total.cost_usd.is_some_and(|dollars| dollars > 0.0),
        "Claude Code reports dollars: {total:?}"
    );
    let feature_attempts: Vec<_> = status
        .attempts
        .iter()
        .filter(|attempt| matches!(attempt.subject, AttemptSubject::Feature { .. }))
        .collect();
    assert_eq!(feature_attempts.len(), 2, "{feature_attempts:#?}");
    for attempt in feature_attempts {
        assert_eq!(attempt.state, AttemptState::Succeeded);
        let usage = attempt.usage.as_ref().expect("the handoff carries usage");
        assert!(usage.turns >= 2, "{usage:?}");
        assert_eq!(usage.tool_calls, 1, "{usage:?}");
        assert!(usage.output_tokens > 0, "{usage:?}");
        assert!(usage.cost_usd.is_some(), "{usage:?}");
    }
    stage.stop().await;
}
