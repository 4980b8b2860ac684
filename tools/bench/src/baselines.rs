//! Makespans computed exactly on a mission's DAG and durations: the lower bound, the
//! serial and level-by-level baselines, and Sortie's own scheduler with zero overhead.
//!
//! Milestones run in order in Sortie (a milestone's features start once the milestone
//! before it passed), so every schedule here keeps that order too; the lower bound of the
//! issue, max(critical path, total work / slots), ignores it, and the bound that keeps it
//! is given beside it.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use sortie_model::scheduler::{
    FeatureStates, MilestoneStates, ScheduleInput, SchedulePlan, milestone_is_closed, schedule,
};
use sortie_model::state::{FeatureState, MilestoneState};
use sortie_model::{FeatureId, Plan};

use crate::generate::SyntheticMission;

/// Every reference makespan of one mission on `slots` workers, in milliseconds.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Baselines {
    pub slots: usize,
    pub total_work_ms: u64,
    pub critical_path_ms: u64,
    /// max(critical path, total work / slots).
    pub lower_bound_ms: f64,
    /// The same bound, milestone by milestone, with milestones one after another.
    pub milestone_bound_ms: f64,
    pub serial_ms: u64,
    pub waves_ms: u64,
    /// Sortie's scheduler in a discrete-event loop with no overhead at all.
    pub scheduler_ms: u64,
}

impl Baselines {
    pub fn compute(mission: &SyntheticMission, plan: &Plan, slots: usize) -> Self {
        let slots = slots.max(1);
        let total_work_ms = mission.total_work_ms();
        let critical_path_ms = critical_path(mission, |_, _| true);
        Self {
            slots,
            total_work_ms,
            critical_path_ms,
            lower_bound_ms: lower_bound(total_work_ms, critical_path_ms, slots),
            milestone_bound_ms: milestone_bound(mission, slots),
            serial_ms: total_work_ms,
            waves_ms: waves(mission, slots),
            scheduler_ms: simulate_scheduler(mission, plan, slots),
        }
    }

    /// A makespan divided by the lower bound; 1.0 is the best any scheduler could do.
    pub fn ratio(&self, makespan_ms: f64) -> f64 {
        if self.lower_bound_ms > 0.0 {
            makespan_ms / self.lower_bound_ms
        } else {
            f64::NAN
        }
    }
}

pub fn lower_bound(total_work_ms: u64, critical_path_ms: u64, slots: usize) -> f64 {
    (critical_path_ms as f64).max(total_work_ms as f64 / slots.max(1) as f64)
}

/// The heaviest chain of preconditions, counting only the edges `keep` accepts.
/// Preconditions always come earlier in plan order, so one pass in order is enough.
fn critical_path(mission: &SyntheticMission, keep: impl Fn(usize, usize) -> bool) -> u64 {
    let mut finish = vec![0_u64; mission.features.len()];
    for (position, feature) in mission.features.iter().enumerate() {
        let start = feature
            .preconditions
            .iter()
            .filter(|&&precondition| keep(precondition, position))
            .map(|&precondition| finish[precondition])
            .max()
            .unwrap_or(0);
        finish[position] = start + feature.duration_ms;
    }
    finish.into_iter().max().unwrap_or(0)
}

/// The sum over milestones of max(the milestone's own critical path, its work / slots):
/// a bound for any schedule that runs milestones one after another.
pub fn milestone_bound(mission: &SyntheticMission, slots: usize) -> f64 {
    let features = &mission.features;
    let same_milestone = |precondition: usize, position: usize| {
        features[precondition].milestone == features[position].milestone
    };
    let mut finish = vec![0_u64; features.len()];
    let mut milestone_path = vec![0_u64; mission.milestones];
    let mut milestone_work = vec![0_u64; mission.milestones];
    for (position, feature) in features.iter().enumerate() {
        let start = feature
            .preconditions
            .iter()
            .filter(|&&precondition| same_milestone(precondition, position))
            .map(|&precondition| finish[precondition])
            .max()
            .unwrap_or(0);
        finish[position] = start + feature.duration_ms;
        milestone_path[feature.milestone] = milestone_path[feature.milestone].max(finish[position]);
        milestone_work[feature.milestone] += feature.duration_ms;
    }
    milestone_path
        .iter()
        .zip(&milestone_work)
        .map(|(&path, &work)| lower_bound(work, path, slots))
        .sum()
}

/// Greedy list scheduling in the order given: each job goes to the slot free first.
pub fn list_schedule(durations: &[u64], slots: usize) -> u64 {
    let mut free_at: BinaryHeap<Reverse<u64>> = (0..slots.max(1)).map(|_| Reverse(0)).collect();
    let mut makespan = 0;
    for &duration in durations {
        let Reverse(start) = free_at.pop().expect("at least one slot");
        let end = start + duration;
        makespan = makespan.max(end);
        free_at.push(Reverse(end));
    }
    makespan
}

