//! Seeding a bare repository from a directory.

use sortie_git::{GitConfig, seed_bare_repository};

#[tokio::test]
async fn a_seeded_repository_holds_the_directory_in_one_commit() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let source = scratch.path().join("project");
    std::fs::create_dir_all(source.join("docs")).expect("mkdir");
    std::fs::write(source.join("README.md"), "# project\n").expect("write");
    std::fs::write(source.join("docs/guide.md"), "guide\n").expect("write");
    std::fs::write(source.join(".gitignore"), "*.log\n").expect("write");
    std::fs::write(source.join("noise.log"), "ignored\n").expect("write");
    let bare = scratch.path().join("project.git");
    let commit = seed_bare_repository(&GitConfig::default(), &source, &bare, "main", "start")
        .await
        .expect("seed");
    let listed = std::process::Command::new("git")
        .args([
            "--git-dir",
            bare.to_str().expect("utf-8"),
            "ls-tree",
            "-r",
            "--name-only",
            "main",
        ])
        .output()
        .expect("git ls-tree");
    let files = String::from_utf8(listed.stdout).expect("utf-8");
    assert_eq!(
        files.lines().collect::<Vec<_>>(),
        vec![".gitignore", "README.md", "docs/guide.md"]
    );
    let head = std::process::Command::new("git")
        .args([
            "--git-dir",
            bare.to_str().expect("utf-8"),
            "rev-parse",
            "main",
        ])
        .output()
        .expect("git rev-parse");
    assert_eq!(
        String::from_utf8(head.stdout).expect("utf-8").trim(),
        commit.as_str()
    );
    assert!(
        !source.join(".git").exists(),
        "the source directory is left as it was"
    );
    let again = seed_bare_repository(&GitConfig::default(), &source, &bare, "main", "start").await;
    assert!(
        again.is_err(),
        "an existing repository is never overwritten"
    );
}

#[tokio::test]
async fn relative_paths_are_taken_from_the_current_directory() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let source = scratch.path().join("project");
    std::fs::create_dir_all(&source).expect("mkdir");
    std::fs::write(source.join("README.md"), "# project\n").expect("write");
    let current = std::env::current_dir().expect("current dir");
    let relative_source = pathdiff(&source, &current);
    let bare = scratch.path().join("relative.git");
    let relative_bare = pathdiff(&bare, &current);
    seed_bare_repository(
        &GitConfig::default(),
        &relative_source,
        &relative_bare,
        "main",
        "start",
    )
    .await
    .expect("seed from relative paths");
    assert!(bare.join("HEAD").exists());
}

/// `path` relative to `base` (both absolute), with `..` where needed.
fn pathdiff(path: &std::path::Path, base: &std::path::Path) -> std::path::PathBuf {
    let path: Vec<_> = path.components().collect();
    let base: Vec<_> = base.components().collect();
    let common = path.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let mut relative = std::path::PathBuf::new();
    for _ in common..base.len() {
        relative.push("..");
    }
    for component in &path[common..] {
        relative.push(component);
    }
    relative
}
