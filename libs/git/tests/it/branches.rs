use sortie_git::{
    GitError, IntegrationOutcome, RepoCache, branch_tip, delete_branch_if_at, ensure_branch,
    integrate, is_ancestor,
};
use sortie_model::ErrorKind;

use crate::support::{Scratch, attempt, commit_id, config, remote};

#[tokio::test]
async fn branch_tip_asks_the_remote() -> anyhow::Result<()> {
    let remote = remote()?;
    let scratch = Scratch::new()?;
    let main = commit_id(&remote.tip("main")?.unwrap());
    assert_eq!(
        branch_tip(&scratch.cache, &remote.url, "main").await?,
        Some(main)
    );
    assert_eq!(
        branch_tip(&scratch.cache, &remote.url, "absent").await?,
        None
    );
    // A ref ending in the same name is not the branch.
    remote.set_branch("x/main-not", "main")?;
    remote.set_branch("nested/main", "main")?;
    let moved = remote.commit_files("nested/main", &[("n", "n")], "n")?;
    assert_eq!(
        branch_tip(&scratch.cache, &remote.url, "nested/main").await?,
        Some(commit_id(&moved))
    );
    assert_ne!(
        branch_tip(&scratch.cache, &remote.url, "main").await?,
        Some(commit_id(&moved))
    );
    Ok(())
}

#[tokio::test]
async fn a_branch_is_deleted_only_while_it_holds_the_expected_commit() -> anyhow::Result<()> {
    let remote = remote()?;
    let scratch = Scratch::new()?;
    let main = commit_id(&remote.tip("main")?.unwrap());
    remote.set_branch("sortie/attempts/a-1", "main")?;
    remote.set_branch("sortie/attempts/a-2", "main")?;
    let moved = remote.commit_files("sortie/attempts/a-2", &[("m", "m")], "moved on")?;

    assert!(delete_branch_if_at(&scratch.cache, &remote.url, "sortie/attempts/a-1", &main).await?);
    assert_eq!(remote.tip("sortie/attempts/a-1")?, None);
    // Moved on since: left alone.
    assert!(!delete_branch_if_at(&scratch.cache, &remote.url, "sortie/attempts/a-2", &main).await?);
    assert_eq!(remote.tip("sortie/attempts/a-2")?, Some(moved));
    // Gone already: nothing to do, and no error.
    assert!(!delete_branch_if_at(&scratch.cache, &remote.url, "sortie/attempts/a-1", &main).await?);
    assert_eq!(remote.tip("main")?.as_deref(), Some(main.as_str()));
    Ok(())
}

#[tokio::test]
async fn ensure_branch_creates_once_and_then_leaves_the_branch_alone() -> anyhow::Result<()> {
    let remote = remote()?;
    let scratch = Scratch::new()?;
    let main = commit_id(&remote.tip("main")?.unwrap());

    let created = ensure_branch(&scratch.cache, &remote.url, "mission/m1", "main").await?;
    assert_eq!(created, main);
    assert_eq!(remote.tip("mission/m1")?.unwrap(), main.as_str());

    remote.commit_files("main", &[("later.txt", "later\n")], "Later on main")?;
    let again = ensure_branch(&scratch.cache, &remote.url, "mission/m1", "main").await?;
    assert_eq!(again, main, "an existing branch is not moved");

    let error = ensure_branch(&scratch.cache, &remote.url, "mission/m2", "absent")
        .await
        .unwrap_err();
    assert!(matches!(error, GitError::BranchNotFound { .. }), "{error}");
    Ok(())
}

#[tokio::test]
async fn racing_creators_agree_on_one_branch() -> anyhow::Result<()> {
    let remote = remote()?;
    remote.set_branch("develop", "main")?;
    remote.commit_files("develop", &[("develop.txt", "d\n")], "Develop")?;
    let scratch = Scratch::new()?;
    let one = RepoCache::new(scratch.path("one"), config());
    let other = RepoCache::new(scratch.path("other"), config());

    let (first, second) = tokio::join!(
        ensure_branch(&one, &remote.url, "mission/race", "main"),
        ensure_branch(&other, &remote.url, "mission/race", "develop")
    );

    let (first, second) = (first?, second?);
    assert_eq!(first, second, "both callers see the winner's tip");
    assert_eq!(remote.tip("mission/race")?.unwrap(), first.as_str());
    Ok(())
}

#[tokio::test]
async fn is_ancestor_accepts_only_commits_on_the_branch() -> anyhow::Result<()> {
    let remote = remote()?;
    let worker = Scratch::new()?;
    let queue = Scratch::new()?;
    let first = attempt(&worker, &remote, "main", "a1", &[("a.txt", "a\n")]).await?;
    let second = attempt(&worker, &remote, "main", "a2", &[("b.txt", "b\n")]).await?;
    let url = &remote.url;

    assert!(!is_ancestor(&queue.cache, url, &first.commit, "main").await?);
    let outcome = integrate(&queue.cache, url, &first).await?;
    assert!(matches!(outcome, IntegrationOutcome::Integrated { .. }));
    assert!(is_ancestor(&queue.cache, url, &first.commit, "main").await?);
    assert!(is_ancestor(&queue.cache, url, &first.base, "main").await?);
    assert!(!is_ancestor(&queue.cache, url, &second.commit, "main").await?);
    let unknown = commit_id(&"2".repeat(40));
    assert!(!is_ancestor(&queue.cache, url, &unknown, "main").await?);
    let error = is_ancestor(&queue.cache, url, &unknown, "absent")
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
    Ok(())
}
