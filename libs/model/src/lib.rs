//! Sortie's mission model: the plan, the mission file, the state machines and the
//! scheduler.
//!
//! Invariant: this crate does no I/O. It parses text it is handed, validates it and
//! computes decisions; the ledger, the bus and the services act on them.

pub mod api;
pub mod error;
pub mod ids;
pub mod lint;
pub mod mcp;
pub mod messages;
pub mod mission_file;
pub mod plan;
pub mod planner;
pub mod protocol;
pub mod records;
pub mod scheduler;
pub mod skills;
pub mod state;
pub mod survey;
pub mod touches;

pub use error::ErrorKind;
pub use ids::{
    AssertionId, AttemptFence, AttemptId, FeatureId, MilestoneId, MissionId, RepositoryName,
};
pub use plan::Plan;
