use std::time::Duration;

use sortie_git::{GitConfig, GitError, IntegrationOutcome, Proposal, RepoCache, integrate};
use sortie_model::ErrorKind;
use sortie_test_support::BareRepo;

use crate::support::{
    Scratch, attempt, commit_id, config, remote, worker_config, write_executable,
};

#[tokio::test]
async fn an_unmoved_branch_is_fast_forwarded_to_the_proposal() -> anyhow::Result<()> {
    let remote = remote()?;
    let worker = Scratch::new()?;
    let queue = Scratch::new()?;
    let attempt = attempt(&worker, &remote, "main", "a1", &[("a.txt", "a\n")]).await?;

    let outcome = integrate(&queue.cache, &remote.url, &attempt).await?;

    let commit = attempt.commit.clone();
    assert_eq!(
        outcome,
        IntegrationOutcome::Integrated {
            commit: commit.clone()
        }
    );
    assert_eq!(remote.tip("main")?.unwrap(), commit.as_str());

    let again = integrate(&queue.cache, &remote.url, &attempt).await?;
    assert_eq!(again, IntegrationOutcome::AlreadyIntegrated { commit });
    Ok(())
}

#[tokio::test]
async fn a_moved_branch_gets_a_merged_commit_with_a_linear_history() -> anyhow::Result<()> {
    let remote = remote()?;
    let worker = Scratch::with_config(worker_config())?;
    let queue = Scratch::new()?;
    let first = attempt(&worker, &remote, "main", "a1", &[("first.txt", "1\n")]).await?;
    let second = attempt(&worker, &remote, "main", "a2", &[("second.txt", "2\n")]).await?;
    assert_eq!(first.base, second.base);

    integrate(&queue.cache, &remote.url, &first).await?;
    let outcome = integrate(&queue.cache, &remote.url, &second).await?;

    let IntegrationOutcome::Integrated { commit } = outcome else {
        panic!("expected an integration, got {outcome:?}");
    };
    assert_ne!(commit, second.commit, "not a fast-forward");
    let log = remote.log("main")?;
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].commit, commit.as_str());
    assert_eq!(
        log[0].parents,
        [first.commit.as_str()],
        "one parent: linear"
    );
    assert_eq!(log[0].subject, "Attempt a2");
    assert_eq!(log[0].trailer("Sortie-Attempt"), ["a2"]);
    assert_eq!(log[0].trailer("Sortie-Feature"), ["feature-a2"]);
    assert_eq!(
        log[0].author_name, "Worker Bot",
        "the proposal's author is kept"
    );
    let committer = remote.git(&["show", "-s", "--format=%cn", commit.as_str()])?;
    assert_eq!(committer.trim(), "Sortie", "the queue commits");
    assert_eq!(
        remote.read_file("main", "first.txt")?.as_deref(),
        Some("1\n")
    );
    assert_eq!(
        remote.read_file("main", "second.txt")?.as_deref(),
        Some("2\n")
    );
    assert_eq!(
        remote.read_file("main", "README.md")?.as_deref(),
        Some("# project\n")
    );
    Ok(())
}

#[tokio::test]
async fn a_conflicting_proposal_names_the_paths_and_pushes_nothing() -> anyhow::Result<()> {
    let remote = remote()?;
    let worker = Scratch::new()?;
    let queue = Scratch::new()?;
    let first = attempt(&worker, &remote, "main", "a1", &[("shared.txt", "A\n")]).await?;
    let second = attempt(
        &worker,
        &remote,
        "main",
        "a2",
        &[("shared.txt", "B\n"), ("other.txt", "fine\n")],
    )
    .await?;
    integrate(&queue.cache, &remote.url, &first).await?;
    let tip = remote.tip("main")?;

    let outcome = integrate(&queue.cache, &remote.url, &second).await?;

    assert_eq!(
        outcome,
        IntegrationOutcome::Conflict {
            paths: vec!["shared.txt".to_owned()]
        }
    );
    assert_eq!(remote.tip("main")?, tip);
    Ok(())
}

