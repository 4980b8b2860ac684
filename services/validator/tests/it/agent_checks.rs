//! Agent-judged assertions with a real validator agent: the `llm` agent, driven by the
//! scripted model server, reviews the checkout; code checks its evidence.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;
use sortie_model::plan::{Assertion, Check, EvidenceKind};
use sortie_model::records::Evidence;
use sortie_orchestrator::verify::verify;
use sortie_settings::{AgentKind, AgentProfileSettings};
use sortie_test_support::model_server::{ModelServer, Script, Turn};

use crate::support::{
    Harness, assert_reported, check_of, command_evidence, findings_of, fixture_repository, plan_of,
    task,
};

/// The validator's agent profile, in the settings and in the task.
pub(crate) const PROFILE: &str = "reviewer";

fn agent_assertion(id: &str, evidence: Vec<EvidenceKind>) -> Assertion {
    Assertion {
        id: id.into(),
        statement: "The lint script reports a clean lint.".to_owned(),
        check: Check::Agent {
            instructions: "Read lint.sh and say whether it reports a clean lint.".to_owned(),
            evidence,
        },
    }
}

/// A validator whose `reviewer` profile is the `llm` agent over `protocol` on `server`.
pub(crate) async fn harness_with_reviewer(server: &ModelServer, protocol: &str) -> Harness {
    let mut profile = AgentProfileSettings::of_kind(AgentKind::Llm);
    profile.protocol = Some(protocol.to_owned());
    profile.base_url = Some(match protocol {
        "anthropic" => server.url(),
        _ => server.openai_base_url(),
    });
    profile.model = Some("scripted-model".to_owned());
    profile.max_turns = Some(6);
    Harness::start_with_agents(
        Duration::from_secs(30),
        BTreeMap::from([(PROFILE.to_owned(), profile)]),
    )
    .await
}

pub(crate) fn finish(answer: &str) -> Turn {
    Turn::tool_call("finish", json!({ "summary": answer }))
}

/// The names of the tools the first model request offered.
fn offered_tools(server: &ModelServer) -> Vec<String> {
    let request = &server.model_requests()[0];
    request.json()["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|tool| {
            let name = tool["function"]["name"].as_str().or(tool["name"].as_str());
            name.expect("a tool name").to_owned()
        })
        .collect()
}

#[tokio::test]
async fn a_pass_backed_by_a_command_the_agent_ran_passes_with_that_command_as_evidence() {
    let script = Script::new(
        "a reviewer that looks, then passes",
        [
            Turn::tool_call("run_command", json!({"command": "cat lint.sh"})),
            finish("<verdict>pass</verdict>\n<reason>lint.sh prints lint: clean</reason>"),
        ],
    );
    let server = ModelServer::start(script).await.expect("a model server");
    let mut harness = harness_with_reviewer(&server, "openai_chat").await;
    let (repository, commit) = fixture_repository();
    let mut task = task(&repository, &commit);
    task.agent = PROFILE.to_owned();
    task.assertions = vec![agent_assertion("VAL-LINT-001", vec![EvidenceKind::Command])];
    harness.publish(&task).await;

    let reports = harness.reports_until_finished(task.fence.attempt).await;
    assert_reported(&harness, &task, &reports);
    let (_, checks, findings) = reports.finished();
    assert!(findings.is_empty(), "{findings:#?}");
    let check = check_of(checks, "VAL-LINT-001");
    assert!(check.passed, "{check:#?}");
    let command = command_evidence(&check.evidence);
    assert_eq!(command.command, "cat lint.sh");
    assert_eq!(command.exit_code, Some(0));
    assert!(
        command.output_tail.contains("lint: clean"),
        "the commit given, not the branch's later one: {command:?}"
    );
    assert!(check.evidence.iter().any(|evidence| matches!(
        evidence,
        Evidence::Note { text } if text.contains("lint.sh prints lint: clean")
    )));

    // The agent reviewed: it was offered no tool that writes, and was told what to prove.
    let tools = offered_tools(&server);
    assert!(tools.contains(&"run_command".to_owned()), "{tools:?}");
    assert!(!tools.contains(&"write_file".to_owned()), "{tools:?}");
    assert!(!tools.contains(&"edit_file".to_owned()), "{tools:?}");
    let first = server.model_requests()[0].json().to_string();
    assert!(first.contains("The lint script reports a clean lint."));
    assert!(first.contains("<verdict>pass</verdict>"));

    // The orchestrator, checking the evidence by code, is convinced.
    let assertions: Vec<&Assertion> = task.assertions.iter().collect();
    let verdict = verify(&plan_of(&task), &assertions, checks, findings.to_vec());
    assert!(verdict.proven, "{verdict:#?}");
    harness.stop().await;
}

