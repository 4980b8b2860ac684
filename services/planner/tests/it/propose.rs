//! Proposals from the scripted model server: repaired mistakes, and the bound on tries.

use std::time::Duration;

use sortie_agents::llm::{ChatModel, LlmConfig, Protocol, RetryPolicy};
use sortie_model::mission_file::DiagnosticCode;
use sortie_planner::{MAX_TRIES, PlanError, Survey, propose};
use sortie_test_support::model_server::{ModelServer, RecordedRequest, Script, Turn};

pub(crate) const GOAL: &str = "Add a /health endpoint to the notes service.";

pub(crate) fn mission(fulfills: &str) -> String {
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
title = "GET /health answers 200"
milestone = "m1"
touches = ["src/**"]
fulfills = ["{fulfills}"]

[[assertions]]
id = "VAL-HEALTH-001"
statement = "The tests pass"
check = {{ kind = "command", run = "cargo test" }}
"#
    )
}

pub(crate) fn answer(mission_toml: &str) -> Turn {
    Turn::final_answer(format!("Here is the plan.\n\n```toml\n{mission_toml}```\n"))
}

pub(crate) fn model(server: &ModelServer, protocol: Protocol) -> ChatModel {
    let base_url = match protocol {
        Protocol::Anthropic => server.url(),
        Protocol::OpenAiChat => server.openai_base_url(),
    };
    let mut config = LlmConfig::new(protocol, base_url, "scripted-model");
    config.retries = RetryPolicy {
        max_retries: 1,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(20),
    };
    ChatModel::new(config).expect("chat model")
}

pub(crate) fn survey() -> Survey {
    Survey {
        root: "/srv/notes".into(),
        repository_name: "notes".to_owned(),
        tree: vec!["Cargo.toml".to_owned(), "src/main.rs".to_owned()],
        ..Survey::default()
    }
}

pub(crate) fn body_text(request: &RecordedRequest) -> String {
    request.json().to_string()
}

#[tokio::test]
async fn a_refused_answer_is_repaired_with_its_diagnostics() {
    for protocol in [Protocol::Anthropic, Protocol::OpenAiChat] {
        let script = Script::new(
            "an unknown assertion, then a valid plan",
            [
                answer(&mission("VAL-HEALTH-999")),
                answer(&mission("VAL-HEALTH-001")),
            ],
        );
        let server = ModelServer::start(script).await.expect("server");

        let proposal = propose(GOAL, &survey(), &[], &model(&server, protocol))
            .await
            .expect("a valid proposal");

        assert_eq!(proposal.tries, 2, "{protocol:?}");
        assert_eq!(proposal.plan.features[0].id.as_str(), "F-HEALTH");
        assert!(proposal.mission_toml.contains("VAL-HEALTH-001"));
        assert!(proposal.warnings.is_empty());
        assert_eq!(proposal.usage.turns, 2);
        assert_eq!(proposal.usage.output_tokens, 40, "20 output tokens a reply");

        let requests = server.model_requests();
        assert_eq!(requests.len(), 2);
        let first = body_text(&requests[0]);
        assert!(first.contains(GOAL), "the goal is in the first request");
        assert!(first.contains("src/main.rs"), "so is the survey");
        assert!(!first.contains("SM023"));
        let second = body_text(&requests[1]);
        assert!(
            second.contains(DiagnosticCode::UnknownAssertion.as_str()),
            "{protocol:?}: the repair request carries the error code: {second}"
        );
        assert!(second.contains("VAL-HEALTH-999"), "and the first answer");
    }
}

#[tokio::test]
async fn a_model_that_never_gets_it_right_fails_after_the_bound_with_the_last_errors() {
    let script = Script::new(
        "always an unknown assertion",
        (0..MAX_TRIES + 1).map(|_| answer(&mission("VAL-HEALTH-999"))),
    );
    let server = ModelServer::start(script).await.expect("server");

    let error = propose(GOAL, &survey(), &[], &model(&server, Protocol::OpenAiChat))
        .await
        .expect_err("no valid plan");

    assert_eq!(server.turns_used(), MAX_TRIES, "no request after the bound");
    let PlanError::NoValidPlan {
        tries,
        problems,
        diagnostics,
        usage,
    } = &error
    else {
        panic!("not a refused plan: {error}");
    };
    assert_eq!(*tries, MAX_TRIES);
    assert!(problems.contains("SM023"), "{problems}");
    assert!(error.to_string().contains("SM023"), "{error}");
    assert!(
        diagnostics
            .iter()
            .any(|diagnostic| diagnostic.code == DiagnosticCode::UnknownAssertion)
    );
    assert_eq!(usage.turns as usize, MAX_TRIES);
}

#[tokio::test]
async fn an_answer_without_a_toml_block_counts_as_a_failed_try() {
    let script = Script::new(
        "prose, then a valid plan",
        [
            Turn::final_answer("I would add a health endpoint and a test."),
            answer(&mission("VAL-HEALTH-001")),
        ],
    );
    let server = ModelServer::start(script).await.expect("server");

    let proposal = propose(GOAL, &survey(), &[], &model(&server, Protocol::Anthropic))
        .await
        .expect("a valid proposal");

    assert_eq!(proposal.tries, 2);
    let second = body_text(&server.model_requests()[1]);
    assert!(second.contains("no ```toml block"), "{second}");

    let script = Script::new(
        "prose only",
        (0..MAX_TRIES).map(|_| Turn::final_answer("Sure, sounds good.")),
    );
    let server = ModelServer::start(script).await.expect("server");
    let error = propose(GOAL, &survey(), &[], &model(&server, Protocol::Anthropic))
        .await
        .expect_err("no valid plan");
    assert!(error.to_string().contains("no ```toml block"), "{error}");
    assert_eq!(server.turns_used(), MAX_TRIES);
}

#[tokio::test]
async fn a_model_endpoint_that_fails_is_a_model_error_not_a_refused_plan() {
    let script = Script::new("unauthorized", [Turn::error_status(401)]);
    let server = ModelServer::start(script).await.expect("server");
    let error = propose(GOAL, &survey(), &[], &model(&server, Protocol::OpenAiChat))
        .await
        .expect_err("a model error");
    assert!(matches!(error, PlanError::Model(_)), "{error}");
}

#[tokio::test]
async fn an_accepted_plan_carries_the_planning_lints_warnings() {
    let chained = format!(
        "{}\n[[features]]\nid = \"F-DOCS\"\ntitle = \"document /health\"\nmilestone = \"m1\"\n\
         touches = [\"docs/**\"]\npreconditions = [\"F-HEALTH\"]\nverification = [\"read docs\"]\n\
         fulfills = [\"VAL-HEALTH-001\"]\n",
        mission("VAL-HEALTH-001")
    );
    let server = ModelServer::start(Script::new("a needless chain", [answer(&chained)]))
        .await
        .expect("server");

    let proposal = propose(GOAL, &survey(), &[], &model(&server, Protocol::Anthropic))
        .await
        .expect("warnings do not refuse a plan");

    assert_eq!(proposal.tries, 1);
    let codes: Vec<&str> = proposal
        .lint
        .iter()
        .map(|finding| finding.code.as_str())
        .collect();
    assert!(
        codes.contains(&"SL004"),
        "the needless precondition: {codes:?}"
    );
}
