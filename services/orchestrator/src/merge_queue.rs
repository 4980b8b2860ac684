//! The merge queue, on the orchestrator's side: the fenced integration of workers' work.
//!
//! A worker rebases its work onto the integration branch, pushes it to its own attempt
//! branch and proposes it. Only here, after the attempt's fence is checked in the
//! ledger, does work reach the integration branch: through a compare-and-swap push, once
//! per attempt (the `Sortie-Attempt` trailer makes a repeat find the earlier result). A
//! worker whose lease was lost can never integrate anything.

use std::collections::HashSet;
use std::sync::Mutex;

use sortie_git::{CommitId, IntegrationOutcome, Proposal};
use sortie_model::protocol::{IntegrationProposal, RepositoryTarget};
use sortie_model::{MissionId, Plan};

use crate::Core;
use crate::error::{OrchestratorError, Result};
use crate::tasks;

/// The missions whose integration branches this process has made sure of.
#[derive(Debug, Default)]
pub(crate) struct PreparedBranches(Mutex<HashSet<(String, String)>>);

/// Create each repository's integration branch from its base branch, once.
pub(crate) async fn prepare_integration_branches(
    core: &Core,
    mission: MissionId,
    plan: &Plan,
) -> Result<()> {
    for repository in &plan.repositories {
        let branch = tasks::integration_branch(plan, mission, repository);
        let key = (repository.url.clone(), branch.clone());
        if core
            .prepared
            .0
            .lock()
            .expect("prepared lock")
            .contains(&key)
        {
            continue;
        }
        sortie_git::ensure_branch(
            &core.repos,
            &repository.url,
            &branch,
            &repository.base_branch,
        )
        .await?;
        core.prepared.0.lock().expect("prepared lock").insert(key);
    }
    Ok(())
}

/// The integration branch's commit now, for a validation to pin.
pub(crate) async fn integration_tip(core: &Core, target: &RepositoryTarget) -> Result<String> {
    let tip = sortie_git::branch_tip(
        &core.repos,
        &target.repository.url,
        &target.integration_branch,
    )
    .await?
    .ok_or_else(|| {
        OrchestratorError::BadRequest(format!(
            "the integration branch {} of {} does not exist",
            target.integration_branch, target.repository.name
        ))
    })?;
    Ok(tip.as_str().to_owned())
}

/// Integrate one attempt's proposal. The caller has checked the attempt's fence.
pub(crate) async fn integrate(
    core: &Core,
    target: &RepositoryTarget,
    attempt: &str,
    proposal: &IntegrationProposal,
) -> Result<IntegrationOutcome> {
    let proposal = Proposal {
        integration_branch: target.integration_branch.clone(),
        commit: CommitId::parse(&proposal.commit)?,
        base: CommitId::parse(&proposal.base)?,
        attempt: attempt.to_owned(),
    };
    Ok(sortie_git::integrate(&core.repos, &target.repository.url, &proposal).await?)
}
