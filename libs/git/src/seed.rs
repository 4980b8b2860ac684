//! Making a new repository from a directory of files: how a demo or a test gets a remote
//! to run a mission against.

use std::path::{Path, PathBuf};

use crate::config::GitConfig;
use crate::error::{GitError, GitResult};
use crate::refs::{CommitId, validate_branch_name};
use crate::runner::Git;

/// Create a bare repository at `bare` whose `branch` holds one commit with every file
/// under `source` (as they are, `.gitignore` respected). `bare` must not exist yet.
pub async fn seed_bare_repository(
    config: &GitConfig,
    source: &Path,
    bare: &Path,
    branch: &str,
    message: &str,
) -> GitResult<CommitId> {
    validate_branch_name(branch)?;
    // git runs in several directories here: every path must stand on its own.
    let source =
        &std::path::absolute(source).map_err(|error| GitError::io("resolve", source, error))?;
    let bare = &std::path::absolute(bare).map_err(|error| GitError::io("resolve", bare, error))?;
    if tokio::fs::try_exists(bare)
        .await
        .map_err(|source| GitError::io("inspect", bare, source))?
    {
        return Err(GitError::DirectoryNotEmpty {
            dir: bare.to_path_buf(),
        });
    }
    let git = Git::new(config.clone());
    let parent = bare
        .parent()
        .map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
    tokio::fs::create_dir_all(&parent)
        .await
        .map_err(|source| GitError::io("create", &parent, source))?;
    git.command(&parent)
        .args([
            "init",
            "--quiet",
            "--bare",
            "--initial-branch",
            branch,
            "--",
        ])
        .arg(bare)
        .run()
        .await?;
    // Commit from the source directory without touching it: a separate git dir and index.
    let scratch = bare.with_extension("seed-index");
    let git_dir = bare.to_string_lossy().into_owned();
    let index = scratch.to_string_lossy().into_owned();
    git.command(source)
        .env("GIT_DIR", git_dir.clone())
        .env("GIT_INDEX_FILE", index.clone())
        .env("GIT_WORK_TREE", source.to_string_lossy().into_owned())
        .args(["add", "--all", "."])
        .run()
        .await?;
    git.command(source)
        .env("GIT_DIR", git_dir.clone())
        .env("GIT_INDEX_FILE", index)
        .env("GIT_WORK_TREE", source.to_string_lossy().into_owned())
        .args(["commit", "--quiet", "-m", message])
        .run()
        .await?;
    let _ = tokio::fs::remove_file(&scratch).await;
    let head = git
        .command(bare)
        .args([
            "rev-parse",
            "--verify",
            &format!("refs/heads/{branch}^{{commit}}"),
        ])
        .read_line()
        .await?;
    CommitId::parse(&head)
}
