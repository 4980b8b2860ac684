use sortie_git::{
    ATTEMPT_TRAILER, CommitMessage, EPOCH_TRAILER, GitError, MISSION_TRAILER, Workspace,
    attempt_branch, paths_outside,
};
use sortie_model::ErrorKind;
use sortie_test_support::git::git;

use crate::support::{Scratch, commit_id, remote};

async fn write(workspace: &Workspace, path: &str, content: &str) -> anyhow::Result<()> {
    let full = workspace.dir().join(path);
    tokio::fs::create_dir_all(full.parent().unwrap()).await?;
    tokio::fs::write(full, content).await?;
    Ok(())
}

#[tokio::test]
async fn a_workspace_starts_a_new_branch_at_the_integration_tip() -> anyhow::Result<()> {
    let remote = remote()?;
    remote.set_branch("mission/m1", "main")?;
    let integration_tip =
        remote.commit_files("mission/m1", &[("mission.txt", "m1\n")], "Mission work")?;
    let scratch = Scratch::new()?;

    let workspace = Workspace::prepare(
        &scratch.cache,
        &remote.url,
        scratch.path("ws"),
        "mission/m1",
        "sortie/work/a1",
    )
    .await?;

    assert_eq!(workspace.base(), &commit_id(&integration_tip));
    assert_eq!(workspace.head().await?, commit_id(&integration_tip));
    let dir = workspace.dir();
    assert_eq!(std::fs::read_to_string(dir.join("mission.txt"))?, "m1\n");
    assert_eq!(
        git(dir, &["branch", "--show-current"])?.trim(),
        "sortie/work/a1"
    );
    assert_eq!(
        git(dir, &["remote", "get-url", "origin"])?.trim(),
        remote.url
    );
    assert_eq!(git(dir, &["status", "--porcelain"])?, "");
    Ok(())
}

#[tokio::test]
async fn preparing_from_a_missing_branch_or_into_a_used_directory_fails() -> anyhow::Result<()> {
    let remote = remote()?;
    let scratch = Scratch::new()?;
    let missing =
        Workspace::prepare(&scratch.cache, &remote.url, scratch.path("a"), "nope", "w").await;
    let error = missing.unwrap_err();
    assert!(matches!(error, GitError::BranchNotFound { .. }), "{error}");
    assert_eq!(error.kind(), ErrorKind::NotFound);

    std::fs::create_dir_all(scratch.path("used"))?;
    std::fs::write(scratch.path("used/file"), "x")?;
    let used = Workspace::prepare(
        &scratch.cache,
        &remote.url,
        scratch.path("used"),
        "main",
        "w",
    )
    .await
    .unwrap_err();
    assert!(matches!(used, GitError::DirectoryNotEmpty { .. }), "{used}");

    let bad_name =
        Workspace::prepare(&scratch.cache, &remote.url, scratch.path("b"), "main", "-x").await;
    assert_eq!(bad_name.unwrap_err().kind(), ErrorKind::BadRequest);
    Ok(())
}

#[tokio::test]
async fn changed_paths_cover_commits_edits_deletions_and_untracked_files() -> anyhow::Result<()> {
    let remote = remote()?;
    let scratch = Scratch::new()?;
    let workspace =
        Workspace::prepare(&scratch.cache, &remote.url, scratch.path("ws"), "main", "w").await?;
    assert!(workspace.changed_paths().await?.is_empty());

    write(&workspace, "src/committed.rs", "fn a() {}\n").await?;
    workspace
        .commit_all(&CommitMessage::new("First step"))
        .await?;
    write(&workspace, "shared.txt", "changed\n").await?;
    tokio::fs::remove_file(workspace.dir().join("README.md")).await?;
    write(&workspace, "notes/untracked file.md", "draft\n").await?;
    write(&workspace, ".gitignore", "target/\n").await?;
    write(&workspace, "target/build.log", "ignored\n").await?;

    let changed = workspace.changed_paths().await?;
    assert_eq!(
        changed,
        [
            ".gitignore",
            "README.md",
            "notes/untracked file.md",
            "shared.txt",
            "src/committed.rs"
        ]
    );

    let touches = vec!["src/**".to_owned(), "notes".to_owned()];
    let outside = paths_outside(&touches, &changed)?;
    assert_eq!(outside, [".gitignore", "README.md", "shared.txt"]);
    Ok(())
}

