//! One feature attempt, from the task to the proposal.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sortie_agents::{AgentEvent, AgentRequest, AgentRole, AgentTask};
use sortie_bus::Delivery;
use sortie_git::{
    ATTEMPT_TRAILER, CommitMessage, EPOCH_TRAILER, FEATURE_TRAILER, MISSION_TRAILER, RebaseOutcome,
    Workspace, attempt_branch,
};
use sortie_model::protocol::{FeatureTask, IntegrationProposal, Outcome, Report};
use sortie_model::records::{Handoff, Usage};
use sortie_model::touches::TouchMatcher;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, info_span, warn};

use crate::{Worker, mcp, reports, skills};

/// How an attempt ended, before it is reported.
struct Finished {
    outcome: Outcome,
    handoff: Handoff,
    proposal: Option<IntegrationProposal>,
}

fn failed(reason: impl Into<String>, handoff: Handoff) -> Finished {
    Finished {
        outcome: Outcome::Failed {
            reason: reason.into(),
            conflicting_paths: Vec::new(),
        },
        handoff,
        proposal: None,
    }
}

pub(crate) async fn run(
    worker: &Arc<Worker>,
    task: FeatureTask,
    delivery: Delivery,
    hand_back: CancellationToken,
) {
    let span = info_span!(
        "attempt",
        mission = %task.mission,
        feature = %task.feature.id,
        attempt = %task.fence.attempt,
        epoch = task.fence.epoch,
    );
    let headers = delivery.headers().clone();
    sortie_telemetry::set_parent_from_headers(&span, headers.iter());
    run_in_span(worker, task, delivery, hand_back)
        .instrument(span)
        .await;
}

async fn run_in_span(
    worker: &Arc<Worker>,
    task: FeatureTask,
    delivery: Delivery,
    hand_back: CancellationToken,
) {
    let attempt = task.fence.attempt;
    let started = reports::send(
        &*worker.bus,
        task.mission,
        format!("report-{attempt}-started"),
        Report::Started {
            fence: task.fence,
            worker: worker.id.clone(),
        },
    )
    .await;
    if let Err(error) = started {
        warn!(%error, "could not report the start; handing the task back");
        nak(delivery).await;
        return;
    }
    info!("attempt started");

    let activity = Arc::new(Mutex::new(String::from("preparing the workspace")));
    let heartbeat = heartbeat_loop(worker, &task, &delivery, Arc::clone(&activity));
    let work = work(worker, &task, Arc::clone(&activity));
    let limit = Duration::from_secs(u64::from(task.time_limit_seconds.max(1)));
    let result = tokio::select! {
        finished = tokio::time::timeout(limit, work) => Some(finished.unwrap_or_else(|_| failed(
            format!("the attempt ran past its time limit of {}s", limit.as_secs()),
            Handoff::default(),
        ))),
        () = hand_back.cancelled() => None,
        () = heartbeat => unreachable!("the heartbeat never stops by itself"),
    };
    let workspace = worker
        .workspace_root
        .join("attempts")
        .join(attempt.to_string());
    if let Err(error) = sortie_git::remove_workspace(&workspace).await {
        warn!(%error, "could not remove the attempt's workspace");
    }
    let Some(finished) = result else {
        info!("handing the attempt back to the queue");
        nak(delivery).await;
        return;
    };
    let report = Report::FeatureFinished {
        fence: task.fence,
        worker: worker.id.clone(),
        outcome: finished.outcome.clone(),
        handoff: finished.handoff,
        proposal: finished.proposal,
    };
    match reports::send(
        &*worker.bus,
        task.mission,
        format!("report-{attempt}-finished"),
        report,
    )
    .await
    {
        Ok(()) => {
            info!(outcome = ?finished.outcome, "attempt finished");
            if let Err(error) = delivery.ack().await {
                warn!(%error, "could not acknowledge the task");
            }
        }
        Err(error) => {
            warn!(%error, "could not report the end of the attempt; handing the task back");
            nak(delivery).await;
        }
    }
}

async fn nak(delivery: Delivery) {
    let delay = delivery.retry_delay();
    if let Err(error) = delivery.nak(delay).await {
        warn!(%error, "could not hand the task back");
    }
}

/// Report liveness, with what the agent is doing now, until dropped.
async fn heartbeat_loop(
    worker: &Arc<Worker>,
    task: &FeatureTask,
    delivery: &Delivery,
    activity: Arc<Mutex<String>>,
) {
    let interval = Duration::from_secs(u64::from(task.heartbeat_seconds.max(1)));
    let mut beat = 0_u64;
    loop {
        tokio::time::sleep(interval).await;
        beat += 1;
        let now_doing = activity.lock().expect("activity lock").clone();
        let report = Report::Heartbeat {
            fence: task.fence,
            worker: worker.id.clone(),
            activity: Some(now_doing),
        };
        let msg_id = format!("report-{}-hb-{beat}", task.fence.attempt);
        if let Err(error) = reports::send(&*worker.bus, task.mission, msg_id, report).await {
            warn!(%error, "a heartbeat was not delivered");
        }
        if let Err(error) = delivery.in_progress().await {
            warn!(%error, "could not extend the task's acknowledgement deadline");
        }
    }
}

