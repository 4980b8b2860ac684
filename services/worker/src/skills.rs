//! The skill an agent is handed: the plan's, or else the repository's.
//!
//! A feature names a skill with `skill = "..."`. When the plan defines a skill of that
//! name, the task carries it and it wins. Otherwise the skill is looked up in the prepared
//! workspace, at the attempt's base commit, in the folders of
//! `sortie_model::skills::REPOSITORY_SKILL_FOLDERS` (`.sortie/skills`, then `.claude/skills`, then
//! `.factory/skills`): the first `<folder>/<name>/SKILL.md` that exists is the skill, and
//! one that cannot be read is an error, never passed over for a later folder. A skill
//! found nowhere fails the attempt.
//!
//! Invariant: only files inside the workspace are read: a `SKILL.md` that is a symbolic
//! link to somewhere else is refused, so a repository cannot put a worker's own files in
//! an agent's prompt.

use std::path::Path;

use sortie_model::plan::{Feature, SkillDefinition};
use sortie_model::skills::{
    SkillError, check_repository_skill_name, parse_skill_md, repository_skill_paths,
};

use crate::repository_file::read_repository_file;

/// The largest `SKILL.md` read: a skill is instructions for an agent, not a data file.
pub const MAX_SKILL_FILE_BYTES: u64 = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum SkillLookupError {
    #[error(
        "the feature names skill {name:?}, which the plan does not define and the repository \
         does not hold (looked in {})",
        looked_in.join(", ")
    )]
    NotFound {
        name: String,
        looked_in: Vec<String>,
    },
    #[error(
        "the feature names skill {name:?}, which the plan does not define and which cannot be \
         a repository skill: its name {reason}"
    )]
    BadName { name: String, reason: String },
    #[error("the repository's skill cannot be used: {0}")]
    Invalid(#[from] SkillError),
    #[error("the repository's skill {path} cannot be read: {reason}")]
    Unreadable { path: String, reason: String },
}

/// The skill for `feature`: `planned` (the plan's definition, which the task carries) when
/// there is one, else the repository's skill of the name the feature gives, else none when
/// the feature names no skill.
pub async fn skill_for_feature(
    feature: &Feature,
    planned: Option<&SkillDefinition>,
    workspace: &Path,
) -> Result<Option<SkillDefinition>, SkillLookupError> {
    if let Some(planned) = planned {
        return Ok(Some(planned.clone()));
    }
    let Some(name) = &feature.skill else {
        return Ok(None);
    };
    find_repository_skill(workspace, name).await.map(Some)
}

/// The skill called `name` in the repository checked out at `workspace`.
pub async fn find_repository_skill(
    workspace: &Path,
    name: &str,
) -> Result<SkillDefinition, SkillLookupError> {
    if let Err(reason) = check_repository_skill_name(name) {
        return Err(SkillLookupError::BadName {
            name: name.to_owned(),
            reason,
        });
    }
    let looked_in = repository_skill_paths(name);
    for relative in &looked_in {
        let Some(text) = read_inside(workspace, relative).await? else {
            continue;
        };
        return Ok(parse_skill_md(Path::new(relative), &text)?);
    }
    Err(SkillLookupError::NotFound {
        name: name.to_owned(),
        looked_in,
    })
}

/// The text of `relative` under `workspace`, or `None` when there is no such file.
async fn read_inside(workspace: &Path, relative: &str) -> Result<Option<String>, SkillLookupError> {
    read_repository_file(workspace, relative, MAX_SKILL_FILE_BYTES)
        .await
        .map_err(|reason| SkillLookupError::Unreadable {
            path: relative.to_owned(),
            reason,
        })
}

#[cfg(test)]
mod tests;
