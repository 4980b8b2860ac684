//! The merge queue's fenced integration of one proposal into the integration branch.
//!
//! Everything happens in the bare mirror: the merged tree is computed with `git merge-tree
//! --write-tree`, the commit with `git commit-tree`, and the branch moves only through a
//! compare-and-swap push (`--force-with-lease` with the tip the merge was computed on).
//!
//! Invariant: an attempt is integrated at most once. Before anything is pushed, the branch
//! is searched for a commit carrying the attempt's `Sortie-Attempt` trailer, so a crash
//! between the push and its recording never integrates the same work twice.

use crate::cache::{Mirror, RepoCache};
use crate::error::{GitError, GitResult};
use crate::message::{ATTEMPT_TRAILER, trailer_values};
use crate::push::{PushResult, push_with_lease};
use crate::refs::{CommitId, validate_branch_name};
use crate::url::strip_credentials;

/// The work an attempt proposes for the integration branch. The worker has pushed
/// `commit` (to [`attempt_branch`](crate::attempt_branch)), so the mirror's fetch brings it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    pub integration_branch: String,
    /// The attempt's commit, on top of `base`.
    pub commit: CommitId,
    /// The integration branch commit the attempt's work was done on.
    pub base: CommitId,
    /// The value of the `Sortie-Attempt` trailer the proposal's commit carries.
    pub attempt: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IntegrationOutcome {
    /// The branch now ends with `commit`, which carries the proposal's work.
    Integrated { commit: CommitId },
    /// The branch already held the attempt's work, in `commit`; nothing was pushed.
    AlreadyIntegrated { commit: CommitId },
    /// The proposal conflicts with the branch's tip in these paths; nothing was pushed.
    Conflict { paths: Vec<String> },
}

/// What one try computed against one tip.
enum Plan {
    Done(IntegrationOutcome),
    Push { tip: CommitId, new: CommitId },
}

/// Integrates `proposal` into its integration branch on `url`: as a fast-forward when the
/// branch has not moved since the proposal's base, otherwise as a new commit with the
/// merged tree, the proposal's message and author, and the tip as only parent (a linear
/// history). Retries with a fresh fetch when the branch moves before the push lands.
pub async fn integrate(
    cache: &RepoCache,
    url: &str,
    proposal: &Proposal,
) -> GitResult<IntegrationOutcome> {
    validate_branch_name(&proposal.integration_branch)?;
    let attempts = cache.config().max_push_attempts.max(1);
    for attempt_number in 1..=attempts {
        let mirror = cache.mirror(url).await?;
        let (tip, new) = match plan(&mirror, proposal).await? {
            Plan::Done(outcome) => return Ok(outcome),
            Plan::Push { tip, new } => (tip, new),
        };
        match push_with_lease(&mirror, &proposal.integration_branch, &new, Some(&tip)).await? {
            PushResult::Pushed => {
                mirror.record_push(&proposal.integration_branch, &new).await;
                tracing::info!(
                    branch = %proposal.integration_branch,
                    attempt = %proposal.attempt,
                    commit = %new.short(),
                    fast_forward = new == proposal.commit,
                    "integrated"
                );
                return Ok(IntegrationOutcome::Integrated { commit: new });
            }
            PushResult::Moved => {
                tracing::info!(
                    branch = %proposal.integration_branch,
                    attempt_number,
                    "integration branch moved during the push; trying again"
                );
            }
        }
    }
    Err(GitError::BranchContended {
        url: strip_credentials(url),
        branch: proposal.integration_branch.clone(),
        attempts,
    })
}

async fn plan(mirror: &Mirror, proposal: &Proposal) -> GitResult<Plan> {
    let branch = &proposal.integration_branch;
    let Some(tip) = mirror.branch_tip(branch).await? else {
        return Err(GitError::BranchNotFound {
            url: strip_credentials(mirror.url()),
            branch: branch.clone(),
        });
    };
    for commit in [&proposal.commit, &proposal.base] {
        if !mirror.has_commit(commit).await? {
            return Err(GitError::CommitNotFound {
                url: strip_credentials(mirror.url()),
                commit: commit.to_string(),
            });
        }
    }
    if !mirror.is_ancestor(&proposal.base, &proposal.commit).await? {
        return Err(GitError::invalid(
            "proposal",
            proposal.commit.as_str(),
            format!("its base {} is not an ancestor of it", proposal.base),
        ));
    }
    let described = describe(mirror, &proposal.commit).await?;
    // Without the trailer a crashed integration could not be found again.
    if !trailer_values(&described.message, ATTEMPT_TRAILER).contains(&proposal.attempt.as_str()) {
        return Err(GitError::invalid(
            "proposal",
            proposal.commit.as_str(),
            format!(
                "its message lacks the trailer `{ATTEMPT_TRAILER}: {}`",
                proposal.attempt
            ),
        ));
    }
    if mirror.is_ancestor(&proposal.commit, &tip).await? {
        return Ok(Plan::Done(IntegrationOutcome::AlreadyIntegrated {
            commit: proposal.commit.clone(),
        }));
    }
    if let Some(commit) = find_attempt(mirror, branch, &proposal.base, &proposal.attempt).await? {
        return Ok(Plan::Done(IntegrationOutcome::AlreadyIntegrated { commit }));
    }
    if mirror.is_ancestor(&tip, &proposal.commit).await? {
        return Ok(Plan::Push {
            tip,
            new: proposal.commit.clone(),
        });
    }
    match merge_tree(mirror, &proposal.base, &tip, &proposal.commit).await? {
        MergeTree::Conflict(paths) => Ok(Plan::Done(IntegrationOutcome::Conflict { paths })),
        MergeTree::Clean(tree) => {
            let new = commit_like(mirror, &tree, &tip, &described).await?;
            Ok(Plan::Push { tip, new })
        }
    }
}

