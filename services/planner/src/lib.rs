//! The planner: from a goal and a repository to a mission file Sortie accepts.
//!
//! [`survey`] reads what a good engineer reads first in a repository (its file tree,
//! README, AGENTS.md, build files and skills), bounded so it fits in a prompt.
//! [`propose`] teaches a model the mission-file format, asks it for a plan, checks the
//! answer with [`sortie_model::mission_file::parse`], and sends the diagnostics back
//! until the file is valid or [`MAX_TRIES`] answers were refused. Before it, [`questions()`]
//! asks the model what a good engineer would ask first, and the person's [`Answer`]s go
//! into the proposal request; after it, [`revise`] changes a proposal as the person says,
//! through the same checks. [`estimate()`] says what a plan may cost: agent and validation
//! runs, tokens and dollars, as ranges.
//!
//! [`service`] answers planner requests on the bus. Not built yet: amendments to a running mission.

pub mod estimate;
mod prompt;
mod propose;
mod questions;
pub mod service;
mod survey;

pub use estimate::{CostEstimate, EstimateInputs, estimate};
pub use propose::{MAX_TRIES, PlanError, Proposal, REQUEST_TIME_LIMIT, propose, revise};
pub use questions::{Answer, MAX_QUESTIONS, Question, Response, questions};
pub use survey::{Survey, SurveyedFile, SurveyedSkill, survey};
