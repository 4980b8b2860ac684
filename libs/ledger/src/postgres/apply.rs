//! Writing the ledger: every state change goes through [`apply`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use sortie_model::state::{AttemptState, FeatureState, MilestoneState, MissionState, StateMachine};
use sortie_model::{AttemptId, MissionId};
use tokio_postgres::{Client, GenericClient, Transaction};
use tracing::warn;

use super::reads::{self, parse_state};
use super::sql_error;
use crate::error::{LedgerError, LedgerResult};
use crate::types::*;

fn target_key(target: &AttemptTarget) -> String {
    match target {
        AttemptTarget::Feature { feature } => format!("feature:{feature}"),
        AttemptTarget::Validation {
            milestone,
            repository,
        } => format!("validation:{milestone}:{repository}"),
    }
}

fn seconds(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

pub(super) async fn create_mission(
    client: &mut Client,
    submission: MissionSubmission,
) -> LedgerResult<MissionId> {
    let plan = &submission.plan;
    if let Some(feature) = plan
        .features
        .iter()
        .find(|feature| plan.milestone_index(&feature.milestone).is_none())
    {
        return Err(LedgerError::Invalid(format!(
            "feature {} names milestone {}, which the plan does not have",
            feature.id, feature.milestone
        )));
    }
    let id = MissionId::generate();
    let plan_json = serde_json::to_value(plan)
        .map_err(|error| LedgerError::Invalid(format!("plan: {error}")))?;
    let state = if submission.approved_by.is_some() {
        MissionState::Approved
    } else {
        MissionState::Draft
    };
    let transaction = client.transaction().await.map_err(sql_error)?;
    transaction
        .execute(
            "INSERT INTO missions (id, tenant, team, submitted_by, name, state, plan_version, event_seq,
                                   approved_by, approved_plan_version, approved_at)
             VALUES ($1, $2, $3, $4, $5, $6, 1, 1,
                     $7, CASE WHEN $7::text IS NULL THEN NULL ELSE 1 END,
                     CASE WHEN $7::text IS NULL THEN NULL ELSE now() END)",
            &[
                &id.0,
                &submission.tenant,
                &submission.team,
                &submission.submitted_by,
                &plan.mission.name,
                &state.as_str(),
                &submission.approved_by,
            ],
        )
        .await
        .map_err(sql_error)?;
    transaction
        .execute(
            "INSERT INTO plan_versions (mission_id, version, plan, source, created_by, approved_by)
             VALUES ($1, 1, $2, $3, $4, $5)",
            &[
                &id.0,
                &plan_json,
                &submission.source,
                &submission.submitted_by,
                &submission.approved_by,
            ],
        )
        .await
        .map_err(sql_error)?;
    let milestone_statement = transaction
        .prepare(
            "INSERT INTO milestones (mission_id, milestone_id, ordinal, state) VALUES ($1, $2, $3, $4)",
        )
        .await
        .map_err(sql_error)?;
    for (ordinal, milestone) in plan.milestones.iter().enumerate() {
        let ordinal = i32::try_from(ordinal).unwrap_or(i32::MAX);
        transaction
            .execute(
                &milestone_statement,
                &[
                    &id.0,
                    &milestone.id.as_str(),
                    &ordinal,
                    &MilestoneState::Pending.as_str(),
                ],
            )
            .await
            .map_err(sql_error)?;
    }
    // One statement for all features: missions reach thousands of them.
    let feature_ids: Vec<&str> = plan
        .features
        .iter()
        .map(|feature| feature.id.as_str())
        .collect();
    let feature_milestones: Vec<&str> = plan
        .features
        .iter()
        .map(|feature| feature.milestone.as_str())
        .collect();
    transaction
        .execute(
            "INSERT INTO features (mission_id, feature_id, milestone_id, ordinal, state)
             SELECT $1, feature.id, feature.milestone, feature.ordinal::integer - 1, $4
             FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS feature (id, milestone, ordinal)",
            &[&id.0, &feature_ids, &feature_milestones, &FeatureState::Pending.as_str()],
        )
        .await
        .map_err(sql_error)?;
    let actor = Actor::person(&submission.submitted_by);
    insert_event(
        &transaction,
        id,
        1,
        "mission_submitted",
        &actor,
        &json!({
            "name": plan.mission.name,
            "plan_version": 1,
            "milestones": plan.milestones.len(),
            "features": plan.features.len(),
            "assertions": plan.assertions.len(),
            "state": state,
            "approved_by": submission.approved_by,
        }),
    )
    .await?;
    insert_audit(
        &transaction,
        &actor,
        "submit_mission",
        Some(id),
        &json!({
            "tenant": submission.tenant,
            "team": submission.team,
            "approved_by": submission.approved_by,
        }),
    )
    .await?;
    transaction.commit().await.map_err(sql_error)?;
    Ok(id)
}

