//! The driver: for every mission this replica holds a lease on, decide what happens next.
//!
//! Each pass reads the mission from the ledger and commits at most one change, fenced by
//! the mission lease: abandon attempts whose lease ran out; move the current milestone
//! along (activate, validate, fix, pass, block); dispatch what the scheduler picks;
//! complete the mission when every milestone passed. A change refused because a report
//! moved the mission meanwhile is simply decided again on the next pass.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use serde_json::json;
use sortie_ledger::{
    AttemptRecord, AttemptTarget, Change, FeatureRecord, LedgerError, MilestoneRecord,
    MissionLease, MissionRecord, OwnerFence, Step,
};
use sortie_model::scheduler::{
    FeatureStates, MilestoneStates, ScheduleInput, current_milestone, milestone_features_settled,
    schedule,
};
use sortie_model::state::{AttemptState, FeatureState, MilestoneState, MissionState, StateMachine};
use sortie_model::{AttemptFence, AttemptId, MilestoneId, RepositoryName};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::error::Result;
use crate::fixes;
use crate::plans::PreparedPlan;
use crate::tasks::{self, FeatureTaskInput, ValidationTaskInput};
use crate::{Core, merge_queue};

pub(crate) async fn run(core: Arc<Core>, cancel: CancellationToken) {
    let mut interval = tokio::time::interval(core.config.tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // Mission leases are claimed and renewed on the tick, and at once when a mission
        // is launched, and every mission held is driven then; a wake-up between ticks
        // drives only the held missions it is for, whose fences the ledger still checks
        // on every change.
        let claim = tokio::select! {
            () = cancel.cancelled() => break,
            _ = interval.tick() => true,
            () = core.claim.notified() => true,
            () = core.wake.notified() => false,
        };
        if let Err(error) = drive_owned(&core, claim).await {
            warn!(%error, "driving missions failed; trying again");
        }
    }
}

/// Give up every mission lease, so that another replica takes the missions at once.
pub(crate) async fn release_leases(core: &Core) {
    let leases = std::mem::take(&mut *core.owned.lock().expect("owned lock"));
    for lease in leases {
        let fence = OwnerFence {
            replica: lease.replica.clone(),
            epoch: lease.epoch,
        };
        if let Err(error) = core.ledger.release_mission(&fence, lease.mission).await {
            warn!(mission = %lease.mission, %error, "could not release a mission lease");
        }
    }
}

async fn drive_owned(core: &Core, claim: bool) -> Result<()> {
    let leases = if claim {
        let claimed = core
            .ledger
            .claim_missions(
                &core.config.replica,
                core.config.mission_lease,
                core.config.max_missions,
            )
            .await?;
        let leases = with_held_leases(core, claimed).await?;
        core.owned.lock().expect("owned lock").clone_from(&leases);
        leases
    } else {
        core.owned.lock().expect("owned lock").clone()
    };
    // Taken before driving: a wake-up for a mission during this pass drives it again.
    let woken = std::mem::take(&mut *core.woken.lock().expect("woken lock"));
    for lease in leases
        .iter()
        .filter(|lease| claim || woken.contains(&lease.mission))
    {
        match drive(core, lease).await {
            Ok(()) => {}
            // A report or a person changed the mission between our read and our write.
            Err(crate::OrchestratorError::Ledger(
                LedgerError::IllegalTransition(_) | LedgerError::Conflict(_),
            )) => core.wake_for(lease.mission),
            Err(error) => warn!(mission = %lease.mission, %error, "driving a mission failed"),
        }
    }
    Ok(())
}

