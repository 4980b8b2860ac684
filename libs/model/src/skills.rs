//! Skills kept in a repository: `SKILL.md` files, as coding agents keep them
//! (`.claude/skills/<name>/SKILL.md` and the like).
//!
//! A `SKILL.md` is front matter between two `---` lines, then Markdown instructions.
//! Sortie needs only the front matter's `name` and `description`, so it reads flat
//! `key: value` lines (plain, single- or double-quoted values, and `|` or `>` blocks) and
//! skips every other key with the lines indented under it (`allowed-tools`, `license`,
//! `metadata`, ...). It is not a YAML parser, and does not need one.
//!
//! A skill's `name` must equal the name of the folder that holds it: a feature finds a
//! repository skill by its folder, and a skill that called itself something else would be
//! found under one name and describe itself under another. A mismatch is an error.
//!
//! This module reads text it is handed; the worker reads the files
//! (`services/worker/src/skills.rs`).

use std::path::Path;

use crate::plan::SkillDefinition;

/// The folders a repository keeps skills in, highest precedence first. A skill called
/// `name` is `<folder>/<name>/SKILL.md`.
pub const REPOSITORY_SKILL_FOLDERS: [&str; 3] =
    [".sortie/skills", ".claude/skills", ".factory/skills"];

/// The file that holds a skill, in the skill's own folder.
pub const SKILL_FILE_NAME: &str = "SKILL.md";

/// The longest skill name a `SKILL.md` may give.
pub const MAX_SKILL_NAME_CHARS: usize = 64;

/// The places a repository skill called `name` may be, relative to the repository's root,
/// highest precedence first.
pub fn repository_skill_paths(name: &str) -> Vec<String> {
    REPOSITORY_SKILL_FOLDERS
        .iter()
        .map(|folder| format!("{folder}/{name}/{SKILL_FILE_NAME}"))
        .collect()
}

/// The name a `SKILL.md` may give: lower-case letters, digits and single hyphens, not at
/// either end, at most [`MAX_SKILL_NAME_CHARS`] characters. Such a name is also a safe
/// folder name, so it is checked before a name is turned into a path.
pub fn check_repository_skill_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if let Some(character) = name.chars().find(|character| {
        !(character.is_ascii_lowercase() || character.is_ascii_digit() || *character == '-')
    }) {
        return Err(format!(
            "contains {character:?}; only lower-case letters, digits and '-' are allowed"
        ));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err("must not start or end with '-'".to_owned());
    }
    if name.contains("--") {
        return Err("must not contain \"--\"".to_owned());
    }
    if name.chars().count() > MAX_SKILL_NAME_CHARS {
        return Err(format!("is longer than {MAX_SKILL_NAME_CHARS} characters"));
    }
    Ok(())
}

