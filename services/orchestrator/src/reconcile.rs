//! The reconciler: at start, and every `orchestrator.reconcile_seconds` after, it brings
//! the bus's streams and consumers back if they are gone and sends again every piece of
//! work the ledger says is waiting for a worker.
//!
//! The ledger is the truth. Attempts still `dispatched` get their task published again
//! under the same dedupe id, so a task the bus still holds is not doubled; running
//! attempts need nothing (their workers report, or their leases run out). A report the bus
//! lost is made good the same way: its attempt's lease runs out and the feature is tried
//! again.

use std::sync::Arc;
use std::time::Duration;

use sortie_bus::Route;
use sortie_ledger::{AttemptTarget, MissionRecord};
use sortie_model::messages::Topic;
use sortie_model::state::{AttemptState, MissionState};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::Core;
use crate::error::Result;
use crate::tasks::{self, FeatureTaskInput, ValidationTaskInput};

/// Reconcile now, then every interval until cancelled. Attempts dispatched within the
/// last interval are left alone: their tasks are on their way.
pub(crate) async fn run(core: Arc<Core>, cancel: CancellationToken) {
    reconcile(&core, Duration::ZERO).await;
    let interval = core.config.reconcile_interval;
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
        reconcile(&core, interval).await;
    }
}

async fn reconcile(core: &Core, waiting_longer_than: Duration) {
    if let Err(error) = core.bus.ensure_topology().await {
        warn!(%error, "could not bring the bus topology up to date");
        return;
    }
    let now = match core.ledger.now().await {
        Ok(now) => now,
        Err(error) => {
            warn!(%error, "could not read the ledger's clock to reconcile");
            return;
        }
    };
    let dispatched_before =
        now - chrono::Duration::from_std(waiting_longer_than).unwrap_or(chrono::Duration::zero());
    let missions = match core.ledger.missions(core.config.max_missions).await {
        Ok(missions) => missions,
        Err(error) => {
            warn!(%error, "could not list missions to reconcile");
            return;
        }
    };
    let mut sent = 0;
    for mission in missions
        .iter()
        .filter(|mission| matches!(mission.state, MissionState::Running | MissionState::Paused))
    {
        match redispatch(core, mission, dispatched_before).await {
            Ok(count) => sent += count,
            Err(error) => warn!(mission = %mission.id, %error, "could not reconcile a mission"),
        }
    }
    if sent > 0 {
        info!(sent, "sent waiting work to the bus again");
    } else {
        debug!("the bus holds all waiting work");
    }
}

async fn redispatch(
    core: &Core,
    mission: &MissionRecord,
    dispatched_before: chrono::DateTime<chrono::Utc>,
) -> Result<usize> {
    let plan = core
        .plans
        .get(&*core.ledger, mission.id, mission.plan_version)
        .await?;
    let attempts = core.ledger.attempts(mission.id).await?;
    let mut sent = 0;
    for attempt in attempts.iter().filter(|attempt| {
        attempt.state == AttemptState::Dispatched && attempt.created_at <= dispatched_before
    }) {
        let message = match &attempt.target {
            AttemptTarget::Feature { feature } => {
                let Some(spec) = plan.plan.feature(feature) else {
                    continue;
                };
                let Some(target) =
                    tasks::repository_target(&plan.plan, mission.id, &spec.repository)
                else {
                    continue;
                };
                tasks::feature_task(
                    FeatureTaskInput {
                        mission: mission.id,
                        plan: &plan.plan,
                        plan_version: plan.version,
                        fence: attempt.fence(),
                        feature: spec,
                        target,
                    },
                    &core.config,
                )
            }
            AttemptTarget::Validation {
                milestone,
                repository,
            } => {
                let Some(target) = tasks::repository_target(&plan.plan, mission.id, repository)
                else {
                    continue;
                };
                // The commit it was pinned to is in its dispatch event; the tip now is
                // what a new validation would pin, and the milestone's work is done.
                let commit = crate::merge_queue::integration_tip(core, &target).await?;
                tasks::validation_task(
                    ValidationTaskInput {
                        mission: mission.id,
                        plan: &plan.plan,
                        plan_version: plan.version,
                        fence: attempt.fence(),
                        milestone,
                        target,
                        commit,
                    },
                    &core.config,
                )
            }
        };
        let payload = serde_json::to_vec(&message.payload).map_err(|error| {
            crate::OrchestratorError::BadRequest(format!("task payload: {error}"))
        })?;
        let topic = message.topic;
        debug_assert!(matches!(topic, Topic::FeatureTask | Topic::ValidationTask));
        core.bus
            .publish(
                Route::mission(topic, mission.id),
                &message.msg_id,
                payload.into(),
                &message.headers,
            )
            .await?;
        sent += 1;
    }
    Ok(sent)
}
