//! What the planner reads in a repository before it plans: the file tree, the README,
//! AGENTS.md, the build files and the skills, each cut to a budget so the whole survey
//! fits in a prompt.

use std::path::{Path, PathBuf};

use sortie_model::skills::parse_skill_md;
use sortie_model::survey::MAX_TREE_ENTRIES;
pub use sortie_model::survey::{Survey, SurveyedFile, SurveyedSkill};

/// Directories below this depth are not listed (the root's entries are at depth 1).
const MAX_TREE_DEPTH: usize = 4;
/// The most of the README or AGENTS.md the survey keeps.
const DOCUMENT_BUDGET_CHARS: usize = 6_000;
/// The most of each build file the survey keeps.
const BUILD_FILE_BUDGET_CHARS: usize = 3_000;

/// Directories never listed: version control, build output, dependencies, caches.
const SKIPPED_DIRECTORIES: &[&str] = &[
    ".git",
    "target",
    "node_modules",
    "dist",
    "build",
    ".venv",
    "venv",
    "__pycache__",
    ".next",
    ".gradle",
    ".tox",
    ".mypy_cache",
    ".pytest_cache",
    ".cache",
];

/// Files at the root that say how the project is built, tested and run.
const BUILD_FILES: &[&str] = &[
    "Cargo.toml",
    "package.json",
    "pyproject.toml",
    "setup.py",
    "requirements.txt",
    "go.mod",
    "Makefile",
    "justfile",
    "CMakeLists.txt",
    "pom.xml",
    "build.gradle",
    "build.gradle.kts",
    "Gemfile",
    "composer.json",
    "deno.json",
    "mix.exs",
    "docker-compose.yml",
    "compose.yaml",
];

const README_NAMES: &[&str] = &[
    "README.md",
    "README",
    "README.rst",
    "README.txt",
    "readme.md",
];

/// Where repository skills live, first found wins (as the worker looks for them).
const SKILL_DIRECTORIES: &[&str] = &[".sortie/skills", ".claude/skills", ".factory/skills"];

/// Reads the repository at `repo_dir`. Fails only when the directory cannot be read;
/// files that cannot be read, and skills that do not parse, are left out.
pub fn survey(repo_dir: &Path) -> std::io::Result<Survey> {
    // A directory that cannot be listed is the one failure worth reporting.
    std::fs::read_dir(repo_dir)?;
    let mut survey = Survey {
        root: repo_dir.to_path_buf(),
        repository_name: repository_name(repo_dir),
        ..Survey::default()
    };
    list_tree(repo_dir, repo_dir, 1, &mut survey);
    survey.readme = README_NAMES
        .iter()
        .find_map(|name| read_cut(repo_dir, name, DOCUMENT_BUDGET_CHARS));
    survey.agents_md = read_cut(repo_dir, "AGENTS.md", DOCUMENT_BUDGET_CHARS);
    survey.build_files = BUILD_FILES
        .iter()
        .filter_map(|name| read_cut(repo_dir, name, BUILD_FILE_BUDGET_CHARS))
        .collect();
    survey.skills = find_skills(repo_dir);
    Ok(survey)
}

/// The directory's name with anything outside `[A-Za-z0-9._-]` replaced by `-`.
fn repository_name(repo_dir: &Path) -> String {
    let absolute = std::fs::canonicalize(repo_dir).unwrap_or_else(|_| repo_dir.to_path_buf());
    let name: String = absolute
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() || matches!(character, '.' | '_' | '-') {
                character
            } else {
                '-'
            }
        })
        .collect();
    if name.trim_matches(['-', '.']).is_empty() {
        "app".to_owned()
    } else {
        name
    }
}

fn list_tree(root: &Path, directory: &Path, depth: usize, survey: &mut Survey) {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    let mut entries: Vec<(String, PathBuf, bool)> = entries
        .filter_map(Result::ok)
        .map(|entry| {
            let is_directory = entry.file_type().is_ok_and(|kind| kind.is_dir());
            (
                entry.file_name().to_string_lossy().into_owned(),
                entry.path(),
                is_directory,
            )
        })
        .filter(|(name, _, is_directory)| {
            !(*is_directory && SKIPPED_DIRECTORIES.contains(&name.as_str()))
        })
        .collect();
    entries.sort();
    for (_, path, is_directory) in entries {
        if survey.tree.len() >= MAX_TREE_ENTRIES {
            survey.tree_truncated = true;
            return;
        }
        let relative = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        if is_directory {
            survey.tree.push(format!("{relative}/"));
            if depth < MAX_TREE_DEPTH {
                list_tree(root, &path, depth + 1, survey);
            }
        } else {
            survey.tree.push(relative);
        }
    }
}

fn read_cut(root: &Path, relative: &str, budget_chars: usize) -> Option<SurveyedFile> {
    let path = root.join(relative);
    if !path.is_file() {
        return None;
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let (text, truncated) = cut(&text, budget_chars);
    Some(SurveyedFile {
        path: relative.to_owned(),
        text,
        truncated,
    })
}

fn cut(text: &str, budget_chars: usize) -> (String, bool) {
    if text.chars().count() <= budget_chars {
        return (text.to_owned(), false);
    }
    (text.chars().take(budget_chars).collect(), true)
}

fn find_skills(root: &Path) -> Vec<SurveyedSkill> {
    let mut skills: Vec<SurveyedSkill> = Vec::new();
    for skill_directory in SKILL_DIRECTORIES {
        let Ok(entries) = std::fs::read_dir(root.join(skill_directory)) else {
            continue;
        };
        let mut folders: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .collect();
        folders.sort();
        for folder in folders {
            let skill_md = folder.join("SKILL.md");
            let Ok(text) = std::fs::read_to_string(&skill_md) else {
                continue;
            };
            let relative = skill_md
                .strip_prefix(root)
                .unwrap_or(&skill_md)
                .to_string_lossy()
                .into_owned();
            let skill = match parse_skill_md(Path::new(&relative), &text) {
                Ok(skill) => skill,
                Err(error) => {
                    tracing::debug!(%error, "a repository skill that does not parse is left out of the survey");
                    continue;
                }
            };
            if skills.iter().any(|known| known.name == skill.name) {
                continue;
            }
            let (description, _) = cut(&skill.description, 300);
            skills.push(SurveyedSkill {
                name: skill.name,
                description,
                path: relative,
            });
        }
    }
    skills
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_name_becomes_an_id() {
        assert_eq!(repository_name(Path::new("/tmp/my app!")), "my-app-");
        assert_eq!(
            repository_name(Path::new("/tmp/todo.service")),
            "todo.service"
        );
    }

    #[test]
    fn long_texts_are_cut_to_their_budget() {
        assert_eq!(cut("short", 10), ("short".to_owned(), false));
        let (text, truncated) = cut(&"é".repeat(50), 10);
        assert_eq!(text.chars().count(), 10);
        assert!(truncated);
    }
}
