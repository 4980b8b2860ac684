//! The control API: submit, approve and launch missions, and see where they stand.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use sortie_ledger::{Actor, AttemptTarget, Change, LedgerError, MissionSubmission, Step};
use sortie_model::api::{
    ApiError, ApiErrorBody, ApproveMission, AttemptStatus, AttemptSubject, EventView,
    FeatureStatus, FindingStatus, MilestoneStatus, MissionStatus, MissionSummary, SubmitMission,
    SubmittedMission,
};
use sortie_model::records::Usage;
use sortie_model::state::MissionState;
use sortie_model::{ErrorKind, MissionId, mission_file};

use crate::Core;
use crate::error::OrchestratorError;

/// The largest request body the API reads.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

pub fn router(core: Arc<Core>) -> Router {
    Router::new()
        .route("/healthz", get(health))
        .route("/readyz", get(ready))
        .route("/v1/missions", post(submit).get(list))
        .route("/v1/missions/{id}", get(show))
        .route("/v1/missions/{id}/approve", post(approve))
        .route("/v1/missions/{id}/launch", post(launch))
        .route("/v1/missions/{id}/events", get(events))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(core)
}

/// An error as the API answers it: a status and a JSON body with a stable code.
#[derive(Debug)]
pub struct ApiFailure {
    status: StatusCode,
    body: ApiError,
}

impl ApiFailure {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let code = serde_json::to_value(kind)
            .ok()
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_else(|| "internal".to_owned());
        Self {
            status: StatusCode::from_u16(kind.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body: ApiError {
                error: ApiErrorBody {
                    code,
                    message: message.into(),
                    diagnostics: Vec::new(),
                },
            },
        }
    }
}

impl From<OrchestratorError> for ApiFailure {
    fn from(error: OrchestratorError) -> Self {
        Self::new(error.kind(), error.to_string())
    }
}

