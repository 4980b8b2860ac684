//! Bare mirrors of remote repositories, one per URL, so that no attempt clones from
//! scratch.
//!
//! Invariant: a mirror holds no credentials. It is created empty and every fetch names the
//! URL on the command line, so a token in a URL never reaches the disk.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::GitConfig;
use crate::error::{GitError, GitResult};
use crate::refs::CommitId;
use crate::runner::Git;
use crate::url::{mirror_dir_name, redact_credentials, strip_credentials};

/// What a mirror keeps of its remote: branches (attempt branches included) and tags.
const MIRROR_REFSPECS: &[&str] = &["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"];

/// Another process fetching into the same mirror holds a ref lock for a moment.
const LOCK_RETRIES: u32 = 3;
const LOCK_RETRY_DELAY: Duration = Duration::from_millis(200);

static INCOMING_SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// A directory of bare mirrors. Calls for one URL are serialised within the process;
/// processes sharing the directory are tolerated: a new mirror is built aside and renamed
/// into place, and a fetch that meets another's ref lock is retried.
pub struct RepoCache {
    root: PathBuf,
    git: Git,
    url_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl fmt::Debug for RepoCache {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("RepoCache")
            .field("root", &self.root)
            .field("config", self.git.config())
            .finish_non_exhaustive()
    }
}

/// A bare mirror of one remote, as of its last fetch.
#[derive(Clone)]
pub struct Mirror {
    path: PathBuf,
    url: String,
    git: Git,
}

impl fmt::Debug for Mirror {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Mirror")
            .field("path", &self.path)
            .field("url", &redact_credentials(&self.url))
            .finish()
    }
}

impl RepoCache {
    /// A cache under `root`; a relative root is taken from the current directory now, since
    /// git runs in many directories.
    pub fn new(root: impl Into<PathBuf>, config: GitConfig) -> Self {
        let root = root.into();
        let root = std::path::absolute(&root).unwrap_or(root);
        Self {
            root,
            git: Git::new(config),
            url_locks: Mutex::new(HashMap::new()),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn config(&self) -> &GitConfig {
        self.git.config()
    }

    pub(crate) fn git(&self) -> &Git {
        &self.git
    }

    /// The mirror of `url` as it is, without a fetch; none when there is no mirror yet.
    pub async fn existing_mirror(&self, url: &str) -> GitResult<Option<Mirror>> {
        let mirror = Mirror {
            path: self.root.join(mirror_dir_name(url)),
            url: url.to_owned(),
            git: self.git.clone(),
        };
        Ok(exists(&mirror.path.join("HEAD")).await?.then_some(mirror))
    }

    /// The mirror of `url`, brought up to date: cloned the first time, fetched (with
    /// pruning) after that.
    pub async fn mirror(&self, url: &str) -> GitResult<Mirror> {
        let dir_name = mirror_dir_name(url);
        let lock = self.url_lock(&dir_name);
        let _serialised = lock.lock().await;
        let mirror = Mirror {
            path: self.root.join(&dir_name),
            url: url.to_owned(),
            git: self.git.clone(),
        };
        if exists(&mirror.path.join("HEAD")).await? {
            mirror.fetch().await?;
        } else {
            self.create(&mirror, &dir_name).await?;
        }
        Ok(mirror)
    }

    fn url_lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .url_locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        locks.entry(key.to_owned()).or_default().clone()
    }

    /// Builds the mirror in a directory of its own, then renames it into place; if another
    /// process got there first, its mirror is used and fetched.
    async fn create(&self, mirror: &Mirror, dir_name: &str) -> GitResult<()> {
        tokio::fs::create_dir_all(&self.root)
            .await
            .map_err(|source| GitError::io("create", &self.root, source))?;
        let incoming = self.root.join(format!(
            ".incoming-{dir_name}-{}-{}",
            std::process::id(),
            INCOMING_SEQUENCE.fetch_add(1, Ordering::Relaxed)
        ));
        let built = async {
            self.git
                .command(&self.root)
                .args(["init", "--bare", "--quiet"])
                .arg(&incoming)
                .run()
                .await?;
            let staging = Mirror {
                path: incoming.clone(),
                ..mirror.clone()
            };
            staging.fetch().await
        }
        .await;
        if let Err(error) = built {
            let _ = tokio::fs::remove_dir_all(&incoming).await;
            return Err(error);
        }
        tracing::info!(url = %strip_credentials(&mirror.url), path = %mirror.path.display(), "created mirror");
        match tokio::fs::rename(&incoming, &mirror.path).await {
            Ok(()) => Ok(()),
            Err(_) if exists(&mirror.path.join("HEAD")).await? => {
                let _ = tokio::fs::remove_dir_all(&incoming).await;
                mirror.fetch().await
            }
            Err(source) => {
                let _ = tokio::fs::remove_dir_all(&incoming).await;
                Err(GitError::io("rename a new mirror to", &mirror.path, source))
            }
        }
    }
}

impl Mirror {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The tip of `branch` as of the last fetch.
    pub async fn branch_tip(&self, branch: &str) -> GitResult<Option<CommitId>> {
        crate::refs::validate_branch_name(branch)?;
        self.resolve(&format!("refs/heads/{branch}")).await
    }

