//! End-to-end: Sortie's real binaries run real missions.

mod checks;
mod claude_code;
mod example_mission;
mod faults;
mod multi_repository;
