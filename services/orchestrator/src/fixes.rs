//! Fix features: what a failed validation becomes.
//!
//! Each failed assertion (or scrutiny step) becomes one fix feature in the same milestone.
//! It names the findings it must clear, fulfils the failed assertion, may touch what the
//! features that fulfil the assertion touch, and is validated again with the milestone.

use std::collections::BTreeMap;

use sortie_model::plan::{Feature, FixOrigin, Plan};
use sortie_model::records::Finding;
use sortie_model::{FeatureId, MilestoneId, RepositoryName};

/// The fix round a milestone is in: how many rounds of fix features it has had.
pub fn rounds_so_far(plan: &Plan, milestone: &MilestoneId) -> u32 {
    plan.features_of(milestone)
        .filter_map(|feature| feature.fix.as_ref().map(|fix| fix.round))
        .max()
        .unwrap_or(0)
}

/// The fix features for one repository's findings in round `round`.
pub fn fix_features(
    plan: &Plan,
    milestone: &MilestoneId,
    repository: &RepositoryName,
    round: u32,
    findings: &[Finding],
) -> Vec<Feature> {
    // One fix per failed assertion or scrutiny step, in a stable order.
    let mut groups: BTreeMap<String, Vec<&Finding>> = BTreeMap::new();
    for finding in findings {
        let key = finding
            .assertion
            .as_ref()
            .map_or_else(|| finding.check.clone(), ToString::to_string);
        groups.entry(key).or_default().push(finding);
    }
    groups
        .into_iter()
        .map(|(key, group)| fix_feature(plan, milestone, repository, round, &key, &group))
        .collect()
}

fn fix_feature(
    plan: &Plan,
    milestone: &MilestoneId,
    repository: &RepositoryName,
    round: u32,
    key: &str,
    findings: &[&Finding],
) -> Feature {
    let assertion = findings[0].assertion.clone();
    let contract = assertion
        .as_ref()
        .and_then(|id| plan.assertions.iter().find(|candidate| &candidate.id == id));
    // The fix may change what the features that fulfil the assertion may change; a fix of
    // a scrutiny step (build, test, lint) may change anything.
    let fulfilling: Vec<&Feature> = match &assertion {
        Some(id) => plan
            .features
            .iter()
            .filter(|feature| &feature.repository == repository && feature.fulfills.contains(id))
            .collect(),
        None => Vec::new(),
    };
    let touches = if fulfilling.is_empty() || fulfilling.iter().any(|f| f.touches.is_empty()) {
        Vec::new()
    } else {
        let mut union: Vec<String> = fulfilling
            .iter()
            .flat_map(|feature| feature.touches.iter().cloned())
            .collect();
        union.sort();
        union.dedup();
        union
    };
    let scripted = assertion
        .as_ref()
        .and_then(|id| plan.scripted_fixes.iter().find(|fix| &fix.assertion == id));
    let mut description = String::from("Validation of this milestone found problems to fix:\n");
    for finding in findings {
        description.push_str(&format!("- {}\n", finding.summary));
    }
    Feature {
        id: FeatureId::new(format!("FIX-{milestone}-R{round}-{key}")),
        title: format!("Fix {key} (round {round})"),
        milestone: milestone.clone(),
        repository: repository.clone(),
        description,
        skill: None,
        preconditions: Vec::new(),
        expected_behavior: contract
            .map(|assertion| vec![assertion.statement.clone()])
            .unwrap_or_default(),
        verification: vec![format!(
            "milestone {milestone} validates again with {key} proven"
        )],
        fulfills: assertion.into_iter().collect(),
        touches: scripted
            .filter(|fix| !fix.touches.is_empty())
            .map_or(touches, |fix| fix.touches.clone()),
        estimate_minutes: None,
        steps: scripted.map(|fix| fix.steps.clone()).unwrap_or_default(),
        fix: Some(FixOrigin {
            round,
            findings: findings
                .iter()
                .map(|finding| finding.summary.clone())
                .collect(),
        }),
    }
}