async fn work(worker: &Arc<Worker>, task: &FeatureTask, activity: Arc<Mutex<String>>) -> Finished {
    let attempt = task.fence.attempt;
    let dir = worker
        .workspace_root
        .join("attempts")
        .join(attempt.to_string());
    let work_branch = format!("sortie/work/{attempt}");
    let url = &task.target.repository.url;
    let mut workspace = match Workspace::prepare(
        &worker.repos,
        url,
        &dir,
        &task.target.integration_branch,
        &work_branch,
    )
    .await
    {
        Ok(workspace) => workspace,
        Err(error) => {
            return failed(
                format!("preparing the workspace: {error}"),
                Handoff::default(),
            );
        }
    };
    let agents_md = tokio::fs::read_to_string(dir.join("AGENTS.md")).await.ok();
    let skill = match skills::skill_for_feature(&task.feature, task.skill.as_ref(), &dir).await {
        Ok(skill) => skill,
        Err(error) => return failed(error.to_string(), Handoff::default()),
    };
    let mcp_servers = match mcp::servers_for_attempt(&task.mcp_servers, &dir).await {
        Ok(servers) => servers,
        Err(error) => return failed(error.to_string(), Handoff::default()),
    };
    let agent = match sortie_agents::for_profile(&task.agent, &worker.agents) {
        Ok(agent) => agent,
        Err(error) => return failed(error.to_string(), Handoff::default()),
    };
    let request = AgentRequest {
        workspace: dir.clone(),
        role: AgentRole::Worker,
        task: AgentTask::Feature(task.feature.clone()),
        skill,
        agents_md,
        time_limit: agent_time_limit(Duration::from_secs(u64::from(
            task.time_limit_seconds.max(1),
        ))),
        allowed_commands: sortie_agents::default_allowed_commands(),
        max_turns: None,
        mcp_servers,
    };
    let (events, mut received) = mpsc::unbounded_channel::<AgentEvent>();
    let watcher_activity = Arc::clone(&activity);
    let watcher = tokio::spawn(async move {
        while let Some(event) = received.recv().await {
            tracing::debug!(?event, "agent event");
            if let Some(now) = event.activity() {
                *watcher_activity.lock().expect("activity lock") = now;
            }
        }
    });
    let agent_started = Instant::now();
    let outcome = agent.run(&request, events).await;
    let agent_wall_ms = whole_milliseconds(agent_started.elapsed());
    let _ = watcher.await;
    let mut outcome = match outcome {
        Ok(outcome) => outcome,
        Err(error) => {
            // The agent's time is spent even when it could not finish.
            let usage = Usage {
                wall_ms: agent_wall_ms,
                ..Usage::default()
            };
            let handoff = Handoff {
                usage: Some(usage),
                ..Handoff::default()
            };
            return failed(error.to_string(), handoff);
        }
    };
    if outcome.usage.wall_ms == 0 {
        outcome.usage.wall_ms = agent_wall_ms;
    }
    // Built before the failure check: a failed attempt's usage is reported too.
    let handoff = Handoff {
        summary: outcome.summary.clone(),
        left_undone: outcome.left_undone.clone(),
        commands: outcome.commands.clone(),
        usage: Some(outcome.usage.clone()),
        ..Handoff::default()
    };
    if let Some(failure) = outcome.failure {
        return failed(failure, handoff);
    }
    let budget = worker
        .agents
        .get(&task.agent)
        .and_then(|profile| profile.max_budget_usd);
    if let Some(over) = over_budget(&outcome.usage, budget) {
        return failed(over, handoff);
    }
    *activity.lock().expect("activity lock") = "committing".to_owned();
    propose(task, &mut workspace, &handoff).await
}

/// A duration in milliseconds, rounded up: a run that took any time is never recorded as
/// having taken none.
fn whole_milliseconds(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros().div_ceil(1000)).unwrap_or(u64::MAX)
}

/// The agent's share of the attempt's time limit: a tenth of it (at most a minute) is kept
/// for committing, rebasing and pushing, so that an agent that runs long is stopped by
/// its own limit, and its handoff and usage are still reported, before the attempt's.
fn agent_time_limit(attempt: Duration) -> Duration {
    let kept = (attempt / 10).min(Duration::from_secs(60));
    attempt.saturating_sub(kept).max(Duration::from_secs(1))
}