async fn insert_event(
    client: &impl GenericClient,
    mission: MissionId,
    seq: i64,
    kind: &str,
    actor: &Actor,
    data: &serde_json::Value,
) -> LedgerResult<()> {
    client
        .execute(
            "INSERT INTO events (mission_id, seq, kind, actor, data) VALUES ($1, $2, $3, $4, $5)",
            &[&mission.0, &seq, &kind, &actor.0, data],
        )
        .await
        .map_err(sql_error)?;
    Ok(())
}

async fn insert_audit(
    client: &impl GenericClient,
    actor: &Actor,
    action: &str,
    mission: Option<MissionId>,
    detail: &serde_json::Value,
) -> LedgerResult<()> {
    let mission = mission.map(|id| id.0);
    client
        .execute(
            "INSERT INTO audit_log (actor, action, mission_id, detail) VALUES ($1, $2, $3, $4)",
            &[&actor.0, &action, &mission, detail],
        )
        .await
        .map_err(sql_error)?;
    Ok(())
}

/// Apply a change in one transaction; a refused fence is audited after the rollback.
pub(super) async fn apply(client: &mut Client, change: Change) -> LedgerResult<Applied> {
    let mission = change.mission;
    let actor = change.actor.clone();
    let outcome = {
        let transaction = client.transaction().await.map_err(sql_error)?;
        match apply_in(&transaction, change).await {
            Ok(applied) if applied.duplicate => {
                transaction.rollback().await.map_err(sql_error)?;
                Ok(applied)
            }
            Ok(applied) => {
                transaction.commit().await.map_err(sql_error)?;
                Ok(applied)
            }
            Err(error) => {
                transaction.rollback().await.map_err(sql_error)?;
                Err(error)
            }
        }
    };
    if let Err(error) = &outcome {
        audit_refusal(client, &actor, Some(mission), error).await;
    }
    outcome
}

/// Write a refused stale write to the audit log, outside the rolled-back transaction.
async fn audit_refusal(
    client: &Client,
    actor: &Actor,
    mission: Option<MissionId>,
    error: &LedgerError,
) {
    if !matches!(
        error,
        LedgerError::StaleEpoch { .. } | LedgerError::LeaseExpired { .. }
    ) {
        return;
    }
    let detail = json!({ "error": error.to_string() });
    if let Err(audit_error) =
        insert_audit(client, actor, "refused_stale_write", mission, &detail).await
    {
        warn!(error = %audit_error, "could not audit a refused stale write");
    }
}

struct MissionLock {
    state: MissionState,
    event_seq: i64,
    plan_version: i32,
    approved_by: Option<String>,
    approved_plan_version: Option<i32>,
}