/// Level by level: a feature's level is one more than its deepest precondition's, and a
/// milestone's first level comes after the previous milestone's last. Each level starts
/// when the one before it ended, and is list-scheduled on the slots in plan order.
pub fn waves(mission: &SyntheticMission, slots: usize) -> u64 {
    let features = &mission.features;
    let mut level = vec![0_usize; features.len()];
    let mut milestone_first_level = 0;
    let mut deepest_in_milestone = 0;
    let mut current_milestone = features.first().map_or(0, |feature| feature.milestone);
    for (position, feature) in features.iter().enumerate() {
        if feature.milestone != current_milestone {
            milestone_first_level = deepest_in_milestone + 1;
            current_milestone = feature.milestone;
        }
        let after_preconditions = feature
            .preconditions
            .iter()
            .map(|&precondition| level[precondition] + 1)
            .max()
            .unwrap_or(0);
        level[position] = after_preconditions.max(milestone_first_level);
        deepest_in_milestone = deepest_in_milestone.max(level[position]);
    }
    let levels = level.iter().max().map_or(0, |deepest| deepest + 1);
    let mut by_level: Vec<Vec<u64>> = vec![Vec::new(); levels];
    for (position, feature) in features.iter().enumerate() {
        by_level[level[position]].push(feature.duration_ms);
    }
    by_level
        .iter()
        .map(|durations| list_schedule(durations, slots))
        .sum()
}

