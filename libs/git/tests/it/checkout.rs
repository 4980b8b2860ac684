use std::os::unix::fs::PermissionsExt;

use sortie_git::{GitError, checkout_commit, remove_workspace};
use sortie_test_support::git::git;

use crate::support::{Scratch, commit_id, remote};

#[tokio::test]
async fn a_checkout_is_exactly_the_commit_asked_for() -> anyhow::Result<()> {
    let remote = remote()?;
    let scratch = Scratch::new()?;
    let older = commit_id(&remote.commit_files("main", &[("v.txt", "1\n")], "Version 1")?);
    remote.commit_files("main", &[("v.txt", "2\n")], "Version 2")?;
    let dir = scratch.path("validate");

    checkout_commit(&scratch.cache, &remote.url, &older, &dir).await?;

    assert_eq!(git(&dir, &["rev-parse", "HEAD"])?.trim(), older.as_str());
    assert_eq!(std::fs::read_to_string(dir.join("v.txt"))?, "1\n");
    assert_eq!(git(&dir, &["status", "--porcelain"])?, "");
    let symbolic = std::process::Command::new("git")
        .current_dir(&dir)
        .args(["symbolic-ref", "-q", "HEAD"])
        .status()?;
    assert!(!symbolic.success(), "HEAD is detached");
    Ok(())
}

#[tokio::test]
async fn checking_out_an_unknown_commit_fails_cleanly() -> anyhow::Result<()> {
    let remote = remote()?;
    let scratch = Scratch::new()?;
    let dir = scratch.path("validate");
    let error = checkout_commit(
        &scratch.cache,
        &remote.url,
        &commit_id(&"3".repeat(40)),
        &dir,
    )
    .await
    .unwrap_err();
    assert!(matches!(error, GitError::CommitNotFound { .. }), "{error}");
    assert!(!dir.exists());
    Ok(())
}

#[tokio::test]
async fn removing_a_workspace_survives_read_only_directories() -> anyhow::Result<()> {
    let scratch = Scratch::new()?;
    let dir = scratch.path("ws");
    std::fs::create_dir_all(dir.join("locked/inner"))?;
    std::fs::write(dir.join("locked/inner/file"), "x")?;
    std::fs::set_permissions(dir.join("locked"), std::fs::Permissions::from_mode(0o555))?;

    remove_workspace(&dir).await?;

    assert!(!dir.exists());
    remove_workspace(&dir).await?;
    Ok(())
}
