//! The `sortie` command's pieces, shared with the end-to-end tests: the API client,
//! following a mission, and running Sortie's services as local processes.

pub mod client;
pub mod demo;
pub mod follow;
pub mod local;
pub mod plan;

use std::time::Duration;

use sortie_model::records::Usage;
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
        MissionState::Blocked
        | MissionState::Paused
        | MissionState::Draft
        | MissionState::Approved => exit::BLOCKED,
        MissionState::Failed | MissionState::Cancelled | MissionState::Running => exit::FAILED,
    }
}

/// A mission's usage in one line: tokens, dollars when known, turns, tool calls and the
/// agents' time.
pub fn usage_line(usage: &Usage) -> String {
    let dollars = usage
        .cost_usd
        .map(|dollars| format!("${dollars:.4}, "))
        .unwrap_or_default();
    format!(
        "tokens in {}, out {}, cached {}; {dollars}{} turns, {} tool calls, agents' time {:.1}s",
        usage.input_tokens,
        usage.output_tokens,
        usage.cached_input_tokens,
        usage.turns,
        usage.tool_calls,
        Duration::from_millis(usage.wall_ms).as_secs_f64()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_usage_line_shows_dollars_only_when_known() {
        let mut usage = Usage {
            input_tokens: 2_000,
            output_tokens: 400,
            cached_input_tokens: 4_000,
            cost_usd: None,
            turns: 6,
            tool_calls: 8,
            wall_ms: 4_300,
        };
        assert_eq!(
            usage_line(&usage),
            "tokens in 2000, out 400, cached 4000; 6 turns, 8 tool calls, agents' time 4.3s"
        );
        usage.cost_usd = Some(0.125);
        assert_eq!(
            usage_line(&usage),
            "tokens in 2000, out 400, cached 4000; $0.1250, 6 turns, 8 tool calls, agents' time 4.3s"
        );
    }
}