impl From<LedgerError> for ApiFailure {
    fn from(error: LedgerError) -> Self {
        Self::new(error.kind(), error.to_string())
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

type ApiResult<T> = Result<T, ApiFailure>;

async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready when the ledger and the bus both answer.
async fn ready(State(core): State<Arc<Core>>) -> ApiResult<Json<serde_json::Value>> {
    core.ledger.now().await?;
    core.bus.ping().await.map_err(OrchestratorError::from)?;
    Ok(Json(
        json!({ "status": "ready", "replica": core.config.replica }),
    ))
}

fn parse_mission_id(text: &str) -> ApiResult<MissionId> {
    text.parse().map_err(|_| {
        ApiFailure::new(
            ErrorKind::BadRequest,
            format!("path parameter id: {text:?} is not a mission id"),
        )
    })
}

async fn submit(
    State(core): State<Arc<Core>>,
    Json(request): Json<SubmitMission>,
) -> ApiResult<(StatusCode, Json<SubmittedMission>)> {
    let parsed = match mission_file::parse(&request.file_name, &request.mission_file) {
        Ok(parsed) => parsed,
        Err(diagnostics) => {
            let mut failure = ApiFailure::new(
                ErrorKind::BadRequest,
                format!(
                    "{} has {} errors",
                    request.file_name,
                    diagnostics.errors().count()
                ),
            );
            failure.body.error.diagnostics = diagnostics.iter().map(ToString::to_string).collect();
            return Err(failure);
        }
    };
    let mut plan = parsed.plan;
    for (name, url) in &request.repositories {
        let repository = plan
            .repositories
            .iter_mut()
            .find(|repository| repository.name.as_str() == name)
            .ok_or_else(|| {
                ApiFailure::new(
                    ErrorKind::BadRequest,
                    format!("repositories.{name}: the mission has no repository named {name:?}"),
                )
            })?;
        repository.url.clone_from(url);
    }
    if !request.approve && request.launch {
        return Err(ApiFailure::new(
            ErrorKind::BadRequest,
            "a draft cannot be launched: submit it with launch false, approve it, then launch it",
        ));
    }
    let submitted_by = request
        .submitted_by
        .clone()
        .unwrap_or_else(|| "anonymous".to_owned());
    let id = core
        .ledger
        .create_mission(MissionSubmission {
            tenant: request
                .tenant
                .clone()
                .unwrap_or_else(|| "default".to_owned()),
            team: request.team.clone().unwrap_or_else(|| "default".to_owned()),
            submitted_by: submitted_by.clone(),
            approved_by: request.approve.then(|| submitted_by.clone()),
            plan,
            source: Some(request.mission_file.clone()),
        })
        .await?;
    let mut state = if request.approve {
        MissionState::Approved
    } else {
        MissionState::Draft
    };
    if request.launch {
        launch_mission(&core, id, &submitted_by).await?;
        state = MissionState::Running;
    }
    Ok((
        StatusCode::CREATED,
        Json(SubmittedMission {
            id,
            state,
            warnings: parsed.warnings.iter().map(ToString::to_string).collect(),
        }),
    ))
}

async fn launch_mission(core: &Core, id: MissionId, by: &str) -> ApiResult<()> {
    let actor = Actor::person(by);
    core.apply(
        Change::new(id, actor)
            .step(Step::Mission {
                to: MissionState::Running,
                reason: format!("launched by {by}"),
            })
            .audit("launch_mission", json!({ "by": by })),
    )
    .await?;
    core.claim.notify_one();
    Ok(())
}

#[derive(Debug, Deserialize)]
struct LaunchRequest {
    #[serde(default)]
    by: Option<String>,
}

async fn launch(
    State(core): State<Arc<Core>>,
    Path(id): Path<String>,
    body: Option<Json<LaunchRequest>>,
) -> ApiResult<Json<serde_json::Value>> {
    let id = parse_mission_id(&id)?;
    let by = body
        .and_then(|Json(request)| request.by)
        .unwrap_or_else(|| "anonymous".to_owned());
    launch_mission(&core, id, &by).await?;
    Ok(Json(json!({ "id": id, "state": MissionState::Running })))
}

/// Approve a draft's plan version; the ledger refuses a stale version and a second
/// approval.
async fn approve(
    State(core): State<Arc<Core>>,
    Path(id): Path<String>,
    Json(request): Json<ApproveMission>,
) -> ApiResult<Json<MissionSummary>> {
    let id = parse_mission_id(&id)?;
    let by = request.by.unwrap_or_else(|| "anonymous".to_owned());
    core.apply(Change::new(id, Actor::person(&by)).step(Step::Approve {
        by,
        plan_version: request.plan_version,
    }))
    .await?;
    let record = core.ledger.mission(id).await?;
    let usage = core
        .ledger
        .mission_usage(&[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    Ok(Json(summary(&record, usage)))
}

fn summary(record: &sortie_ledger::MissionRecord, usage: Usage) -> MissionSummary {
    MissionSummary {
        id: record.id,
        name: record.name.clone(),
        state: record.state,
        plan_version: record.plan_version,
        tenant: record.tenant.clone(),
        team: record.team.clone(),
        submitted_by: record.submitted_by.clone(),
        created_at: record.created_at,
        updated_at: record.updated_at,
        owner: record.owner.as_ref().map(|lease| lease.replica.clone()),
        approved_by: record.approval.as_ref().map(|approval| approval.by.clone()),
        approved_plan_version: record
            .approval
            .as_ref()
            .map(|approval| approval.plan_version),
        approved_at: record.approval.as_ref().map(|approval| approval.at),
        usage,
    }
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(default = "default_list_limit")]
    limit: usize,
}

fn default_list_limit() -> usize {
    100
}

async fn list(
    State(core): State<Arc<Core>>,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Vec<MissionSummary>>> {
    let missions = core.ledger.missions(query.limit.min(1000)).await?;
    let ids: Vec<MissionId> = missions.iter().map(|mission| mission.id).collect();
    let mut usage = core.ledger.mission_usage(&ids).await?;
    Ok(Json(
        missions
            .iter()
            .map(|mission| summary(mission, usage.remove(&mission.id).unwrap_or_default()))
            .collect(),
    ))
}

async fn show(
    State(core): State<Arc<Core>>,
    Path(id): Path<String>,
) -> ApiResult<Json<MissionStatus>> {
    let id = parse_mission_id(&id)?;
    let ledger = &core.ledger;
    let record = ledger.mission(id).await?;
    let plan = ledger.plan(id, None).await?.plan;
    let handoffs = ledger.handoffs(id).await?;
    let attempts = ledger.attempts(id).await?;
    let usage = ledger
        .mission_usage(&[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    let milestones = ledger
        .milestones(id)
        .await?
        .into_iter()
        .map(|milestone| MilestoneStatus {
            title: plan
                .milestones
                .iter()
                .find(|spec| spec.id == milestone.id)
                .map(|spec| spec.title.clone())
                .unwrap_or_default(),
            id: milestone.id,
            state: milestone.state,
        })
        .collect();
    let features = ledger
        .features(id)
        .await?
        .into_iter()
        .map(|feature| {
            let spec = plan.feature(&feature.id);
            let integrated_commit = attempts
                .iter()
                .filter(|attempt| {
                    matches!(&attempt.target, AttemptTarget::Feature { feature: target } if *target == feature.id)
                })
                .filter_map(|attempt| handoffs.iter().find(|handoff| handoff.attempt == attempt.id))
                .find_map(|handoff| handoff.handoff.integrated_commit.clone());
            FeatureStatus {
                title: spec.map(|spec| spec.title.clone()).unwrap_or_default(),
                repository: spec
                    .map(|spec| spec.repository.clone())
                    .unwrap_or_else(|| "".into()),
                fix_round: spec.and_then(|spec| spec.fix.as_ref().map(|fix| fix.round)),
                id: feature.id,
                milestone: feature.milestone,
                state: feature.state,
                attempts: feature.attempts,
                not_before: feature.not_before,
                integrated_commit,
            }
        })
        .collect();
    let attempts = attempts
        .into_iter()
        .map(|attempt| AttemptStatus {
            id: attempt.id,
            subject: match attempt.target {
                AttemptTarget::Feature { feature } => AttemptSubject::Feature { feature },
                AttemptTarget::Validation {
                    milestone,
                    repository,
                } => AttemptSubject::Validation {
                    milestone,
                    repository,
                },
            },
            epoch: attempt.epoch,
            state: attempt.state,
            worker: attempt.worker,
            created_at: attempt.created_at,
            finished_at: attempt.finished_at,
            reason: attempt.reason,
            usage: handoffs
                .iter()
                .find(|handoff| handoff.attempt == attempt.id)
                .and_then(|handoff| handoff.handoff.usage.clone()),
        })
        .collect();
    let findings = ledger
        .findings(id)
        .await?
        .into_iter()
        .map(|finding| FindingStatus {
            milestone: finding.milestone,
            attempt: finding.attempt,
            finding: finding.finding,
            at: finding.at,
        })
        .collect();
    let blocked_reason = if record.state == MissionState::Blocked {
        last_mission_reason(&core, id).await?
    } else {
        None
    };
    Ok(Json(MissionStatus {
        mission: summary(&record, usage),
        milestones,
        features,
        attempts,
        findings,
        blocked_reason,
    }))
}

/// The reason of the mission's last state change.
async fn last_mission_reason(core: &Core, id: MissionId) -> ApiResult<Option<String>> {
    let mut after = 0;
    let mut reason = None;
    loop {
        let events = core.ledger.events(id, after, 1000).await?;
        let Some(last) = events.last() else { break };
        after = last.seq;
        if let Some(found) = events
            .iter()
            .rev()
            .find(|event| event.kind == "mission_state")
            .and_then(|event| event.data["reason"].as_str())
        {
            reason = Some(found.to_owned());
        }
    }
    Ok(reason)
}

#[derive(Debug, Deserialize)]
struct EventsQuery {
    #[serde(default)]
    after: i64,
    #[serde(default = "default_events_limit")]
    limit: usize,
}

fn default_events_limit() -> usize {
    500
}

async fn events(
    State(core): State<Arc<Core>>,
    Path(id): Path<String>,
    Query(query): Query<EventsQuery>,
) -> ApiResult<Json<Vec<EventView>>> {
    let id = parse_mission_id(&id)?;
    let events = core
        .ledger
        .events(id, query.after, query.limit.min(5000))
        .await?;
    Ok(Json(
        events
            .into_iter()
            .map(|event| EventView {
                seq: event.seq,
                at: event.at,
                kind: event.kind,
                actor: event.actor.0,
                data: event.data,
            })
            .collect(),
    ))
}