#[tokio::test]
async fn integrating_again_after_a_crash_finds_the_attempt_and_changes_nothing()
-> anyhow::Result<()> {
    let remote = remote()?;
    let worker = Scratch::new()?;
    let first = attempt(&worker, &remote, "main", "a1", &[("first.txt", "1\n")]).await?;
    let second = attempt(&worker, &remote, "main", "a2", &[("second.txt", "2\n")]).await?;
    let queue = Scratch::new()?;
    integrate(&queue.cache, &remote.url, &first).await?;
    let IntegrationOutcome::Integrated { commit } =
        integrate(&queue.cache, &remote.url, &second).await?
    else {
        panic!("expected an integration");
    };
    let more = remote.commit_files("main", &[("later.txt", "later\n")], "Later work")?;

    // The orchestrator crashed before recording; a restarted one (a new cache) retries.
    let restarted = Scratch::new()?;
    let outcome = integrate(&restarted.cache, &remote.url, &second).await?;

    assert_eq!(outcome, IntegrationOutcome::AlreadyIntegrated { commit });
    assert_eq!(remote.tip("main")?.unwrap(), more);
    assert_eq!(remote.log("main")?.len(), 4);
    Ok(())
}

#[tokio::test]
async fn a_proposal_nobody_pushed_is_not_found() -> anyhow::Result<()> {
    let remote = remote()?;
    let queue = Scratch::new()?;
    let tip = commit_id(&remote.tip("main")?.unwrap());
    let proposal = Proposal {
        integration_branch: "main".to_owned(),
        commit: commit_id(&"1".repeat(40)),
        base: tip,
        attempt: "ghost".to_owned(),
    };
    let error = integrate(&queue.cache, &remote.url, &proposal)
        .await
        .unwrap_err();
    assert!(matches!(error, GitError::CommitNotFound { .. }), "{error}");
    assert_eq!(error.kind(), ErrorKind::NotFound);
    Ok(())
}

#[tokio::test]
async fn a_proposal_without_its_attempt_trailer_or_base_is_refused() -> anyhow::Result<()> {
    let remote = remote()?;
    let worker = Scratch::new()?;
    let queue = Scratch::new()?;
    let proposal = attempt(&worker, &remote, "main", "a1", &[("a.txt", "a\n")]).await?;

    let wrong_attempt = Proposal {
        attempt: "a9".to_owned(),
        ..proposal.clone()
    };
    let error = integrate(&queue.cache, &remote.url, &wrong_attempt)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::BadRequest, "{error}");
    assert!(error.to_string().contains("Sortie-Attempt: a9"), "{error}");

    let later = remote.commit_files("main", &[("b.txt", "b\n")], "Later")?;
    let wrong_base = Proposal {
        base: commit_id(&later),
        ..proposal
    };
    let error = integrate(&queue.cache, &remote.url, &wrong_base)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::BadRequest, "{error}");
    assert_eq!(
        remote.tip("main")?.as_deref(),
        Some(later.as_str()),
        "nothing pushed"
    );
    Ok(())
}

/// A git that runs `before_push` (a shell snippet) before every push it is asked for.
fn git_moving_the_branch_before_push(
    scratch: &Scratch,
    before_push: &str,
    max_push_attempts: u32,
) -> anyhow::Result<RepoCache> {
    let program = scratch.path("git-with-a-rival");
    let script = format!(
        "#!/bin/sh\nfor arg in \"$@\"; do\n  if [ \"$arg\" = push ]; then\n{before_push}\n    break\n  fi\ndone\nexec git \"$@\"\n"
    );
    write_executable(&program, &script)?;
    let config = GitConfig {
        program,
        max_push_attempts,
        ..config()
    };
    Ok(RepoCache::new(scratch.path("queue-cache"), config))
}

fn rival_commit(remote: &BareRepo) -> anyhow::Result<String> {
    let main = remote.tip("main")?.unwrap();
    remote.set_branch("rival", &main)?;
    remote.commit_files("rival", &[("rival.txt", "rival\n")], "Rival work")
}