async fn lock_mission(transaction: &Transaction<'_>, change: &Change) -> LedgerResult<MissionLock> {
    let row = transaction
        .query_opt(
            "SELECT state, event_seq, plan_version, owner, owner_epoch,
                    owner_expires_at > now() AS owner_live, approved_by, approved_plan_version
             FROM missions WHERE id = $1 FOR UPDATE",
            &[&change.mission.0],
        )
        .await
        .map_err(sql_error)?
        .ok_or_else(|| LedgerError::not_found(format!("mission {}", change.mission)))?;
    if let Some(fence) = &change.owner {
        let owner: Option<String> = row.get("owner");
        let owner_epoch: i64 = row.get("owner_epoch");
        let owner_live: Option<bool> = row.get("owner_live");
        let holds_lease = owner.as_deref() == Some(fence.replica.as_str())
            && owner_epoch == fence.epoch
            && owner_live == Some(true);
        if !holds_lease {
            return Err(LedgerError::StaleEpoch {
                what: format!(
                    "the lease of mission {} held by {}",
                    change.mission, fence.replica
                ),
                presented: fence.epoch,
                current: owner_epoch,
            });
        }
    }
    Ok(MissionLock {
        state: parse_state(row.get("state"))?,
        event_seq: row.get("event_seq"),
        plan_version: row.get("plan_version"),
        approved_by: row.get("approved_by"),
        approved_plan_version: row.get("approved_plan_version"),
    })
}

async fn apply_in(transaction: &Transaction<'_>, change: Change) -> LedgerResult<Applied> {
    let mut lock = lock_mission(transaction, &change).await?;
    if let Some(msg_id) = &change.inbox {
        let inserted = transaction
            .execute(
                "INSERT INTO inbox (msg_id, mission_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[msg_id, &change.mission.0],
            )
            .await
            .map_err(sql_error)?;
        if inserted == 0 {
            return Ok(Applied {
                duplicate: true,
                ..Applied::default()
            });
        }
    }
    let mut applied = Applied::default();
    for step in change.steps {
        let (kind, data) =
            apply_step(transaction, change.mission, &mut lock, step, &mut applied).await?;
        lock.event_seq += 1;
        insert_event(
            transaction,
            change.mission,
            lock.event_seq,
            &kind,
            &change.actor,
            &data,
        )
        .await?;
        applied.events.push(lock.event_seq);
    }
    for message in &change.outbox {
        let headers = serde_json::to_value(&message.headers)
            .map_err(|error| LedgerError::Invalid(format!("outbox headers: {error}")))?;
        transaction
            .execute(
                "INSERT INTO outbox (mission_id, topic, msg_id, payload, headers)
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &change.mission.0,
                    &message.topic.as_str(),
                    &message.msg_id,
                    &message.payload,
                    &headers,
                ],
            )
            .await
            .map_err(sql_error)?;
    }
    for entry in &change.audit {
        insert_audit(
            transaction,
            &change.actor,
            &entry.action,
            Some(change.mission),
            &entry.detail,
        )
        .await?;
    }
    transaction
        .execute(
            "UPDATE missions SET state = $2, event_seq = $3, plan_version = $4, updated_at = now()
             WHERE id = $1",
            &[
                &change.mission.0,
                &lock.state.as_str(),
                &lock.event_seq,
                &lock.plan_version,
            ],
        )
        .await
        .map_err(sql_error)?;
    if !change.outbox.is_empty() {
        transaction
            .execute("SELECT pg_notify('sortie_outbox', '')", &[])
            .await
            .map_err(sql_error)?;
    }
    Ok(applied)
}

