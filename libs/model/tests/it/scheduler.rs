//! Properties of the scheduler over random plans and states.

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};

use proptest::prelude::*;
use proptest::sample::Index;
use sortie_model::plan::{
    Feature, Milestone, MissionHeader, MissionSettings, Plan, Repository, ServicesBlock,
};
use sortie_model::scheduler::{
    Blocker, FeatureStates, MilestoneStates, ScheduleInput, SchedulePlan, current_milestone,
    milestone_features_settled, milestone_is_closed, schedule, why_not_ready,
};
use sortie_model::state::{FeatureState, MilestoneState, StateMachine};
use sortie_model::touches::features_conflict;
use sortie_model::{FeatureId, MilestoneId, RepositoryName};

const TOUCH_VOCABULARY: &[&str] = &[
    "src/api/**",
    "src/api/users.rs",
    "src/web/**",
    "src/*.rs",
    "src/**",
    "docs/**",
    "*.md",
    "README.md",
    "migrations/*.sql",
    "migrations/0001_init.sql",
    "**/*.rs",
    "Cargo.toml",
];

#[derive(Clone, Debug)]
struct FeatureSpec {
    milestone: usize,
    preconditions: Vec<Index>,
    in_infra: bool,
    touches: Option<Vec<&'static str>>,
    estimate_minutes: Option<u32>,
}

fn feature_spec() -> impl Strategy<Value = FeatureSpec> {
    (
        0usize..4,
        prop::collection::vec(any::<Index>(), 0..3),
        prop::bool::weighted(0.2),
        prop::option::weighted(
            0.85,
            prop::collection::vec(prop::sample::select(TOUCH_VOCABULARY), 1..3),
        ),
        prop::option::of(0u32..40),
    )
        .prop_map(
            |(milestone, preconditions, in_infra, touches, estimate_minutes)| FeatureSpec {
                milestone,
                preconditions,
                in_infra,
                touches,
                estimate_minutes,
            },
        )
}

fn feature_id(number: usize) -> FeatureId {
    FeatureId::new(format!("F{number:02}"))
}

/// An acyclic plan whose preconditions never point to a later milestone, with the features
/// listed in a shuffled order.
fn build_plan(
    milestone_count: usize,
    mut specs: Vec<FeatureSpec>,
    max_parallel_workers: u32,
    shuffle_seed: u64,
) -> Plan {
    for spec in &mut specs {
        spec.milestone %= milestone_count;
    }
    // Feature `n` may only wait on features numbered below it, which sit in the same or
    // an earlier milestone.
    specs.sort_by_key(|spec| spec.milestone);
    let mut features: Vec<Feature> = specs
        .iter()
        .enumerate()
        .map(|(number, spec)| {
            let mut preconditions: Vec<FeatureId> = Vec::new();
            if number > 0 {
                for index in &spec.preconditions {
                    let precondition = feature_id(index.index(number));
                    if !preconditions.contains(&precondition) {
                        preconditions.push(precondition);
                    }
                }
            }
            Feature {
                id: feature_id(number),
                title: format!("feature {number}"),
                milestone: MilestoneId::new(format!("m{}", spec.milestone)),
                repository: RepositoryName::new(if spec.in_infra { "infra" } else { "app" }),
                description: String::new(),
                skill: None,
                preconditions,
                expected_behavior: Vec::new(),
                verification: Vec::new(),
                fulfills: Vec::new(),
                touches: spec
                    .touches
                    .iter()
                    .flatten()
                    .map(|pattern| (*pattern).to_owned())
                    .collect(),
                estimate_minutes: spec.estimate_minutes,
                steps: Vec::new(),
                fix: None,
            }
        })
        .collect();
    let mut seed = shuffle_seed | 1;
    for position in (1..features.len()).rev() {
        seed = next_random(seed);
        let other = usize::try_from(seed % (position as u64 + 1)).unwrap();
        features.swap(position, other);
    }
    Plan {
        mission: MissionHeader {
            name: "property".to_owned(),
            goal: "check the scheduler".to_owned(),
        },
        repositories: ["app", "infra"]
            .into_iter()
            .map(|name| Repository {
                name: RepositoryName::new(name),
                url: format!("/repos/{name}"),
                base_branch: "main".to_owned(),
                integration_branch: None,
            })
            .collect(),
        settings: MissionSettings {
            max_parallel_workers,
            ..MissionSettings::default()
        },
        milestones: (0..milestone_count)
            .map(|number| Milestone {
                id: MilestoneId::new(format!("m{number}")),
                title: format!("milestone {number}"),
                description: String::new(),
            })
            .collect(),
        features,
        assertions: Vec::new(),
        skills: Vec::new(),
        services: ServicesBlock::default(),
        mcp_servers: Vec::new(),
        scripted_fixes: Vec::new(),
    }
}

