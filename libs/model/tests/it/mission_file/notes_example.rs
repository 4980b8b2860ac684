//! The example mission `sortie demo` runs: it parses cleanly, its parallel features have
//! disjoint touches, and its scripted fix repairs the seeded bug.

use sortie_model::plan::{Check, Plan, ScriptedStep};
use sortie_model::touches::features_conflict;
use sortie_model::{AssertionId, FeatureId, MilestoneId};

use super::{accepted, workspace_root};

fn notes_plan() -> Plan {
    let path = workspace_root().join("examples/missions/notes-service.toml");
    let text = std::fs::read_to_string(&path).expect("the notes-service mission exists");
    let parsed = accepted(&text);
    assert!(parsed.warnings.is_empty(), "warnings:\n{}", parsed.warnings);
    parsed.plan
}

fn feature_ids(plan: &Plan, milestone: &str) -> Vec<String> {
    plan.features_of(&MilestoneId::new(milestone))
        .map(|feature| feature.id.as_str().to_owned())
        .collect()
}

#[test]
fn the_notes_service_example_is_valid_and_scripted() {
    let plan = notes_plan();
    assert_eq!(plan.mission.name, "notes-service");
    assert_eq!(plan.milestones.len(), 2);
    assert_eq!(
        feature_ids(&plan, "m1-core"),
        ["F-STORE", "F-SERVER", "F-DOCS", "F-LIST", "F-CREATE"]
    );
    assert_eq!(feature_ids(&plan, "m2-search"), ["F-SEARCH", "F-STATS"]);
    assert_eq!(plan.assertions.len(), 10);
    assert_eq!(plan.settings.max_parallel_workers, 3);
    for role in [
        &plan.settings.agents.worker,
        &plan.settings.agents.validator,
        &plan.settings.agents.planner,
    ] {
        assert_eq!(role, "scripted");
    }
    assert_eq!(plan.services.start.len(), 1);
    assert_eq!(plan.services.start[0].port, 18461);
    for command in ["build", "test", "lint"] {
        assert!(plan.services.commands.contains_key(command), "{command}");
    }
    // No agent checks: the scripted validator proves every assertion by itself.
    assert!(
        plan.assertions
            .iter()
            .all(|assertion| !matches!(assertion.check, Check::Agent { .. }))
    );
    // Every feature writes its files and runs its own tests.
    for feature in &plan.features {
        assert!(
            feature
                .steps
                .iter()
                .any(|step| matches!(step, ScriptedStep::Write { .. })),
            "{} writes nothing",
            feature.id
        );
        assert!(
            matches!(feature.steps.last(), Some(ScriptedStep::Run { .. })),
            "{} does not end by running a check",
            feature.id
        );
    }
}

#[test]
fn the_notes_service_example_runs_features_side_by_side() {
    let plan = notes_plan();
    let feature = |id: &str| {
        plan.feature(&FeatureId::new(id))
            .unwrap_or_else(|| panic!("{id} exists"))
    };
    for (a, b) in [
        ("F-STORE", "F-SERVER"),
        ("F-STORE", "F-DOCS"),
        ("F-SERVER", "F-DOCS"),
        ("F-LIST", "F-CREATE"),
        ("F-SEARCH", "F-STATS"),
    ] {
        assert!(
            !features_conflict(feature(a), feature(b)),
            "{a} and {b} should be able to run at the same time"
        );
    }
    for id in ["F-STORE", "F-SERVER", "F-DOCS"] {
        assert!(feature(id).preconditions.is_empty(), "{id} waits");
    }
}

#[test]
fn the_notes_service_example_fixes_the_case_sensitive_search() {
    let plan = notes_plan();
    assert_eq!(plan.scripted_fixes.len(), 1);
    let fix = &plan.scripted_fixes[0];
    assert_eq!(fix.assertion, AssertionId::new("VAL-SEARCH-002"));
    let search = plan
        .feature(&FeatureId::new("F-SEARCH"))
        .expect("F-SEARCH exists");
    assert!(search.fulfills.contains(&fix.assertion));
    // The fix's replacement finds the very text F-SEARCH writes, once.
    let Some(ScriptedStep::Replace {
        replace,
        find,
        with,
    }) = fix.steps.first()
    else {
        panic!("the fix starts with a replace: {:?}", fix.steps);
    };
    assert_eq!(replace, "notes/handlers/search.py");
    assert!(with.contains(".lower()"));
    let written = search
        .steps
        .iter()
        .find_map(|step| match step {
            ScriptedStep::Write { write, content } if write == replace => Some(content),
            _ => None,
        })
        .expect("F-SEARCH writes notes/handlers/search.py");
    assert_eq!(written.matches(find.as_str()).count(), 1);
}
