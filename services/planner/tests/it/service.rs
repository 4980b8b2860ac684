//! The planner service on the real NATS server: requests answered with the scripted model
//! server, precise errors, and the client's limits when no planner answers.

use std::time::{Duration, Instant};

use sortie_bus::{BusError, BusOptions, JetStreamBus, ask_planner};
use sortie_model::mission_file;
use sortie_model::planner::{PlannerErrorCode, PlannerOperation, PlannerRequest, PlannerResponse};
use sortie_planner::service::Application;
use sortie_settings::{Settings, SettingsSources};
use sortie_test_support::TestNats;
use sortie_test_support::model_server::{ModelServer, Script, Turn};
use tokio_util::sync::CancellationToken;

use crate::propose::{GOAL, answer, mission, survey};

const ASK_LIMIT: Duration = Duration::from_secs(30);

fn settings(nats: &TestNats, model_base_url: &str) -> Settings {
    SettingsSources::new()
        .flag("nats.url", nats.url())
        .flag("nats.prefix", nats.prefix())
        .flag("agents.planner.kind", "llm")
        .flag("agents.planner.protocol", "openai_chat")
        .flag("agents.planner.base_url", model_base_url)
        .flag("agents.planner.model", "scripted-model")
        .load()
        .expect("the planner's settings load")
}

/// A planner serving the test's prefix until the token is cancelled.
async fn start_planner(settings: &Settings) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let application = Application::build(settings)
        .await
        .expect("the planner starts");
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    let running = tokio::spawn(async move {
        application
            .run_until_stopped(
                async move { stopped.cancelled().await },
                Duration::from_secs(5),
            )
            .await;
    });
    (stop, running)
}

async fn client(nats: &TestNats) -> JetStreamBus {
    JetStreamBus::connect(nats.url(), nats.prefix(), BusOptions::default())
        .await
        .expect("the client connects")
}

fn request(operation: PlannerOperation, agent: &str) -> PlannerRequest {
    PlannerRequest {
        operation,
        goal: GOAL.to_owned(),
        survey: survey(),
        answers: Vec::new(),
        agent: agent.to_owned(),
    }
}

#[tokio::test]
async fn a_propose_request_is_answered_with_a_valid_mission_file() {
    let nats = TestNats::new().await.unwrap();
    let server = ModelServer::start(Script::new(
        "planner-service",
        [answer(&mission("VAL-HEALTH-001"))],
    ))
    .await
    .unwrap();
    let (stop, running) = start_planner(&settings(&nats, &server.openai_base_url())).await;
    let bus = client(&nats).await;

    let response = ask_planner(
        &bus,
        &request(PlannerOperation::Propose, "planner"),
        ASK_LIMIT,
    )
    .await
    .expect("the planner answers");

    let PlannerResponse::Proposal(proposal) = response else {
        panic!("not a proposal: {response:?}");
    };
    let parsed = mission_file::parse("mission.toml", &proposal.mission_toml)
        .expect("the proposed file parses");
    assert_eq!(parsed.plan.mission.name, "health");
    assert_eq!(proposal.tries, 1);
    assert!(proposal.usage.output_tokens > 0, "{:?}", proposal.usage);
    assert_eq!(server.requests().len(), 1);
    stop.cancel();
    running.await.unwrap();
    nats.cleanup().await.unwrap();
}

#[tokio::test]
async fn a_request_for_an_unknown_profile_is_answered_with_a_precise_error() {
    let nats = TestNats::new().await.unwrap();
    let server = ModelServer::start(Script::new("unused", Vec::<Turn>::new()))
        .await
        .unwrap();
    let (stop, running) = start_planner(&settings(&nats, &server.openai_base_url())).await;
    let bus = client(&nats).await;

    let response = ask_planner(&bus, &request(PlannerOperation::Propose, "nope"), ASK_LIMIT)
        .await
        .expect("the planner answers");

    let PlannerResponse::Error(failure) = response else {
        panic!("not an error: {response:?}");
    };
    assert_eq!(failure.code, PlannerErrorCode::UnknownProfile);
    assert!(
        failure.message.contains("agents.nope is not configured")
            && failure.message.contains("planner"),
        "{}",
        failure.message
    );
    assert!(server.requests().is_empty(), "the model was asked");
    stop.cancel();
    running.await.unwrap();
    nats.cleanup().await.unwrap();
}

#[tokio::test]
async fn without_a_planner_the_client_fails_at_once_and_names_the_subject() {
    let nats = TestNats::new().await.unwrap();
    let bus = client(&nats).await;
    let started = Instant::now();

    let error = ask_planner(
        &bus,
        &request(PlannerOperation::Propose, "planner"),
        ASK_LIMIT,
    )
    .await
    .expect_err("nobody answers");

    assert!(matches!(error, BusError::NoResponders { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .contains(&format!("{}.planner.propose", nats.prefix())),
        "{error}"
    );
    assert!(started.elapsed() < ASK_LIMIT / 2, "{:?}", started.elapsed());
    nats.cleanup().await.unwrap();
}

#[tokio::test]
async fn a_planner_that_does_not_answer_gives_the_clients_timeout_error() {
    let nats = TestNats::new().await.unwrap();
    let bus = client(&nats).await;
    // Something listens on the subject and never answers, as a stuck planner would.
    let subject = bus.subjects().planner(PlannerOperation::Questions);
    let silent = nats.client().subscribe(subject.clone()).await.unwrap();
    nats.client().flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let limit = Duration::from_millis(300);

    let error = ask_planner(
        &bus,
        &request(PlannerOperation::Questions, "planner"),
        limit,
    )
    .await
    .expect_err("nobody answers in time");

    assert!(matches!(error, BusError::Timeout { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!("a planner request timed out: no planner answered on {subject} within 300ms")
    );
    drop(silent);
    nats.cleanup().await.unwrap();
}
