use super::*;
use crate::ids::RepositoryName;
use crate::plan::{Feature, Milestone, MissionHeader, MissionSettings, Repository};

fn feature(id: &str, milestone: &str, preconditions: &[&str], touches: &[&str]) -> Feature {
    Feature {
        id: FeatureId::new(id),
        title: format!("feature {id}"),
        milestone: MilestoneId::new(milestone),
        repository: RepositoryName::new("app"),
        description: String::new(),
        skill: None,
        preconditions: preconditions.iter().map(|id| FeatureId::new(*id)).collect(),
        expected_behavior: Vec::new(),
        verification: Vec::new(),
        fulfills: Vec::new(),
        touches: touches
            .iter()
            .map(|pattern| (*pattern).to_owned())
            .collect(),
        estimate_minutes: None,
        steps: Vec::new(),
        fix: None,
    }
}

fn weighted(mut feature: Feature, minutes: u32) -> Feature {
    feature.estimate_minutes = Some(minutes);
    feature
}

fn in_repository(mut feature: Feature, repository: &str) -> Feature {
    feature.repository = RepositoryName::new(repository);
    feature
}

fn plan(milestones: &[&str], features: Vec<Feature>) -> Plan {
    Plan {
        mission: MissionHeader {
            name: "test".to_owned(),
            goal: "test the scheduler".to_owned(),
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
        settings: MissionSettings::default(),
        milestones: milestones
            .iter()
            .map(|id| Milestone {
                id: MilestoneId::new(*id),
                title: (*id).to_owned(),
                description: String::new(),
            })
            .collect(),
        features,
        assertions: Vec::new(),
        skills: Vec::new(),
        services: Default::default(),
        mcp_servers: Vec::new(),
        scripted_fixes: Vec::new(),
    }
}

/// A plan with its states, to ask the scheduler about.
struct Mission {
    plan: Plan,
    index: SchedulePlan,
    features: FeatureStates,
    milestones: MilestoneStates,
    held_back: HashSet<FeatureId>,
}

impl Mission {
    fn new(plan: Plan) -> Self {
        let index = SchedulePlan::new(&plan);
        Self {
            plan,
            index,
            features: FeatureStates::new(),
            milestones: MilestoneStates::new(),
            held_back: HashSet::new(),
        }
    }

    fn set(&mut self, feature: &str, state: FeatureState) -> &mut Self {
        self.features.insert(FeatureId::new(feature), state);
        self
    }

    fn set_milestone(&mut self, milestone: &str, state: MilestoneState) -> &mut Self {
        self.milestones.insert(MilestoneId::new(milestone), state);
        self
    }

    fn input(&self, free_slots: usize) -> ScheduleInput<'_> {
        ScheduleInput {
            plan: &self.index,
            feature_states: &self.features,
            milestone_states: &self.milestones,
            held_back: &self.held_back,
            free_slots,
        }
    }

    fn schedule(&self, free_slots: usize) -> Vec<String> {
        schedule(&self.input(free_slots))
            .into_iter()
            .map(|id| id.0)
            .collect()
    }

    fn why(&self, feature: &str) -> Vec<Blocker> {
        why_not_ready(&self.input(1), &FeatureId::new(feature))
    }
}

fn ids(ids: &[&str]) -> Vec<FeatureId> {
    ids.iter().map(|id| FeatureId::new(*id)).collect()
}

#[test]
fn the_longest_critical_path_goes_first() {
    let mission = Mission::new(plan(
        &["m1"],
        vec![
            feature("short", "m1", &[], &["a"]),
            feature("long", "m1", &[], &["b"]),
            weighted(feature("heavy-child", "m1", &["long"], &["c"]), 30),
            weighted(feature("heavy-alone", "m1", &[], &["d"]), 20),
        ],
    ));
    // long: 1 + 30; heavy-alone: 20; short: 1.
    assert_eq!(mission.schedule(1), vec!["long"]);
    assert_eq!(mission.schedule(3), vec!["long", "heavy-alone", "short"]);
}

#[test]
fn ties_go_by_plan_order() {
    let mission = Mission::new(plan(
        &["m1"],
        vec![
            feature("first", "m1", &[], &["a"]),
            feature("second", "m1", &[], &["b"]),
            feature("third", "m1", &[], &["c"]),
        ],
    ));
    assert_eq!(mission.schedule(2), vec!["first", "second"]);
}

#[test]
fn settled_dependents_no_longer_lengthen_a_path() {
    let mut mission = Mission::new(plan(
        &["m1"],
        vec![
            feature("root", "m1", &[], &["a"]),
            weighted(feature("skipped-child", "m1", &["root"], &["b"]), 50),
            weighted(feature("other", "m1", &[], &["c"]), 10),
        ],
    ));
    assert_eq!(mission.schedule(1), vec!["root"]);
    mission.set("skipped-child", FeatureState::Skipped);
    assert_eq!(mission.schedule(1), vec!["other"]);
}