fn next_random(state: u64) -> u64 {
    // xorshift64: enough to drive a simulation from a generated seed.
    let mut state = state;
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    state
}

fn plan_strategy() -> impl Strategy<Value = Plan> {
    (
        1usize..=4,
        prop::collection::vec(feature_spec(), 0..24),
        1u32..=5,
        any::<u64>(),
    )
        .prop_map(|(milestones, specs, cap, seed)| build_plan(milestones, specs, cap, seed))
}

fn feature_state() -> impl Strategy<Value = FeatureState> {
    prop::sample::select(vec![
        FeatureState::Pending,
        FeatureState::Pending,
        FeatureState::Pending,
        FeatureState::Pending,
        FeatureState::Dispatched,
        FeatureState::Running,
        FeatureState::Done,
        FeatureState::Done,
        FeatureState::Done,
        FeatureState::Failed,
        FeatureState::Skipped,
        FeatureState::Cancelled,
    ])
}

/// Mostly what a mission goes through (a passed prefix, one current milestone, pending
/// ones after it); sometimes any state at all.
fn milestone_states(count: usize) -> impl Strategy<Value = Vec<MilestoneState>> {
    (
        0..=count,
        prop::sample::select(vec![
            MilestoneState::Pending,
            MilestoneState::Active,
            MilestoneState::Validating,
            MilestoneState::Fixing,
            MilestoneState::Blocked,
        ]),
        prop::bool::weighted(0.2),
        prop::collection::vec(prop::sample::select(MilestoneState::ALL), count),
    )
        .prop_map(|(passed, current, chaotic, random)| {
            if chaotic {
                return random;
            }
            (0..random.len())
                .map(|number| match number.cmp(&passed) {
                    std::cmp::Ordering::Less => MilestoneState::Passed,
                    std::cmp::Ordering::Equal => current,
                    std::cmp::Ordering::Greater => MilestoneState::Pending,
                })
                .collect()
        })
}

#[derive(Clone, Debug)]
struct Scenario {
    plan: Plan,
    feature_states: FeatureStates,
    milestone_states: MilestoneStates,
    held_back: HashSet<FeatureId>,
    free_slots: usize,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    plan_strategy().prop_flat_map(|plan| {
        let features = plan.features.len();
        let milestones = plan.milestones.len();
        (
            Just(plan),
            prop::collection::vec(feature_state(), features),
            milestone_states(milestones),
            prop::collection::vec(prop::bool::weighted(0.15), features),
            0usize..=6,
        )
            .prop_map(|(plan, states, milestone_states, held, free_slots)| {
                let feature_states = plan
                    .features
                    .iter()
                    .zip(states)
                    .map(|(feature, state)| (feature.id.clone(), state))
                    .collect();
                let milestone_states = plan
                    .milestones
                    .iter()
                    .zip(milestone_states)
                    .map(|(milestone, state)| (milestone.id.clone(), state))
                    .collect();
                let held_back = plan
                    .features
                    .iter()
                    .zip(held)
                    .filter(|(_, held)| *held)
                    .map(|(feature, _)| feature.id.clone())
                    .collect();
                Scenario {
                    plan,
                    feature_states,
                    milestone_states,
                    held_back,
                    free_slots,
                }
            })
    })
}

/// The scheduler's rules restated plainly, to check its answers against.
struct Oracle<'scenario> {
    scenario: &'scenario Scenario,
    by_id: HashMap<&'scenario FeatureId, &'scenario Feature>,
    current: Option<&'scenario MilestoneId>,
}

