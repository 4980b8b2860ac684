use std::time::{Duration, Instant};

use sortie_git::{CommitMessage, GitConfig, GitError, RepoCache, Workspace, branch_tip};
use sortie_model::ErrorKind;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use crate::support::{Scratch, config, remote, write_executable};

#[tokio::test]
async fn a_git_that_hangs_is_killed_at_its_time_limit() -> anyhow::Result<()> {
    // A git daemon that accepts the connection and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let silent_server = tokio::spawn(async move {
        let (mut connection, _) = listener.accept().await?;
        let mut buffer = [0_u8; 1024];
        // Read the request, then wait for the client to go away.
        loop {
            if connection.read(&mut buffer).await? == 0 {
                return anyhow::Ok(Instant::now());
            }
        }
    });
    let scratch = Scratch::with_config(GitConfig {
        remote_timeout: Duration::from_secs(1),
        ..config()
    })?;
    let started = Instant::now();

    let url = format!("git://127.0.0.1:{port}/repo.git");
    let error = branch_tip(&scratch.cache, &url, "main").await.unwrap_err();

    let returned = Instant::now();
    assert!(matches!(error, GitError::Timeout { .. }), "{error}");
    assert_eq!(error.kind(), ErrorKind::Timeout);
    assert!(error.to_string().contains("git ls-remote"), "{error}");
    assert!(returned - started < Duration::from_secs(10));
    let closed_at = tokio::time::timeout(Duration::from_secs(10), silent_server).await???;
    assert!(
        closed_at.duration_since(started) < Duration::from_secs(10),
        "the killed git's connection closed"
    );
    Ok(())
}

#[tokio::test]
async fn failures_name_the_command_and_keep_credentials_out() -> anyhow::Result<()> {
    let scratch = Scratch::new()?;
    let url = format!(
        "file://bot:s3cret@{}/absent.git",
        scratch.dir.path().display()
    );
    let error = branch_tip(&scratch.cache, &url, "main").await.unwrap_err();
    let text = error.to_string();
    assert!(text.contains("git ls-remote"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    Ok(())
}

async fn commit_with_hooks(
    cache: &RepoCache,
    scratch: &Scratch,
    name: &str,
) -> anyhow::Result<bool> {
    let remote = remote()?;
    let workspace = Workspace::prepare(cache, &remote.url, scratch.path(name), "main", "w").await?;
    let marker = scratch.path(&format!("{name}-hook-ran"));
    let hook = format!("#!/bin/sh\ntouch '{}'\n", marker.display());
    for hook_name in ["pre-commit", "post-commit"] {
        write_executable(&workspace.dir().join(".git/hooks").join(hook_name), &hook)?;
    }
    tokio::fs::write(workspace.dir().join("a.txt"), "a\n").await?;
    workspace
        .commit_all(&CommitMessage::new("With hooks around"))
        .await?;
    Ok(marker.exists())
}

#[tokio::test]
async fn repository_hooks_run_only_when_dangerously_allowed() -> anyhow::Result<()> {
    let scratch = Scratch::new()?;
    assert!(
        !commit_with_hooks(&scratch.cache, &scratch, "safe").await?,
        "hooks are off"
    );

    let allowing = RepoCache::new(
        scratch.path("allowing-cache"),
        GitConfig {
            dangerously_run_repository_hooks: true,
            ..config()
        },
    );
    assert!(
        commit_with_hooks(&allowing, &scratch, "allowed").await?,
        "the switch works"
    );
    Ok(())
}
