//! Applying what workers and validators report, each report once.
//!
//! Every report carries its attempt's fence; the ledger refuses (and audits) a stale one.
//! A finished feature reaches the integration branch only through the merge queue, after
//! its fence is checked; a finished validation is accepted only on evidence checked by
//! code.
//!
//! Finished features are integrated in lanes of their own: git takes a while, and starts,
//! heartbeats and validations are applied meanwhile instead of waiting behind it. A
//! mission always uses the same lane, so its features are integrated one at a time and in
//! stream order, while other missions' are integrated beside them. An attempt's start is
//! always applied before its end is handed to a lane, since the start comes first in the
//! stream.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sortie_bus::{Delivery, WorkQueue};
use sortie_git::IntegrationOutcome;
use sortie_ledger::{Actor, AttemptRecord, AttemptTarget, Change, Step};
use sortie_model::messages::Envelope;
use sortie_model::protocol::{CheckResult, IntegrationProposal, Outcome, Report};
use sortie_model::records::{Finding, Handoff};
use sortie_model::state::{AttemptState, FeatureState};
use sortie_model::touches::TouchMatcher;
use sortie_model::{AttemptFence, ErrorKind, MissionId};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, warn};

use crate::driver::retry_or_fail;
use crate::error::{OrchestratorError, Result};
use crate::{Core, merge_queue, tasks, verify};

const FETCH_BATCH: usize = 32;
const FETCH_WAIT: Duration = Duration::from_secs(1);

/// Missions whose finished features may be integrated at the same time.
const INTEGRATION_LANES: usize = 4;

pub(crate) async fn run(core: Arc<Core>, cancel: CancellationToken) {
    let mut lanes = Vec::with_capacity(INTEGRATION_LANES);
    let mut integrators = Vec::with_capacity(INTEGRATION_LANES);
    for _ in 0..INTEGRATION_LANES {
        let (finished, lane) = mpsc::channel(FETCH_BATCH);
        lanes.push(finished);
        integrators.push(tokio::spawn(integrate_in_order(
            Arc::clone(&core),
            lane,
            cancel.clone(),
        )));
    }
    consume(&core, &cancel, &lanes).await;
    drop(lanes);
    for integrator in integrators {
        if let Err(error) = integrator.await {
            warn!(%error, "a lane of finished features stopped");
        }
    }
}

/// The lane a mission's finished features go through: always the same one.
fn lane_of(mission: Option<MissionId>) -> usize {
    let Some(mission) = mission else {
        return 0;
    };
    let spread = mission.0.as_bytes().iter().fold(0_usize, |sum, byte| {
        sum.wrapping_mul(31).wrapping_add(usize::from(*byte))
    });
    spread % INTEGRATION_LANES
}

/// A report read from its delivery.
type Received = (Delivery, Envelope<Report>);