impl<'scenario> Oracle<'scenario> {
    fn new(scenario: &'scenario Scenario) -> Self {
        let by_id = scenario
            .plan
            .features
            .iter()
            .map(|feature| (&feature.id, feature))
            .collect();
        let current = scenario
            .plan
            .milestones
            .iter()
            .map(|milestone| &milestone.id)
            .find(|milestone| {
                !milestone_is_closed(
                    scenario
                        .milestone_states
                        .get(*milestone)
                        .copied()
                        .unwrap_or(MilestoneState::Pending),
                )
            });
        Self {
            scenario,
            by_id,
            current,
        }
    }

    fn feature(&self, id: &FeatureId) -> &'scenario Feature {
        self.by_id[id]
    }

    fn state(&self, id: &FeatureId) -> FeatureState {
        self.scenario
            .feature_states
            .get(id)
            .copied()
            .unwrap_or(FeatureState::Pending)
    }

    fn in_flight(&self) -> Vec<&'scenario Feature> {
        self.scenario
            .plan
            .features
            .iter()
            .filter(|feature| self.state(&feature.id).is_in_flight())
            .collect()
    }

    fn budget(&self) -> usize {
        let cap = usize::try_from(self.scenario.plan.settings.max_parallel_workers).unwrap();
        self.scenario
            .free_slots
            .min(cap.saturating_sub(self.in_flight().len()))
    }

    fn is_ready(&self, feature: &Feature) -> bool {
        self.state(&feature.id) == FeatureState::Pending
            && feature
                .preconditions
                .iter()
                .all(|precondition| self.state(precondition).is_settled())
            && !self.scenario.held_back.contains(&feature.id)
            && Some(&feature.milestone) == self.current
    }

    fn ready(&self) -> Vec<&'scenario Feature> {
        self.scenario
            .plan
            .features
            .iter()
            .filter(|feature| self.is_ready(feature))
            .collect()
    }

    /// Weight plus the heaviest chain of unsettled dependents, by plain recursion.
    fn critical_path(&self, id: &FeatureId, memo: &mut HashMap<FeatureId, u64>) -> u64 {
        if let Some(length) = memo.get(id) {
            return *length;
        }
        let heaviest_dependent = self
            .scenario
            .plan
            .features
            .iter()
            .filter(|dependent| dependent.preconditions.contains(id))
            .filter(|dependent| !self.state(&dependent.id).is_settled())
            .map(|dependent| self.critical_path(&dependent.id, memo))
            .max()
            .unwrap_or(0);
        let length = self.feature(id).weight() + heaviest_dependent;
        memo.insert(id.clone(), length);
        length
    }

    /// Smaller ranks are dispatched first.
    fn rank(&self, id: &FeatureId, memo: &mut HashMap<FeatureId, u64>) -> (Reverse<u64>, usize) {
        let plan_position = self
            .scenario
            .plan
            .features
            .iter()
            .position(|feature| &feature.id == id)
            .unwrap();
        (Reverse(self.critical_path(id, memo)), plan_position)
    }
}

fn run(scenario: &Scenario, index: &SchedulePlan) -> Vec<FeatureId> {
    schedule(&input(scenario, index))
}

