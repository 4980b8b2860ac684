//! What the scheduler needs from one plan version, computed once.

use std::collections::{HashMap, HashSet};

use crate::ids::{FeatureId, MilestoneId, RepositoryName};
use crate::plan::Plan;
use crate::state::{FeatureState, MilestoneState};
use crate::touches::Touches;

use super::{FeatureStates, MilestoneStates, milestone_is_closed};

/// One feature, with its links resolved to positions in the plan.
#[derive(Clone, Debug)]
pub(super) struct IndexedFeature {
    pub(super) id: FeatureId,
    /// The milestone the plan gives the feature.
    pub(super) milestone_id: MilestoneId,
    /// The position of its milestone; `None` when the plan has no such milestone.
    pub(super) milestone: Option<usize>,
    pub(super) repository: usize,
    /// Positions of its preconditions, without repeats.
    pub(super) preconditions: Vec<usize>,
    /// Preconditions the plan does not define: the feature waits on them for ever.
    pub(super) unknown_preconditions: Vec<FeatureId>,
    pub(super) weight: u64,
    pub(super) touches: Touches,
    /// An earlier feature of the plan has the same id; this one is never scheduled.
    pub(super) shadowed: bool,
}

/// A plan version prepared for scheduling: ids resolved to positions, dependents,
/// a topological order and parsed touches. Build it once per plan version and hand it to
/// every [`schedule`](super::schedule) call; each call is then linear in the plan's
/// features and preconditions.
#[derive(Clone, Debug)]
pub struct SchedulePlan {
    pub(super) features: Vec<IndexedFeature>,
    pub(super) position_of: HashMap<FeatureId, usize>,
    pub(super) milestones: Vec<MilestoneId>,
    /// Positions of each milestone's features, in plan order.
    pub(super) features_by_milestone: Vec<Vec<usize>>,
    /// Positions of the features that name each feature as a precondition.
    pub(super) dependents: Vec<Vec<usize>>,
    /// Every feature after its preconditions; features on a precondition cycle are absent.
    pub(super) topological_order: Vec<usize>,
    pub(super) repository_count: usize,
    pub(super) max_parallel_workers: usize,
}

impl SchedulePlan {
    pub fn new(plan: &Plan) -> Self {
        let mut position_of = HashMap::with_capacity(plan.features.len());
        let mut shadowed = vec![false; plan.features.len()];
        for (position, feature) in plan.features.iter().enumerate() {
            if position_of.contains_key(&feature.id) {
                shadowed[position] = true;
            } else {
                position_of.insert(feature.id.clone(), position);
            }
        }

        let milestone_position: HashMap<&MilestoneId, usize> = plan
            .milestones
            .iter()
            .enumerate()
            .rev() // the first of duplicated milestone ids wins
            .map(|(position, milestone)| (&milestone.id, position))
            .collect();
        let mut repository_position: HashMap<&RepositoryName, usize> = HashMap::new();

        let mut features = Vec::with_capacity(plan.features.len());
        let mut features_by_milestone = vec![Vec::new(); plan.milestones.len()];
        let mut dependents = vec![Vec::new(); plan.features.len()];
        for (position, feature) in plan.features.iter().enumerate() {
            let milestone = milestone_position.get(&feature.milestone).copied();
            if let Some(milestone) = milestone
                && !shadowed[position]
            {
                features_by_milestone[milestone].push(position);
            }
            let next_repository = repository_position.len();
            let repository = *repository_position
                .entry(&feature.repository)
                .or_insert(next_repository);

            let mut preconditions = Vec::with_capacity(feature.preconditions.len());
            let mut unknown_preconditions = Vec::new();
            let mut seen = HashSet::with_capacity(feature.preconditions.len());
            for precondition in &feature.preconditions {
                if !seen.insert(precondition) {
                    continue;
                }
                match position_of.get(precondition) {
                    Some(&precondition_position) => {
                        preconditions.push(precondition_position);
                        dependents[precondition_position].push(position);
                    }
                    None => unknown_preconditions.push(precondition.clone()),
                }
            }

            features.push(IndexedFeature {
                id: feature.id.clone(),
                milestone_id: feature.milestone.clone(),
                milestone,
                repository,
                preconditions,
                unknown_preconditions,
                weight: feature.weight(),
                touches: Touches::parse(&feature.touches),
                shadowed: shadowed[position],
            });
        }

        let topological_order = topological_order(&features, &dependents);
        Self {
            features,
            position_of,
            milestones: plan
                .milestones
                .iter()
                .map(|milestone| milestone.id.clone())
                .collect(),
            features_by_milestone,
            dependents,
            topological_order,
            repository_count: repository_position.len(),
            max_parallel_workers: usize::try_from(plan.settings.max_parallel_workers)
                .unwrap_or(usize::MAX),
        }
    }

    /// Each feature's state by position; a feature the map does not name is pending.
    pub(super) fn resolve_states(&self, feature_states: &FeatureStates) -> Vec<FeatureState> {
        self.features
            .iter()
            .map(|feature| {
                feature_states
                    .get(&feature.id)
                    .copied()
                    .unwrap_or(FeatureState::Pending)
            })
            .collect()
    }

    /// The position of the earliest milestone not passed or cancelled.
    pub(super) fn current_milestone(&self, milestone_states: &MilestoneStates) -> Option<usize> {
        self.milestones.iter().position(|milestone| {
            let state = milestone_states
                .get(milestone)
                .copied()
                .unwrap_or(MilestoneState::Pending);
            !milestone_is_closed(state)
        })
    }

    /// Positions of the features with an attempt out, once per feature id.
    pub(super) fn in_flight(&self, states: &[FeatureState]) -> Vec<usize> {
        (0..self.features.len())
            .filter(|&position| {
                !self.features[position].shadowed && states[position].is_in_flight()
            })
            .collect()
    }

    pub(super) fn preconditions_settled(&self, position: usize, states: &[FeatureState]) -> bool {
        let feature = &self.features[position];
        feature.unknown_preconditions.is_empty()
            && feature
                .preconditions
                .iter()
                .all(|&precondition| states[precondition].is_settled())
    }

    /// For every feature, its weight plus the heaviest chain of unsettled features that
    /// wait on it, following preconditions backwards. Linear in features and preconditions.
    pub(super) fn critical_paths(&self, states: &[FeatureState]) -> Vec<u64> {
        let mut lengths: Vec<u64> = self.features.iter().map(|feature| feature.weight).collect();
        for &position in self.topological_order.iter().rev() {
            let heaviest_dependent = self.dependents[position]
                .iter()
                .filter(|&&dependent| !states[dependent].is_settled())
                .map(|&dependent| lengths[dependent])
                .max()
                .unwrap_or(0);
            lengths[position] = self.features[position]
                .weight
                .saturating_add(heaviest_dependent);
        }
        lengths
    }
}

/// Kahn's algorithm in plan order, so the result is the same for the same plan.
fn topological_order(features: &[IndexedFeature], dependents: &[Vec<usize>]) -> Vec<usize> {
    let mut waiting_on: Vec<usize> = features
        .iter()
        .map(|feature| feature.preconditions.len())
        .collect();
    let mut order: Vec<usize> = (0..features.len())
        .filter(|&position| waiting_on[position] == 0)
        .collect();
    let mut next = 0;
    while next < order.len() {
        let position = order[next];
        next += 1;
        for &dependent in &dependents[position] {
            waiting_on[dependent] -= 1;
            if waiting_on[dependent] == 0 {
                order.push(dependent);
            }
        }
    }
    order
}
