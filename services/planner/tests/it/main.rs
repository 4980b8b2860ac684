//! Integration tests of the planner: the survey of a fixture repository, and proposals
//! from the scripted model server, questions before them and revisions after them, and
//! the planner service answering them on the real NATS server.

mod propose;
mod questions;
mod service;
mod survey;