/// Why a run that spent more than its profile's budget (`max_budget_usd`) fails: the
/// worker judges every agent's dollars, whether or not the agent stopped itself.
fn over_budget(usage: &sortie_model::records::Usage, budget: Option<f64>) -> Option<String> {
    let (Some(budget), Some(spent)) = (budget, usage.cost_usd) else {
        return None;
    };
    (spent > budget)
        .then(|| format!("the agent spent ${spent:.4}, over its profile's budget of ${budget:.4}"))
}

/// Check, commit, rebase and push the work, and say what to integrate.
async fn propose(task: &FeatureTask, workspace: &mut Workspace, handoff: &Handoff) -> Finished {
    let changed = match workspace.changed_paths().await {
        Ok(changed) => changed,
        Err(error) => return failed(format!("reading what changed: {error}"), handoff.clone()),
    };
    if changed.is_empty() {
        return failed(
            "the agent reported success but changed nothing",
            handoff.clone(),
        );
    }
    if !task.feature.touches.is_empty() {
        let outside: Vec<String> = match TouchMatcher::new(&task.feature.touches) {
            Ok(matcher) => changed
                .iter()
                .filter(|path| !matcher.is_match(path))
                .cloned()
                .collect(),
            Err(error) => {
                return failed(
                    format!("the feature's touches cannot be read: {error:?}"),
                    handoff.clone(),
                );
            }
        };
        if !outside.is_empty() {
            return failed(
                format!(
                    "it changed paths outside its touches ({}): {}",
                    task.feature.touches.join(", "),
                    outside.join(", ")
                ),
                handoff.clone(),
            );
        }
    }
    let message = CommitMessage::new(format!(
        "{}: {}\n\n{}",
        task.feature.id, task.feature.title, handoff.summary
    ))
    .trailer(MISSION_TRAILER, task.mission)
    .trailer(FEATURE_TRAILER, &task.feature.id)
    .trailer(ATTEMPT_TRAILER, task.fence.attempt)
    .trailer(EPOCH_TRAILER, task.fence.epoch);
    if let Err(error) = workspace.squash_onto_base(&message).await {
        return failed(format!("committing the work: {error}"), handoff.clone());
    }
    let head = match workspace.rebase_onto_latest().await {
        Ok(RebaseOutcome::Clean { head, .. }) => head,
        Ok(RebaseOutcome::Conflict { paths }) => {
            return Finished {
                outcome: Outcome::Failed {
                    reason: "its work conflicts with work integrated since it started".to_owned(),
                    conflicting_paths: paths,
                },
                handoff: handoff.clone(),
                proposal: None,
            };
        }
        Err(error) => {
            return failed(
                format!("rebasing onto the integration branch: {error}"),
                handoff.clone(),
            );
        }
    };
    let branch = attempt_branch(&task.fence.attempt.to_string());
    if let Err(error) = workspace.push_branch(&branch).await {
        return failed(format!("pushing {branch}: {error}"), handoff.clone());
    }
    let base = workspace.base().as_str().to_owned();
    info!(commit = %head.short(), %branch, changed = changed.len(), "work proposed");
    Finished {
        outcome: Outcome::Succeeded,
        handoff: handoff.clone(),
        proposal: Some(IntegrationProposal {
            branch,
            commit: head.as_str().to_owned(),
            base,
            changed_paths: changed,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_time_rounds_up_to_whole_milliseconds() {
        assert_eq!(whole_milliseconds(Duration::ZERO), 0);
        assert_eq!(whole_milliseconds(Duration::from_micros(1)), 1);
        assert_eq!(whole_milliseconds(Duration::from_millis(1500)), 1500);
        assert_eq!(whole_milliseconds(Duration::from_micros(1_500_001)), 1501);
    }

    #[test]
    fn the_agent_stops_before_the_attempt_does() {
        assert_eq!(
            agent_time_limit(Duration::from_secs(100)),
            Duration::from_secs(90)
        );
        assert_eq!(
            agent_time_limit(Duration::from_secs(3600)),
            Duration::from_secs(3540)
        );
        assert_eq!(
            agent_time_limit(Duration::from_secs(1)),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn a_run_over_its_budget_fails_and_unknown_dollars_do_not() {
        let usage = |cost_usd| sortie_model::records::Usage {
            cost_usd,
            ..Default::default()
        };
        assert_eq!(
            over_budget(&usage(Some(2.5)), Some(2.0)).as_deref(),
            Some("the agent spent $2.5000, over its profile's budget of $2.0000")
        );
        assert_eq!(over_budget(&usage(Some(1.5)), Some(2.0)), None);
        assert_eq!(over_budget(&usage(Some(9.0)), None), None);
        assert_eq!(over_budget(&usage(None), Some(2.0)), None);
    }
}
