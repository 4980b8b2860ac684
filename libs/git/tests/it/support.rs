//! Shared setup: a remote, caches, and workers that prepare, commit and push an attempt.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use sortie_git::{
    ATTEMPT_TRAILER, CommitId, CommitMessage, FEATURE_TRAILER, GitConfig, Identity, Proposal,
    RepoCache, Workspace, attempt_branch,
};
use sortie_test_support::{BareRepo, GitFixture};
use tempfile::TempDir;

pub(crate) fn config() -> GitConfig {
    GitConfig {
        local_timeout: Duration::from_secs(60),
        remote_timeout: Duration::from_secs(60),
        ..GitConfig::default()
    }
}

/// A remote whose `main` has a README and a shared file.
pub(crate) fn remote() -> anyhow::Result<BareRepo> {
    let mut fixture = GitFixture::new()?;
    fixture
        .file("README.md", "# project\n")?
        .file("shared.txt", "one\ntwo\nthree\n")?;
    fixture.commit("Initial commit")?;
    fixture.into_bare()
}

/// A scratch directory and a cache in it.
pub(crate) struct Scratch {
    pub(crate) dir: TempDir,
    pub(crate) cache: RepoCache,
}

impl Scratch {
    pub(crate) fn new() -> anyhow::Result<Self> {
        Self::with_config(config())
    }

    pub(crate) fn with_config(config: GitConfig) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let cache = RepoCache::new(dir.path().join("cache"), config);
        Ok(Self { dir, cache })
    }

    pub(crate) fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }
}

/// A worker's attempt: a workspace on `integration_branch`, `files` written, one commit
/// with the attempt's trailers, pushed to the attempt branch: what the worker leaves for the
/// merge queue.
pub(crate) async fn attempt(
    scratch: &Scratch,
    remote: &BareRepo,
    integration_branch: &str,
    attempt_id: &str,
    files: &[(&str, &str)],
) -> anyhow::Result<Proposal> {
    let dir = scratch.path(&format!("ws-{attempt_id}"));
    let workspace = Workspace::prepare(
        &scratch.cache,
        &remote.url,
        &dir,
        integration_branch,
        &format!("sortie/work/{attempt_id}"),
    )
    .await?;
    for (path, content) in files {
        let full = dir.join(path);
        tokio::fs::create_dir_all(full.parent().unwrap()).await?;
        tokio::fs::write(full, content).await?;
    }
    let message = CommitMessage::new(format!("Attempt {attempt_id}"))
        .trailer(FEATURE_TRAILER, format!("feature-{attempt_id}"))
        .trailer(ATTEMPT_TRAILER, attempt_id);
    let commit = workspace
        .squash_onto_base(&message)
        .await?
        .expect("the attempt changed files");
    workspace.push_branch(&attempt_branch(attempt_id)).await?;
    Ok(Proposal {
        integration_branch: integration_branch.to_owned(),
        commit,
        base: workspace.base().clone(),
        attempt: attempt_id.to_owned(),
    })
}

pub(crate) fn worker_config() -> GitConfig {
    GitConfig {
        identity: Identity {
            name: "Worker Bot".to_owned(),
            email: "worker@localhost".to_owned(),
        },
        ..config()
    }
}

pub(crate) fn commit_id(text: &str) -> CommitId {
    CommitId::parse(text.trim()).expect("a commit id")
}

/// Writes an executable file through `sh`, so that this (multi-threaded) test process never
/// holds the file open for writing while another thread starts a process: that would make
/// executing it fail with "text file busy".
pub(crate) fn write_executable(path: &Path, content: &str) -> anyhow::Result<()> {
    let mut child = Command::new("sh")
        .args(["-c", "cat > \"$1\" && chmod 755 \"$1\"", "sh"])
        .arg(path)
        .stdin(Stdio::piped())
        .spawn()?;
    child.stdin.take().unwrap().write_all(content.as_bytes())?;
    anyhow::ensure!(child.wait()?.success(), "writing {}", path.display());
    Ok(())
}
