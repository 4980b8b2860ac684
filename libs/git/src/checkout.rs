//! Validators' checkouts of one exact commit, and removing any working copy afterwards.

use std::path::{Path, PathBuf};

use crate::cache::RepoCache;
use crate::error::{GitError, GitResult};
use crate::refs::CommitId;
use crate::url::strip_credentials;
use crate::workspace::ensure_absent_or_empty;

/// A working copy of exactly `commit` in `dir` (absent or empty), with a detached HEAD.
pub async fn checkout_commit(
    cache: &RepoCache,
    url: &str,
    commit: &CommitId,
    dir: impl Into<PathBuf>,
) -> GitResult<()> {
    let dir = dir.into();
    ensure_absent_or_empty(&dir).await?;
    let mirror = cache.mirror(url).await?;
    if !mirror.has_commit(commit).await? {
        return Err(GitError::CommitNotFound {
            url: strip_credentials(url),
            commit: commit.to_string(),
        });
    }
    let parent = dir.parent().unwrap_or(Path::new("/"));
    tokio::fs::create_dir_all(parent)
        .await
        .map_err(|source| GitError::io("create", parent, source))?;
    let git = cache.git();
    git.command(parent)
        // `--shared` borrows the mirror's objects instead of linking each of them: a
        // mirror's loose objects grow with every fetch, and linking them made each
        // checkout slower than the last.
        .args(["clone", "--quiet", "--shared", "--no-checkout", "--"])
        .arg(mirror.path())
        .arg(&dir)
        .run()
        .await?;
    git.command(&dir)
        .args(["remote", "set-url", "origin", &strip_credentials(url)])
        .run()
        .await?;
    git.command(&dir)
        .args(["checkout", "--quiet", "--detach", commit.as_str()])
        .run()
        .await?;
    let head = git
        .command(&dir)
        .args(["rev-parse", "--verify", "HEAD^{commit}"])
        .read_line()
        .await?;
    if head != commit.as_str() {
        return Err(GitError::UnexpectedOutput {
            command: "git rev-parse HEAD".to_owned(),
            detail: format!("checked out {head}, expected {commit}"),
        });
    }
    tracing::info!(dir = %dir.display(), commit = %commit.short(), "checked out commit");
    Ok(())
}

/// Removes a workspace or checkout, even one whose files or directories the agent made
/// read-only. A missing directory is not an error.
pub async fn remove_workspace(dir: impl Into<PathBuf>) -> GitResult<()> {
    let dir = dir.into();
    let blocking_dir = dir.clone();
    tokio::task::spawn_blocking(move || remove_tree(&blocking_dir))
        .await
        .map_err(|join_error| GitError::io("remove", &dir, std::io::Error::other(join_error)))?
        .map_err(|source| GitError::io("remove", &dir, source))
}

fn remove_tree(dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::PermissionDenied => {
            make_directories_writable(dir)?;
            std::fs::remove_dir_all(dir)
        }
        Err(error) => Err(error),
    }
}

fn make_directories_writable(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let metadata = std::fs::symlink_metadata(dir)?;
    if !metadata.is_dir() {
        return Ok(());
    }
    let mut permissions = metadata.permissions();
    permissions.set_mode(permissions.mode() | 0o700);
    std::fs::set_permissions(dir, permissions)?;
    for entry in std::fs::read_dir(dir)? {
        make_directories_writable(&entry?.path())?;
    }
    Ok(())
}
