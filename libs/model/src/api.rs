//! The shapes of the orchestrator's HTTP API, shared by the service and its clients.
//!
//! Invariant: like messages, these only gain fields.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AttemptId, FeatureId, MilestoneId, MissionId, RepositoryName};
use crate::records::{Finding, Usage};
use crate::state::{AttemptState, FeatureState, MilestoneState, MissionState};

/// `POST /v1/missions`: a mission file to store and, unless `launch` is false, run. With
/// `approve` false it is stored as a draft, which must be approved before it is launched.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SubmitMission {
    /// The mission file's text.
    pub mission_file: String,
    /// The name errors are reported against.
    #[serde(default = "default_file_name")]
    pub file_name: String,
    /// Repository URLs to use instead of those the file gives, by repository name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub repositories: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_by: Option<String>,
    #[serde(default = "launch_by_default")]
    pub launch: bool,
    /// The submitter approves the plan as submitted; false stores a draft.
    #[serde(default = "approve_by_default")]
    pub approve: bool,
}

fn default_file_name() -> String {
    "mission.toml".to_owned()
}

fn launch_by_default() -> bool {
    true
}

fn approve_by_default() -> bool {
    true
}

/// `POST /v1/missions/{id}/approve`: approve a draft mission's plan, naming the version
/// the approver read; a version that is no longer the current one is refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApproveMission {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    pub plan_version: i32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SubmittedMission {
    pub id: MissionId,
    pub state: MissionState,
    /// The mission file's warnings, one line each.
    #[serde(default)]
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MissionSummary {
    pub id: MissionId,
    pub name: String,
    pub state: MissionState,
    pub plan_version: i32,
    pub tenant: String,
    pub team: String,
    pub submitted_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The orchestrator replica driving the mission now, while its lease is held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Who approved the plan, which version and when; absent while it is a draft.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_plan_version: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_at: Option<DateTime<Utc>>,
    /// What the agents of all its attempts used so far, finished and failed alike;
    /// `cost_usd` is absent while no attempt reported dollars.
    #[serde(default)]
    pub usage: Usage,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MilestoneStatus {
    pub id: MilestoneId,
    pub title: String,
    pub state: MilestoneState,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureStatus {
    pub id: FeatureId,
    pub title: String,
    pub milestone: MilestoneId,
    pub repository: RepositoryName,
    pub state: FeatureState,
    pub attempts: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<DateTime<Utc>>,
    /// The fix round that created it, for fix features.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix_round: Option<u32>,
    /// The commit that integrated it, once done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrated_commit: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AttemptSubject {
    Feature {
        feature: FeatureId,
    },
    Validation {
        milestone: MilestoneId,
        repository: RepositoryName,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttemptStatus {
    pub id: AttemptId,
    pub subject: AttemptSubject,
    pub epoch: i64,
    pub state: AttemptState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What its agent used, as its handoff reported it; absent for attempts without a
    /// handoff (validations, attempts still running or lost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FindingStatus {
    pub milestone: MilestoneId,
    pub attempt: AttemptId,
    pub finding: Finding,
    pub at: DateTime<Utc>,
}

/// `GET /v1/missions/{id}`: where a mission stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MissionStatus {
    pub mission: MissionSummary,
    pub milestones: Vec<MilestoneStatus>,
    pub features: Vec<FeatureStatus>,
    pub attempts: Vec<AttemptStatus>,
    pub findings: Vec<FindingStatus>,
    /// Why the mission waits for a person, when it is blocked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_reason: Option<String>,
}

/// One entry of a mission's event log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventView {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub actor: String,
    pub data: serde_json::Value,
}

/// Every error the API answers with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: ApiErrorBody,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    /// A stable code (`bad_request`, `not_found`, `conflict`, ...).
    pub code: String,
    pub message: String,
    /// A mission file's problems, one line each, with file, line, column and field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<String>,
}