/// The commit on `branch` after `base` whose message has `Sortie-Attempt: <attempt>`.
async fn find_attempt(
    mirror: &Mirror,
    branch: &str,
    base: &CommitId,
    attempt: &str,
) -> GitResult<Option<CommitId>> {
    let output = mirror
        .git()
        .command(mirror.path())
        .args(["log", "--format=%H%x00%B%x00", "--fixed-strings"])
        .arg(format!("--grep={attempt}"))
        .arg(format!("refs/heads/{branch}"))
        .args(["--not", base.as_str(), "--"])
        .run()
        .await?;
    let stdout = output.stdout_text();
    let mut fields = stdout.split('\0');
    while let (Some(commit), Some(message)) = (fields.next(), fields.next()) {
        if trailer_values(message, ATTEMPT_TRAILER).contains(&attempt) {
            return CommitId::parse(commit.trim()).map(Some);
        }
    }
    Ok(None)
}

enum MergeTree {
    Clean(String),
    Conflict(Vec<String>),
}

async fn merge_tree(
    mirror: &Mirror,
    base: &CommitId,
    tip: &CommitId,
    proposal: &CommitId,
) -> GitResult<MergeTree> {
    let output = mirror
        .git()
        .command(mirror.path())
        .args([
            "merge-tree",
            "--write-tree",
            "--name-only",
            "--no-messages",
            "-z",
        ])
        .arg(format!("--merge-base={}", base.as_str()))
        .args([tip.as_str(), proposal.as_str()])
        .output()
        .await?;
    let clean = match output.code {
        Some(0) => true,
        Some(1) => false,
        _ => return Err(output.into_error()),
    };
    let (tree, conflicted) = parse_merge_tree(&output.stdout_text())
        .ok_or_else(|| output.unexpected("no tree id in the output"))?;
    if clean {
        Ok(MergeTree::Clean(tree))
    } else {
        Ok(MergeTree::Conflict(conflicted))
    }
}

/// `git merge-tree --write-tree --name-only --no-messages -z` prints the tree id, then the
/// conflicted paths, each ended by NUL.
fn parse_merge_tree(stdout: &str) -> Option<(String, Vec<String>)> {
    let mut fields = stdout.split('\0');
    let tree = fields.next()?.trim();
    if tree.is_empty() || !tree.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return None;
    }
    let mut paths: Vec<String> = fields
        .filter(|path| !path.is_empty())
        .map(str::to_owned)
        .collect();
    paths.sort();
    paths.dedup();
    Some((tree.to_owned(), paths))
}

/// The author and message of a commit.
struct Described {
    author_name: String,
    author_email: String,
    /// `<unix seconds> <offset>`, as `GIT_AUTHOR_DATE` takes it.
    author_date: String,
    message: String,
}

async fn describe(mirror: &Mirror, commit: &CommitId) -> GitResult<Described> {
    let output = mirror
        .git()
        .command(mirror.path())
        .args([
            "show",
            "--no-patch",
            "--date=raw",
            "--pretty=format:%an%x00%ae%x00%ad%x00%B",
        ])
        .arg(commit.as_str())
        .run()
        .await?;
    let text = output.stdout_text();
    let mut fields = text.splitn(4, '\0');
    let (Some(author_name), Some(author_email), Some(author_date), Some(message)) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(output.unexpected("expected author name, email, date and message"));
    };
    Ok(Described {
        author_name: author_name.to_owned(),
        author_email: author_email.to_owned(),
        author_date: author_date.to_owned(),
        message: message.to_owned(),
    })
}

/// A commit of `tree` on `parent` with the message and author of `like`.
async fn commit_like(
    mirror: &Mirror,
    tree: &str,
    parent: &CommitId,
    like: &Described,
) -> GitResult<CommitId> {
    let line = mirror
        .git()
        .command(mirror.path())
        .args(["commit-tree", tree, "-p", parent.as_str(), "-F", "-"])
        .env("GIT_AUTHOR_NAME", like.author_name.clone())
        .env("GIT_AUTHOR_EMAIL", like.author_email.clone())
        .env("GIT_AUTHOR_DATE", like.author_date.clone())
        .stdin(like.message.clone())
        .read_line()
        .await?;
    CommitId::parse(&line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_tree_output_is_a_tree_then_conflicted_paths() {
        let tree = "a".repeat(40);
        let clean = parse_merge_tree(&format!("{tree}\0")).unwrap();
        assert_eq!(clean, (tree.clone(), vec![]));
        let conflicted =
            parse_merge_tree(&format!("{tree}\0src/b.rs\0src/a.rs\0src/a.rs\0")).unwrap();
        assert_eq!(
            conflicted.1,
            vec!["src/a.rs".to_owned(), "src/b.rs".to_owned()]
        );
        assert!(parse_merge_tree("").is_none());
        assert!(parse_merge_tree("fatal\0").is_none());
    }
}
