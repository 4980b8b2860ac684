//! Reading the ledger: rows to records.

use std::collections::HashMap;
use std::str::FromStr;

use sortie_model::records::Usage;
use sortie_model::{AttemptId, FeatureId, MilestoneId, MissionId, Plan};
use tokio_postgres::{GenericClient, Row};

use super::sql_error;
use crate::error::{LedgerError, LedgerResult};
use crate::types::*;

const MISSION_COLUMNS: &str = "id, tenant, team, submitted_by, name, state, plan_version, \
     created_at, updated_at, owner, owner_epoch, owner_expires_at, \
     approved_by, approved_plan_version, approved_at";

const ATTEMPT_COLUMNS: &str = "id, mission_id, target, epoch, state, worker, lease_expires_at, created_at, finished_at, reason";

pub(super) fn parse_state<S: FromStr>(text: &str) -> LedgerResult<S>
where
    S::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|error: S::Err| LedgerError::Corrupt(error.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
    what: &str,
) -> LedgerResult<T> {
    serde_json::from_value(value).map_err(|error| LedgerError::Corrupt(format!("{what}: {error}")))
}

fn mission_row(row: &Row) -> LedgerResult<MissionRecord> {
    let id = MissionId(row.get("id"));
    let owner: Option<String> = row.get("owner");
    let owner_expires_at: Option<chrono::DateTime<chrono::Utc>> = row.get("owner_expires_at");
    let owner = match (owner, owner_expires_at) {
        (Some(replica), Some(expires_at)) => Some(MissionLease {
            mission: id,
            replica,
            epoch: row.get("owner_epoch"),
            expires_at,
        }),
        _ => None,
    };
    let approved_by: Option<String> = row.get("approved_by");
    let approved_plan_version: Option<i32> = row.get("approved_plan_version");
    let approved_at: Option<chrono::DateTime<chrono::Utc>> = row.get("approved_at");
    let approval = match (approved_by, approved_plan_version, approved_at) {
        (Some(by), Some(plan_version), Some(at)) => Some(Approval {
            by,
            plan_version,
            at,
        }),
        _ => None,
    };
    Ok(MissionRecord {
        id,
        tenant: row.get("tenant"),
        team: row.get("team"),
        submitted_by: row.get("submitted_by"),
        name: row.get("name"),
        state: parse_state(row.get("state"))?,
        plan_version: row.get("plan_version"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
        owner,
        approval,
    })
}

pub(super) fn attempt_row(row: &Row) -> LedgerResult<AttemptRecord> {
    Ok(AttemptRecord {
        id: AttemptId(row.get("id")),
        mission: MissionId(row.get("mission_id")),
        target: from_json(row.get("target"), "attempt target")?,
        epoch: row.get("epoch"),
        state: parse_state(row.get("state"))?,
        worker: row.get("worker"),
        lease_expires_at: row.get("lease_expires_at"),
        created_at: row.get("created_at"),
        finished_at: row.get("finished_at"),
        reason: row.get("reason"),
    })
}

pub(super) async fn mission(
    client: &impl GenericClient,
    id: MissionId,
) -> LedgerResult<MissionRecord> {
    let query = format!("SELECT {MISSION_COLUMNS} FROM missions WHERE id = $1");
    let row = client
        .query_opt(&query, &[&id.0])
        .await
        .map_err(sql_error)?
        .ok_or_else(|| LedgerError::not_found(format!("mission {id}")))?;
    mission_row(&row)
}

pub(super) async fn missions(
    client: &impl GenericClient,
    limit: i64,
) -> LedgerResult<Vec<MissionRecord>> {
    let query = format!(
        "SELECT {MISSION_COLUMNS} FROM missions ORDER BY created_at DESC, id DESC LIMIT $1"
    );
    let rows = client.query(&query, &[&limit]).await.map_err(sql_error)?;
    rows.iter().map(mission_row).collect()
}

pub(super) async fn plan(
    client: &impl GenericClient,
    id: MissionId,
    version: Option<i32>,
) -> LedgerResult<PlanVersion> {
    let row = client
        .query_opt(
            "SELECT version, plan, source, created_by, approved_by, created_at
             FROM plan_versions
             WHERE mission_id = $1
               AND version = COALESCE($2, (SELECT plan_version FROM missions WHERE id = $1))",
            &[&id.0, &version],
        )
        .await
        .map_err(sql_error)?
        .ok_or_else(|| match version {
            Some(version) => {
                LedgerError::not_found(format!("plan version {version} of mission {id}"))
            }
            None => LedgerError::not_found(format!("mission {id}")),
        })?;
    let plan: Plan = from_json(row.get("plan"), "plan")?;
    Ok(PlanVersion {
        mission: id,
        version: row.get("version"),
        plan,
        source: row.get("source"),
        created_by: row.get("created_by"),
        approved_by: row.get("approved_by"),
        created_at: row.get("created_at"),
    })
}

/// Refuse reads of a mission that does not exist, rather than answering with nothing.
/// Asked only when a read found no rows: rows of a mission imply the mission, so a read
/// that finds some takes one round trip, not two.
async fn require_mission(client: &impl GenericClient, id: MissionId) -> LedgerResult<()> {
    let exists = client
        .query_opt("SELECT 1 FROM missions WHERE id = $1", &[&id.0])
        .await
        .map_err(sql_error)?
        .is_some();
    if exists {
        Ok(())
    } else {
        Err(LedgerError::not_found(format!("mission {id}")))
    }
}

pub(super) async fn milestones(
    client: &impl GenericClient,
    id: MissionId,
) -> LedgerResult<Vec<MilestoneRecord>> {
    let rows = client
        .query(
            "SELECT milestone_id, ordinal, state FROM milestones
             WHERE mission_id = $1 ORDER BY ordinal",
            &[&id.0],
        )
        .await
        .map_err(sql_error)?;
    if rows.is_empty() {
        require_mission(client, id).await?;
    }
    rows.iter()
        .map(|row| {
            Ok(MilestoneRecord {
                mission: id,
                id: MilestoneId(row.get("milestone_id")),
                ordinal: row.get("ordinal"),
                state: parse_state(row.get("state"))?,
            })
        })
        .collect()
}

pub(super) async fn features(
    client: &impl GenericClient,
    id: MissionId,
) -> LedgerResult<Vec<FeatureRecord>> {
    let rows = client
        .query(
            "SELECT feature_id, milestone_id, state, attempts, not_before FROM features
             WHERE mission_id = $1 ORDER BY ordinal",
            &[&id.0],
        )
        .await
        .map_err(sql_error)?;
    if rows.is_empty() {
        require_mission(client, id).await?;
    }
    rows.iter()
        .map(|row| {
            Ok(FeatureRecord {
                mission: id,
                id: FeatureId(row.get("feature_id")),
                milestone: MilestoneId(row.get("milestone_id")),
                state: parse_state(row.get("state"))?,
                attempts: row.get("attempts"),
                not_before: row.get("not_before"),
            })
        })
        .collect()
}

pub(super) async fn attempts(
    client: &impl GenericClient,
    id: MissionId,
) -> LedgerResult<Vec<AttemptRecord>> {
    let query = format!(
        "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE mission_id = $1 ORDER BY created_at, id"
    );
    let rows = client.query(&query, &[&id.0]).await.map_err(sql_error)?;
    if rows.is_empty() {
        require_mission(client, id).await?;
    }
    rows.iter().map(attempt_row).collect()
}

pub(super) async fn attempt(
    client: &impl GenericClient,
    id: AttemptId,
) -> LedgerResult<AttemptRecord> {
    let query = format!("SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE id = $1");
    let row = client
        .query_opt(&query, &[&id.0])
        .await
        .map_err(sql_error)?
        .ok_or_else(|| LedgerError::not_found(format!("attempt {id}")))?;
    attempt_row(&row)
}

pub(super) async fn expired_attempts(
    client: &impl GenericClient,
    limit: i64,
) -> LedgerResult<Vec<AttemptRecord>> {
    let query = format!(
        "SELECT {ATTEMPT_COLUMNS} FROM attempts
         WHERE state IN ('dispatched', 'running') AND lease_expires_at < now()
         ORDER BY lease_expires_at LIMIT $1"
    );
    let rows = client.query(&query, &[&limit]).await.map_err(sql_error)?;
    rows.iter().map(attempt_row).collect()
}

pub(super) async fn handoffs(
    client: &impl GenericClient,
    id: MissionId,
) -> LedgerResult<Vec<HandoffRecord>> {
    let rows = client
        .query(
            "SELECT attempt_id, handoff, created_at FROM handoffs
             WHERE mission_id = $1 ORDER BY created_at, attempt_id",
            &[&id.0],
        )
        .await
        .map_err(sql_error)?;
    if rows.is_empty() {
        require_mission(client, id).await?;
    }
    rows.iter()
        .map(|row| {
            Ok(HandoffRecord {
                attempt: AttemptId(row.get("attempt_id")),
                handoff: from_json(row.get("handoff"), "handoff")?,
                at: row.get("created_at"),
            })
        })
        .collect()
}

pub(super) async fn findings(
    client: &impl GenericClient,
    id: MissionId,
) -> LedgerResult<Vec<FindingRecord>> {
    let rows = client
        .query(
            "SELECT id, attempt_id, milestone_id, finding, created_at FROM findings
             WHERE mission_id = $1 ORDER BY id",
            &[&id.0],
        )
        .await
        .map_err(sql_error)?;
    if rows.is_empty() {
        require_mission(client, id).await?;
    }
    rows.iter()
        .map(|row| {
            Ok(FindingRecord {
                id: row.get("id"),
                mission: id,
                attempt: AttemptId(row.get("attempt_id")),
                milestone: MilestoneId(row.get("milestone_id")),
                finding: from_json(row.get("finding"), "finding")?,
                at: row.get("created_at"),
            })
        })
        .collect()
}

/// Every mission's usage in one statement: the handoffs' JSON is summed where it lies.
/// `sum` skips handoffs without usage, and over only those gives null, which for dollars
/// means "unknown".
pub(super) async fn mission_usage(
    client: &impl GenericClient,
    ids: &[MissionId],
) -> LedgerResult<HashMap<MissionId, Usage>> {
    let ids: Vec<uuid::Uuid> = ids.iter().map(|id| id.0).collect();
    let rows = client
        .query(
            "SELECT mission_id,
                coalesce(sum((handoff->'usage'->>'input_tokens')::bigint), 0)::bigint AS input_tokens,
                coalesce(sum((handoff->'usage'->>'output_tokens')::bigint), 0)::bigint AS output_tokens,
                coalesce(sum((handoff->'usage'->>'cached_input_tokens')::bigint), 0)::bigint
                    AS cached_input_tokens,
                sum((handoff->'usage'->>'cost_usd')::float8) AS cost_usd,
                coalesce(sum((handoff->'usage'->>'turns')::bigint), 0)::bigint AS turns,
                coalesce(sum((handoff->'usage'->>'tool_calls')::bigint), 0)::bigint AS tool_calls,
                coalesce(sum((handoff->'usage'->>'wall_ms')::bigint), 0)::bigint AS wall_ms
             FROM handoffs WHERE mission_id = ANY($1) AND handoff ? 'usage'
             GROUP BY mission_id",
            &[&ids],
        )
        .await
        .map_err(sql_error)?;
    rows.iter()
        .map(|row| {
            let count = |column: &str| -> LedgerResult<u64> {
                u64::try_from(row.get::<_, i64>(column)).map_err(|_| {
                    LedgerError::Corrupt(format!("handoff usage: a negative {column}"))
                })
            };
            let usage = Usage {
                input_tokens: count("input_tokens")?,
                output_tokens: count("output_tokens")?,
                cached_input_tokens: count("cached_input_tokens")?,
                cost_usd: row.get("cost_usd"),
                turns: u32::try_from(count("turns")?).unwrap_or(u32::MAX),
                tool_calls: u32::try_from(count("tool_calls")?).unwrap_or(u32::MAX),
                wall_ms: count("wall_ms")?,
            };
            Ok((MissionId(row.get("mission_id")), usage))
        })
        .collect()
}

pub(super) async fn events(
    client: &impl GenericClient,
    id: MissionId,
    after_seq: i64,
    limit: i64,
) -> LedgerResult<Vec<EventRecord>> {
    let rows = client
        .query(
            "SELECT seq, at, kind, actor, data FROM events
             WHERE mission_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            &[&id.0, &after_seq, &limit],
        )
        .await
        .map_err(sql_error)?;
    if rows.is_empty() {
        require_mission(client, id).await?;
    }
    Ok(rows
        .iter()
        .map(|row| EventRecord {
            mission: id,
            seq: row.get("seq"),
            at: row.get("at"),
            kind: row.get("kind"),
            actor: Actor(row.get("actor")),
            data: row.get("data"),
        })
        .collect())
}

pub(super) async fn audit_log(
    client: &impl GenericClient,
    mission: Option<MissionId>,
    after_id: i64,
    limit: i64,
) -> LedgerResult<Vec<AuditRecord>> {
    let mission_uuid = mission.map(|id| id.0);
    let rows = client
        .query(
            "SELECT id, at, actor, action, mission_id, detail FROM audit_log
             WHERE id > $1 AND ($2::uuid IS NULL OR mission_id = $2)
             ORDER BY id LIMIT $3",
            &[&after_id, &mission_uuid, &limit],
        )
        .await
        .map_err(sql_error)?;
    Ok(rows
        .iter()
        .map(|row| AuditRecord {
            id: row.get("id"),
            at: row.get("at"),
            actor: Actor(row.get("actor")),
            action: row.get("action"),
            mission: row
                .get::<_, Option<uuid::Uuid>>("mission_id")
                .map(MissionId),
            detail: row.get("detail"),
        })
        .collect())
}
