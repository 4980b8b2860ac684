//! Why a feature is not dispatched, in words Mission Control can show.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{FeatureId, MilestoneId};
use crate::state::FeatureState;

use super::ScheduleInput;

/// One reason a feature is not ready to dispatch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Blocker {
    /// The plan has no feature with this id.
    NotInPlan,
    /// Only pending features are dispatched.
    NotPending { state: FeatureState },
    /// Preconditions not yet done or skipped (or that the plan does not define), in the
    /// order the feature lists them.
    WaitingOn { preconditions: Vec<FeatureId> },
    /// Milestones run in order and the feature's milestone is not the current one.
    /// `current` is `None` when every milestone is passed or cancelled.
    MilestoneNotCurrent {
        milestone: MilestoneId,
        current: Option<MilestoneId>,
    },
    /// Backing off after a failed attempt.
    HeldBack,
    /// In-flight features whose touches may overlap this feature's, in plan order.
    ConflictsWith { in_flight: Vec<FeatureId> },
}

fn join(ids: &[FeatureId]) -> String {
    ids.iter()
        .map(FeatureId::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for Blocker {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Blocker::NotInPlan => formatter.write_str("not in the plan"),
            Blocker::NotPending { state } => write!(formatter, "it is {state}, not pending"),
            Blocker::WaitingOn { preconditions } => {
                write!(
                    formatter,
                    "waiting on preconditions {}",
                    join(preconditions)
                )
            }
            Blocker::MilestoneNotCurrent {
                milestone,
                current: Some(current),
            } => write!(
                formatter,
                "milestone {milestone} is not current ({current} is)"
            ),
            Blocker::MilestoneNotCurrent {
                milestone,
                current: None,
            } => write!(
                formatter,
                "milestone {milestone} is not current (every milestone is passed or cancelled)"
            ),
            Blocker::HeldBack => formatter.write_str("held back until its retry backoff ends"),
            Blocker::ConflictsWith { in_flight } => {
                write!(
                    formatter,
                    "its touches overlap in-flight {}",
                    join(in_flight)
                )
            }
        }
    }
}

/// Every reason `feature` is not ready to dispatch; empty when it is ready, and then it
/// waits only for a free slot, room under the mission's cap, and features ranked before it
/// whose touches overlap its own.
pub fn why_not_ready(input: &ScheduleInput<'_>, feature: &FeatureId) -> Vec<Blocker> {
    let plan = input.plan;
    let Some(&position) = plan.position_of.get(feature) else {
        return vec![Blocker::NotInPlan];
    };
    let states = plan.resolve_states(input.feature_states);
    let indexed = &plan.features[position];
    let mut blockers = Vec::new();

    if states[position] != FeatureState::Pending {
        blockers.push(Blocker::NotPending {
            state: states[position],
        });
    }

    let known_waits = indexed
        .preconditions
        .iter()
        .filter(|&&precondition| !states[precondition].is_settled())
        .map(|&precondition| plan.features[precondition].id.clone());
    let unsettled: Vec<FeatureId> = known_waits
        .chain(indexed.unknown_preconditions.iter().cloned())
        .collect();
    if !unsettled.is_empty() {
        blockers.push(Blocker::WaitingOn {
            preconditions: unsettled,
        });
    }

    let current = plan.current_milestone(input.milestone_states);
    if indexed.milestone.is_none() || indexed.milestone != current {
        blockers.push(Blocker::MilestoneNotCurrent {
            milestone: indexed.milestone_id.clone(),
            current: current.map(|current| plan.milestones[current].clone()),
        });
    }

    if input.held_back.contains(feature) {
        blockers.push(Blocker::HeldBack);
    }

    let in_flight = plan.in_flight(&states);
    let conflicting: Vec<FeatureId> = in_flight
        .into_iter()
        .filter(|&other| other != position)
        .filter(|&other| {
            let other = &plan.features[other];
            other.repository == indexed.repository && other.touches.overlaps(&indexed.touches)
        })
        .map(|other| plan.features[other].id.clone())
        .collect();
    if !conflicting.is_empty() {
        blockers.push(Blocker::ConflictsWith {
            in_flight: conflicting,
        });
    }

    blockers
}