#[test]
fn slots_and_the_cap_bound_the_batch() {
    let features = (0..10)
        .map(|index| {
            feature(
                &format!("F{index}"),
                "m1",
                &[],
                &[&format!("dir{index}/**")],
            )
        })
        .collect();
    let mut mission = Mission::new(plan(&["m1"], features));
    mission.plan.settings.max_parallel_workers = 3;
    mission.index = SchedulePlan::new(&mission.plan);
    assert_eq!(mission.schedule(0), Vec::<String>::new());
    assert_eq!(mission.schedule(2).len(), 2);
    assert_eq!(mission.schedule(8).len(), 3);
    mission
        .set("F0", FeatureState::Running)
        .set("F1", FeatureState::Dispatched);
    assert_eq!(mission.schedule(8), vec!["F2"]);
    mission.set("F2", FeatureState::Running);
    assert!(mission.schedule(8).is_empty());
    mission.set("F0", FeatureState::Done);
    assert_eq!(mission.schedule(8), vec!["F3"]);
}

#[test]
fn overlapping_features_never_run_together() {
    let mut mission = Mission::new(plan(
        &["m1"],
        vec![
            feature("api", "m1", &[], &["src/api/**"]),
            feature("api-users", "m1", &[], &["src/api/users.rs"]),
            feature("web", "m1", &[], &["src/web/**"]),
            feature("docs", "m1", &[], &["*.md"]),
        ],
    ));
    assert_eq!(mission.schedule(4), vec!["api", "web", "docs"]);
    mission.set("api", FeatureState::Running);
    assert_eq!(mission.schedule(4), vec!["web", "docs"]);
    mission.set("api", FeatureState::Done);
    assert_eq!(mission.schedule(4), vec!["api-users", "web", "docs"]);
}

#[test]
fn a_feature_without_touches_runs_alone_in_its_repository() {
    let mut mission = Mission::new(plan(
        &["m1"],
        vec![
            feature("anything", "m1", &[], &[]),
            feature("docs", "m1", &[], &["docs/**"]),
            in_repository(feature("infra", "m1", &[], &[]), "infra"),
        ],
    ));
    assert_eq!(mission.schedule(4), vec!["anything", "infra"]);
    mission.set("docs", FeatureState::Running);
    assert_eq!(mission.schedule(4), vec!["infra"]);
}

#[test]
fn preconditions_must_be_done_or_skipped() {
    let mut mission = Mission::new(plan(
        &["m1"],
        vec![
            feature("a", "m1", &[], &["a"]),
            feature("b", "m1", &[], &["b"]),
            feature("c", "m1", &["a", "b"], &["c"]),
        ],
    ));
    mission
        .set("a", FeatureState::Done)
        .set("b", FeatureState::Failed);
    assert!(mission.schedule(4).is_empty());
    mission.set("b", FeatureState::Running);
    assert!(mission.schedule(4).is_empty());
    mission.set("b", FeatureState::Skipped);
    assert_eq!(mission.schedule(4), vec!["c"]);
}

#[test]
fn held_back_features_wait() {
    let mut mission = Mission::new(plan(
        &["m1"],
        vec![
            feature("retrying", "m1", &[], &["a"]),
            feature("fresh", "m1", &[], &["b"]),
        ],
    ));
    mission.held_back.insert(FeatureId::new("retrying"));
    assert_eq!(mission.schedule(4), vec!["fresh"]);
    assert_eq!(mission.why("retrying"), vec![Blocker::HeldBack]);
}

#[test]
fn milestones_run_in_order() {
    let mut mission = Mission::new(plan(
        &["m1", "m2"],
        vec![
            feature("one", "m1", &[], &["a"]),
            feature("two", "m2", &[], &["b"]),
        ],
    ));
    assert_eq!(mission.schedule(4), vec!["one"]);
    mission.set("one", FeatureState::Done);
    mission.set_milestone("m1", MilestoneState::Validating);
    assert!(
        mission.schedule(4).is_empty(),
        "validation holds the next milestone back"
    );
    mission.set_milestone("m1", MilestoneState::Blocked);
    assert!(mission.schedule(4).is_empty());
    mission.set_milestone("m1", MilestoneState::Passed);
    assert_eq!(mission.schedule(4), vec!["two"]);
    mission.set_milestone("m1", MilestoneState::Cancelled);
    assert_eq!(mission.schedule(4), vec!["two"]);
    mission
        .set("two", FeatureState::Done)
        .set_milestone("m2", MilestoneState::Passed);
    assert!(mission.schedule(4).is_empty());
}

#[test]
fn fix_features_of_a_fixing_milestone_run() {
    let mut plan = plan(
        &["m1", "m2"],
        vec![
            feature("one", "m1", &[], &["a"]),
            feature("two", "m2", &[], &["b"]),
        ],
    );
    plan.features
        .push(feature("fix-one", "m1", &["one"], &["a"]));
    let mut mission = Mission::new(plan);
    mission
        .set("one", FeatureState::Done)
        .set_milestone("m1", MilestoneState::Fixing);
    assert_eq!(mission.schedule(4), vec!["fix-one"]);
}

