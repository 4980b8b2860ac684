//! The scheduler: which pending features to dispatch next. A pure function of the plan
//! and the mission's current states.
//!
//! A feature is ready when it is pending, every precondition is settled (done or
//! skipped), it is not held back by a retry backoff, and its milestone is the current one:
//! the earliest milestone not passed or cancelled. Milestones run in order, so a milestone
//! being validated or fixed keeps the next one waiting, while its own fix features run.
//!
//! Among ready features the scheduler picks, greedily, the one with the longest remaining
//! critical path (its weight plus the heaviest chain of unsettled features waiting on it),
//! ties broken by plan order, skipping any whose touches may overlap those of a feature in
//! flight or already picked, until the free slots or the mission's cap of parallel workers
//! (which in-flight features count against) run out.
//!
//! Invariants: the same input gives the same output; no two features whose touches may
//! overlap are ever in flight together because of a decision made here; when a slot is
//! free and some ready feature overlaps nothing in flight, at least one feature is picked.
//!
//! Whether the mission is running at all (not paused or blocked) is the orchestrator's
//! decision, made before it asks. Feature states of features the plan does not define are
//! ignored: removing a feature from a plan also cancels its attempt.

mod explain;
mod index;
mod occupancy;

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};

use crate::ids::{FeatureId, MilestoneId};
use crate::plan::Plan;
use crate::state::{FeatureState, MilestoneState};

pub use explain::{Blocker, why_not_ready};
pub use index::SchedulePlan;
use occupancy::Occupancy;

/// Each feature's state. A feature the map does not name is pending.
pub type FeatureStates = HashMap<FeatureId, FeatureState>;

/// Each milestone's state. A milestone the map does not name is pending.
pub type MilestoneStates = HashMap<MilestoneId, MilestoneState>;

/// Everything one scheduling decision depends on.
#[derive(Clone, Copy, Debug)]
pub struct ScheduleInput<'input> {
    /// The plan version being worked, prepared once with [`SchedulePlan::new`].
    pub plan: &'input SchedulePlan,
    pub feature_states: &'input FeatureStates,
    pub milestone_states: &'input MilestoneStates,
    /// Features whose retry backoff has not ended yet (the caller compares their
    /// not-before times with the database's clock).
    pub held_back: &'input HashSet<FeatureId>,
    /// Workers free to take a feature now.
    pub free_slots: usize,
}

/// Whether a milestone no longer holds back the ones after it.
pub fn milestone_is_closed(state: MilestoneState) -> bool {
    matches!(state, MilestoneState::Passed | MilestoneState::Cancelled)
}

/// The features to dispatch now, most urgent first.
pub fn schedule(input: &ScheduleInput<'_>) -> Vec<FeatureId> {
    let plan = input.plan;
    let Some(current_milestone) = plan.current_milestone(input.milestone_states) else {
        return Vec::new();
    };
    let states = plan.resolve_states(input.feature_states);
    let in_flight = plan.in_flight(&states);
    let room_under_cap = plan.max_parallel_workers.saturating_sub(in_flight.len());
    let budget = input.free_slots.min(room_under_cap);
    if budget == 0 {
        return Vec::new();
    }

    let mut ready: Vec<usize> = plan.features_by_milestone[current_milestone]
        .iter()
        .copied()
        .filter(|&position| {
            states[position] == FeatureState::Pending
                && plan.preconditions_settled(position, &states)
                && !input.held_back.contains(&plan.features[position].id)
        })
        .collect();
    if ready.is_empty() {
        return Vec::new();
    }
    let critical_paths = plan.critical_paths(&states);
    ready.sort_unstable_by_key(|&position| (Reverse(critical_paths[position]), position));

    let mut occupancy = Occupancy::new(plan);
    for &position in &in_flight {
        occupancy.occupy(position);
    }
    let mut chosen = Vec::with_capacity(budget);
    for position in ready {
        if chosen.len() == budget {
            break;
        }
        if occupancy.conflicts(position) {
            continue;
        }
        occupancy.occupy(position);
        chosen.push(plan.features[position].id.clone());
    }
    chosen
}

/// The earliest milestone not passed or cancelled: the one whose features run now.
/// `None` when every milestone is passed or cancelled.
pub fn current_milestone<'plan>(
    plan: &'plan Plan,
    milestone_states: &MilestoneStates,
) -> Option<&'plan MilestoneId> {
    plan.milestones
        .iter()
        .map(|milestone| &milestone.id)
        .find(|milestone| {
            let state = milestone_states
                .get(*milestone)
                .copied()
                .unwrap_or(MilestoneState::Pending);
            !milestone_is_closed(state)
        })
}

/// Whether every feature of the milestone is settled (done or skipped), so that it is
/// ready to validate. True for a milestone without features.
pub fn milestone_features_settled(
    plan: &Plan,
    milestone: &MilestoneId,
    feature_states: &FeatureStates,
) -> bool {
    plan.features_of(milestone).all(|feature| {
        feature_states
            .get(&feature.id)
            .copied()
            .unwrap_or(FeatureState::Pending)
            .is_settled()
    })
}

#[cfg(test)]
mod tests;
