//! Sortie's mission ledger: the truth about every mission.
//!
//! Invariant: only this crate speaks SQL. Every state change goes through
//! [`Ledger::apply`], which checks each transition against the model's tables, writes the
//! events, the outbox rows and the audit entries in the same transaction, and refuses a
//! stale lease epoch (and audits the refusal).
//!
//! Invariant: time for leases is the database's time, never a node's clock.

mod error;
mod outbox;
mod types;

pub mod conformance;
pub mod postgres;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sortie_model::records::Usage;
use sortie_model::{AttemptId, MissionId};

pub use error::{LedgerError, LedgerResult};
pub use outbox::{OutboxRow, OutboxSink, OutboxSinkError, OutgoingMessage};
pub use postgres::{PostgresLedger, PostgresOptions};
pub use types::*;

/// The ledger's operations. The Postgres ledger implements it; an embedded one can, and
/// both must pass the conformance suite in [`conformance`].
#[async_trait]
pub trait Ledger: Send + Sync + std::fmt::Debug {
    /// The ledger's clock.
    async fn now(&self) -> LedgerResult<DateTime<Utc>>;

    /// Store a new mission with plan version 1, its milestones and features: in `approved`
    /// when the submission names its approver, else in `draft`.
    async fn create_mission(&self, submission: MissionSubmission) -> LedgerResult<MissionId>;

    async fn mission(&self, id: MissionId) -> LedgerResult<MissionRecord>;

    /// Missions, newest first.
    async fn missions(&self, limit: usize) -> LedgerResult<Vec<MissionRecord>>;

    /// A plan version, or the current one.
    async fn plan(&self, id: MissionId, version: Option<i32>) -> LedgerResult<PlanVersion>;

    async fn milestones(&self, id: MissionId) -> LedgerResult<Vec<MilestoneRecord>>;

    async fn features(&self, id: MissionId) -> LedgerResult<Vec<FeatureRecord>>;

    async fn attempts(&self, id: MissionId) -> LedgerResult<Vec<AttemptRecord>>;

    async fn attempt(&self, id: AttemptId) -> LedgerResult<AttemptRecord>;

    async fn handoffs(&self, id: MissionId) -> LedgerResult<Vec<HandoffRecord>>;

    async fn findings(&self, id: MissionId) -> LedgerResult<Vec<FindingRecord>>;

    /// What the agents of each mission's attempts used: the sums over every stored
    /// handoff, of finished and failed attempts alike, computed by the ledger without
    /// reading the handoffs out. A mission whose handoffs carry no usage is absent;
    /// dollars stay unknown while no handoff reported any.
    async fn mission_usage(&self, ids: &[MissionId]) -> LedgerResult<HashMap<MissionId, Usage>>;

    /// Apply a change: all of it, or none of it.
    async fn apply(&self, change: Change) -> LedgerResult<Applied>;

    /// Extend a live attempt's lease; refused (and audited) with a stale epoch or an
    /// expired lease. Returns the new expiry.
    async fn heartbeat(
        &self,
        fence: AttemptFence,
        actor: &Actor,
        lease: Duration,
    ) -> LedgerResult<DateTime<Utc>>;

    /// Live attempts whose lease ran out by the database's clock.
    async fn expired_attempts(&self, limit: usize) -> LedgerResult<Vec<AttemptRecord>>;

    /// The mission's events after `after_seq`, in order.
    async fn events(
        &self,
        id: MissionId,
        after_seq: i64,
        limit: usize,
    ) -> LedgerResult<Vec<EventRecord>>;

    /// Audit entries after `after_id`, oldest first, for one mission or all.
    async fn audit_log(
        &self,
        mission: Option<MissionId>,
        after_id: i64,
        limit: usize,
    ) -> LedgerResult<Vec<AuditRecord>>;

    /// Hand up to `limit` unsent outbox rows to `sink` in order, and mark them sent only
    /// once the sink took them all. Several relays may drain at once; each row goes to one.
    async fn drain_outbox(&self, limit: usize, sink: &dyn OutboxSink) -> LedgerResult<usize>;

    /// How many outbox rows are not sent yet.
    async fn outbox_backlog(&self) -> LedgerResult<i64>;

    /// Take or renew leases on up to `limit` unfinished missions for `replica`: those it
    /// holds, and those whose lease is free or expired. A mission changing hands gets a
    /// new epoch.
    async fn claim_missions(
        &self,
        replica: &str,
        lease: Duration,
        limit: usize,
    ) -> LedgerResult<Vec<MissionLease>>;

    /// Give up a mission lease (on a clean shutdown) so another replica takes it at once.
    async fn release_mission(&self, fence: &OwnerFence, mission: MissionId) -> LedgerResult<()>;
}