/// A mission this replica holds is missing from a claim when one of our own changes had
/// its row locked at that moment: claims skip locked rows, so that replicas never wait on
/// each other. Its lease is still ours until it expires by the ledger's clock (no other
/// replica can take it before), so it is kept; the ledger checks its fence on every
/// change anyway.
async fn with_held_leases(
    core: &Core,
    mut claimed: Vec<MissionLease>,
) -> Result<Vec<MissionLease>> {
    let missing: Vec<MissionLease> = core
        .owned
        .lock()
        .expect("owned lock")
        .iter()
        .filter(|held| !claimed.iter().any(|lease| lease.mission == held.mission))
        .cloned()
        .collect();
    if missing.is_empty() {
        return Ok(claimed);
    }
    let now = core.ledger.now().await?;
    claimed.extend(missing.into_iter().filter(|held| held.expires_at > now));
    Ok(claimed)
}

/// Everything one decision about a mission looks at.
struct View {
    mission: MissionRecord,
    plan: Arc<PreparedPlan>,
    now: chrono::DateTime<chrono::Utc>,
    milestones: Vec<MilestoneRecord>,
    features: Vec<FeatureRecord>,
    attempts: Vec<AttemptRecord>,
}

impl View {
    fn feature_states(&self) -> FeatureStates {
        self.features
            .iter()
            .map(|feature| (feature.id.clone(), feature.state))
            .collect()
    }

    fn milestone_states(&self) -> MilestoneStates {
        self.milestones
            .iter()
            .map(|milestone| (milestone.id.clone(), milestone.state))
            .collect()
    }

    fn feature(&self, id: &sortie_model::FeatureId) -> Option<&FeatureRecord> {
        self.features.iter().find(|feature| &feature.id == id)
    }

    /// The epoch the next attempt at `target` must carry.
    fn next_epoch(&self, target: &AttemptTarget) -> i64 {
        self.attempts
            .iter()
            .filter(|attempt| &attempt.target == target)
            .map(|attempt| attempt.epoch)
            .max()
            .unwrap_or(0)
            + 1
    }

    fn latest_attempt(&self, target: &AttemptTarget) -> Option<&AttemptRecord> {
        self.attempts
            .iter()
            .filter(|attempt| &attempt.target == target)
            .max_by_key(|attempt| attempt.epoch)
    }

    /// The repositories a milestone's features work in, in the plan's order.
    fn repositories_of(&self, milestone: &MilestoneId) -> Vec<RepositoryName> {
        let plan = &self.plan.plan;
        let used: BTreeSet<&RepositoryName> = plan
            .features_of(milestone)
            .map(|feature| &feature.repository)
            .collect();
        plan.repositories
            .iter()
            .map(|repository| &repository.name)
            .filter(|name| used.contains(name))
            .cloned()
            .collect()
    }
}

async fn drive(core: &Core, lease: &MissionLease) -> Result<()> {
    let mission = core.ledger.mission(lease.mission).await?;
    if mission.state.is_terminal() {
        core.plans.forget(mission.id);
        return Ok(());
    }
    if mission.state != MissionState::Running {
        return Ok(());
    }
    let plan = core
        .plans
        .get(&*core.ledger, mission.id, mission.plan_version)
        .await?;
    merge_queue::prepare_integration_branches(core, mission.id, &plan.plan).await?;
    let view = View {
        now: core.ledger.now().await?,
        milestones: core.ledger.milestones(mission.id).await?,
        features: core.ledger.features(mission.id).await?,
        attempts: core.ledger.attempts(mission.id).await?,
        mission,
        plan,
    };
    let fence = OwnerFence {
        replica: lease.replica.clone(),
        epoch: lease.epoch,
    };
    let mut change = Change::new(view.mission.id, core.actor()).owned_by(fence);
    decide(core, &view, &mut change).await?;
    if change.steps.is_empty() {
        return Ok(());
    }
    debug!(mission = %view.mission.id, steps = change.steps.len(), "applying a decision");
    let only_dispatches = change.steps.iter().all(|step| {
        matches!(
            step,
            Step::StartAttempt {
                target: AttemptTarget::Feature { .. },
                ..
            } | Step::Feature {
                to: FeatureState::Dispatched,
                ..
            }
        )
    });
    core.apply(change).await?;
    // What was decided may allow the next decision at once (a milestone passed, say).
    // Dispatching features took every slot the scheduler could fill: nothing more is
    // decided until a report comes back.
    if !only_dispatches {
        core.wake_for(view.mission.id);
    }
    Ok(())
}

