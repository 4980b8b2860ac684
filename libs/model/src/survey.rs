//! What the planner knows of a repository, as it travels in a planner request: the file
//! tree, the README, AGENTS.md, the build files and the skills, each cut to a budget.
//! `sortie-planner` reads it from a repository; the planner service gets it on the bus.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The most entries the tree lists.
pub const MAX_TREE_ENTRIES: usize = 300;

/// What the planner knows of a repository.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Survey {
    /// The repository's directory, as given.
    pub root: PathBuf,
    /// A name for the repository in the mission file: its directory's name, as an id.
    pub repository_name: String,
    /// Paths relative to the root, sorted, directories ending in `/`.
    #[serde(default)]
    pub tree: Vec<String>,
    /// Whether the tree was cut at [`MAX_TREE_ENTRIES`] entries.
    #[serde(default)]
    pub tree_truncated: bool,
    #[serde(default)]
    pub readme: Option<SurveyedFile>,
    #[serde(default)]
    pub agents_md: Option<SurveyedFile>,
    #[serde(default)]
    pub build_files: Vec<SurveyedFile>,
    #[serde(default)]
    pub skills: Vec<SurveyedSkill>,
}

/// A file's text, cut to a budget.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurveyedFile {
    /// Relative to the repository's root.
    pub path: String,
    pub text: String,
    pub truncated: bool,
}

/// A skill the repository defines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurveyedSkill {
    pub name: String,
    pub description: String,
    /// Its `SKILL.md`, relative to the repository's root.
    pub path: String,
}

impl Survey {
    /// The survey as Markdown for a prompt.
    pub fn render(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(text, "Repository name: {}", self.repository_name);
        let _ = writeln!(text, "Repository path: {}\n", self.root.display());
        text.push_str("## File tree\n\n```text\n");
        for entry in &self.tree {
            text.push_str(entry);
            text.push('\n');
        }
        if self.tree_truncated {
            let _ = writeln!(text, "… (cut at {MAX_TREE_ENTRIES} entries)");
        }
        text.push_str("```\n");
        let files = self
            .readme
            .iter()
            .chain(&self.agents_md)
            .chain(&self.build_files);
        for file in files {
            let _ = write!(text, "\n## {}\n\n````text\n{}", file.path, file.text);
            if file.truncated {
                text.push_str("\n… (cut)");
            }
            text.push_str("\n````\n");
        }
        if !self.skills.is_empty() {
            text.push_str("\n## Skills in the repository\n\n");
            for skill in &self.skills {
                let _ = writeln!(
                    text,
                    "- `{}` ({}): {}",
                    skill.name, skill.path, skill.description
                );
            }
        }
        text
    }
}
