//! What the ledger stores and returns, and the changes it applies.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
pub use sortie_model::ids::AttemptFence;
use sortie_model::records::{Finding, Handoff};
use sortie_model::state::{AttemptState, FeatureState, MilestoneState, MissionState};
use sortie_model::{AttemptId, FeatureId, MilestoneId, MissionId, Plan, RepositoryName};

use crate::outbox::OutgoingMessage;

/// Who caused a change: `person:alice`, `orchestrator:replica-1`, `worker:w3`, `system`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Actor(pub String);

impl Actor {
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    pub fn person(name: &str) -> Self {
        Self(format!("person:{name}"))
    }

    pub fn system() -> Self {
        Self("system".to_owned())
    }
}

/// A new mission, with its first plan version, as a person submits it.
#[derive(Clone, Debug)]
pub struct MissionSubmission {
    pub tenant: String,
    pub team: String,
    pub submitted_by: String,
    /// Who approved plan version 1 as it was submitted; `None` stores a draft, which
    /// [`Step::Approve`] approves later.
    pub approved_by: Option<String>,
    pub plan: Plan,
    /// The mission file's text, kept beside the plan for the record.
    pub source: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MissionRecord {
    pub id: MissionId,
    pub tenant: String,
    pub team: String,
    pub submitted_by: String,
    pub name: String,
    pub state: MissionState,
    pub plan_version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The orchestrator replica that owns the mission now, if its lease is held.
    pub owner: Option<MissionLease>,
    /// Who approved which plan version, and when; `None` while it is a draft.
    pub approval: Option<Approval>,
}

/// A person's approval of one plan version of a mission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approval {
    pub by: String,
    pub plan_version: i32,
    pub at: DateTime<Utc>,
}