fn input<'input>(scenario: &'input Scenario, index: &'input SchedulePlan) -> ScheduleInput<'input> {
    ScheduleInput {
        plan: index,
        feature_states: &scenario.feature_states,
        milestone_states: &scenario.milestone_states,
        held_back: &scenario.held_back,
        free_slots: scenario.free_slots,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn only_ready_pending_features_are_dispatched(scenario in scenario()) {
        let index = SchedulePlan::new(&scenario.plan);
        let chosen = run(&scenario, &index);
        let oracle = Oracle::new(&scenario);
        let unique: HashSet<&FeatureId> = chosen.iter().collect();
        prop_assert_eq!(unique.len(), chosen.len(), "a feature was chosen twice");
        for id in &chosen {
            let feature = oracle.feature(id);
            prop_assert_eq!(oracle.state(id), FeatureState::Pending);
            for precondition in &feature.preconditions {
                prop_assert!(oracle.state(precondition).is_settled(), "{} before {}", id, precondition);
            }
            prop_assert!(!scenario.held_back.contains(id));
            // The chosen feature's milestone is current, so every earlier one is closed.
            prop_assert_eq!(Some(&feature.milestone), oracle.current);
            let milestone = scenario.plan.milestone_index(&feature.milestone).unwrap();
            for earlier in &scenario.plan.milestones[..milestone] {
                let state = scenario.milestone_states[&earlier.id];
                prop_assert!(milestone_is_closed(state), "{} dispatched while {} is {}", id, earlier.id, state);
            }
        }
    }

    #[test]
    fn capacity_is_never_exceeded(scenario in scenario()) {
        let index = SchedulePlan::new(&scenario.plan);
        let chosen = run(&scenario, &index);
        let oracle = Oracle::new(&scenario);
        let cap = usize::try_from(scenario.plan.settings.max_parallel_workers).unwrap();
        prop_assert!(chosen.len() <= scenario.free_slots);
        if !chosen.is_empty() {
            prop_assert!(chosen.len() + oracle.in_flight().len() <= cap);
        }
    }

    #[test]
    fn no_two_overlapping_features_run_together(scenario in scenario()) {
        let index = SchedulePlan::new(&scenario.plan);
        let chosen = run(&scenario, &index);
        let oracle = Oracle::new(&scenario);
        for (position, id) in chosen.iter().enumerate() {
            let feature = oracle.feature(id);
            for running in oracle.in_flight() {
                prop_assert!(!features_conflict(feature, running), "{} beside in-flight {}", id, running.id);
            }
            for other in &chosen[position + 1..] {
                prop_assert!(!features_conflict(feature, oracle.feature(other)), "{} beside {}", id, other);
            }
        }
    }

    #[test]
    fn something_is_dispatched_when_something_can_be(scenario in scenario()) {
        let index = SchedulePlan::new(&scenario.plan);
        let chosen = run(&scenario, &index);
        let oracle = Oracle::new(&scenario);
        let in_flight = oracle.in_flight();
        let startable = oracle.ready().into_iter().any(|feature| {
            in_flight.iter().all(|running| !features_conflict(feature, running))
        });
        if startable && oracle.budget() > 0 {
            prop_assert!(!chosen.is_empty());
        }
    }

    /// The output is exactly the greedy pick by rank: a ready feature is left out only
    /// when the budget is spent on features ranked before it, or when it overlaps a
    /// feature in flight or one picked before it.
    #[test]
    fn features_are_picked_greedily_by_critical_path(scenario in scenario()) {
        let index = SchedulePlan::new(&scenario.plan);
        let chosen = run(&scenario, &index);
        let oracle = Oracle::new(&scenario);
        let mut memo = HashMap::new();
        let ranks: Vec<_> = chosen.iter().map(|id| oracle.rank(id, &mut memo)).collect();
        prop_assert!(ranks.windows(2).all(|pair| pair[0] < pair[1]), "not in rank order: {:?}", ranks);
        let in_flight = oracle.in_flight();
        for feature in oracle.ready() {
            if chosen.contains(&feature.id) {
                continue;
            }
            let rank = oracle.rank(&feature.id, &mut memo);
            let budget_spent_before_it =
                chosen.len() == oracle.budget() && ranks.last().is_none_or(|last| *last < rank);
            if budget_spent_before_it {
                continue;
            }
            let overlaps_in_flight = in_flight.iter().any(|running| features_conflict(feature, running));
            let overlaps_earlier_pick = chosen.iter().zip(&ranks).any(|(id, chosen_rank)| {
                *chosen_rank < rank && features_conflict(feature, oracle.feature(id))
            });
            prop_assert!(
                overlaps_in_flight || overlaps_earlier_pick,
                "{} was ready, free to run, and left out of {:?}", feature.id, chosen
            );
        }
    }

    #[test]
    fn the_same_input_gives_the_same_output(scenario in scenario()) {
        let index = SchedulePlan::new(&scenario.plan);
        let first = run(&scenario, &index);
        prop_assert_eq!(&first, &run(&scenario, &index));
        // A fresh index and freshly hashed maps change nothing.
        let rebuilt = Scenario {
            plan: scenario.plan.clone(),
            feature_states: scenario.feature_states.iter().map(|(id, state)| (id.clone(), *state)).collect(),
            milestone_states: scenario.milestone_states.iter().map(|(id, state)| (id.clone(), *state)).collect(),
            held_back: scenario.held_back.iter().cloned().collect(),
            free_slots: scenario.free_slots,
        };
        prop_assert_eq!(&first, &run(&rebuilt, &SchedulePlan::new(&rebuilt.plan)));
    }

    /// Mission Control's explanation agrees with the scheduler.
    #[test]
    fn explanations_agree_with_readiness(scenario in scenario()) {
        let index = SchedulePlan::new(&scenario.plan);
        let input = input(&scenario, &index);
        let chosen = schedule(&input);
        let oracle = Oracle::new(&scenario);
        for feature in &scenario.plan.features {
            let blockers = why_not_ready(&input, &feature.id);
            let blocked_without_conflicts = blockers
                .iter()
                .any(|blocker| !matches!(blocker, Blocker::ConflictsWith { .. }));
            prop_assert_eq!(!blocked_without_conflicts, oracle.is_ready(feature), "{:?}", blockers);
            if chosen.contains(&feature.id) {
                prop_assert!(blockers.is_empty(), "{} was chosen but {:?}", feature.id, blockers);
            }
        }
    }
}

/// Dispatch, finish some of what runs, pass settled milestones, and repeat: every acyclic
/// plan completes within a bounded number of rounds.
fn simulate(
    plan: &Plan,
    workers: usize,
    mut seed: u64,
    finish_everything: bool,
) -> Result<(), TestCaseError> {
    let index = SchedulePlan::new(plan);
    let mut feature_states = FeatureStates::new();
    let mut milestone_states = MilestoneStates::new();
    let held_back = HashSet::new();
    let by_id: HashMap<&FeatureId, &Feature> = plan
        .features
        .iter()
        .map(|feature| (&feature.id, feature))
        .collect();
    let cap = usize::try_from(plan.settings.max_parallel_workers).unwrap();
    let round_limit = 2 * plan.features.len() + plan.milestones.len() + 2;

    for _round in 0..=round_limit {
        // Pass every milestone whose features are all settled, in order.
        while let Some(current) = current_milestone(plan, &milestone_states) {
            if !milestone_features_settled(plan, current, &feature_states) {
                break;
            }
            milestone_states.insert(current.clone(), MilestoneState::Passed);
        }
        if current_milestone(plan, &milestone_states).is_none() {
            for feature in &plan.features {
                prop_assert_eq!(feature_states.get(&feature.id), Some(&FeatureState::Done));
            }
            return Ok(());
        }

        let in_flight: Vec<FeatureId> = feature_states
            .iter()
            .filter(|(_, state)| state.is_in_flight())
            .map(|(id, _)| id.clone())
            .collect();
        let chosen = schedule(&ScheduleInput {
            plan: &index,
            feature_states: &feature_states,
            milestone_states: &milestone_states,
            held_back: &held_back,
            free_slots: workers.saturating_sub(in_flight.len()),
        });
        for id in &chosen {
            feature_states.insert(id.clone(), FeatureState::Dispatched);
        }

        let mut running: Vec<FeatureId> = feature_states
            .iter()
            .filter(|(_, state)| state.is_in_flight())
            .map(|(id, _)| id.clone())
            .collect();
        running.sort();
        prop_assert!(running.len() <= cap.min(workers));
        for (position, id) in running.iter().enumerate() {
            for other in &running[position + 1..] {
                prop_assert!(
                    !features_conflict(by_id[id], by_id[other]),
                    "{} runs beside {}",
                    id,
                    other
                );
            }
        }
        prop_assert!(
            !running.is_empty(),
            "nothing runs and nothing was dispatched: deadlock"
        );

        // Finish a random non-empty part of what runs (all of it in the simple mode).
        let mut finished_any = false;
        for id in &running {
            seed = next_random(seed);
            if finish_everything || seed.is_multiple_of(3) {
                feature_states.insert(id.clone(), FeatureState::Done);
                finished_any = true;
            }
        }
        if !finished_any {
            feature_states.insert(running[0].clone(), FeatureState::Done);
        }
    }
    Err(TestCaseError::fail(format!(
        "the plan did not complete in {round_limit} rounds"
    )))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_acyclic_plan_completes(
        plan in plan_strategy(),
        workers in 1usize..=6,
        seed in any::<u64>(),
        finish_everything in any::<bool>(),
    ) {
        simulate(&plan, workers, seed | 1, finish_everything)?;
    }
}
