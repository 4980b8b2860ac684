//! Integration tests of the planner: the survey of a fixture repository, and proposals
//! from the scripted model server.

mod propose;
mod survey;