async fn apply_step(
    transaction: &Transaction<'_>,
    mission: MissionId,
    lock: &mut MissionLock,
    step: Step,
    applied: &mut Applied,
) -> LedgerResult<(String, serde_json::Value)> {
    match step {
        Step::Mission { to, reason } => {
            let from = lock.state;
            if from == MissionState::Draft && to == MissionState::Running {
                return Err(LedgerError::Conflict(format!(
                    "mission {mission} is a draft: its plan (version {}) needs approval before it can be launched",
                    lock.plan_version
                )));
            }
            from.check(to)?;
            lock.state = to;
            Ok((
                "mission_state".to_owned(),
                json!({ "from": from, "to": to, "reason": reason }),
            ))
        }
        Step::Approve { by, plan_version } => {
            approve(transaction, mission, lock, &by, plan_version).await
        }
        Step::Milestone { id, to, reason } => {
            let row = transaction
                .query_opt(
                    "SELECT state FROM milestones WHERE mission_id = $1 AND milestone_id = $2 FOR UPDATE",
                    &[&mission.0, &id.as_str()],
                )
                .await
                .map_err(sql_error)?
                .ok_or_else(|| LedgerError::not_found(format!("milestone {id} of mission {mission}")))?;
            let from: MilestoneState = parse_state(row.get("state"))?;
            from.check(to)?;
            transaction
                .execute(
                    "UPDATE milestones SET state = $3, updated_at = now()
                     WHERE mission_id = $1 AND milestone_id = $2",
                    &[&mission.0, &id.as_str(), &to.as_str()],
                )
                .await
                .map_err(sql_error)?;
            Ok((
                "milestone_state".to_owned(),
                json!({ "milestone": id, "from": from, "to": to, "reason": reason }),
            ))
        }
        Step::Feature {
            id,
            to,
            reason,
            not_before,
        } => {
            let row = transaction
                .query_opt(
                    "SELECT state FROM features WHERE mission_id = $1 AND feature_id = $2 FOR UPDATE",
                    &[&mission.0, &id.as_str()],
                )
                .await
                .map_err(sql_error)?
                .ok_or_else(|| LedgerError::not_found(format!("feature {id} of mission {mission}")))?;
            let from: FeatureState = parse_state(row.get("state"))?;
            from.check(to)?;
            let backoff = not_before.map(seconds);
            let row = transaction
                .query_one(
                    "UPDATE features
                     SET state = $3,
                         not_before = CASE WHEN $4::float8 IS NULL THEN NULL
                                           ELSE now() + make_interval(secs => $4::float8) END,
                         updated_at = now()
                     WHERE mission_id = $1 AND feature_id = $2
                     RETURNING not_before",
                    &[&mission.0, &id.as_str(), &to.as_str(), &backoff],
                )
                .await
                .map_err(sql_error)?;
            let not_before: Option<DateTime<Utc>> = row.get(0);
            Ok((
                "feature_state".to_owned(),
                json!({ "feature": id, "from": from, "to": to, "reason": reason, "not_before": not_before }),
            ))
        }
        Step::StartAttempt {
            attempt,
            target,
            epoch,
            lease,
        } => {
            let record =
                start_attempt(transaction, mission, attempt, &target, epoch, lease).await?;
            let data = json!({
                "attempt": record.id,
                "target": record.target,
                "epoch": record.epoch,
                "lease_expires_at": record.lease_expires_at,
            });
            applied.started.push(record);
            Ok(("attempt_dispatched".to_owned(), data))
        }
        Step::Attempt {
            fence,
            to,
            reason,
            worker,
            lease,
        } => {
            // A worker's own reports need a live lease; the orchestrator's decisions
            // (abandon, cancel) do not.
            let needs_live_lease = matches!(
                to,
                AttemptState::Running | AttemptState::Succeeded | AttemptState::Failed
            );
            let attempt = fenced_attempt(transaction, mission, fence, needs_live_lease).await?;
            attempt.state.check(to)?;
            let lease_seconds = lease.map(seconds);
            transaction
                .execute(
                    "UPDATE attempts
                     SET state = $2,
                         reason = $3,
                         worker = COALESCE($4, worker),
                         lease_expires_at = CASE WHEN $5::float8 IS NULL THEN lease_expires_at
                                                 ELSE now() + make_interval(secs => $5::float8) END,
                         started_at = CASE WHEN $2 = 'running' THEN now() ELSE started_at END,
                         finished_at = CASE WHEN $2 IN ('dispatched', 'running') THEN NULL ELSE now() END
                     WHERE id = $1",
                    &[&fence.attempt.0, &to.as_str(), &reason, &worker, &lease_seconds],
                )
                .await
                .map_err(sql_error)?;
            Ok((
                "attempt_state".to_owned(),
                json!({
                    "attempt": fence.attempt,
                    "target": attempt.target,
                    "epoch": fence.epoch,
                    "from": attempt.state,
                    "to": to,
                    "reason": reason,
                    "worker": worker,
                }),
            ))
        }
        Step::AbandonExpired { attempt, reason } => {
            let row = transaction
                .query_opt(
                    "SELECT state, lease_expires_at < now() AS expired, target, epoch
                     FROM attempts WHERE id = $1 AND mission_id = $2 FOR UPDATE",
                    &[&attempt.0, &mission.0],
                )
                .await
                .map_err(sql_error)?
                .ok_or_else(|| {
                    LedgerError::not_found(format!("attempt {attempt} of mission {mission}"))
                })?;
            let from: AttemptState = parse_state(row.get("state"))?;
            from.check(AttemptState::Abandoned)?;
            let expired: bool = row.get("expired");
            if !expired {
                return Err(LedgerError::Conflict(format!(
                    "the lease of attempt {attempt} has not expired"
                )));
            }
            transaction
                .execute(
                    "UPDATE attempts SET state = 'abandoned', reason = $2, finished_at = now() WHERE id = $1",
                    &[&attempt.0, &reason],
                )
                .await
                .map_err(sql_error)?;
            let target: serde_json::Value = row.get("target");
            let epoch: i64 = row.get("epoch");
            Ok((
                "attempt_state".to_owned(),
                json!({
                    "attempt": attempt,
                    "target": target,
                    "epoch": epoch,
                    "from": from,
                    "to": AttemptState::Abandoned,
                    "reason": reason,
                }),
            ))
        }
        Step::Handoff { fence, handoff } => {
            fenced_attempt(transaction, mission, fence, true).await?;
            let value = serde_json::to_value(&handoff)
                .map_err(|error| LedgerError::Invalid(format!("handoff: {error}")))?;
            transaction
                .execute(
                    "INSERT INTO handoffs (attempt_id, mission_id, handoff) VALUES ($1, $2, $3)",
                    &[&fence.attempt.0, &mission.0, &value],
                )
                .await
                .map_err(sql_error)?;
            Ok((
                "handoff_recorded".to_owned(),
                json!({
                    "attempt": fence.attempt,
                    "summary": handoff.summary,
                    "integrated_commit": handoff.integrated_commit,
                }),
            ))
        }
        Step::Finding {
            fence,
            milestone,
            finding,
        } => {
            fenced_attempt(transaction, mission, fence, true).await?;
            let value = serde_json::to_value(&finding)
                .map_err(|error| LedgerError::Invalid(format!("finding: {error}")))?;
            transaction
                .execute(
                    "INSERT INTO findings (mission_id, attempt_id, milestone_id, finding)
                     VALUES ($1, $2, $3, $4)",
                    &[&mission.0, &fence.attempt.0, &milestone.as_str(), &value],
                )
                .await
                .map_err(sql_error)?;
            Ok((
                "finding_recorded".to_owned(),
                json!({
                    "attempt": fence.attempt,
                    "milestone": milestone,
                    "assertion": finding.assertion,
                    "check": finding.check,
                    "severity": finding.severity,
                    "summary": finding.summary,
                }),
            ))
        }
        Step::AmendPlan {
            plan,
            created_by,
            approved_by,
            reason,
        } => {
            let version = lock.plan_version + 1;
            let (added_milestones, added_features) = amend_plan(
                transaction,
                mission,
                version,
                &plan,
                &created_by,
                approved_by.as_deref(),
            )
            .await?;
            lock.plan_version = version;
            Ok((
                "plan_amended".to_owned(),
                json!({
                    "version": version,
                    "added_milestones": added_milestones,
                    "added_features": added_features,
                    "reason": reason,
                }),
            ))
        }
        Step::Note { kind, data } => Ok((kind, data)),
    }
}

