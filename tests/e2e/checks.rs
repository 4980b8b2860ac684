//! What every finished mission must show, whatever happened on the way.

use std::collections::BTreeMap;
use std::path::Path;

use sortie_model::api::{AttemptSubject, MissionStatus};
use sortie_model::records::Usage;
use sortie_model::state::{AttemptState, FeatureState, MissionState};
use sortie_test_support::git::LogEntry;

/// Every feature is done with exactly one accepted attempt, and no live attempt is left.
pub(crate) fn every_feature_accepted_once(status: &MissionStatus) {
    assert_eq!(status.mission.state, MissionState::Completed);
    for feature in &status.features {
        assert_eq!(
            feature.state,
            FeatureState::Done,
            "feature {} is {}",
            feature.id,
            feature.state
        );
        let accepted = status
            .attempts
            .iter()
            .filter(|attempt| {
                matches!(&attempt.subject, AttemptSubject::Feature { feature: id } if *id == feature.id)
                    && attempt.state == AttemptState::Succeeded
            })
            .count();
        assert_eq!(
            accepted, 1,
            "feature {} has {accepted} accepted attempts",
            feature.id
        );
        assert!(
            feature.integrated_commit.is_some(),
            "feature {} has no integrated commit",
            feature.id
        );
    }
    let live: Vec<_> = status
        .attempts
        .iter()
        .filter(|attempt| {
            matches!(
                attempt.state,
                AttemptState::Dispatched | AttemptState::Running
            )
        })
        .collect();
    assert!(
        live.is_empty(),
        "attempts still live after the mission ended: {live:?}"
    );
}

/// Every feature's work is on the integration branch exactly once, in a linear history.
pub(crate) fn every_feature_integrated_once(
    status: &MissionStatus,
    repository: &Path,
    branch: &str,
) {
    let log = log(repository, branch);
    let mut per_feature: BTreeMap<String, usize> = BTreeMap::new();
    for entry in &log {
        assert!(
            entry.parents.len() <= 1,
            "a merge commit on the integration branch: {}",
            entry.subject
        );
        for feature in entry.trailer("Sortie-Feature") {
            *per_feature.entry(feature).or_default() += 1;
        }
    }
    for feature in &status.features {
        let repository_name = repository
            .file_stem()
            .and_then(|stem| stem.to_str())
            .unwrap_or_default();
        if feature.repository.as_str() != repository_name {
            continue;
        }
        assert_eq!(
            per_feature.get(feature.id.as_str()).copied().unwrap_or(0),
            1,
            "feature {} is integrated {:?} times on {branch}",
            feature.id,
            per_feature.get(feature.id.as_str())
        );
    }
}

/// Every integrated attempt's branch is gone from `repository`. The merge queue removes
/// it once the ledger has the result; an orchestrator killed in between leaves it behind
/// (nothing sweeps those yet), so the fault tests do not ask this.
pub(crate) fn integrated_attempt_branches_removed(status: &MissionStatus, repository: &Path) {
    let branches = sortie_test_support::git::git(
        repository,
        &[
            "for-each-ref",
            "--format=%(refname:short)",
            "refs/heads/sortie/attempts",
        ],
    )
    .expect("list the attempt branches");
    for attempt in &status.attempts {
        if attempt.state == AttemptState::Succeeded
            && matches!(attempt.subject, AttemptSubject::Feature { .. })
        {
            let name = format!("sortie/attempts/{}", attempt.id);
            assert!(
                !branches.lines().any(|line| line == name),
                "integrated attempt {} left its branch: {branches}",
                attempt.id
            );
        }
    }
}

/// Every accepted feature attempt reports what its scripted agent used (no model turns,
/// but wall time), and the mission's totals are the sum over its attempts' handoffs.
pub(crate) fn every_accepted_attempt_reports_usage(status: &MissionStatus) {
    let mut summed = Usage::default();
    for attempt in &status.attempts {
        if let Some(usage) = &attempt.usage {
            summed.add(usage);
        }
        let is_accepted_feature_attempt = matches!(attempt.subject, AttemptSubject::Feature { .. })
            && attempt.state == AttemptState::Succeeded;
        if !is_accepted_feature_attempt {
            continue;
        }
        let usage = attempt
            .usage
            .as_ref()
            .unwrap_or_else(|| panic!("attempt {} reports no usage", attempt.id));
        assert_eq!(
            usage.turns, 0,
            "the scripted agent asks no model: {usage:?}"
        );
        assert_eq!(
            usage.cost_usd, None,
            "the scripted agent costs nothing known"
        );
        assert!(
            usage.wall_ms > 0,
            "attempt {} reports no wall time: {usage:?}",
            attempt.id
        );
    }
    assert_eq!(status.mission.usage, summed);
    assert!(status.mission.usage.wall_ms > 0);
}

pub(crate) fn log(repository: &Path, branch: &str) -> Vec<LogEntry> {
    sortie_test_support::git::log(repository, branch).expect("git log")
}
