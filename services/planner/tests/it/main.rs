//! Integration tests of the planner: the survey of a fixture repository, and proposals
//! from the scripted model server, questions before them and revisions after them.

mod propose;
mod questions;
mod survey;