/// Sortie's scheduler with no overhead: whenever something ends, the milestones move on
/// as the driver moves them (no validation), and `schedule` picks what starts, exactly as
/// the orchestrator asks it.
pub fn simulate_scheduler(mission: &SyntheticMission, plan: &Plan, slots: usize) -> u64 {
    let prepared = SchedulePlan::new(plan);
    let duration_of: HashMap<FeatureId, u64> = mission
        .features
        .iter()
        .map(|feature| (FeatureId::new(feature.id.clone()), feature.duration_ms))
        .collect();
    let milestone_of: HashMap<&FeatureId, usize> = plan
        .features
        .iter()
        .map(|feature| {
            let position = plan.milestone_index(&feature.milestone).unwrap_or(0);
            (&feature.id, position)
        })
        .collect();
    let mut unfinished = vec![0_usize; plan.milestones.len()];
    for position in milestone_of.values() {
        unfinished[*position] += 1;
    }
    let mut feature_states = FeatureStates::new();
    let mut milestone_states = MilestoneStates::new();
    let held_back = HashSet::new();
    let mut running: BinaryHeap<Reverse<(u64, FeatureId)>> = BinaryHeap::new();
    let mut now = 0;
    loop {
        // The driver's milestone moves: pass the finished ones, activate the next.
        while let Some((position, milestone)) =
            plan.milestones.iter().enumerate().find(|(_, milestone)| {
                let state = milestone_states
                    .get(&milestone.id)
                    .copied()
                    .unwrap_or(MilestoneState::Pending);
                !milestone_is_closed(state)
            })
        {
            if unfinished[position] == 0 {
                milestone_states.insert(milestone.id.clone(), MilestoneState::Passed);
                continue;
            }
            milestone_states
                .entry(milestone.id.clone())
                .or_insert(MilestoneState::Active);
            break;
        }
        let chosen = schedule(&ScheduleInput {
            plan: &prepared,
            feature_states: &feature_states,
            milestone_states: &milestone_states,
            held_back: &held_back,
            free_slots: slots - running.len(),
        });
        for feature in chosen {
            let duration = duration_of.get(&feature).copied().unwrap_or(0);
            feature_states.insert(feature.clone(), FeatureState::Running);
            running.push(Reverse((now + duration, feature)));
        }
        let Some(Reverse((end, _))) = running.peek() else {
            return now;
        };
        now = *end;
        // Everything that ends at this instant ends together.
        while let Some(Reverse((end, _))) = running.peek()
            && *end == now
        {
            let Reverse((_, feature)) = running.pop().expect("peeked");
            if let Some(&position) = milestone_of.get(&feature) {
                unfinished[position] -= 1;
            }
            feature_states.insert(feature, FeatureState::Done);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{MissionSettings, Shape, SyntheticFeature};
    use crate::rng::Durations;
    use sortie_model::mission_file;

    /// A mission by hand: (milestone, preconditions, duration) per feature.
    fn mission(features: &[(usize, &[usize], u64)]) -> SyntheticMission {
        SyntheticMission {
            name: "hand".to_owned(),
            milestones: features.iter().map(|feature| feature.0).max().unwrap_or(0) + 1,
            features: features
                .iter()
                .enumerate()
                .map(
                    |(position, (milestone, preconditions, duration))| SyntheticFeature {
                        id: crate::generate::feature_id(position),
                        milestone: *milestone,
                        preconditions: preconditions.to_vec(),
                        duration_ms: *duration,
                        shared: None,
                    },
                )
                .collect(),
        }
    }

    fn plan_of(mission: &SyntheticMission, slots: usize) -> Plan {
        let settings = MissionSettings {
            max_parallel_workers: slots,
            estimates: true,
        };
        mission_file::parse("hand.toml", &mission.to_toml(settings))
            .unwrap_or_else(|diagnostics| panic!("{diagnostics:?}"))
            .plan
    }

    #[test]
    fn list_scheduling_fills_the_slot_free_first() {
        assert_eq!(list_schedule(&[], 2), 0);
        assert_eq!(list_schedule(&[5, 3, 3], 2), 6);
        assert_eq!(list_schedule(&[5, 3, 3], 1), 11);
        assert_eq!(list_schedule(&[4, 4, 4, 4], 4), 4);
    }

    #[test]
    fn a_diamond_by_hand() {
        // 0 (2) -> 1 (5), 2 (1) -> 3 (2): critical path 2 + 5 + 2 = 9, work 10.
        let diamond = mission(&[(0, &[], 2), (0, &[0], 5), (0, &[0], 1), (0, &[1, 2], 2)]);
        let plan = plan_of(&diamond, 2);
        let baselines = Baselines::compute(&diamond, &plan, 2);
        assert_eq!(baselines.total_work_ms, 10);
        assert_eq!(baselines.critical_path_ms, 9);
        assert_eq!(baselines.lower_bound_ms, 9.0);
        assert_eq!(baselines.milestone_bound_ms, 9.0);
        assert_eq!(baselines.serial_ms, 10);
        // Levels {0}, {1, 2}, {3}: 2 + max(5, 1) + 2.
        assert_eq!(baselines.waves_ms, 9);
        assert_eq!(baselines.scheduler_ms, 9);
        assert_eq!(baselines.ratio(18.0), 2.0);
        // One slot: everything one after another.
        let one = Baselines::compute(&diamond, &plan_of(&diamond, 1), 1);
        assert_eq!(one.lower_bound_ms, 10.0);
        assert_eq!(one.waves_ms, 10);
        assert_eq!(one.scheduler_ms, 10);
    }

    #[test]
    fn waves_wait_for_the_whole_level_where_the_scheduler_does_not() {
        // Chain 0 (1) -> 2 (8), and 1 (8) alone: levels {0, 1}, {2}.
        // Waves: max(1, 8) + 8 = 16. The scheduler starts 2 at time 1: makespan 9.
        let chains = mission(&[(0, &[], 1), (0, &[], 8), (0, &[0], 8)]);
        let baselines = Baselines::compute(&chains, &plan_of(&chains, 2), 2);
        assert_eq!(baselines.critical_path_ms, 9);
        assert_eq!(baselines.waves_ms, 16);
        assert_eq!(baselines.scheduler_ms, 9);
    }

    #[test]
    fn the_scheduler_takes_the_longest_critical_path_first() {
        // Two slots; 0 (1) leads a chain 0 -> 3 (10); 1 and 2 (5 each) stand alone.
        // Plan order would start 0 and 1, which happens to be right; make the chain
        // last in plan order so that only the critical-path ranking starts it at once.
        let ranked = mission(&[(0, &[], 5), (0, &[], 5), (0, &[], 1), (0, &[2], 10)]);
        let baselines = Baselines::compute(&ranked, &plan_of(&ranked, 2), 2);
        // Start 2 (path 11) and 0 at 0; 3 at 1 until 11; 1 at 5 until 10.
        assert_eq!(baselines.scheduler_ms, 11);
        assert_eq!(baselines.critical_path_ms, 11);
    }

    #[test]
    fn milestones_are_barriers() {
        // Milestone 0: one long feature; milestone 1: one short feature with no
        // preconditions. The DAG bound lets them overlap; Sortie does not.
        let barrier = mission(&[(0, &[], 10), (1, &[], 3)]);
        let baselines = Baselines::compute(&barrier, &plan_of(&barrier, 2), 2);
        assert_eq!(baselines.lower_bound_ms, 10.0);
        assert_eq!(baselines.milestone_bound_ms, 13.0);
        assert_eq!(baselines.waves_ms, 13);
        assert_eq!(baselines.scheduler_ms, 13);
    }

    #[test]
    fn no_schedule_beats_the_bounds_on_generated_missions() {
        for seed in 0..5 {
            let generated = SyntheticMission::generate(
                "bench",
                &Shape {
                    features: 200,
                    milestones: 4,
                    density: 1.2,
                    window: 16,
                    overlap: 0.0,
                    shared_paths: 0,
                    durations: Durations::LogNormal {
                        median: 100,
                        sigma: 0.8,
                    },
                    seed,
                },
            );
            let baselines = Baselines::compute(&generated, &plan_of(&generated, 4), 4);
            let best = baselines.milestone_bound_ms;
            assert!(best >= baselines.lower_bound_ms);
            assert!(baselines.scheduler_ms as f64 >= best);
            assert!(baselines.waves_ms as f64 >= best);
            assert!(baselines.serial_ms as f64 >= best);
            assert!(baselines.scheduler_ms <= baselines.waves_ms, "seed {seed}");
        }
    }
}