#[tokio::test]
async fn a_push_that_loses_the_race_is_retried_on_the_new_tip() -> anyhow::Result<()> {
    let remote = remote()?;
    let worker = Scratch::new()?;
    let attempt = attempt(&worker, &remote, "main", "a1", &[("mine.txt", "mine\n")]).await?;
    let rival = rival_commit(&remote)?;
    let queue = Scratch::new()?;
    // Just before the first push, another process moves main to the rival's commit.
    let marker = queue.path("moved-once");
    let move_once = format!(
        "    if mkdir '{}' 2>/dev/null; then git --git-dir='{}' update-ref refs/heads/main {rival}; fi",
        marker.display(),
        remote.path.display()
    );
    let cache = git_moving_the_branch_before_push(&queue, &move_once, 3)?;

    let outcome = integrate(&cache, &remote.url, &attempt).await?;

    let IntegrationOutcome::Integrated { commit } = outcome else {
        panic!("expected an integration, got {outcome:?}");
    };
    assert!(marker.exists(), "the rival moved the branch");
    let log = remote.log("main")?;
    assert_eq!(log[0].commit, commit.as_str());
    assert_eq!(log[0].parents, [rival.as_str()], "built on the rival's tip");
    assert_eq!(
        remote.read_file("main", "rival.txt")?.as_deref(),
        Some("rival\n")
    );
    assert_eq!(
        remote.read_file("main", "mine.txt")?.as_deref(),
        Some("mine\n")
    );
    Ok(())
}

#[tokio::test]
async fn a_branch_that_keeps_moving_makes_integration_give_up() -> anyhow::Result<()> {
    let remote = remote()?;
    let worker = Scratch::new()?;
    let attempt = attempt(&worker, &remote, "main", "a1", &[("mine.txt", "mine\n")]).await?;
    let queue = Scratch::new()?;
    let bump = format!(
        "    r='{}'; tip=$(git --git-dir=\"$r\" rev-parse refs/heads/main); \
         new=$(git --git-dir=\"$r\" commit-tree \"$tip^{{tree}}\" -p \"$tip\" -m bump); \
         git --git-dir=\"$r\" update-ref refs/heads/main \"$new\" \"$tip\"",
        remote.path.display()
    );
    let cache = git_moving_the_branch_before_push(&queue, &bump, 3)?;

    let error = integrate(&cache, &remote.url, &attempt).await.unwrap_err();

    assert!(
        matches!(error, GitError::BranchContended { attempts: 3, .. }),
        "{error}"
    );
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    let log = remote.log("main")?;
    assert_eq!(
        log.len(),
        4,
        "three bumps on the initial commit, nothing of ours"
    );
    assert!(
        log.iter()
            .all(|entry| entry.trailer("Sortie-Attempt").is_empty())
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_integrations_of_disjoint_work_all_land() -> anyhow::Result<()> {
    let remote = remote()?;
    let worker = Scratch::new()?;
    let ids = ["a1", "a2", "a3", "a4"];
    let mut proposals = Vec::new();
    for id in ids {
        let file = format!("{id}.txt");
        proposals.push(attempt(&worker, &remote, "main", id, &[(&file, id)]).await?);
    }
    // Orchestrator replicas, each with its own cache, integrating at the same time.
    let mut integrations = tokio::task::JoinSet::new();
    for proposal in proposals {
        let replica = Scratch::new()?;
        let url = remote.url.clone();
        integrations.spawn(async move {
            // The whole scratch moves in, its directory with it: capturing only the cache
            // would delete the directory under the running integration.
            let replica = replica;
            integrate(&replica.cache, &url, &proposal).await
        });
    }
    let outcomes = tokio::time::timeout(Duration::from_secs(120), integrations.join_all()).await?;

    for outcome in outcomes {
        let outcome = outcome?;
        assert!(
            matches!(outcome, IntegrationOutcome::Integrated { .. }),
            "{outcome:?}"
        );
    }
    let log = remote.log("main")?;
    assert_eq!(log.len(), 1 + ids.len(), "none lost, none twice");
    assert!(log.iter().all(|entry| entry.parents.len() <= 1), "linear");
    let mut attempts: Vec<String> = log
        .iter()
        .flat_map(|entry| entry.trailer("Sortie-Attempt"))
        .collect();
    attempts.sort();
    assert_eq!(attempts, ids);
    for id in ids {
        let content = remote.read_file("main", &format!("{id}.txt"))?;
        assert_eq!(content.as_deref(), Some(id));
    }
    Ok(())
}
