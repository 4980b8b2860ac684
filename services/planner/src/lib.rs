//! The planner: from a goal and a repository to a mission file Sortie accepts.
//!
//! [`survey`] reads what a good engineer reads first in a repository (its file tree,
//! README, AGENTS.md, build files and skills), bounded so it fits in a prompt.
//! [`propose`] teaches a model the mission-file format, asks it for a plan, checks the
//! answer with [`sortie_model::mission_file::parse`], and sends the diagnostics back
//! until the file is valid or [`MAX_TRIES`] answers were refused.
//!
//! Not built yet: questions to the person who asked, revising a plan, approval, the
//! planner as a service on NATS, and amendments to a running mission.

mod prompt;
mod propose;
mod survey;

pub use propose::{MAX_TRIES, PlanError, Proposal, REQUEST_TIME_LIMIT, propose};
pub use survey::{Survey, SurveyedFile, SurveyedSkill, survey};