#[tokio::test]
async fn a_pass_without_running_a_command_fails_naming_the_missing_evidence() {
    let script = Script::new(
        "a reviewer that passes without looking",
        [finish(
            "<verdict>pass</verdict>\n<reason>surely fine</reason>",
        )],
    );
    let server = ModelServer::start(script).await.expect("a model server");
    let mut harness = harness_with_reviewer(&server, "anthropic").await;
    let (repository, commit) = fixture_repository();
    let mut task = task(&repository, &commit);
    task.agent = PROFILE.to_owned();
    task.assertions = vec![agent_assertion("VAL-LINT-001", vec![EvidenceKind::Command])];
    harness.publish(&task).await;

    let reports = harness.reports_until_finished(task.fence.attempt).await;
    assert_reported(&harness, &task, &reports);
    let (_, checks, findings) = reports.finished();
    assert!(!check_of(checks, "VAL-LINT-001").passed);
    let found = findings_of(findings, "VAL-LINT-001");
    assert_eq!(found.len(), 1, "{findings:#?}");
    assert_eq!(
        found[0].summary,
        "VAL-LINT-001: the validator agent said pass without the evidence the check \
         requires: command evidence (it ran no command)"
    );
    assert_eq!(server.turns_left(), 0);
    harness.stop().await;
}

#[tokio::test]
async fn a_fail_verdict_fails_the_check_with_its_reason() {
    let script = Script::new(
        "a reviewer that finds a problem",
        [
            Turn::tool_call("run_command", json!({"command": "sh check.sh"})),
            finish(
                "<verdict>fail</verdict>\n<reason>check.sh finds 1 note where 2 are \
                 expected</reason>",
            ),
        ],
    );
    let server = ModelServer::start(script).await.expect("a model server");
    let mut harness = harness_with_reviewer(&server, "openai_chat").await;
    let (repository, commit) = fixture_repository();
    let mut task = task(&repository, &commit);
    task.agent = PROFILE.to_owned();
    task.services.commands = BTreeMap::from([("check".to_owned(), "sh check.sh".to_owned())]);
    task.assertions = vec![agent_assertion("VAL-LINT-001", vec![EvidenceKind::Command])];
    harness.publish(&task).await;

    let reports = harness.reports_until_finished(task.fence.attempt).await;
    assert_reported(&harness, &task, &reports);
    let (_, checks, findings) = reports.finished();
    let check = check_of(checks, "VAL-LINT-001");
    assert!(!check.passed);
    let found = findings_of(findings, "VAL-LINT-001");
    assert_eq!(
        found[0].summary,
        "VAL-LINT-001: the validator agent judged it failed: check.sh finds 1 note where 2 \
         are expected"
    );
    let command = command_evidence(&found[0].evidence);
    assert_eq!(command.command, "sh check.sh");
    assert_eq!(
        command.exit_code,
        Some(1),
        "a repository command may be run"
    );
    harness.stop().await;
}