/// Approve a draft's current plan version: the mission's row, the plan version and the
/// audit log say who approved which version; the caller writes the event.
async fn approve(
    transaction: &Transaction<'_>,
    mission: MissionId,
    lock: &mut MissionLock,
    by: &str,
    plan_version: i32,
) -> LedgerResult<(String, serde_json::Value)> {
    if let (Some(approved_by), Some(approved_version)) =
        (&lock.approved_by, lock.approved_plan_version)
    {
        return Err(LedgerError::Conflict(format!(
            "mission {mission} is already approved: {approved_by} approved plan version {approved_version}"
        )));
    }
    let from = lock.state;
    if from != MissionState::Draft {
        return Err(LedgerError::Conflict(format!(
            "mission {mission} is {from}: only a draft can be approved"
        )));
    }
    if plan_version != lock.plan_version {
        return Err(LedgerError::Conflict(format!(
            "mission {mission}: plan version {plan_version} is not the current one, version {}; read version {} and approve it",
            lock.plan_version, lock.plan_version
        )));
    }
    from.check(MissionState::Approved)?;
    let row = transaction
        .query_one(
            "UPDATE missions
             SET approved_by = $2, approved_plan_version = $3, approved_at = now()
             WHERE id = $1
             RETURNING approved_at",
            &[&mission.0, &by, &plan_version],
        )
        .await
        .map_err(sql_error)?;
    let approved_at: DateTime<Utc> = row.get(0);
    transaction
        .execute(
            "UPDATE plan_versions SET approved_by = $3 WHERE mission_id = $1 AND version = $2",
            &[&mission.0, &plan_version, &by],
        )
        .await
        .map_err(sql_error)?;
    let detail = json!({
        "by": by,
        "plan_version": plan_version,
        "approved_at": approved_at,
    });
    insert_audit(
        transaction,
        &Actor::person(by),
        "approve_mission",
        Some(mission),
        &detail,
    )
    .await?;
    lock.state = MissionState::Approved;
    lock.approved_by = Some(by.to_owned());
    lock.approved_plan_version = Some(plan_version);
    Ok((
        "mission_approved".to_owned(),
        json!({
            "from": from,
            "to": MissionState::Approved,
            "by": by,
            "plan_version": plan_version,
            "approved_at": approved_at,
        }),
    ))
}

