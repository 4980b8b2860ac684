//! `sortie plan`'s conversation: questions answered, a revision, approval and quitting.

use std::path::Path;
use std::time::Duration;

use sortie_agents::llm::{ChatModel, LlmConfig, Protocol, RetryPolicy};
use sortie_cli::exit;
use sortie_cli::plan::{Conversation, converse};
use sortie_planner::Survey;
use sortie_test_support::model_server::{ModelServer, Script, Turn};

const GOAL: &str = "Add a /health endpoint to the notes service.";

fn mission(feature_title: &str) -> String {
    format!(
        r#"[mission]
name = "health"
goal = "Add a /health endpoint"

[[repositories]]
name = "notes"
url = "/srv/notes"

[[milestones]]
id = "m1"
title = "Health"

[[features]]
id = "F-HEALTH"
title = "{feature_title}"
milestone = "m1"
touches = ["src/**"]
fulfills = ["VAL-HEALTH-001"]

[[assertions]]
id = "VAL-HEALTH-001"
statement = "The tests pass"
check = {{ kind = "command", run = "cargo test" }}
"#
    )
}

fn answer(mission_toml: &str) -> Turn {
    Turn::final_answer(format!("```toml\n{mission_toml}```\n"))
}

fn model(server: &ModelServer) -> ChatModel {
    let mut config = LlmConfig::new(Protocol::Anthropic, server.url(), "scripted-model");
    config.retries = RetryPolicy {
        max_retries: 1,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(20),
    };
    ChatModel::new(config).expect("chat model")
}

fn survey() -> Survey {
    Survey {
        root: "/srv/notes".into(),
        repository_name: "notes".to_owned(),
        tree: vec!["src/main.rs".to_owned()],
        ..Survey::default()
    }
}

/// Runs the conversation on `input` and returns its exit code and everything it wrote.
async fn run(server: &ModelServer, output_file: &Path, force: bool, input: &str) -> (i32, String) {
    let model = model(server);
    let survey = survey();
    let conversation = Conversation {
        goal: GOAL,
        survey: &survey,
        model: &model,
        output: output_file,
        force,
    };
    let mut transcript = Vec::new();
    let code = converse(&conversation, input.as_bytes(), &mut transcript)
        .await
        .expect("the conversation runs");
    (code, String::from_utf8(transcript).expect("utf-8"))
}

#[tokio::test]
async fn answers_then_a_revision_then_approval_write_the_revised_file() {
    let script = Script::new(
        "two questions, a plan, a revised plan",
        [
            Turn::final_answer(
                "<question id=\"q1\">Should /health check the database?</question>\n\
                 <question id=\"q2\">Which status code when it is down?</question>\n\
                 <question id=\"q3\">Any metrics?</question>",
            ),
            answer(&mission("First health")),
            answer(&mission("Split health")),
        ],
    );
    let server = ModelServer::start(script).await.expect("server");
    let directory = tempfile::tempdir().expect("tempdir");
    let output_file = directory.path().join("mission.toml");

    let (code, transcript) = run(
        &server,
        &output_file,
        false,
        "Yes, with a one-second timeout\n?\n\nrevise split milestone 1\napprove\n",
    )
    .await;

    assert_eq!(code, exit::COMPLETED, "{transcript}");
    assert!(transcript.contains("Should /health check the database?"));
    assert!(transcript.contains("F-HEALTH First health"), "{transcript}");
    assert!(transcript.contains("F-HEALTH Split health"), "{transcript}");
    // One feature: at worst three attempts and three fix rounds; no prices for the model.
    assert!(
        transcript.contains("estimate: 1-6 agent runs, 1-4 validation runs"),
        "{transcript}"
    );
    assert!(
        transcript.contains("dollars unknown (no prices for scripted-model)"),
        "{transcript}"
    );
    let written = std::fs::read_to_string(&output_file).expect("the file is written");
    assert_eq!(written, mission("Split health"));

    let requests = server.model_requests();
    assert_eq!(requests.len(), 3);
    let proposal_request = requests[1].json().to_string();
    assert!(proposal_request.contains("Yes, with a one-second timeout"));
    assert!(proposal_request.contains("(decide yourself)"));
    assert!(proposal_request.contains("(no answer"));
    assert!(!proposal_request.contains("split milestone 1"));
    let revision_request = requests[2].json().to_string();
    assert!(
        revision_request.contains("split milestone 1"),
        "{revision_request}"
    );
}

#[tokio::test]
async fn quit_writes_nothing() {
    let script = Script::new(
        "no questions, a plan",
        [
            Turn::final_answer("<no-questions/>"),
            answer(&mission("Health")),
        ],
    );
    let server = ModelServer::start(script).await.expect("server");
    let directory = tempfile::tempdir().expect("tempdir");
    let output_file = directory.path().join("mission.toml");

    let (code, transcript) = run(&server, &output_file, false, "frobnicate\nquit\n").await;

    assert_eq!(code, exit::FAILED);
    assert!(transcript.contains("unknown command"), "{transcript}");
    assert!(transcript.contains("F-HEALTH Health"), "{transcript}");
    assert!(!output_file.exists());
    assert_eq!(server.model_requests().len(), 2);
}

#[tokio::test]
async fn approval_never_overwrites_a_file_without_force_and_the_end_of_input_quits() {
    let script = Script::new(
        "no questions, a plan",
        [
            Turn::final_answer("<no-questions/>"),
            answer(&mission("Health")),
        ],
    );
    let server = ModelServer::start(script).await.expect("server");
    let directory = tempfile::tempdir().expect("tempdir");
    let output_file = directory.path().join("mission.toml");
    std::fs::write(&output_file, "mine").expect("write");

    let (code, transcript) = run(&server, &output_file, false, "approve\n").await;

    assert_eq!(code, exit::FAILED);
    assert!(transcript.contains("exists"), "{transcript}");
    assert_eq!(std::fs::read_to_string(&output_file).expect("read"), "mine");
}
