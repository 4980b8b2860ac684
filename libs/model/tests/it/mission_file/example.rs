//! The published example parses cleanly, and the parser agrees with the plan types'
//! own serde shape and defaults.

use sortie_model::plan::{Check, EvidenceKind, Plan};
use sortie_model::{FeatureId, MilestoneId, RepositoryName};

use super::{MINIMAL, accepted, workspace_root};

fn example_text() -> String {
    let path = workspace_root().join("examples/missions/todo-service.toml");
    std::fs::read_to_string(&path).expect("the example mission exists")
}

#[test]
fn the_todo_service_example_is_valid_and_complete() {
    let parsed = accepted(&example_text());
    assert!(parsed.warnings.is_empty(), "warnings:\n{}", parsed.warnings);
    let plan = parsed.plan;

    assert_eq!(plan.mission.name, "todo-service");
    assert_eq!(plan.milestones.len(), 3);
    assert_eq!(plan.features.len(), 10);
    assert_eq!(plan.assertions.len(), 12);
    assert_eq!(plan.skills.len(), 1);
    assert_eq!(plan.services.start.len(), 1);
    assert_eq!(plan.services.commands.len(), 3);
    assert_eq!(plan.settings.max_parallel_workers, 3);
    assert_eq!(plan.settings.agents.validator, "codex");

    let milestone_sizes: Vec<usize> = plan
        .milestones
        .iter()
        .map(|milestone| plan.features_of(&milestone.id).count())
        .collect();
    assert_eq!(milestone_sizes, [3, 4, 3]);

    // Features that leave `repository` out get the plan's only repository.
    assert!(
        plan.features
            .iter()
            .all(|feature| feature.repository == RepositoryName::new("todo"))
    );
    let edit = plan
        .feature(&FeatureId::new("F-WEB-EDIT"))
        .expect("F-WEB-EDIT exists");
    assert_eq!(edit.preconditions.len(), 3);
    assert_eq!(edit.milestone, MilestoneId::new("m3-web"));
    assert_eq!(edit.skill.as_deref(), Some("web-frontend"));

    let kinds = |wanted: fn(&Check) -> bool| {
        plan.assertions
            .iter()
            .filter(|assertion| wanted(&assertion.check))
            .count()
    };
    assert_eq!(kinds(|check| matches!(check, Check::Command { .. })), 4);
    assert_eq!(kinds(|check| matches!(check, Check::Http { .. })), 6);
    assert_eq!(kinds(|check| matches!(check, Check::Agent { .. })), 2);
    let web_list = plan
        .assertions
        .iter()
        .find(|assertion| assertion.id.as_str() == "VAL-WEB-001")
        .expect("VAL-WEB-001 exists");
    assert_eq!(
        web_list.check,
        Check::Agent {
            instructions: "Create two todos through the API, open http://localhost:8080/ in \
                           the browser and\nconfirm both titles are shown. Take a screenshot \
                           of the page.\n"
                .to_owned(),
            evidence: vec![EvidenceKind::HttpExchange, EvidenceKind::Screenshot],
        }
    );
}

#[test]
fn the_example_has_parallel_work_in_every_milestone() {
    let plan = accepted(&example_text()).plan;
    for milestone in &plan.milestones {
        let features: Vec<_> = plan.features_of(&milestone.id).collect();
        let independent_pairs = features.iter().enumerate().any(|(index, left)| {
            features[index + 1..].iter().any(|right| {
                !left.preconditions.contains(&right.id) && !right.preconditions.contains(&left.id)
            })
        });
        assert!(
            independent_pairs,
            "milestone {} has no parallel work",
            milestone.id
        );
    }
}

/// Defaults and layout come from the plan types: a file that serde can read directly
/// gives the same plan.
#[test]
fn parse_agrees_with_the_plan_types_serde_shape() {
    let explicit = r#"
[mission]
name = "agree"
goal = "same plan both ways"

[[repositories]]
name = "app"
url = "/srv/git/app.git"

[[repositories]]
name = "web"
url = "/srv/git/web.git"
base_branch = "trunk"
integration_branch = "sortie/agree-web"

[settings]
validation = false
skip_scrutiny = true

[settings.agents]
worker = "codex"

[[milestones]]
id = "m1"
title = "One"

[[features]]
id = "F-A"
title = "A"
milestone = "m1"
repository = "app"
fulfills = ["VAL-A-001", "VAL-A-002", "VAL-A-003"]

[[features]]
id = "F-B"
title = "B"
milestone = "m1"
repository = "web"
skill = "frontend"
preconditions = ["F-A"]
fulfills = ["VAL-A-002"]
touches = ["src/**"]
estimate_minutes = 5

[[features.steps]]
run = "make"

[[features.steps]]
run = "false"
expect_exit = 1

[[features.steps]]
write = "src/a.txt"
content = "a"

[[features.steps]]
append = "src/a.txt"
content = "b"

[[features.steps]]
replace = "src/a.txt"
find = "ab"
with = "c"

[[features.steps]]
sleep_ms = 10

[[assertions]]
id = "VAL-A-001"
statement = "command with defaults"
check = { kind = "command", run = "true" }

[[assertions]]
id = "VAL-A-002"
statement = "http with defaults"
check = { kind = "http", service = "api", path = "/", expect_status = 200 }

[[assertions]]
id = "VAL-A-003"
statement = "agent"
check = { kind = "agent", instructions = "look", evidence = ["file_excerpt", "command"] }

[[skills]]
name = "frontend"
description = "d"
instructions = "i"

[services.commands]
test = "make test"

[[services.start]]
name = "api"
run = "./serve"
port = 9000

[[scripted_fixes]]
assertion = "VAL-A-003"
steps = [{ run = "make fix" }]

[[scripted_fixes]]
assertion = "VAL-A-002"
touches = ["src/**"]

[[scripted_fixes.steps]]
write = "src/a.txt"
content = "fixed"
"#;
    let parsed = accepted(explicit).plan;
    let by_serde: Plan = toml::from_str(explicit).expect("serde reads the explicit file");
    assert_eq!(parsed, by_serde);
    assert_eq!(parsed.features[1].steps.len(), 6);
    assert_eq!(parsed.scripted_fixes.len(), 2);

    let minimal = accepted(MINIMAL).plan;
    let minimal_by_serde: Plan = toml::from_str(&MINIMAL.replace(
        "milestone = \"m1\"\n",
        "milestone = \"m1\"\nrepository = \"app\"\n",
    ))
    .expect("serde reads the minimal file");
    assert_eq!(minimal, minimal_by_serde);
}

#[test]
fn the_plan_survives_a_json_round_trip() {
    let plan = accepted(&example_text()).plan;
    let json = serde_json::to_string(&plan).expect("plans serialise");
    let back: Plan = serde_json::from_str(&json).expect("plans deserialise");
    assert_eq!(plan, back);
}