/// Store a new plan version and the milestones and features it adds; returns their ids.
async fn amend_plan(
    transaction: &Transaction<'_>,
    mission: MissionId,
    version: i32,
    plan: &sortie_model::Plan,
    created_by: &str,
    approved_by: Option<&str>,
) -> LedgerResult<(Vec<String>, Vec<String>)> {
    let plan_json = serde_json::to_value(plan)
        .map_err(|error| LedgerError::Invalid(format!("plan: {error}")))?;
    transaction
        .execute(
            "INSERT INTO plan_versions (mission_id, version, plan, created_by, approved_by)
             VALUES ($1, $2, $3, $4, $5)",
            &[&mission.0, &version, &plan_json, &created_by, &approved_by],
        )
        .await
        .map_err(sql_error)?;
    let existing_features = transaction
        .query(
            "SELECT feature_id, state FROM features WHERE mission_id = $1",
            &[&mission.0],
        )
        .await
        .map_err(sql_error)?;
    for row in &existing_features {
        let id: &str = row.get("feature_id");
        let state: FeatureState = parse_state(row.get("state"))?;
        let kept = plan
            .features
            .iter()
            .any(|feature| feature.id.as_str() == id);
        if !kept && state != FeatureState::Cancelled {
            return Err(LedgerError::Invalid(format!(
                "plan version {version} drops feature {id}, which is {state}; cancel it first"
            )));
        }
    }
    let existing_milestones: Vec<String> = transaction
        .query(
            "SELECT milestone_id FROM milestones WHERE mission_id = $1",
            &[&mission.0],
        )
        .await
        .map_err(sql_error)?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut added_milestones = Vec::new();
    for (ordinal, milestone) in plan.milestones.iter().enumerate() {
        let ordinal = i32::try_from(ordinal).unwrap_or(i32::MAX);
        let is_new = !existing_milestones
            .iter()
            .any(|id| id == milestone.id.as_str());
        transaction
            .execute(
                "INSERT INTO milestones (mission_id, milestone_id, ordinal, state)
                 VALUES ($1, $2, $3, 'pending')
                 ON CONFLICT (mission_id, milestone_id) DO UPDATE SET ordinal = EXCLUDED.ordinal",
                &[&mission.0, &milestone.id.as_str(), &ordinal],
            )
            .await
            .map_err(sql_error)?;
        if is_new {
            added_milestones.push(milestone.id.to_string());
        }
    }
    let mut added_features = Vec::new();
    for (ordinal, feature) in plan.features.iter().enumerate() {
        if plan.milestone_index(&feature.milestone).is_none() {
            return Err(LedgerError::Invalid(format!(
                "feature {} names milestone {}, which plan version {version} does not have",
                feature.id, feature.milestone
            )));
        }
        let ordinal = i32::try_from(ordinal).unwrap_or(i32::MAX);
        let is_new = !existing_features
            .iter()
            .any(|row| row.get::<_, &str>("feature_id") == feature.id.as_str());
        transaction
            .execute(
                "INSERT INTO features (mission_id, feature_id, milestone_id, ordinal, state)
                 VALUES ($1, $2, $3, $4, 'pending')
                 ON CONFLICT (mission_id, feature_id) DO UPDATE SET ordinal = EXCLUDED.ordinal",
                &[
                    &mission.0,
                    &feature.id.as_str(),
                    &feature.milestone.as_str(),
                    &ordinal,
                ],
            )
            .await
            .map_err(sql_error)?;
        if is_new {
            added_features.push(feature.id.to_string());
        }
    }
    Ok((added_milestones, added_features))
}

