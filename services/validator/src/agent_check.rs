//! Agent-judged assertions: the validator's agent profile, run as a read-only reviewer in
//! the checkout, with a brief that states the assertion, how to check it, the evidence it
//! must return and the form of its verdict. Code then checks that evidence
//! ([`crate::verdict`]).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use sortie_agents::{Agent, AgentEvent, AgentOutcome, AgentRequest, AgentRole, AgentTask, Brief};
use sortie_model::plan::{Assertion, EvidenceKind};
use sortie_model::protocol::ValidationTask;
use tokio::sync::{mpsc, watch};

use crate::judge::Judged;
use crate::verdict::{self, ANSWER_FORMAT, Places};

/// Beyond its own limit, how long an agent's run may take to end before it is dropped.
const BACKSTOP: Duration = Duration::from_secs(10);

/// Commands a validator agent may run besides the usual read, build and test commands:
/// HTTP clients, to make the exchanges an assertion asks for.
const REVIEW_COMMANDS: &[&str] = &["curl", "wget", "find", "sed -n"];

/// What one agent check needs.
pub(crate) struct AgentCheck<'a> {
    pub(crate) agent: &'a dyn Agent,
    pub(crate) task: &'a ValidationTask,
    pub(crate) places: Places<'a>,
    pub(crate) activity: &'a watch::Sender<String>,
}

impl AgentCheck<'_> {
    /// Run the agent on `assertion` within `limit` and judge its answer.
    pub(crate) async fn run(
        &self,
        assertion: &Assertion,
        instructions: &str,
        evidence: &[EvidenceKind],
        limit: Duration,
    ) -> Judged {
        let outcome = run_reviewer(
            self.agent,
            self.task,
            self.places.checkout,
            brief(self.task, assertion, instructions, evidence),
            limit,
            |activity| {
                self.activity
                    .send_replace(format!("checking {}: {activity}", assertion.id));
            },
        )
        .await;
        let id = assertion.id.clone();
        let required = evidence.to_vec();
        let checkout = self.places.checkout.to_path_buf();
        let logs = self.places.logs.to_path_buf();
        let judging = tokio::task::spawn_blocking(move || {
            let places = Places {
                checkout: &checkout,
                logs: &logs,
            };
            verdict::judge(&id, &required, &outcome, places)
        });
        match judging.await {
            Ok(judged) => judged,
            Err(error) => crate::judge::not_run(
                Some(&assertion.id),
                crate::judge::ASSERTION,
                &format!("judging the agent's answer failed: {error}"),
                Vec::new(),
            ),
        }
    }
}

/// Run `agent` as a read-only reviewer of the checkout with `brief`, within `limit` (and
/// a short backstop for a run that does not end by itself), telling `activity` what it
/// is doing. A run that could not start or did not end is an outcome with its failure.
pub(crate) async fn run_reviewer(
    agent: &dyn Agent,
    task: &ValidationTask,
    checkout: &Path,
    brief: Brief,
    limit: Duration,
    activity: impl Fn(String),
) -> AgentOutcome {
    let agents_md = tokio::fs::read_to_string(checkout.join("AGENTS.md"))
        .await
        .ok();
    let request = reviewer_request(task, checkout, brief, limit, agents_md);
    let (events, mut received) = mpsc::unbounded_channel::<AgentEvent>();
    let watch_events = async {
        while let Some(event) = received.recv().await {
            if let Some(now) = event.activity() {
                activity(now);
            }
        }
    };
    let run = tokio::time::timeout(limit + BACKSTOP, agent.run(&request, events));
    let (ran, ()) = tokio::join!(run, watch_events);
    match ran {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(error)) => AgentOutcome {
            failure: Some(error.to_string()),
            ..AgentOutcome::default()
        },
        Err(_) => AgentOutcome {
            failure: Some(format!(
                "it was still running {}s after its time limit and was stopped",
                BACKSTOP.as_secs()
            )),
            ..AgentOutcome::default()
        },
    }
}

/// What a validator agent is asked: a read-only review of the checkout with `brief`, the
/// repository's AGENTS.md, the validator's allowed commands and the plan's MCP servers.
fn reviewer_request(
    task: &ValidationTask,
    checkout: &Path,
    brief: Brief,
    limit: Duration,
    agents_md: Option<String>,
) -> AgentRequest {
    AgentRequest {
        workspace: checkout.to_path_buf(),
        role: AgentRole::Reviewer,
        task: AgentTask::Brief(brief),
        skill: None,
        agents_md,
        time_limit: limit,
        allowed_commands: allowed_commands(task),
        max_turns: None,
        mcp_servers: task.mcp_servers.clone(),
    }
}

/// The commands a validator agent may run: the usual ones, HTTP clients, and the
/// repository's own commands (`services.commands`).
fn allowed_commands(task: &ValidationTask) -> Vec<String> {
    let mut allowed = sortie_agents::default_allowed_commands();
    allowed.extend(REVIEW_COMMANDS.iter().map(|command| (*command).to_owned()));
    allowed.extend(task.services.commands.values().cloned());
    allowed.sort();
    allowed.dedup();
    allowed
}

