//! A worker's git workspace: a clone on a new branch from the integration branch, where
//! the coding agent works and Sortie commits, rebases and pushes.
//!
//! The clone is made from the mirror (a local, hard-linked clone), so it is fast, and its
//! `origin` is the remote's URL without credentials: the URL with credentials is only ever
//! on Sortie's command lines.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::cache::RepoCache;
use crate::error::{GitError, GitResult};
use crate::message::CommitMessage;
use crate::refs::{CommitId, validate_branch_name};
use crate::runner::{Git, GitCommand};
use crate::url::{redact_credentials, strip_credentials};

/// The result of [`Workspace::rebase_onto_latest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RebaseOutcome {
    /// The work now sits on `new_base`, the integration branch's tip; `head` is its last
    /// commit.
    Clean { new_base: CommitId, head: CommitId },
    /// The work conflicts with the integration branch in these paths. The rebase was
    /// aborted: the workspace is as it was.
    Conflict { paths: Vec<String> },
}

pub struct Workspace {
    dir: PathBuf,
    url: String,
    integration_branch: String,
    work_branch: String,
    base: CommitId,
    git: Git,
}

impl fmt::Debug for Workspace {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Workspace")
            .field("dir", &self.dir)
            .field("url", &redact_credentials(&self.url))
            .field("integration_branch", &self.integration_branch)
            .field("work_branch", &self.work_branch)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Workspace {
    /// Clones `url` (through its mirror) into `dir`, which must be absent or empty, and
    /// checks out `work_branch` as a new branch at the tip of `integration_branch`.
    pub async fn prepare(
        cache: &RepoCache,
        url: &str,
        dir: impl Into<PathBuf>,
        integration_branch: &str,
        work_branch: &str,
    ) -> GitResult<Self> {
        let dir = dir.into();
        validate_branch_name(integration_branch)?;
        validate_branch_name(work_branch)?;
        ensure_absent_or_empty(&dir).await?;
        let mirror = cache.mirror(url).await?;
        if mirror.branch_tip(integration_branch).await?.is_none() {
            return Err(GitError::BranchNotFound {
                url: strip_credentials(url),
                branch: integration_branch.to_owned(),
            });
        }
        let parent = dir.parent().unwrap_or(Path::new("/"));
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|source| GitError::io("create", parent, source))?;
        cache
            .git()
            .command(parent)
            // `--shared` borrows the mirror's objects (an alternate) instead of linking
            // each of them into the workspace: a mirror's loose objects grow with every
            // fetch, and linking them made each attempt's workspace slower to prepare than
            // the last. The workspace lives minutes; the mirror prunes nothing that young.
            .args([
                "clone",
                "--quiet",
                "--shared",
                "--no-checkout",
                "--single-branch",
                "--branch",
            ])
            .arg(integration_branch)
            .arg("--")
            .arg(mirror.path())
            .arg(&dir)
            .run()
            .await?;
        let workspace_git = cache.git().clone();
        let run = |args: &[&str]| workspace_git.command(&dir).args(args.iter().copied());
        run(&["remote", "set-url", "origin", &strip_credentials(url)])
            .run()
            .await?;
        let remote_tracking = format!("refs/remotes/origin/{integration_branch}");
        let base = CommitId::parse(
            &run(&[
                "rev-parse",
                "--verify",
                &format!("{remote_tracking}^{{commit}}"),
            ])
            .read_line()
            .await?,
        )?;
        run(&[
            "checkout",
            "--quiet",
            "--no-track",
            "-B",
            work_branch,
            base.as_str(),
        ])
        .run()
        .await?;
        tracing::info!(dir = %dir.display(), work_branch, base = %base.short(), "prepared workspace");
        Ok(Self {
            dir,
            url: url.to_owned(),
            integration_branch: integration_branch.to_owned(),
            work_branch: work_branch.to_owned(),
            base,
            git: workspace_git,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The integration branch commit the work sits on.
    pub fn base(&self) -> &CommitId {
        &self.base
    }

    pub fn work_branch(&self) -> &str {
        &self.work_branch
    }

    pub fn integration_branch(&self) -> &str {
        &self.integration_branch
    }

    pub async fn head(&self) -> GitResult<CommitId> {
        self.resolve("HEAD").await
    }

    /// Every path that differs from the base: committed, staged, unstaged or untracked
    /// (ignored files excluded), repository-relative, sorted. A rename shows both paths.
    pub async fn changed_paths(&self) -> GitResult<Vec<String>> {
        let tracked = self
            .command(&[
                "diff",
                "--name-only",
                "--no-renames",
                "-z",
                self.base.as_str(),
                "--",
            ])
            .run()
            .await?;
        let untracked = self
            .command(&["ls-files", "--others", "--exclude-standard", "-z"])
            .run()
            .await?;
        let mut paths = BTreeSet::new();
        paths.extend(nul_separated(&tracked.stdout));
        paths.extend(nul_separated(&untracked.stdout));
        Ok(paths.into_iter().collect())
    }

    /// Stages everything and commits it; `None` when there was nothing to commit.
    pub async fn commit_all(&self, message: &CommitMessage) -> GitResult<Option<CommitId>> {
        let rendered = message.render()?;
        self.command(&["add", "--all"]).run().await?;
        if !self.index_differs_from_head().await? {
            return Ok(None);
        }
        self.commit(rendered).await.map(Some)
    }

    /// Makes all the work (commits and uncommitted changes) one commit on top of the base;
    /// `None`, with HEAD at the base, when the work changes nothing.
    pub async fn squash_onto_base(&self, message: &CommitMessage) -> GitResult<Option<CommitId>> {
        let rendered = message.render()?;
        self.command(&["add", "--all"]).run().await?;
        self.command(&["reset", "--soft", "--quiet", self.base.as_str()])
            .run()
            .await?;
        if !self.index_differs_from_head().await? {
            return Ok(None);
        }
        self.commit(rendered).await.map(Some)
    }

    /// Fetches the integration branch and rebases the work onto its tip. The workspace
    /// must have no uncommitted changes.
    pub async fn rebase_onto_latest(&mut self) -> GitResult<RebaseOutcome> {
        let dirty = self.uncommitted_paths().await?;
        if !dirty.is_empty() {
            return Err(GitError::DirtyWorkspace {
                dir: self.dir.clone(),
                paths: dirty,
            });
        }
        let remote_tracking = format!("refs/remotes/origin/{}", self.integration_branch);
        let refspec = format!("+refs/heads/{}:{remote_tracking}", self.integration_branch);
        self.command(&[
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            "--",
        ])
        .arg(&self.url)
        .arg(&refspec)
        .remote()
        .run()
        .await?;
        let latest = self.resolve(&remote_tracking).await?;
        if latest != self.base {
            let rebase = self
                .command(&[
                    "rebase",
                    "--quiet",
                    "--onto",
                    latest.as_str(),
                    self.base.as_str(),
                ])
                .output()
                .await?;
            if !rebase.success() {
                return self.abort_rebase(rebase).await;
            }
        }
        tracing::info!(dir = %self.dir.display(), from = %self.base.short(), onto = %latest.short(), "rebased workspace");
        self.base = latest.clone();
        Ok(RebaseOutcome::Clean {
            new_base: latest,
            head: self.head().await?,
        })
    }

    /// Pushes HEAD to `refs/heads/<branch>` on the remote, replacing whatever was there
    /// (attempt branches belong to one attempt). Returns the pushed commit.
    pub async fn push_branch(&self, branch: &str) -> GitResult<CommitId> {
        validate_branch_name(branch)?;
        let head = self.head().await?;
        self.command(&["push", "--quiet", "--force", "--no-verify", "--"])
            .arg(&self.url)
            .arg(format!("{}:refs/heads/{branch}", head.as_str()))
            .remote()
            .run()
            .await?;
        tracing::info!(branch, commit = %head.short(), "pushed attempt branch");
        Ok(head)
    }

    async fn abort_rebase(&self, rebase: crate::runner::GitOutput) -> GitResult<RebaseOutcome> {
        let unmerged = self
            .command(&["diff", "--name-only", "--diff-filter=U", "-z"])
            .run()
            .await?;
        let paths: Vec<String> = nul_separated(&unmerged.stdout)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let rebase_dir = self
            .command(&["rev-parse", "--git-path", "rebase-merge"])
            .read_line()
            .await?;
        if crate::cache::exists(&self.dir.join(rebase_dir)).await? {
            self.command(&["rebase", "--abort"]).run().await?;
        }
        if paths.is_empty() {
            return Err(rebase.into_error());
        }
        tracing::info!(dir = %self.dir.display(), ?paths, "rebase conflicted and was aborted");
        Ok(RebaseOutcome::Conflict { paths })
    }

    async fn commit(&self, rendered_message: String) -> GitResult<CommitId> {
        self.command(&[
            "commit",
            "--quiet",
            "--no-verify",
            "--cleanup=verbatim",
            "--file=-",
        ])
        .stdin(rendered_message)
        .run()
        .await?;
        self.head().await
    }

    async fn index_differs_from_head(&self) -> GitResult<bool> {
        let output = self
            .command(&["diff", "--cached", "--quiet", "HEAD", "--"])
            .output()
            .await?;
        match output.code {
            Some(0) => Ok(false),
            Some(1) => Ok(true),
            _ => Err(output.into_error()),
        }
    }

    async fn uncommitted_paths(&self) -> GitResult<Vec<String>> {
        let status = self
            .command(&["status", "--porcelain", "-z", "--untracked-files=all"])
            .run()
            .await?;
        // Entries are "XY path"; a rename or copy is followed by its source as an entry of
        // its own, without a status.
        let mut paths = Vec::new();
        let mut entries = nul_separated(&status.stdout);
        while let Some(entry) = entries.next() {
            let Some(path) = entry.get(3..) else {
                continue;
            };
            paths.push(path.to_owned());
            if entry.starts_with(['R', 'C']) {
                paths.extend(entries.next());
            }
        }
        Ok(paths)
    }

    async fn resolve(&self, revision: &str) -> GitResult<CommitId> {
        let line = self
            .command(&["rev-parse", "--verify", "--end-of-options"])
            .arg(format!("{revision}^{{commit}}"))
            .read_line()
            .await?;
        CommitId::parse(&line)
    }

    fn command(&self, args: &[&str]) -> GitCommand<'_> {
        self.git.command(&self.dir).args(args.iter().copied())
    }
}

fn nul_separated(bytes: &[u8]) -> impl Iterator<Item = String> + '_ {
    bytes
        .split(|byte| *byte == 0)
        .filter(|entry| !entry.is_empty())
        .map(|entry| String::from_utf8_lossy(entry).into_owned())
}

pub(crate) async fn ensure_absent_or_empty(dir: &Path) -> GitResult<()> {
    match tokio::fs::read_dir(dir).await {
        Ok(mut entries) => {
            let first = entries
                .next_entry()
                .await
                .map_err(|source| GitError::io("read", dir, source))?;
            if first.is_some() {
                return Err(GitError::DirectoryNotEmpty {
                    dir: dir.to_owned(),
                });
            }
            Ok(())
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(GitError::io("read", dir, source)),
    }
}
