use sortie_git::{CommitMessage, GitError, RebaseOutcome, Workspace};
use sortie_test_support::git::git;

use crate::support::{Scratch, commit_id, remote};

#[tokio::test]
async fn a_rebase_onto_a_moved_tip_is_clean_when_the_work_does_not_overlap() -> anyhow::Result<()> {
    let remote = remote()?;
    let scratch = Scratch::new()?;
    let mut workspace =
        Workspace::prepare(&scratch.cache, &remote.url, scratch.path("ws"), "main", "w").await?;
    let old_base = workspace.base().clone();
    tokio::fs::write(workspace.dir().join("mine.txt"), "mine\n").await?;
    workspace.commit_all(&CommitMessage::new("Mine")).await?;
    let theirs = remote.commit_files("main", &[("theirs.txt", "theirs\n")], "Theirs")?;

    let outcome = workspace.rebase_onto_latest().await?;

    let RebaseOutcome::Clean { new_base, head } = outcome else {
        panic!("expected a clean rebase, got {outcome:?}");
    };
    assert_eq!(new_base, commit_id(&theirs));
    assert_ne!(new_base, old_base);
    assert_eq!(workspace.base(), &new_base);
    assert_eq!(workspace.head().await?, head);
    let dir = workspace.dir();
    assert_eq!(git(dir, &["rev-parse", "HEAD^"])?.trim(), theirs);
    assert!(dir.join("theirs.txt").exists() && dir.join("mine.txt").exists());
    assert_eq!(workspace.changed_paths().await?, ["mine.txt"]);

    // Nothing new upstream: a no-op.
    let again = workspace.rebase_onto_latest().await?;
    assert_eq!(
        again,
        RebaseOutcome::Clean {
            new_base: commit_id(&theirs),
            head
        }
    );
    Ok(())
}

#[tokio::test]
async fn a_conflicting_rebase_names_the_paths_and_leaves_the_workspace_clean() -> anyhow::Result<()>
{
    let remote = remote()?;
    let scratch = Scratch::new()?;
    let mut workspace =
        Workspace::prepare(&scratch.cache, &remote.url, scratch.path("ws"), "main", "w").await?;
    let base = workspace.base().clone();
    let dir = workspace.dir().to_owned();
    tokio::fs::write(dir.join("shared.txt"), "one\nMINE\nthree\n").await?;
    tokio::fs::write(dir.join("free.txt"), "free\n").await?;
    let mine = workspace
        .commit_all(&CommitMessage::new("Mine"))
        .await?
        .unwrap();
    remote.commit_files("main", &[("shared.txt", "one\nTHEIRS\nthree\n")], "Theirs")?;

    let outcome = workspace.rebase_onto_latest().await?;

    assert_eq!(
        outcome,
        RebaseOutcome::Conflict {
            paths: vec!["shared.txt".to_owned()]
        }
    );
    assert_eq!(workspace.head().await?, mine, "the work is where it was");
    assert_eq!(workspace.base(), &base);
    assert_eq!(
        git(&dir, &["status", "--porcelain"])?,
        "",
        "no conflict left behind"
    );
    assert_eq!(
        tokio::fs::read_to_string(dir.join("shared.txt")).await?,
        "one\nMINE\nthree\n"
    );
    Ok(())
}

#[tokio::test]
async fn a_rebase_refuses_uncommitted_changes() -> anyhow::Result<()> {
    let remote = remote()?;
    let scratch = Scratch::new()?;
    let mut workspace =
        Workspace::prepare(&scratch.cache, &remote.url, scratch.path("ws"), "main", "w").await?;
    tokio::fs::write(workspace.dir().join("loose.txt"), "x\n").await?;
    let error = workspace.rebase_onto_latest().await.unwrap_err();
    let GitError::DirtyWorkspace { paths, .. } = error else {
        panic!("expected a dirty workspace error, got {error}");
    };
    assert_eq!(paths, ["loose.txt"]);
    Ok(())
}