async fn consume(core: &Core, cancel: &CancellationToken, lanes: &[mpsc::Sender<Received>]) {
    while !cancel.is_cancelled() {
        let deliveries = match core.bus.consume(WorkQueue::AttemptReports).await {
            Ok(deliveries) => deliveries,
            Err(error) => {
                warn!(%error, "cannot consume attempt reports; trying again");
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        loop {
            let batch = tokio::select! {
                () = cancel.cancelled() => return,
                batch = deliveries.fetch(FETCH_BATCH, FETCH_WAIT) => batch,
            };
            match batch {
                Ok(batch) => {
                    // In stream order: an attempt's start comes before its end.
                    for delivery in batch {
                        let Some((delivery, envelope)) = read(delivery).await else {
                            continue;
                        };
                        if matches!(envelope.body, Report::FeatureFinished { .. }) {
                            let lane = &lanes[lane_of(envelope.mission)];
                            if lane.send((delivery, envelope)).await.is_err() {
                                return;
                            }
                        } else {
                            settle(core, delivery, envelope).await;
                        }
                    }
                }
                Err(error) => {
                    warn!(%error, "fetching attempt reports failed; reconnecting");
                    break;
                }
            }
        }
    }
}

/// One lane of the merge queue: finished features, one at a time, in the order they came.
async fn integrate_in_order(
    core: Arc<Core>,
    mut lane: mpsc::Receiver<Received>,
    cancel: CancellationToken,
) {
    loop {
        let received = tokio::select! {
            () = cancel.cancelled() => break,
            received = lane.recv() => received,
        };
        let Some((delivery, envelope)) = received else {
            return;
        };
        settle(&core, delivery, envelope).await;
    }
    // Stopping: what still waits goes back to the queue at once, for the next replica.
    lane.close();
    while let Some((delivery, _)) = lane.recv().await {
        if let Err(error) = delivery.nak(Duration::ZERO).await {
            warn!(%error, "could not hand a finished feature back");
        }
    }
}

/// The report a delivery carries; an unreadable one is dropped from the queue.
async fn read(delivery: Delivery) -> Option<Received> {
    match Envelope::<Report>::from_slice(delivery.payload()) {
        Ok(envelope) => Some((delivery, envelope)),
        Err(error) => {
            warn!(%error, "an attempt report that cannot be read; dropping it");
            if let Err(error) = delivery.term().await {
                warn!(%error, "could not terminate an unreadable report");
            }
            None
        }
    }
}

async fn settle(core: &Core, delivery: Delivery, envelope: Envelope<Report>) {
    // The report continues the trace of the task it answers: one mission, one trace.
    let span = tracing::info_span!("report", msg_id = %envelope.id, mission = ?envelope.mission);
    sortie_telemetry::set_parent_from_headers(&span, delivery.headers().iter());
    let decision = match handle(core, &envelope).instrument(span).await {
        Ok(()) => {
            // A start or a heartbeat decides nothing: the feature was in flight already.
            if matches!(
                envelope.body,
                Report::FeatureFinished { .. } | Report::ValidationFinished { .. }
            ) && let Some(mission) = envelope.mission
            {
                core.wake_for(mission);
            }
            ErrorKind::Conflict.delivery_decision()
        }
        Err(error) => {
            let kind = error.kind();
            match kind {
                ErrorKind::StaleEpoch | ErrorKind::Conflict => {
                    info!(msg_id = %envelope.id, %error, "report refused");
                }
                _ => warn!(msg_id = %envelope.id, %error, ?kind, "report not applied"),
            }
            kind.delivery_decision()
        }
    };
    if let Err(error) = delivery.deliver(decision).await {
        warn!(%error, "could not settle an attempt report");
    }
}

async fn handle(core: &Core, envelope: &Envelope<Report>) -> Result<()> {
    let mission = envelope.mission.ok_or_else(|| {
        OrchestratorError::BadRequest("an attempt report names no mission".to_owned())
    })?;
    let report = &envelope.body;
    let actor = Actor::new(format!("worker:{}", report.worker()));
    debug!(%mission, msg_id = %envelope.id, "applying a report");
    match report {
        Report::Started { fence, worker } => {
            let attempt = core.ledger.attempt(fence.attempt).await?;
            let mut change =
                Change::new(mission, actor)
                    .applying(&envelope.id)
                    .step(Step::Attempt {
                        fence: *fence,
                        to: AttemptState::Running,
                        reason: format!("taken by {worker}"),
                        worker: Some(worker.clone()),
                        lease: Some(core.config.attempt_lease),
                    });
            if let AttemptTarget::Feature { feature } = &attempt.target {
                change.steps.push(Step::Feature {
                    id: feature.clone(),
                    to: FeatureState::Running,
                    reason: format!("attempt {} taken by {worker}", fence.epoch),
                    not_before: None,
                });
            }
            core.apply(change).await?;
        }
        Report::Heartbeat { fence, .. } => {
            core.ledger
                .heartbeat(*fence, &actor, core.config.attempt_lease)
                .await?;
        }
        Report::FeatureFinished {
            fence,
            outcome,
            handoff,
            proposal,
            ..
        } => {
            feature_finished(
                core,
                mission,
                &envelope.id,
                actor,
                *fence,
                outcome,
                handoff,
                proposal.as_ref(),
            )
            .await?;
        }
        Report::ValidationFinished {
            fence,
            commit,
            checks,
            findings,
            ..
        } => {
            validation_finished(
                core,
                mission,
                &envelope.id,
                actor,
                *fence,
                commit,
                checks,
                findings,
            )
            .await?;
        }
    }
    Ok(())
}

#[expect(
    clippy::too_many_arguments,
    reason = "one report's parts, handed over once"
)]
async fn feature_finished(
    core: &Core,
    mission: MissionId,
    msg_id: &str,
    actor: Actor,
    fence: AttemptFence,
    outcome: &Outcome,
    handoff: &Handoff,
    proposal: Option<&IntegrationProposal>,
) -> Result<()> {
    let attempt = core.ledger.attempt(fence.attempt).await?;
    let AttemptTarget::Feature { feature } = &attempt.target else {
        return Err(OrchestratorError::BadRequest(format!(
            "attempt {} is not a feature attempt",
            attempt.id
        )));
    };
    let record = core.ledger.mission(mission).await?;
    let plan = core
        .plans
        .get(&*core.ledger, mission, record.plan_version)
        .await?;
    let spec = plan.plan.feature(feature).ok_or_else(|| {
        OrchestratorError::BadRequest(format!("feature {feature} is not in the plan"))
    })?;
    let failure = match (outcome, proposal) {
        (
            Outcome::Failed {
                reason,
                conflicting_paths,
            },
            _,
        ) => Some(describe_failure(reason, conflicting_paths)),
        (Outcome::Succeeded, None) => {
            Some("the worker reported success but proposed no work".to_owned())
        }
        (Outcome::Succeeded, Some(proposal)) => {
            outside_touches(&spec.touches, &proposal.changed_paths)
        }
    };
    let integrated = match failure {
        Some(reason) => Err(reason),
        None => {
            let proposal = proposal.expect("a success without a proposal failed above");
            // The fence is checked, and the lease extended, before anything is
            // integrated: a worker whose lease was lost integrates nothing.
            core.ledger
                .heartbeat(fence, &actor, core.config.attempt_lease)
                .await?;
            let target = tasks::repository_target(&plan.plan, mission, &spec.repository)
                .ok_or_else(|| {
                    OrchestratorError::BadRequest(format!(
                        "repository {} is not in the plan",
                        spec.repository
                    ))
                })?;
            match merge_queue::integrate(core, &target, &attempt.id.to_string(), proposal).await? {
                IntegrationOutcome::Integrated { commit }
                | IntegrationOutcome::AlreadyIntegrated { commit } => Ok(commit),
                IntegrationOutcome::Conflict { paths } => Err(describe_failure(
                    "its work conflicts with work integrated first",
                    &paths,
                )),
            }
        }
    };
    let commit = match integrated {
        Ok(commit) => commit,
        Err(reason) => {
            // Only a failure needs the feature's attempts so far (to retry or fail it).
            let feature_record = core
                .ledger
                .features(mission)
                .await?
                .into_iter()
                .find(|candidate| &candidate.id == feature)
                .ok_or_else(|| {
                    OrchestratorError::BadRequest(format!("feature {feature} is unknown"))
                })?;
            let change = Change::new(mission, actor)
                .applying(msg_id)
                .step(Step::Handoff {
                    fence,
                    handoff: handoff.clone(),
                })
                .step(Step::Attempt {
                    fence,
                    to: AttemptState::Failed,
                    reason: reason.clone(),
                    worker: None,
                    lease: None,
                })
                .step(retry_or_fail(core, &plan.plan, &feature_record, &reason));
            core.apply(change).await?;
            info!(%mission, %feature, epoch = fence.epoch, %reason, "feature attempt failed");
            return Ok(());
        }
    };
    let mut accepted = handoff.clone();
    accepted.integrated_commit = Some(commit.as_str().to_owned());
    let change = Change::new(mission, actor)
        .applying(msg_id)
        .step(Step::Handoff {
            fence,
            handoff: accepted,
        })
        .step(Step::Attempt {
            fence,
            to: AttemptState::Succeeded,
            reason: format!("integrated as {}", commit.short()),
            worker: None,
            lease: None,
        })
        .step(Step::Feature {
            id: feature.clone(),
            to: FeatureState::Done,
            reason: format!("integrated as {} with a handoff", commit.short()),
            not_before: None,
        });
    core.apply(change).await?;
    info!(%mission, %feature, commit = %commit.short(), "feature done");
    if let (Some(proposal), Some(target)) = (
        proposal,
        tasks::repository_target(&plan.plan, mission, &spec.repository),
    ) {
        remove_attempt_branch(core, &target.repository.url, proposal).await;
    }
    Ok(())
}