async fn decide(core: &Core, view: &View, change: &mut Change) -> Result<()> {
    if abandon_expired(core, view, change) {
        return Ok(());
    }
    let plan = &view.plan.plan;
    let milestone_states = view.milestone_states();
    let Some(current) = current_milestone(plan, &milestone_states).cloned() else {
        change.steps.push(Step::Mission {
            to: MissionState::Completed,
            reason: "every milestone passed".to_owned(),
        });
        info!(mission = %view.mission.id, "mission completed");
        return Ok(());
    };
    let mut state = milestone_states
        .get(&current)
        .copied()
        .unwrap_or(MilestoneState::Pending);
    if state == MilestoneState::Pending {
        change.steps.push(Step::Milestone {
            id: current.clone(),
            to: MilestoneState::Active,
            reason: "the milestones before it passed".to_owned(),
        });
        state = MilestoneState::Active;
    }
    if let Some(failed) = view
        .features
        .iter()
        .find(|feature| feature.milestone == current && feature.state == FeatureState::Failed)
    {
        let reason = format!(
            "feature {} failed after {} attempts; a person decides: retry or skip it",
            failed.id, failed.attempts
        );
        block(change, &current, state, reason);
        return Ok(());
    }
    match state {
        MilestoneState::Active | MilestoneState::Fixing => {
            let feature_states = view.feature_states();
            if milestone_features_settled(plan, &current, &feature_states) {
                if plan.settings.validation {
                    start_validation_round(core, view, change, &current, state).await?;
                } else {
                    change.steps.push(Step::Milestone {
                        id: current,
                        to: MilestoneState::Passed,
                        reason: "its features are done and the mission does not validate"
                            .to_owned(),
                    });
                }
            } else {
                dispatch_features(core, view, change, &feature_states, &milestone_states);
            }
        }
        MilestoneState::Validating => {
            evaluate_validation_round(core, view, change, &current).await?;
        }
        MilestoneState::Blocked => change.steps.push(Step::Mission {
            to: MissionState::Blocked,
            reason: format!("milestone {current} is blocked"),
        }),
        MilestoneState::Pending | MilestoneState::Passed | MilestoneState::Cancelled => {}
    }
    Ok(())
}

fn block(change: &mut Change, milestone: &MilestoneId, state: MilestoneState, reason: String) {
    if state.can_become(MilestoneState::Blocked) {
        change.steps.push(Step::Milestone {
            id: milestone.clone(),
            to: MilestoneState::Blocked,
            reason: reason.clone(),
        });
    }
    warn!(%milestone, %reason, "mission blocked");
    change.steps.push(Step::Mission {
        to: MissionState::Blocked,
        reason,
    });
}

/// Abandon live attempts whose lease ran out by the ledger's clock; their features wait
/// for a retry, or fail when out of attempts. Returns whether anything was abandoned.
fn abandon_expired(core: &Core, view: &View, change: &mut Change) -> bool {
    let expired: Vec<&AttemptRecord> = view
        .attempts
        .iter()
        .filter(|attempt| !attempt.state.is_terminal() && attempt.lease_expires_at < view.now)
        .collect();
    for attempt in &expired {
        info!(attempt = %attempt.id, epoch = attempt.epoch, "abandoning an attempt whose lease ran out");
        change.steps.push(Step::AbandonExpired {
            attempt: attempt.id,
            reason: "its lease ran out: no heartbeat in time".to_owned(),
        });
        if let AttemptTarget::Feature { feature } = &attempt.target
            && let Some(record) = view.feature(feature)
            && record.state.is_in_flight()
        {
            change.steps.push(retry_or_fail(
                core,
                &view.plan.plan,
                record,
                "its attempt's lease ran out",
            ));
        }
    }
    !expired.is_empty()
}