    /// Whether the mirror has `commit`.
    pub async fn has_commit(&self, commit: &CommitId) -> GitResult<bool> {
        Ok(self.resolve(commit.as_str()).await?.is_some())
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn git(&self) -> &Git {
        &self.git
    }

    /// A commit id for `revision`, or `None` when there is no such commit.
    pub(crate) async fn resolve(&self, revision: &str) -> GitResult<Option<CommitId>> {
        let output = self
            .git
            .command(&self.path)
            .args(["rev-parse", "--verify", "--quiet", "--end-of-options"])
            .arg(format!("{revision}^{{commit}}"))
            .output()
            .await?;
        if !output.success() {
            return Ok(None);
        }
        let text = output.stdout_text();
        CommitId::parse(text.trim()).map(Some)
    }

    /// Whether `ancestor` is reachable from `descendant` (both known to the mirror).
    pub(crate) async fn is_ancestor(
        &self,
        ancestor: &CommitId,
        descendant: &CommitId,
    ) -> GitResult<bool> {
        let output = self
            .git
            .command(&self.path)
            .args([
                "merge-base",
                "--is-ancestor",
                ancestor.as_str(),
                descendant.as_str(),
            ])
            .output()
            .await?;
        match output.code {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(output.into_error()),
        }
    }

    /// Points the mirror's `branch` at `new` after a push, so that readers of the mirror see
    /// it before the next fetch.
    pub(crate) async fn record_push(&self, branch: &str, new: &CommitId) {
        let result = self
            .git
            .command(&self.path)
            .args(["update-ref", &format!("refs/heads/{branch}"), new.as_str()])
            .run()
            .await;
        if let Err(error) = result {
            tracing::debug!(%error, "could not record a push in the mirror; the next fetch will");
        }
    }

    async fn fetch(&self) -> GitResult<()> {
        let mut attempt = 1;
        loop {
            let output = self
                .git
                .command(&self.path)
                .args(["fetch", "--prune", "--quiet", "--no-write-fetch-head", "--"])
                .arg(&self.url)
                .args(MIRROR_REFSPECS)
                .remote()
                .output()
                .await?;
            if output.success() {
                return Ok(());
            }
            let stderr = output.stderr_text();
            let lock_contention = stderr.contains("cannot lock ref") || stderr.contains(".lock");
            if !lock_contention || attempt >= LOCK_RETRIES {
                return Err(output.into_error());
            }
            tracing::debug!(attempt, "mirror fetch met a ref lock; retrying");
            tokio::time::sleep(LOCK_RETRY_DELAY * attempt).await;
            attempt += 1;
        }
    }
}

pub(crate) async fn exists(path: &Path) -> GitResult<bool> {
    tokio::fs::try_exists(path)
        .await
        .map_err(|source| GitError::io("inspect", path, source))
}
