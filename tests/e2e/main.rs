//! End-to-end: Sortie's real binaries run real missions.

mod checks;
mod example_mission;
mod faults;
mod multi_repository;