/// After a failed or abandoned attempt: back to pending after a backoff, or failed when
/// the feature is out of attempts.
pub(crate) fn retry_or_fail(
    core: &Core,
    plan: &sortie_model::Plan,
    feature: &FeatureRecord,
    reason: &str,
) -> Step {
    let allowed = i32::try_from(plan.settings.max_attempts_per_feature).unwrap_or(i32::MAX);
    if feature.attempts >= allowed {
        Step::Feature {
            id: feature.id.clone(),
            to: FeatureState::Failed,
            reason: format!("{reason}; all {allowed} attempts used"),
            not_before: None,
        }
    } else {
        Step::Feature {
            id: feature.id.clone(),
            to: FeatureState::Pending,
            reason: format!("{reason}; attempt {} of {allowed} ended", feature.attempts),
            not_before: Some(core.config.backoff(feature.attempts)),
        }
    }
}

fn dispatch_features(
    core: &Core,
    view: &View,
    change: &mut Change,
    feature_states: &FeatureStates,
    milestone_states: &MilestoneStates,
) {
    let plan = &view.plan.plan;
    let held_back: HashSet<_> = view
        .features
        .iter()
        .filter(|feature| feature.not_before.is_some_and(|time| time > view.now))
        .map(|feature| feature.id.clone())
        .collect();
    let free_slots = usize::try_from(plan.settings.max_parallel_workers).unwrap_or(usize::MAX);
    let chosen = schedule(&ScheduleInput {
        plan: &view.plan.schedule,
        feature_states,
        milestone_states,
        held_back: &held_back,
        free_slots,
    });
    for feature_id in chosen {
        let Some(feature) = plan.feature(&feature_id) else {
            continue;
        };
        let Some(target) = tasks::repository_target(plan, view.mission.id, &feature.repository)
        else {
            continue;
        };
        let fence = start_attempt(
            core,
            view,
            change,
            AttemptTarget::Feature {
                feature: feature_id.clone(),
            },
        );
        change.steps.push(Step::Feature {
            id: feature_id.clone(),
            to: FeatureState::Dispatched,
            reason: format!("attempt {} dispatched", fence.epoch),
            not_before: None,
        });
        change.outbox.push(tasks::feature_task(
            FeatureTaskInput {
                mission: view.mission.id,
                plan,
                plan_version: view.plan.version,
                fence,
                feature,
                target,
            },
            &core.config,
        ));
        info!(mission = %view.mission.id, feature = %feature_id, epoch = fence.epoch, "dispatching");
    }
}

/// Add a new attempt at `target`, with the next epoch and a lease to wait for a worker.
fn start_attempt(
    core: &Core,
    view: &View,
    change: &mut Change,
    target: AttemptTarget,
) -> AttemptFence {
    let fence = AttemptFence {
        attempt: AttemptId::generate(),
        epoch: view.next_epoch(&target),
    };
    change.steps.push(Step::StartAttempt {
        attempt: fence.attempt,
        target,
        epoch: fence.epoch,
        lease: core.config.dispatch_lease,
    });
    fence
}

/// Dispatch one validation per repository the milestone worked in, pinned to its
/// integration branch's commit now.
async fn start_validation_round(
    core: &Core,
    view: &View,
    change: &mut Change,
    milestone: &MilestoneId,
    state: MilestoneState,
) -> Result<()> {
    let repositories = view.repositories_of(milestone);
    if repositories.is_empty() {
        change.steps.push(Step::Milestone {
            id: milestone.clone(),
            to: MilestoneState::Passed,
            reason: "it has no features to validate".to_owned(),
        });
        return Ok(());
    }
    for repository in &repositories {
        dispatch_validation(core, view, change, milestone, repository).await?;
    }
    let reason = if state == MilestoneState::Fixing {
        "its fix features are done: validating again"
    } else {
        "its features are done"
    };
    change.steps.push(Step::Milestone {
        id: milestone.clone(),
        to: MilestoneState::Validating,
        reason: reason.to_owned(),
    });
    Ok(())
}