/// What the agent is asked: the assertion, how to check it, and the evidence it returns.
pub(crate) fn brief(
    task: &ValidationTask,
    assertion: &Assertion,
    instructions: &str,
    evidence: &[EvidenceKind],
) -> Brief {
    let mut text = format!(
        "You check one assertion of the validation contract of mission {}, milestone {}, \
         in a checkout of commit {}. Do not change any file.\n\n\
         ## The assertion\n{}\n\n## How to check it\n{}\n",
        task.mission_name,
        task.milestone,
        task.commit,
        assertion.statement.trim(),
        instructions.trim()
    );
    if evidence.is_empty() {
        text.push_str("\n## Evidence\nNo particular evidence is required; say what you saw.\n");
    } else {
        text.push_str(
            "\n## The evidence you must return\nSortie checks it itself: a pass without \
             every kind below fails, and a quote that is not in its file fails.\n",
        );
        for kind in evidence {
            let _ = writeln!(text, "- {}", evidence_instruction(*kind));
        }
    }
    Brief {
        title: format!("Check {}", assertion.id),
        text,
        answer_format: ANSWER_FORMAT.to_owned(),
    }
}

fn evidence_instruction(kind: EvidenceKind) -> &'static str {
    match kind {
        EvidenceKind::Command => {
            "command: run at least one command that shows it; Sortie records the commands \
             you really run and their exit codes"
        }
        EvidenceKind::HttpExchange => {
            "http_exchange: make the HTTP request yourself with curl (or wget), and it must \
             exit 0"
        }
        EvidenceKind::FileExcerpt => {
            "file_excerpt: quote the lines that show it, exactly as they are in the file, in \
             an <excerpt path=\"...\"> block"
        }
        EvidenceKind::Screenshot => {
            "screenshot: save a PNG in the checkout and name it in a <screenshot> block"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_brief_states_the_assertion_its_instructions_and_evidence() {
        let task: ValidationTask = serde_json::from_value(serde_json::json!({
            "mission": "00000000-0000-0000-0000-000000000001",
            "mission_name": "notes",
            "plan_version": 1,
            "fence": {"attempt": "00000000-0000-0000-0000-000000000002", "epoch": 1},
            "milestone": "m1",
            "target": {
                "repository": {"name": "notes", "url": "/tmp/notes.git", "base_branch": "main"},
                "integration_branch": "sortie/notes"
            },
            "commit": "abc123",
            "assertions": [],
            "services": {"commands": {"test": "./test.sh"}},
            "run_scrutiny": false,
            "run_user_testing": false,
            "heartbeat_seconds": 1,
            "time_limit_seconds": 60
        }))
        .expect("a task");
        assert_eq!(task.agent, "scripted", "an older task names no agent");
        let assertion = Assertion {
            id: "VAL-DOC-001".into(),
            statement: "The README says how to run the service.".to_owned(),
            check: sortie_model::plan::Check::Agent {
                instructions: "Read README.md.".to_owned(),
                evidence: vec![EvidenceKind::FileExcerpt],
            },
        };
        let brief = brief(
            &task,
            &assertion,
            "Read README.md.",
            &[EvidenceKind::FileExcerpt, EvidenceKind::HttpExchange],
        );
        assert_eq!(brief.title, "Check VAL-DOC-001");
        assert!(brief.text.contains("commit abc123"));
        assert!(
            brief
                .text
                .contains("The README says how to run the service.")
        );
        assert!(brief.text.contains("Read README.md."));
        assert!(brief.text.contains("- file_excerpt:"));
        assert!(brief.text.contains("- http_exchange:"));
        assert!(brief.answer_format.contains("<verdict>pass</verdict>"));
        let allowed = allowed_commands(&task);
        assert!(allowed.contains(&"curl".to_owned()) && allowed.contains(&"./test.sh".to_owned()));
    }

    #[test]
    fn a_validator_agent_reviews_read_only_with_the_plans_mcp_servers() {
        let task: ValidationTask = serde_json::from_value(serde_json::json!({
            "mission": "00000000-0000-0000-0000-000000000001",
            "mission_name": "notes",
            "plan_version": 1,
            "fence": {"attempt": "00000000-0000-0000-0000-000000000002", "epoch": 1},
            "milestone": "m1",
            "target": {
                "repository": {"name": "notes", "url": "/tmp/notes.git", "base_branch": "main"},
                "integration_branch": "sortie/notes"
            },
            "commit": "abc123",
            "assertions": [],
            "services": {"commands": {}},
            "run_scrutiny": true,
            "run_user_testing": false,
            "heartbeat_seconds": 1,
            "time_limit_seconds": 60,
            "mcp_servers": [{"name": "docs", "transport": {"type": "stdio", "command": "docs-mcp", "args": ["--stdio"]}}]
        }))
        .expect("a task");
        let brief = Brief {
            title: "Review".to_owned(),
            text: "Review it.".to_owned(),
            answer_format: String::new(),
        };
        let request = reviewer_request(
            &task,
            Path::new("/checkout"),
            brief,
            Duration::from_secs(30),
            None,
        );
        assert_eq!(request.role, AgentRole::Reviewer);
        assert_eq!(request.mcp_servers.len(), 1);
        assert_eq!(request.mcp_servers[0].name, "docs");
    }
}
