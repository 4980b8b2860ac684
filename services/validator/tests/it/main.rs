//! The validator against a real NATS server, real git repositories and real processes.

mod agent_checks;
mod commands;
mod not_checked;
mod passing;
mod queue;
mod review;
mod support;
mod user_testing;
