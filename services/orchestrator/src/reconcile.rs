//! The reconciler: after a restart, or if the bus lost its streams, every piece of work
//! the ledger says is waiting for a worker is sent again.
//!
//! The ledger is the truth. Attempts still `dispatched` get their task published again
//! under the same dedupe id, so a task the bus still holds is not doubled; running
//! attempts need nothing (their workers report, or their leases run out).

use sortie_bus::Route;
use sortie_ledger::{AttemptTarget, MissionRecord};
use sortie_model::messages::Topic;
use sortie_model::state::{AttemptState, MissionState};
use tracing::{info, warn};

use crate::Core;
use crate::error::Result;
use crate::tasks::{self, FeatureTaskInput, ValidationTaskInput};

pub(crate) async fn reconcile_on_start(core: &Core) {
    if let Err(error) = core.bus.ensure_topology().await {
        warn!(%error, "could not bring the bus topology up to date");
    }
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
        match redispatch(core, mission).await {
            Ok(count) => sent += count,
            Err(error) => warn!(mission = %mission.id, %error, "could not reconcile a mission"),
        }
    }
    info!(sent, "reconciled waiting work with the bus");
}

async fn redispatch(core: &Core, mission: &MissionRecord) -> Result<usize> {
    let plan = core
        .plans
        .get(&*core.ledger, mission.id, mission.plan_version)
        .await?;
    let attempts = core.ledger.attempts(mission.id).await?;
    let mut sent = 0;
    for attempt in attempts
        .iter()
        .filter(|attempt| attempt.state == AttemptState::Dispatched)
    {
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