async fn start_attempt(
    transaction: &Transaction<'_>,
    mission: MissionId,
    attempt: AttemptId,
    target: &AttemptTarget,
    epoch: i64,
    lease: Duration,
) -> LedgerResult<AttemptRecord> {
    let key = target_key(target);
    let next_epoch: i64 = transaction
        .query_one(
            "SELECT COALESCE(MAX(epoch), 0) + 1 FROM attempts WHERE mission_id = $1 AND target_key = $2",
            &[&mission.0, &key],
        )
        .await
        .map_err(sql_error)?
        .get(0);
    if epoch != next_epoch {
        return Err(LedgerError::Conflict(format!(
            "{key} of mission {mission}: the next attempt has epoch {next_epoch}, not {epoch}"
        )));
    }
    if let AttemptTarget::Feature { feature } = target {
        let updated = transaction
            .execute(
                "UPDATE features SET attempts = attempts + 1, updated_at = now()
                 WHERE mission_id = $1 AND feature_id = $2",
                &[&mission.0, &feature.as_str()],
            )
            .await
            .map_err(sql_error)?;
        if updated == 0 {
            return Err(LedgerError::not_found(format!(
                "feature {feature} of mission {mission}"
            )));
        }
    }
    let target_json = serde_json::to_value(target)
        .map_err(|error| LedgerError::Invalid(format!("attempt target: {error}")))?;
    let row = transaction
        .query_one(
            "INSERT INTO attempts (id, mission_id, target_key, target, epoch, state, lease_expires_at)
             VALUES ($1, $2, $3, $4, $6, 'dispatched', now() + make_interval(secs => $5::float8))
             RETURNING id, mission_id, target, epoch, state, worker, lease_expires_at, created_at,
                       finished_at, reason",
            &[&attempt.0, &mission.0, &key, &target_json, &seconds(lease), &epoch],
        )
        .await
        .map_err(|error| match sql_error(error) {
            LedgerError::Conflict(_) => LedgerError::Conflict(format!(
                "{key} of mission {mission} already has a live attempt"
            )),
            other => other,
        })?;
    reads::attempt_row(&row)
}