#[tokio::test]
async fn a_quoted_excerpt_passes_only_when_it_is_in_the_checkout() {
    let quote = |text: &str| {
        finish(&format!(
            "<excerpt path=\"lint.sh\">\n{text}\n</excerpt>\n<verdict>pass</verdict>\n\
             <reason>it says so</reason>"
        ))
    };
    let script = Script::new(
        "a reviewer that quotes truly, then makes a quote up",
        [
            quote("echo 'lint: clean'"),
            // The branch's later commit has this line; the commit validated does not.
            quote("echo 'lint: broken'; exit 1"),
        ],
    );
    let server = ModelServer::start(script).await.expect("a model server");
    let mut harness = harness_with_reviewer(&server, "anthropic").await;
    let (repository, commit) = fixture_repository();
    let mut task = task(&repository, &commit);
    task.agent = PROFILE.to_owned();
    task.assertions = vec![
        agent_assertion("VAL-LINT-001", vec![EvidenceKind::FileExcerpt]),
        agent_assertion("VAL-LINT-002", vec![EvidenceKind::FileExcerpt]),
    ];
    harness.publish(&task).await;

    let reports = harness.reports_until_finished(task.fence.attempt).await;
    assert_reported(&harness, &task, &reports);
    let (_, checks, findings) = reports.finished();
    let true_quote = check_of(checks, "VAL-LINT-001");
    assert!(true_quote.passed, "{true_quote:#?}");
    assert!(true_quote.evidence.iter().any(|evidence| matches!(
        evidence,
        Evidence::FileExcerpt { path, excerpt } if path == "lint.sh" && excerpt == "echo 'lint: clean'"
    )));
    assert!(!check_of(checks, "VAL-LINT-002").passed);
    let found = findings_of(findings, "VAL-LINT-002");
    assert_eq!(
        found[0].summary,
        "VAL-LINT-002: the validator agent said pass, but its evidence does not hold: the \
         excerpt it quoted from lint.sh is not in that file of the checkout"
    );
    harness.stop().await;
}

#[tokio::test]
async fn the_real_claude_code_as_validator_agent_runs_a_command_read_only_and_its_pass_holds() {
    let claude = sortie_test_support::agent_cli::claude();
    let script = Script::new(
        "Claude Code reviews with a command",
        [
            Turn::tool_call(
                "Bash",
                json!({"command": "cat lint.sh", "description": "read the lint script"}),
            ),
            Turn::final_answer(
                "<verdict>pass</verdict>\n<reason>lint.sh prints lint: clean</reason>",
            ),
        ],
    );
    let server = ModelServer::start(script).await.expect("a model server");
    let mut profile = AgentProfileSettings::of_kind(AgentKind::ClaudeCode);
    profile.command = Some(claude.display().to_string());
    profile.base_url = Some(server.url());
    profile.api_key = Some(sortie_settings::Secret::new("sk-scripted"));
    let mut harness = Harness::start_with_agents(
        Duration::from_secs(60),
        BTreeMap::from([(PROFILE.to_owned(), profile)]),
    )
    .await;
    let (repository, commit) = fixture_repository();
    let mut task = task(&repository, &commit);
    task.agent = PROFILE.to_owned();
    task.assertions = vec![agent_assertion("VAL-LINT-001", vec![EvidenceKind::Command])];
    harness.publish(&task).await;

    let reports = harness.reports_until_finished(task.fence.attempt).await;
    assert_reported(&harness, &task, &reports);
    let (_, checks, findings) = reports.finished();
    let check = check_of(checks, "VAL-LINT-001");
    assert!(check.passed, "{check:#?}\n{findings:#?}");
    let command = command_evidence(&check.evidence);
    assert_eq!(command.command, "cat lint.sh");
    assert_eq!(command.exit_code, Some(0));
    // A reviewer is offered no tool that edits.
    let first = server.model_requests()[0].json().to_string();
    assert!(first.contains("\"name\":\"Read\""), "Read is offered");
    assert!(
        !first.contains("\"name\":\"Write\""),
        "Write is not offered"
    );
    assert!(!first.contains("\"name\":\"Edit\""), "Edit is not offered");
    harness.stop().await;
}
