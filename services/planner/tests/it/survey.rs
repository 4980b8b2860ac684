//! The survey of a fixture repository.

use std::path::Path;

use sortie_planner::survey;

fn write(root: &Path, relative: &str, text: &str) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("directories");
    std::fs::write(path, text).expect("a file");
}

#[test]
fn the_survey_finds_the_readme_agents_md_build_files_and_skills_and_skips_git_and_build_output() {
    let repository = tempfile::tempdir().expect("repository");
    let root = repository.path();
    write(root, "README.md", "# Notes\n\nA notes service.\n");
    write(root, "AGENTS.md", "Run `cargo test` before you hand off.\n");
    write(root, "Cargo.toml", "[package]\nname = \"notes\"\n");
    write(root, "Makefile", "test:\n\tcargo test\n");
    write(root, "src/main.rs", "fn main() {}\n");
    write(root, ".git/HEAD", "ref: refs/heads/main\n");
    write(root, ".git/objects/ab/cdef", "blob");
    write(root, "target/debug/notes", "binary");
    write(
        root,
        ".claude/skills/backend/SKILL.md",
        "---\nname: backend\ndescription: Work on the HTTP API and its tests.\n---\n\nKeep handlers small.\n",
    );
    write(root, "docs/guide.md", &"long line\n".repeat(2_000));

    let survey = survey(root).expect("survey");

    let readme = survey.readme.as_ref().expect("the readme");
    assert_eq!(readme.path, "README.md");
    assert!(readme.text.contains("A notes service."));
    let agents_md = survey.agents_md.as_ref().expect("AGENTS.md");
    assert!(agents_md.text.contains("cargo test"));
    let build_files: Vec<&str> = survey
        .build_files
        .iter()
        .map(|file| file.path.as_str())
        .collect();
    assert_eq!(build_files, ["Cargo.toml", "Makefile"]);
    assert_eq!(survey.skills.len(), 1);
    assert_eq!(survey.skills[0].name, "backend");
    assert_eq!(survey.skills[0].path, ".claude/skills/backend/SKILL.md");
    assert!(survey.skills[0].description.contains("HTTP API"));

    assert!(
        survey.tree.contains(&"src/main.rs".to_owned()),
        "{:?}",
        survey.tree
    );
    assert!(survey.tree.contains(&"docs/guide.md".to_owned()));
    assert!(
        survey
            .tree
            .iter()
            .all(|entry| !entry.starts_with(".git/") && !entry.starts_with("target/")),
        "{:?}",
        survey.tree
    );
    assert!(!survey.tree_truncated);

    let rendered = survey.render();
    assert!(rendered.contains("A notes service."));
    assert!(rendered.contains("`backend`"));
    assert!(!rendered.contains("refs/heads/main"));
}

#[test]
fn the_tree_is_bounded_and_long_files_are_cut() {
    let repository = tempfile::tempdir().expect("repository");
    let root = repository.path();
    for index in 0..400 {
        write(root, &format!("data/file-{index:03}.txt"), "x");
    }
    write(root, "a/b/c/d/e/f/deep.txt", "deep");
    write(root, "README.md", &"word ".repeat(10_000));

    let survey = survey(root).expect("survey");

    assert!(survey.tree_truncated);
    assert!(survey.tree.len() <= 300, "{}", survey.tree.len());
    assert!(!survey.tree.iter().any(|entry| entry.ends_with("deep.txt")));
    let readme = survey.readme.expect("the readme");
    assert!(readme.truncated);
    assert!(readme.text.len() < 10_000);
}

#[test]
fn a_missing_directory_cannot_be_surveyed() {
    assert!(survey(Path::new("/nonexistent/sortie-planner-fixture")).is_err());
}
