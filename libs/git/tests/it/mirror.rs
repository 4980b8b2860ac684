use sortie_git::RepoCache;

use crate::support::{Scratch, commit_id, config, remote};

fn mirror_dirs(root: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(root)?
        .map(|entry| Ok(entry?.file_name().to_string_lossy().into_owned()))
        .collect::<anyhow::Result<_>>()?;
    names.sort();
    Ok(names)
}

#[tokio::test]
async fn a_mirror_is_cloned_once_then_fetched_with_pruning() -> anyhow::Result<()> {
    let remote = remote()?;
    let scratch = Scratch::new()?;
    remote.set_branch("doomed", "main")?;

    let first = scratch.cache.mirror(&remote.url).await?;
    let initial_tip = commit_id(&remote.tip("main")?.unwrap());
    assert_eq!(first.branch_tip("main").await?, Some(initial_tip));
    assert!(first.branch_tip("doomed").await?.is_some());

    let newer = remote.commit_files("main", &[("new.txt", "new\n")], "Another writer")?;
    remote.git(&["update-ref", "-d", "refs/heads/doomed"])?;
    let second = scratch.cache.mirror(&remote.url).await?;
    assert_eq!(second.path(), first.path());
    assert_eq!(second.branch_tip("main").await?, Some(commit_id(&newer)));
    assert_eq!(
        second.branch_tip("doomed").await?,
        None,
        "deleted branches are pruned"
    );
    assert_eq!(mirror_dirs(scratch.cache.root())?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn concurrent_calls_for_one_url_share_one_mirror() -> anyhow::Result<()> {
    let remote = remote()?;
    let scratch = Scratch::new()?;
    let cache = &scratch.cache;
    let (a, b, c) = tokio::join!(
        cache.mirror(&remote.url),
        cache.mirror(&remote.url),
        cache.mirror(&remote.url)
    );
    assert_eq!(a?.path(), b?.path());
    assert!(c.is_ok());
    assert_eq!(
        mirror_dirs(cache.root())?.len(),
        1,
        "no leftover directories"
    );
    Ok(())
}

#[tokio::test]
async fn caches_of_two_processes_sharing_a_root_tolerate_each_other() -> anyhow::Result<()> {
    let remote = remote()?;
    let scratch = Scratch::new()?;
    let root = scratch.path("shared-cache");
    let one = RepoCache::new(&root, config());
    let other = RepoCache::new(&root, config());
    let (first, second) = tokio::join!(one.mirror(&remote.url), other.mirror(&remote.url));
    assert_eq!(first?.path(), second?.path());
    assert_eq!(mirror_dirs(&root)?.len(), 1, "the loser's copy is removed");
    let (first, second) = tokio::join!(one.mirror(&remote.url), other.mirror(&remote.url));
    assert!(first.is_ok() && second.is_ok());
    Ok(())
}

#[tokio::test]
async fn each_url_gets_its_own_mirror() -> anyhow::Result<()> {
    let (one, two) = (remote()?, remote()?);
    let scratch = Scratch::new()?;
    let first = scratch.cache.mirror(&one.url).await?;
    let second = scratch.cache.mirror(&two.url).await?;
    assert_ne!(first.path(), second.path());
    assert!(
        first
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("remote-")
    );
    Ok(())
}
