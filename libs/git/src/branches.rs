//! What the orchestrator asks of the remote: a branch's tip, whether a commit is on a
//! branch, and the mission's integration branch made to exist.

use crate::cache::RepoCache;
use crate::error::{GitError, GitResult};
use crate::push::{PushResult, delete_with_lease, push_with_lease};
use crate::refs::{CommitId, validate_branch_name};
use crate::url::strip_credentials;

/// The tip of `branch` on the remote now (asked of the remote, not the mirror), or `None`
/// when it does not exist.
pub async fn branch_tip(cache: &RepoCache, url: &str, branch: &str) -> GitResult<Option<CommitId>> {
    validate_branch_name(branch)?;
    let root = cache.root();
    tokio::fs::create_dir_all(root)
        .await
        .map_err(|source| GitError::io("create", root, source))?;
    let reference = format!("refs/heads/{branch}");
    let output = cache
        .git()
        .command(root)
        .args(["ls-remote", "--quiet", "--", url, &reference])
        .remote()
        .run()
        .await?;
    let stdout = output.stdout_text();
    for line in stdout.lines() {
        if let Some((commit, name)) = line.split_once('\t')
            && name == reference
        {
            return CommitId::parse(commit).map(Some);
        }
    }
    Ok(None)
}

/// Whether `commit` is on `branch` of the remote (reachable from its tip), after a fetch.
/// A commit the remote does not have is not on the branch.
pub async fn is_ancestor(
    cache: &RepoCache,
    url: &str,
    commit: &CommitId,
    branch: &str,
) -> GitResult<bool> {
    validate_branch_name(branch)?;
    let mirror = cache.mirror(url).await?;
    let Some(tip) = mirror.branch_tip(branch).await? else {
        return Err(GitError::BranchNotFound {
            url: strip_credentials(url),
            branch: branch.to_owned(),
        });
    };
    if !mirror.has_commit(commit).await? {
        return Ok(false);
    }
    mirror.is_ancestor(commit, &tip).await
}

/// Makes `branch` exist on the remote, created at the tip of `from_branch` if it does not
/// exist yet, and returns its tip. Idempotent; when several callers race, the first
/// creation wins and every caller returns its tip.
pub async fn ensure_branch(
    cache: &RepoCache,
    url: &str,
    branch: &str,
    from_branch: &str,
) -> GitResult<CommitId> {
    validate_branch_name(branch)?;
    validate_branch_name(from_branch)?;
    let attempts = cache.config().max_push_attempts.max(1);
    for _ in 0..attempts {
        let mirror = cache.mirror(url).await?;
        if let Some(tip) = mirror.branch_tip(branch).await? {
            return Ok(tip);
        }
        let Some(start) = mirror.branch_tip(from_branch).await? else {
            return Err(GitError::BranchNotFound {
                url: strip_credentials(url),
                branch: from_branch.to_owned(),
            });
        };
        match push_with_lease(&mirror, branch, &start, None).await? {
            PushResult::Pushed => {
                mirror.record_push(branch, &start).await;
                tracing::info!(branch, from_branch, commit = %start.short(), "created branch");
                return Ok(start);
            }
            // Someone else created it: the next fetch reads its tip.
            PushResult::Moved => {}
        }
    }
    Err(GitError::BranchContended {
        url: strip_credentials(url),
        branch: branch.to_owned(),
        attempts,
    })
}

/// Delete `branch` on the remote if it is still at `expected`; a branch that is gone
/// already, or has moved on, is left as it is. Returns whether it was deleted. Pushes
/// from the URL's existing mirror without fetching it first (a deletion carries no
/// objects); the mirror is made if there is none.
pub async fn delete_branch_if_at(
    cache: &RepoCache,
    url: &str,
    branch: &str,
    expected: &CommitId,
) -> GitResult<bool> {
    validate_branch_name(branch)?;
    let mirror = match cache.existing_mirror(url).await? {
        Some(mirror) => mirror,
        None => cache.mirror(url).await?,
    };
    Ok(delete_with_lease(&mirror, branch, expected).await? == PushResult::Pushed)
}