#[test]
fn unknown_preconditions_and_cycles_never_become_ready() {
    let mission = Mission::new(plan(
        &["m1"],
        vec![
            feature("orphan", "m1", &["missing"], &["a"]),
            feature("x", "m1", &["y"], &["b"]),
            feature("y", "m1", &["x"], &["c"]),
            feature("itself", "m1", &["itself"], &["d"]),
            feature("fine", "m1", &[], &["e"]),
        ],
    ));
    assert_eq!(mission.schedule(8), vec!["fine"]);
    assert_eq!(
        mission.why("orphan"),
        vec![Blocker::WaitingOn {
            preconditions: ids(&["missing"])
        }]
    );
}

#[test]
fn a_duplicated_feature_id_is_scheduled_once() {
    let mission = Mission::new(plan(
        &["m1"],
        vec![
            feature("twice", "m1", &[], &["a"]),
            feature("twice", "m1", &[], &["b"]),
        ],
    ));
    assert_eq!(mission.schedule(4), vec!["twice"]);
}

#[test]
fn a_feature_of_an_unknown_milestone_is_never_current() {
    let mission = Mission::new(plan(&["m1"], vec![feature("lost", "nowhere", &[], &["a"])]));
    assert!(mission.schedule(4).is_empty());
    assert_eq!(
        mission.why("lost"),
        vec![Blocker::MilestoneNotCurrent {
            milestone: MilestoneId::new("nowhere"),
            current: Some(MilestoneId::new("m1")),
        }]
    );
}

#[test]
fn explanations_name_every_reason() {
    let mut mission = Mission::new(plan(
        &["m1", "m2"],
        vec![
            feature("base", "m1", &[], &["src/**"]),
            feature("running", "m1", &[], &["src/api/**"]),
            feature("later", "m2", &["base"], &["src/api/x.rs"]),
        ],
    ));
    mission.set("running", FeatureState::Running);
    mission.held_back.insert(FeatureId::new("later"));
    let blockers = mission.why("later");
    assert_eq!(
        blockers,
        vec![
            Blocker::WaitingOn {
                preconditions: ids(&["base"])
            },
            Blocker::MilestoneNotCurrent {
                milestone: MilestoneId::new("m2"),
                current: Some(MilestoneId::new("m1")),
            },
            Blocker::HeldBack,
            Blocker::ConflictsWith {
                in_flight: ids(&["running"])
            },
        ]
    );
    let words: Vec<String> = blockers.iter().map(ToString::to_string).collect();
    assert_eq!(
        words,
        [
            "waiting on preconditions base",
            "milestone m2 is not current (m1 is)",
            "held back until its retry backoff ends",
            "its touches overlap in-flight running",
        ]
    );
    assert_eq!(
        mission.why("running"),
        vec![Blocker::NotPending {
            state: FeatureState::Running
        }]
    );
    assert_eq!(mission.why("nobody"), vec![Blocker::NotInPlan]);
    mission.set("running", FeatureState::Done);
    assert_eq!(
        mission.why("base"),
        Vec::new(),
        "a ready feature has no blockers"
    );
}

#[test]
fn blockers_serialise_with_a_reason_tag() {
    let blocker = Blocker::ConflictsWith {
        in_flight: ids(&["F-1"]),
    };
    let json = serde_json::to_value(&blocker).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"reason": "conflicts_with", "in_flight": ["F-1"]})
    );
    let back: Blocker = serde_json::from_value(json).unwrap();
    assert_eq!(back, blocker);
}

#[test]
fn the_current_milestone_is_the_first_not_closed() {
    let plan = plan(&["m1", "m2", "m3"], Vec::new());
    let mut states = MilestoneStates::new();
    assert_eq!(
        current_milestone(&plan, &states),
        Some(&MilestoneId::new("m1"))
    );
    states.insert(MilestoneId::new("m1"), MilestoneState::Passed);
    states.insert(MilestoneId::new("m2"), MilestoneState::Cancelled);
    assert_eq!(
        current_milestone(&plan, &states),
        Some(&MilestoneId::new("m3"))
    );
    states.insert(MilestoneId::new("m3"), MilestoneState::Passed);
    assert_eq!(current_milestone(&plan, &states), None);
}

#[test]
fn a_milestone_is_ready_to_validate_when_its_features_are_settled() {
    let plan = plan(
        &["m1", "m2"],
        vec![
            feature("a", "m1", &[], &[]),
            feature("b", "m1", &[], &[]),
            feature("c", "m2", &[], &[]),
        ],
    );
    let m1 = MilestoneId::new("m1");
    let mut states = FeatureStates::new();
    assert!(!milestone_features_settled(&plan, &m1, &states));
    states.insert(FeatureId::new("a"), FeatureState::Done);
    states.insert(FeatureId::new("b"), FeatureState::Failed);
    assert!(!milestone_features_settled(&plan, &m1, &states));
    states.insert(FeatureId::new("b"), FeatureState::Skipped);
    assert!(milestone_features_settled(&plan, &m1, &states));
    assert!(milestone_features_settled(
        &plan,
        &MilestoneId::new("empty"),
        &states
    ));
}