async fn dispatch_validation(
    core: &Core,
    view: &View,
    change: &mut Change,
    milestone: &MilestoneId,
    repository: &RepositoryName,
) -> Result<()> {
    let plan = &view.plan.plan;
    let Some(target) = tasks::repository_target(plan, view.mission.id, repository) else {
        return Ok(());
    };
    let commit = merge_queue::integration_tip(core, &target).await?;
    let fence = start_attempt(
        core,
        view,
        change,
        AttemptTarget::Validation {
            milestone: milestone.clone(),
            repository: repository.clone(),
        },
    );
    change.outbox.push(tasks::validation_task(
        ValidationTaskInput {
            mission: view.mission.id,
            plan,
            plan_version: view.plan.version,
            fence,
            milestone,
            target,
            commit: commit.clone(),
        },
        &core.config,
    ));
    info!(mission = %view.mission.id, %milestone, %repository, %commit, "dispatching validation");
    Ok(())
}

async fn evaluate_validation_round(
    core: &Core,
    view: &View,
    change: &mut Change,
    milestone: &MilestoneId,
) -> Result<()> {
    let mut waiting = false;
    let mut failed: Vec<(RepositoryName, &AttemptRecord)> = Vec::new();
    for repository in view.repositories_of(milestone) {
        let target = AttemptTarget::Validation {
            milestone: milestone.clone(),
            repository: repository.clone(),
        };
        match view.latest_attempt(&target) {
            Some(attempt) if !attempt.state.is_terminal() => waiting = true,
            Some(attempt) if attempt.state == AttemptState::Succeeded => {}
            Some(attempt) if attempt.state == AttemptState::Failed => {
                failed.push((repository, attempt));
            }
            // Abandoned, cancelled, or never dispatched: validate that repository again.
            _ => {
                dispatch_validation(core, view, change, milestone, &repository).await?;
                waiting = true;
            }
        }
    }
    if waiting {
        return Ok(());
    }
    if failed.is_empty() {
        change.steps.push(Step::Milestone {
            id: milestone.clone(),
            to: MilestoneState::Passed,
            reason: "every assertion and scrutiny step proven with evidence".to_owned(),
        });
        info!(mission = %view.mission.id, %milestone, "milestone passed");
        return Ok(());
    }
    let plan = &view.plan.plan;
    let round = fixes::rounds_so_far(plan, milestone) + 1;
    if round > plan.settings.max_fix_rounds {
        let reason = format!(
            "milestone {milestone} still fails validation after {} fix rounds",
            plan.settings.max_fix_rounds
        );
        block(change, milestone, MilestoneState::Validating, reason);
        return Ok(());
    }
    let findings = core.ledger.findings(view.mission.id).await?;
    let mut amended = plan.clone();
    for (repository, attempt) in &failed {
        let attempt_findings: Vec<_> = findings
            .iter()
            .filter(|finding| finding.attempt == attempt.id)
            .map(|finding| finding.finding.clone())
            .collect();
        amended.features.extend(fixes::fix_features(
            plan,
            milestone,
            repository,
            round,
            &attempt_findings,
        ));
    }
    let added = amended.features.len() - plan.features.len();
    if added == 0 {
        block(
            change,
            milestone,
            MilestoneState::Validating,
            format!("validation of milestone {milestone} failed without findings to fix"),
        );
        return Ok(());
    }
    change.steps.push(Step::AmendPlan {
        plan: Box::new(amended),
        created_by: core.actor().0,
        approved_by: Some("policy:fix-features".to_owned()),
        reason: format!(
            "validation of milestone {milestone} failed: {added} fix features, round {round}"
        ),
    });
    change.steps.push(Step::Milestone {
        id: milestone.clone(),
        to: MilestoneState::Fixing,
        reason: format!("{added} fix features in round {round}"),
    });
    change.audit.push(sortie_ledger::AuditEntry {
        action: "add_fix_features".to_owned(),
        detail: json!({ "milestone": milestone, "round": round, "features": added }),
    });
    info!(mission = %view.mission.id, %milestone, round, added, "validation failed; fixing");
    Ok(())
}