/// A `SKILL.md` that cannot be used, with the file and the line (counted from 1) at fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}: {problem}")]
pub struct SkillError {
    pub path: String,
    pub line: usize,
    pub problem: SkillProblem,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SkillProblem {
    #[error("no front matter: the file must start with a `---` line")]
    MissingFrontMatter,
    #[error("the front matter opened here is never closed by a `---` line")]
    UnclosedFrontMatter,
    #[error("expected `key: value`, found {0:?}")]
    NotKeyValue(String),
    #[error("an indented line belongs to no key")]
    IndentedWithoutKey,
    #[error("`{key}` is given twice (first on line {first_line})")]
    DuplicateKey { key: String, first_line: usize },
    #[error("the front matter has no `{0}`")]
    MissingKey(&'static str),
    #[error("`{0}` is empty")]
    EmptyValue(&'static str),
    #[error("`{key}` {reason}")]
    BadValue { key: &'static str, reason: String },
    #[error("skill name {name:?} {reason}")]
    InvalidName { name: String, reason: String },
    #[error("skill name {name:?} differs from the name of its folder, {folder:?}")]
    NameIsNotFolder { name: String, folder: String },
    #[error("the skill has no instructions after its front matter")]
    NoInstructions,
}

/// Reads a `SKILL.md`. `path` is where the file is, used in errors and to check that the
/// skill's name is its folder's (when the path has a folder).
pub fn parse_skill_md(path: &Path, text: &str) -> Result<SkillDefinition, SkillError> {
    let fail = |line: usize, problem: SkillProblem| SkillError {
        path: path.display().to_string(),
        line,
        problem,
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.lines().collect();
    if lines.first().map(|line| line.trim_end()) != Some("---") {
        return Err(fail(1, SkillProblem::MissingFrontMatter));
    }
    let Some(closing_index) = lines
        .iter()
        .skip(1)
        .position(|line| line.trim_end() == "---")
        .map(|position| position + 1)
    else {
        return Err(fail(1, SkillProblem::UnclosedFrontMatter));
    };
    let closing_line = closing_index + 1;
    let front = read_front_matter(&lines[1..closing_index])
        .map_err(|(line, problem)| fail(line, problem))?;

    let (name, name_line) = front
        .name
        .ok_or_else(|| fail(closing_line, SkillProblem::MissingKey("name")))?;
    let (description, description_line) = front
        .description
        .ok_or_else(|| fail(closing_line, SkillProblem::MissingKey("description")))?;
    if name.is_empty() {
        return Err(fail(name_line, SkillProblem::EmptyValue("name")));
    }
    if description.is_empty() {
        return Err(fail(
            description_line,
            SkillProblem::EmptyValue("description"),
        ));
    }
    if let Err(reason) = check_repository_skill_name(&name) {
        return Err(fail(name_line, SkillProblem::InvalidName { name, reason }));
    }
    let folder = path
        .parent()
        .and_then(Path::file_name)
        .map(|folder| folder.to_string_lossy().into_owned());
    if let Some(folder) = folder
        && folder != name
    {
        return Err(fail(
            name_line,
            SkillProblem::NameIsNotFolder { name, folder },
        ));
    }

    let instructions = lines[closing_index + 1..].join("\n").trim().to_owned();
    if instructions.is_empty() {
        return Err(fail(closing_line, SkillProblem::NoInstructions));
    }
    Ok(SkillDefinition {
        name,
        description,
        instructions,
    })
}

/// The keys Sortie reads, each with its value and the line of its key.
#[derive(Default)]
struct FrontMatter {
    name: Option<(String, usize)>,
    description: Option<(String, usize)>,
}

/// A key whose value may go on over the lines that follow it.
enum Open {
    /// A key Sortie does not read: its indented lines are skipped.
    Skipped,
    /// A plain value; indented lines continue it, joined with spaces.
    Plain {
        key: &'static str,
        line: usize,
        text: String,
    },
    /// A `|` (literal) or `>` (folded) block: the indented lines are the value.
    Block {
        key: &'static str,
        line: usize,
        folded: bool,
        lines: Vec<String>,
    },
    /// A quoted value, complete on its line.
    Quoted { key: &'static str },
}

type Located<T> = Result<T, (usize, SkillProblem)>;

/// Reads the lines between the two `---` lines; the first is line 2 of the file.
fn read_front_matter(lines: &[&str]) -> Located<FrontMatter> {
    let mut front = FrontMatter::default();
    let mut keys_seen: Vec<(String, usize)> = Vec::new();
    let mut open: Option<Open> = None;
    for (index, line) in lines.iter().enumerate() {
        let line_number = index + 2;
        if line.trim().is_empty() {
            if let Some(Open::Block { lines, .. }) = &mut open {
                lines.push(String::new());
            }
            continue;
        }
        let indented = line.starts_with([' ', '\t']);
        // A list may sit at its key's own indentation (`allowed-tools:` then `- Read`).
        let list_item = *line == "-" || line.starts_with("- ");
        if indented || list_item {
            continue_value(open.as_mut(), line, list_item, line_number)?;
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        finish(open.take(), &mut front);
        let Some((key, rest)) = split_key(line) else {
            return Err((line_number, SkillProblem::NotKeyValue((*line).to_owned())));
        };
        if let Some((_, first_line)) = keys_seen.iter().find(|(seen, _)| seen == key) {
            return Err((
                line_number,
                SkillProblem::DuplicateKey {
                    key: key.to_owned(),
                    first_line: *first_line,
                },
            ));
        }
        keys_seen.push((key.to_owned(), line_number));
        let wanted = match key {
            "name" => "name",
            "description" => "description",
            _ => {
                open = Some(Open::Skipped);
                continue;
            }
        };
        open = Some(start_value(wanted, rest.trim(), line_number, &mut front)?);
    }
    finish(open, &mut front);
    Ok(front)
}

/// `key: value` or `key:`; `None` when the line is neither.
fn split_key(line: &str) -> Option<(&str, &str)> {
    let (key, rest) = match line.split_once(": ") {
        Some(split) => split,
        None => (line.strip_suffix(':')?, ""),
    };
    let key = key.trim_end();
    if key.is_empty() || key.contains(char::is_whitespace) {
        return None;
    }
    Some((key, rest))
}

/// The value that starts on a key's own line.
fn start_value(
    key: &'static str,
    rest: &str,
    line: usize,
    front: &mut FrontMatter,
) -> Located<Open> {
    if rest.starts_with('"') || rest.starts_with('\'') {
        let value =
            unquote(rest).map_err(|reason| (line, SkillProblem::BadValue { key, reason }))?;
        set(front, key, value, line);
        return Ok(Open::Quoted { key });
    }
    if let Some(indicator) = rest.strip_prefix(['|', '>']) {
        let indicator = strip_comment(indicator).trim();
        if !matches!(indicator, "" | "-" | "+") {
            return Err((
                line,
                SkillProblem::BadValue {
                    key,
                    reason: format!("has a block indicator Sortie does not read: {rest:?}"),
                },
            ));
        }
        return Ok(Open::Block {
            key,
            line,
            folded: rest.starts_with('>'),
            lines: Vec::new(),
        });
    }
    if rest.starts_with(['[', '{']) {
        return Err((
            line,
            SkillProblem::BadValue {
                key,
                reason: "must be text, not a list or a map".to_owned(),
            },
        ));
    }
    Ok(Open::Plain {
        key,
        line,
        text: strip_comment(rest).trim().to_owned(),
    })
}

/// An indented line (or a list item) under the open key.
fn continue_value(
    open: Option<&mut Open>,
    line: &str,
    list_item: bool,
    line_number: usize,
) -> Located<()> {
    match open {
        None => Err((line_number, SkillProblem::IndentedWithoutKey)),
        Some(Open::Skipped) => Ok(()),
        Some(Open::Quoted { key }) => Err((
            line_number,
            SkillProblem::BadValue {
                key,
                reason: "is quoted and must end on its own line".to_owned(),
            },
        )),
        Some(Open::Plain { key, .. } | Open::Block { key, .. }) if list_item => Err((
            line_number,
            SkillProblem::BadValue {
                key,
                reason: "must be text, not a list".to_owned(),
            },
        )),
        Some(Open::Plain { text, .. }) => {
            let more = line.trim();
            if !more.starts_with('#') {
                if !text.is_empty() {
                    text.push(' ');
                }
                text.push_str(strip_comment(more).trim_end());
            }
            Ok(())
        }
        Some(Open::Block { lines, .. }) => {
            lines.push((*line).to_owned());
            Ok(())
        }
    }
}

/// Closes the open key, keeping its value when it is one Sortie reads.
fn finish(open: Option<Open>, front: &mut FrontMatter) {
    match open {
        None | Some(Open::Skipped | Open::Quoted { .. }) => {}
        Some(Open::Plain { key, line, text }) => set(front, key, text, line),
        Some(Open::Block {
            key,
            line,
            folded,
            lines,
        }) => set(front, key, join_block(&lines, folded), line),
    }
}

fn set(front: &mut FrontMatter, key: &'static str, value: String, line: usize) {
    let value = Some((value.trim().to_owned(), line));
    match key {
        "name" => front.name = value,
        _ => front.description = value,
    }
}

/// A block's lines without their common indentation: kept as lines (`|`) or folded into
/// paragraphs (`>`), where a blank line separates paragraphs.
fn join_block(lines: &[String], folded: bool) -> String {
    let indentation = lines
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    let unindented = lines
        .iter()
        .map(|line| line.get(indentation..).unwrap_or(""));
    if !folded {
        return unindented.collect::<Vec<_>>().join("\n");
    }
    let mut text = String::new();
    let mut paragraph_open = false;
    for line in unindented {
        if line.trim().is_empty() {
            text.push('\n');
            paragraph_open = false;
        } else {
            if paragraph_open {
                text.push(' ');
            }
            text.push_str(line.trim_end());
            paragraph_open = true;
        }
    }
    text
}

/// A plain value ends where a comment (` #`) starts.
fn strip_comment(value: &str) -> &str {
    value
        .find(" #")
        .or_else(|| value.find("\t#"))
        .map_or(value, |start| &value[..start])
}

/// A value in single quotes (`''` is one quote) or double quotes (with `\` escapes), which
/// must end on its line; only a comment may follow it.
fn unquote(value: &str) -> Result<String, String> {
    let mut characters = value.char_indices();
    let quote = characters.next().map(|(_, quote)| quote);
    let mut text = String::new();
    let mut end = None;
    while let Some((index, character)) = characters.next() {
        match (quote, character) {
            (Some('\''), '\'') => {
                if value[index + 1..].starts_with('\'') {
                    text.push('\'');
                    characters.next();
                } else {
                    end = Some(index + 1);
                    break;
                }
            }
            (Some('"'), '"') => {
                end = Some(index + 1);
                break;
            }
            (Some('"'), '\\') => {
                let escaped = characters.next().map(|(_, escaped)| escaped);
                text.push(match escaped {
                    Some('"') => '"',
                    Some('\\') => '\\',
                    Some('/') => '/',
                    Some('n') => '\n',
                    Some('t') => '\t',
                    Some(other) => {
                        return Err(format!("has an escape Sortie does not read: \\{other}"));
                    }
                    None => return Err("is quoted and must end on its own line".to_owned()),
                });
            }
            _ => text.push(character),
        }
    }
    let Some(end) = end else {
        return Err("is quoted and must end on its own line".to_owned());
    };
    let after = value[end..].trim();
    if !after.is_empty() && !after.starts_with('#') {
        return Err(format!("has text after its closing quote: {after:?}"));
    }
    Ok(text)
}

#[cfg(test)]
mod tests;
