//! Questions before a proposal, the answers in its request, and revisions after it.

use sortie_agents::llm::Protocol;
use sortie_model::mission_file::DiagnosticCode;
use sortie_planner::{Answer, PlanError, Question, Response, propose, questions, revise};
use sortie_test_support::model_server::{ModelServer, Script, Turn};

use crate::propose::{GOAL, answer, body_text, mission, model, survey};

#[tokio::test]
async fn the_models_questions_are_parsed() {
    let script = Script::new(
        "two questions",
        [Turn::final_answer(
            "Before I plan:\n<question id=\"q1\">Should /health check the database?</question>\n\
             <question id=\"q2\">Which status code when it is down?</question>",
        )],
    );
    let server = ModelServer::start(script).await.expect("server");

    let asked = questions(GOAL, &survey(), &model(&server, Protocol::Anthropic))
        .await
        .expect("questions");

    let texts: Vec<(&str, &str)> = asked
        .iter()
        .map(|question| (question.id.as_str(), question.text.as_str()))
        .collect();
    assert_eq!(
        texts,
        [
            ("q1", "Should /health check the database?"),
            ("q2", "Which status code when it is down?"),
        ]
    );
    let request = body_text(&server.model_requests()[0]);
    assert!(request.contains(GOAL), "the goal is in the request");
    assert!(request.contains("src/main.rs"), "so is the survey");
    assert!(request.contains("<question id="), "the format is taught");
}

#[tokio::test]
async fn a_reply_with_no_questions_gives_none() {
    let script = Script::new("no questions", [Turn::final_answer("<no-questions/>")]);
    let server = ModelServer::start(script).await.expect("server");

    let asked = questions(GOAL, &survey(), &model(&server, Protocol::OpenAiChat))
        .await
        .expect("questions");

    assert!(asked.is_empty(), "{asked:?}");
}

fn question(id: &str, text: &str) -> Question {
    Question {
        id: id.to_owned(),
        text: text.to_owned(),
    }
}

#[tokio::test]
async fn the_answers_are_in_the_proposal_request() {
    let server = ModelServer::start(Script::new(
        "a valid plan",
        [answer(&mission("VAL-HEALTH-001"))],
    ))
    .await
    .expect("server");
    let answers = [
        Answer {
            question: question("q1", "Should /health check the database?"),
            response: Response::Text("Yes, with a one-second timeout".to_owned()),
        },
        Answer {
            question: question("q2", "Which status code when it is down?"),
            response: Response::DecideYourself,
        },
        Answer {
            question: question("q3", "Any metrics?"),
            response: Response::Skipped,
        },
    ];

    propose(
        GOAL,
        &survey(),
        &answers,
        &model(&server, Protocol::Anthropic),
    )
    .await
    .expect("a valid proposal");

    let request = body_text(&server.model_requests()[0]);
    assert!(request.contains("Should /health check the database?"));
    assert!(
        request.contains("Yes, with a one-second timeout"),
        "{request}"
    );
    assert!(request.contains("(decide yourself)"), "{request}");
    assert!(request.contains("Any metrics?"));
    assert!(request.contains("(no answer"), "{request}");
}

#[tokio::test]
async fn a_revision_carries_the_instruction_and_is_repaired_like_a_proposal() {
    let revised = mission("VAL-HEALTH-001").replace("GET /health answers 200", "Revised health");
    let script = Script::new(
        "a plan, a refused revision, then a valid one",
        [
            answer(&mission("VAL-HEALTH-001")),
            answer(&mission("VAL-HEALTH-999")),
            answer(&revised),
        ],
    );
    let server = ModelServer::start(script).await.expect("server");
    let model = model(&server, Protocol::OpenAiChat);
    let first = propose(GOAL, &survey(), &[], &model)
        .await
        .expect("a valid proposal");

    let second = revise(&first, "split milestone 1", &model)
        .await
        .expect("a valid revision");

    assert_eq!(second.tries, 2, "the refused revision was repaired");
    assert_eq!(second.plan.features[0].title, "Revised health");
    assert_eq!(second.usage.turns, 2, "the revision's own requests");
    let requests = server.model_requests();
    assert_eq!(requests.len(), 3);
    let revision_request = body_text(&requests[1]);
    assert!(revision_request.contains("split milestone 1"));
    assert!(revision_request.contains(GOAL), "the conversation goes on");
    assert!(
        revision_request.contains("GET /health answers 200"),
        "with the plan it revises"
    );
    let repair_request = body_text(&requests[2]);
    assert!(repair_request.contains(DiagnosticCode::UnknownAssertion.as_str()));
}

#[tokio::test]
async fn a_revision_that_is_never_valid_fails_and_leaves_the_proposal_as_it_was() {
    let mut turns = vec![answer(&mission("VAL-HEALTH-001"))];
    turns.extend((0..sortie_planner::MAX_TRIES).map(|_| Turn::final_answer("No.")));
    let server = ModelServer::start(Script::new("a plan, then prose", turns))
        .await
        .expect("server");
    let model = model(&server, Protocol::Anthropic);
    let first = propose(GOAL, &survey(), &[], &model)
        .await
        .expect("a valid proposal");

    let error = revise(&first, "add a milestone", &model)
        .await
        .expect_err("no valid revision");

    assert!(matches!(error, PlanError::NoValidPlan { .. }), "{error}");
    assert!(first.mission_toml.contains("VAL-HEALTH-001"));
}