/// Load an attempt for a fenced write, refusing a stale epoch or (when asked) an
/// expired lease.
async fn fenced_attempt(
    client: &impl GenericClient,
    mission: MissionId,
    fence: AttemptFence,
    needs_live_lease: bool,
) -> LedgerResult<AttemptRecord> {
    let row = client
        .query_opt(
            "SELECT a.id, a.mission_id, a.target, a.epoch, a.state, a.worker, a.lease_expires_at,
                    a.created_at, a.finished_at, a.reason,
                    a.lease_expires_at < now() AS expired,
                    (SELECT MAX(epoch) FROM attempts b
                     WHERE b.mission_id = a.mission_id AND b.target_key = a.target_key) AS current_epoch
             FROM attempts a WHERE a.id = $1 FOR UPDATE OF a",
            &[&fence.attempt.0],
        )
        .await
        .map_err(sql_error)?
        .ok_or_else(|| LedgerError::not_found(format!("attempt {}", fence.attempt)))?;
    let attempt = reads::attempt_row(&row)?;
    if attempt.mission != mission {
        return Err(LedgerError::Invalid(format!(
            "attempt {} belongs to mission {}, not {mission}",
            attempt.id, attempt.mission
        )));
    }
    let current_epoch: i64 = row.get("current_epoch");
    let what = format!("attempt {}", attempt.id);
    if fence.epoch != attempt.epoch || attempt.state.is_terminal() {
        return Err(LedgerError::StaleEpoch {
            what: format!("{what} ({})", attempt.state),
            presented: fence.epoch,
            current: current_epoch,
        });
    }
    let expired: bool = row.get("expired");
    if needs_live_lease && expired {
        return Err(LedgerError::LeaseExpired { what });
    }
    Ok(attempt)
}

pub(super) async fn heartbeat(
    client: &Client,
    fence: AttemptFence,
    actor: &Actor,
    lease: Duration,
) -> LedgerResult<DateTime<Utc>> {
    let row = client
        .query_opt(
            "UPDATE attempts SET lease_expires_at = now() + make_interval(secs => $3::float8)
             WHERE id = $1 AND epoch = $2 AND state IN ('dispatched', 'running')
               AND lease_expires_at >= now()
             RETURNING lease_expires_at",
            &[&fence.attempt.0, &fence.epoch, &seconds(lease)],
        )
        .await
        .map_err(sql_error)?;
    if let Some(row) = row {
        return Ok(row.get(0));
    }
    // Say why it was refused, and audit it.
    let attempt = reads::attempt(client, fence.attempt).await?;
    let error = match fenced_attempt(client, attempt.mission, fence, true).await {
        Err(error) => error,
        Ok(_) => LedgerError::Conflict(format!(
            "attempt {} changed during the heartbeat",
            fence.attempt
        )),
    };
    audit_refusal(client, actor, Some(attempt.mission), &error).await;
    Err(error)
}

pub(super) async fn claim_missions(
    client: &Client,
    replica: &str,
    lease_seconds: f64,
    limit: i64,
) -> LedgerResult<Vec<MissionLease>> {
    let rows = client
        .query(
            "WITH candidates AS (
                 SELECT id FROM missions
                 WHERE state NOT IN ('completed', 'failed', 'cancelled')
                   AND (owner IS NULL OR owner = $1 OR owner_expires_at < now())
                 ORDER BY created_at
                 LIMIT $3
                 FOR UPDATE SKIP LOCKED
             )
             UPDATE missions AS m
             SET owner_epoch = CASE WHEN m.owner = $1 AND m.owner_expires_at >= now()
                                    THEN m.owner_epoch ELSE m.owner_epoch + 1 END,
                 owner = $1,
                 owner_expires_at = now() + make_interval(secs => $2::float8)
             FROM candidates
             WHERE m.id = candidates.id
             RETURNING m.id, m.owner_epoch, m.owner_expires_at",
            &[&replica, &lease_seconds, &limit],
        )
        .await
        .map_err(sql_error)?;
    Ok(rows
        .iter()
        .map(|row| MissionLease {
            mission: MissionId(row.get("id")),
            replica: replica.to_owned(),
            epoch: row.get("owner_epoch"),
            expires_at: row.get("owner_expires_at"),
        })
        .collect())
}