/// A replica's fenced lease on a mission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissionLease {
    pub mission: MissionId,
    pub replica: String,
    pub epoch: i64,
    pub expires_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PlanVersion {
    pub mission: MissionId,
    pub version: i32,
    pub plan: Plan,
    pub source: Option<String>,
    pub created_by: String,
    pub approved_by: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MilestoneRecord {
    pub mission: MissionId,
    pub id: MilestoneId,
    /// The milestone's place in the plan, from 0.
    pub ordinal: i32,
    pub state: MilestoneState,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FeatureRecord {
    pub mission: MissionId,
    pub id: FeatureId,
    pub milestone: MilestoneId,
    pub state: FeatureState,
    /// How many attempts were started.
    pub attempts: i32,
    /// Not dispatched again before this time (backoff after a failed attempt).
    pub not_before: Option<DateTime<Utc>>,
}

/// What an attempt works on.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AttemptTarget {
    Feature {
        feature: FeatureId,
    },
    Validation {
        milestone: MilestoneId,
        repository: RepositoryName,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct AttemptRecord {
    pub id: AttemptId,
    pub mission: MissionId,
    pub target: AttemptTarget,
    /// The lease epoch: the attempt's number for its target, from 1.
    pub epoch: i64,
    pub state: AttemptState,
    pub worker: Option<String>,
    pub lease_expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
}

impl AttemptRecord {
    pub fn fence(&self) -> AttemptFence {
        AttemptFence {
            attempt: self.id,
            epoch: self.epoch,
        }
    }
}

/// The token an orchestrator replica presents with every change to a mission it owns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerFence {
    pub replica: String,
    pub epoch: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EventRecord {
    pub mission: MissionId,
    /// The event's place in its mission's log, from 1, without gaps.
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub actor: Actor,
    pub data: serde_json::Value,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AuditRecord {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub action: String,
    pub mission: Option<MissionId>,
    pub detail: serde_json::Value,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    pub action: String,
    pub detail: serde_json::Value,
}

#[derive(Clone, Debug, PartialEq)]
pub struct HandoffRecord {
    pub attempt: AttemptId,
    pub handoff: Handoff,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FindingRecord {
    pub id: i64,
    pub mission: MissionId,
    pub attempt: AttemptId,
    pub milestone: MilestoneId,
    pub finding: Finding,
    pub at: DateTime<Utc>,
}

/// One step of a [`Change`]. Every step writes one event to the mission's log.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Mission {
        to: MissionState,
        reason: String,
    },
    /// Approve a draft mission's plan: `plan_version` must be its current version. Moves
    /// the mission from `draft` to `approved`, records who approved which version and
    /// when on the mission, and writes an audit entry. A mission approved before is
    /// refused, never approved again.
    Approve {
        by: String,
        plan_version: i32,
    },
    Milestone {
        id: MilestoneId,
        to: MilestoneState,
        reason: String,
    },
    Feature {
        id: FeatureId,
        to: FeatureState,
        reason: String,
        /// Backoff: the feature is not dispatched again before this long from now.
        not_before: Option<Duration>,
    },
    /// Create an attempt in `dispatched`. `epoch` must be the next epoch for its target
    /// (one more than its last attempt's, 1 for the first): the caller names it, so the
    /// messages it commits with the attempt can carry it.
    StartAttempt {
        attempt: AttemptId,
        target: AttemptTarget,
        epoch: i64,
        /// How long the attempt may wait for a worker before it is abandoned.
        lease: Duration,
    },
    /// Change a live attempt's state; refused with a stale epoch or an expired lease.
    Attempt {
        fence: AttemptFence,
        to: AttemptState,
        reason: String,
        /// The worker taking the attempt, when it starts running.
        worker: Option<String>,
        /// A new lease, counted from the database's now.
        lease: Option<Duration>,
    },
    /// Abandon an attempt whose lease has run out, judged by the database's clock.
    AbandonExpired {
        attempt: AttemptId,
        reason: String,
    },
    /// Store a handoff for a live attempt.
    Handoff {
        fence: AttemptFence,
        handoff: Handoff,
    },
    /// Store a validator's finding.
    Finding {
        fence: AttemptFence,
        milestone: MilestoneId,
        finding: Finding,
    },
    /// Store a new plan version. Milestones and features it adds start `pending`; it may
    /// not drop a feature that is not cancelled.
    AmendPlan {
        plan: Box<Plan>,
        created_by: String,
        approved_by: Option<String>,
        reason: String,
    },
    /// An event with no state change.
    Note {
        kind: String,
        data: serde_json::Value,
    },
}

/// A unit of work on one mission: its steps, the events they write, the messages they
/// cause and the audit entries, committed together or not at all.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub mission: MissionId,
    pub actor: Actor,
    /// The owning replica's fence; a change with a stale one is refused.
    pub owner: Option<OwnerFence>,
    /// The dedupe id of the message this change applies: a change whose id was applied
    /// before is not applied again.
    pub inbox: Option<String>,
    pub steps: Vec<Step>,
    pub outbox: Vec<OutgoingMessage>,
    pub audit: Vec<AuditEntry>,
}

impl Change {
    pub fn new(mission: MissionId, actor: Actor) -> Self {
        Self {
            mission,
            actor,
            owner: None,
            inbox: None,
            steps: Vec::new(),
            outbox: Vec::new(),
            audit: Vec::new(),
        }
    }

    pub fn owned_by(mut self, fence: OwnerFence) -> Self {
        self.owner = Some(fence);
        self
    }

    pub fn applying(mut self, msg_id: impl Into<String>) -> Self {
        self.inbox = Some(msg_id.into());
        self
    }

    pub fn step(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }

    pub fn send(mut self, message: OutgoingMessage) -> Self {
        self.outbox.push(message);
        self
    }

    pub fn audit(mut self, action: impl Into<String>, detail: serde_json::Value) -> Self {
        self.audit.push(AuditEntry {
            action: action.into(),
            detail,
        });
        self
    }
}

/// What applying a change did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Applied {
    /// The change's inbox id was applied before: nothing was written.
    pub duplicate: bool,
    /// The sequence numbers of the events written.
    pub events: Vec<i64>,
    /// Attempts created, with their epochs and lease expiries.
    pub started: Vec<AttemptRecord>,
}
