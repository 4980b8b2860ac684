//! The touches of the features running or chosen in one scheduling call, grouped so that
//! a candidate is compared only with patterns it could overlap.

use std::collections::HashMap;

use crate::touches::{TouchPattern, Touches};

use super::index::SchedulePlan;

/// What the occupying features of one repository may change.
#[derive(Debug, Default)]
struct RepositoryOccupancy<'plan> {
    occupied: bool,
    /// Some occupying feature declared no touches and may change anything.
    everything: bool,
    /// Patterns by their first literal component: only those with the same first
    /// literal, or none, can overlap a pattern.
    by_first_literal: HashMap<&'plan str, Vec<&'plan TouchPattern>>,
    /// Patterns whose first component is a glob.
    globbed_first: Vec<&'plan TouchPattern>,
}

impl RepositoryOccupancy<'_> {
    fn overlaps(&self, pattern: &TouchPattern) -> bool {
        let any_overlaps =
            |patterns: &[&TouchPattern]| patterns.iter().any(|occupied| occupied.overlaps(pattern));
        if any_overlaps(&self.globbed_first) {
            return true;
        }
        match pattern.first_literal() {
            Some(first) => self
                .by_first_literal
                .get(first)
                .is_some_and(|patterns| any_overlaps(patterns)),
            None => self
                .by_first_literal
                .values()
                .any(|patterns| any_overlaps(patterns)),
        }
    }
}

#[derive(Debug)]
pub(super) struct Occupancy<'plan> {
    plan: &'plan SchedulePlan,
    repositories: Vec<RepositoryOccupancy<'plan>>,
}

impl<'plan> Occupancy<'plan> {
    pub(super) fn new(plan: &'plan SchedulePlan) -> Self {
        let repositories = (0..plan.repository_count)
            .map(|_| RepositoryOccupancy::default())
            .collect();
        Self { plan, repositories }
    }

    pub(super) fn occupy(&mut self, position: usize) {
        let feature = &self.plan.features[position];
        let repository = &mut self.repositories[feature.repository];
        repository.occupied = true;
        match &feature.touches {
            Touches::Everything => repository.everything = true,
            Touches::Patterns(patterns) => {
                for pattern in patterns {
                    match pattern.first_literal() {
                        Some(first) => repository
                            .by_first_literal
                            .entry(first)
                            .or_default()
                            .push(pattern),
                        None => repository.globbed_first.push(pattern),
                    }
                }
            }
        }
    }

    /// Whether the feature may change something an occupying feature may change.
    pub(super) fn conflicts(&self, position: usize) -> bool {
        let feature = &self.plan.features[position];
        let repository = &self.repositories[feature.repository];
        if !repository.occupied {
            return false;
        }
        match &feature.touches {
            Touches::Everything => true,
            Touches::Patterns(patterns) => {
                repository.everything || patterns.iter().any(|pattern| repository.overlaps(pattern))
            }
        }
    }
}
