//! The `sortie` command's pieces, shared with the end-to-end tests: the API client,
//! following a mission, and running Sortie's services as local processes.

pub mod client;
pub mod demo;
pub mod follow;
pub mod local;

use sortie_model::state::MissionState;

/// The exit codes of `sortie run`, `sortie demo` and `sortie exec`.
pub mod exit {
    /// The mission completed.
    pub const COMPLETED: i32 = 0;
    /// The mission failed or was cancelled.
    pub const FAILED: i32 = 1;
    /// The mission waits for a person (blocked).
    pub const BLOCKED: i32 = 2;
    /// The mission file or a flag is wrong; nothing was submitted.
    pub const BAD_INPUT: i32 = 3;
    /// The orchestrator, the database or the bus is not answering.
    pub const UNAVAILABLE: i32 = 4;
}

/// The exit code for a mission that settled in `state`.
pub fn exit_code(state: MissionState) -> i32 {
    match state {
        MissionState::Completed => exit::COMPLETED,
        MissionState::Blocked | MissionState::Paused | MissionState::Approved => exit::BLOCKED,
        MissionState::Failed | MissionState::Cancelled | MissionState::Running => exit::FAILED,
    }
}