/// The work is on the integration branch and in the ledger: the attempt's branch has
/// served its purpose, and left in place it would make every fetch of the repository,
/// by every worker, slower as the mission grows. It goes only while it still holds the
/// attempt's commit. The branches of failed attempts stay, for people to look at.
async fn remove_attempt_branch(core: &Core, url: &str, proposal: &IntegrationProposal) {
    let Ok(commit) = sortie_git::CommitId::parse(&proposal.commit) else {
        return;
    };
    if let Err(error) =
        sortie_git::delete_branch_if_at(&core.repos, url, &proposal.branch, &commit).await
    {
        tracing::warn!(%error, branch = %proposal.branch, "could not remove an integrated attempt's branch");
    }
}

fn describe_failure(reason: &str, conflicting_paths: &[String]) -> String {
    if conflicting_paths.is_empty() {
        reason.to_owned()
    } else {
        format!(
            "{reason} (conflicting paths: {})",
            conflicting_paths.join(", ")
        )
    }
}

/// The feature promised to change only its `touches`; a change outside them is refused,
/// since parallel work is safe only while that promise holds.
fn outside_touches(touches: &[String], changed: &[String]) -> Option<String> {
    if touches.is_empty() {
        return None;
    }
    let matcher = match TouchMatcher::new(touches) {
        Ok(matcher) => matcher,
        Err(error) => return Some(format!("the feature's touches cannot be read: {error:?}")),
    };
    let outside: Vec<&str> = changed
        .iter()
        .map(String::as_str)
        .filter(|path| !matcher.is_match(path))
        .collect();
    if outside.is_empty() {
        None
    } else {
        Some(format!(
            "it changed paths outside its touches ({}): {}",
            touches.join(", "),
            outside.join(", ")
        ))
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "one report's parts, handed over once"
)]
async fn validation_finished(
    core: &Core,
    mission: MissionId,
    msg_id: &str,
    actor: Actor,
    fence: AttemptFence,
    commit: &str,
    checks: &[CheckResult],
    findings: &[Finding],
) -> Result<()> {
    let attempt: AttemptRecord = core.ledger.attempt(fence.attempt).await?;
    let AttemptTarget::Validation {
        milestone,
        repository,
    } = &attempt.target
    else {
        return Err(OrchestratorError::BadRequest(format!(
            "attempt {} is not a validation attempt",
            attempt.id
        )));
    };
    let record = core.ledger.mission(mission).await?;
    let plan = core
        .plans
        .get(&*core.ledger, mission, record.plan_version)
        .await?;
    let covered = tasks::covered_assertions(&plan.plan, milestone, repository);
    let verdict = verify::verify(&plan.plan, &covered, checks, findings.to_vec());
    let mut change = Change::new(mission, actor).applying(msg_id);
    for finding in &verdict.findings {
        change.steps.push(Step::Finding {
            fence,
            milestone: milestone.clone(),
            finding: finding.clone(),
        });
    }
    change.steps.push(Step::Note {
        kind: "validation_report".to_owned(),
        data: json!({
            "attempt": fence.attempt,
            "milestone": milestone,
            "repository": repository,
            "commit": commit,
            "proven": verdict.proven,
            "checks": checks.iter().map(|check| json!({
                "check": check.check,
                "assertion": check.assertion,
                "passed": check.passed,
            })).collect::<Vec<_>>(),
        }),
    });
    let (to, reason) = if verdict.proven {
        (
            AttemptState::Succeeded,
            "every check proven with evidence".to_owned(),
        )
    } else {
        (
            AttemptState::Failed,
            format!("{} findings", verdict.findings.len()),
        )
    };
    change.steps.push(Step::Attempt {
        fence,
        to,
        reason,
        worker: None,
        lease: None,
    });
    core.apply(change).await?;
    info!(%mission, %milestone, %repository, proven = verdict.proven, "validation report applied");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mission_always_takes_the_same_lane_and_missions_spread() {
        let missions: Vec<MissionId> = (0..64).map(|_| MissionId::generate()).collect();
        let mut used = std::collections::HashSet::new();
        for mission in &missions {
            let lane = lane_of(Some(*mission));
            assert!(lane < INTEGRATION_LANES);
            assert_eq!(lane, lane_of(Some(*mission)));
            used.insert(lane);
        }
        assert!(used.len() > 1, "64 missions all in one lane");
        assert_eq!(lane_of(None), 0);
    }
}