#[tokio::test]
async fn commit_all_commits_everything_with_trailers_or_nothing() -> anyhow::Result<()> {
    let remote = remote()?;
    let scratch = Scratch::new()?;
    let workspace =
        Workspace::prepare(&scratch.cache, &remote.url, scratch.path("ws"), "main", "w").await?;
    let message = CommitMessage::new("Add the login page")
        .trailer(MISSION_TRAILER, "m-1")
        .trailer(ATTEMPT_TRAILER, "a-7")
        .trailer(EPOCH_TRAILER, 3);
    assert_eq!(workspace.commit_all(&message).await?, None);

    write(&workspace, "login.html", "<form></form>\n").await?;
    let commit = workspace.commit_all(&message).await?.expect("a commit");
    assert_eq!(workspace.commit_all(&message).await?, None);
    assert_eq!(workspace.push_branch(&attempt_branch("a-7")).await?, commit);

    let log = remote.log("sortie/attempts/a-7")?;
    assert_eq!(log[0].commit, commit.as_str());
    assert_eq!(log[0].subject, "Add the login page");
    assert_eq!(log[0].trailer("Sortie-Mission"), ["m-1"]);
    assert_eq!(log[0].trailer("Sortie-Attempt"), ["a-7"]);
    assert_eq!(log[0].trailer("Sortie-Epoch"), ["3"]);
    assert_eq!(log[0].author_name, "Sortie");
    assert_eq!(log[0].parents, [workspace.base().as_str()]);
    Ok(())
}

#[tokio::test]
async fn squash_makes_the_work_one_commit_on_the_base() -> anyhow::Result<()> {
    let remote = remote()?;
    let scratch = Scratch::new()?;
    let workspace =
        Workspace::prepare(&scratch.cache, &remote.url, scratch.path("ws"), "main", "w").await?;
    write(&workspace, "a.txt", "a\n").await?;
    workspace.commit_all(&CommitMessage::new("wip 1")).await?;
    write(&workspace, "b.txt", "b\n").await?;
    workspace.commit_all(&CommitMessage::new("wip 2")).await?;
    write(&workspace, "c.txt", "c\n").await?;

    let squashed = workspace
        .squash_onto_base(&CommitMessage::new("Feature").trailer(ATTEMPT_TRAILER, "a-1"))
        .await?
        .expect("a commit");
    let pushed = workspace.push_branch("sortie/attempts/a-1").await?;
    assert_eq!(pushed, squashed);
    let log = remote.log("sortie/attempts/a-1")?;
    assert_eq!(log.len(), 2, "the initial commit and the squashed one");
    assert_eq!(log[0].parents, [workspace.base().as_str()]);
    for file in ["a.txt", "b.txt", "c.txt"] {
        assert!(
            remote.read_file("sortie/attempts/a-1", file)?.is_some(),
            "{file}"
        );
    }

    // Work that undoes itself squashes to nothing.
    let empty_dir = scratch.path("ws2");
    let undone = Workspace::prepare(&scratch.cache, &remote.url, &empty_dir, "main", "w2").await?;
    write(&undone, "tmp.txt", "x\n").await?;
    undone.commit_all(&CommitMessage::new("add")).await?;
    tokio::fs::remove_file(empty_dir.join("tmp.txt")).await?;
    assert_eq!(
        undone.squash_onto_base(&CommitMessage::new("none")).await?,
        None
    );
    assert_eq!(&undone.head().await?, undone.base());
    Ok(())
}

#[tokio::test]
async fn pushing_an_attempt_branch_again_replaces_it() -> anyhow::Result<()> {
    let remote = remote()?;
    let scratch = Scratch::new()?;
    let workspace =
        Workspace::prepare(&scratch.cache, &remote.url, scratch.path("ws"), "main", "w").await?;
    write(&workspace, "a.txt", "1\n").await?;
    workspace.commit_all(&CommitMessage::new("one")).await?;
    workspace.push_branch("sortie/attempts/x").await?;
    write(&workspace, "a.txt", "2\n").await?;
    let second = workspace
        .squash_onto_base(&CommitMessage::new("two"))
        .await?
        .unwrap();
    workspace.push_branch("sortie/attempts/x").await?;
    assert_eq!(remote.tip("sortie/attempts/x")?.unwrap(), second.as_str());
    Ok(())
}
