//! The syntax of ids, names, branches and `touches` globs. Each rule answers with the
//! reason a value is refused.

/// Feature, milestone, repository and service ids, and the mission name:
/// `[A-Za-z0-9._-]+`.
pub(crate) fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("must not be empty".to_owned());
    }
    match id
        .chars()
        .find(|character| !(character.is_ascii_alphanumeric() || "._-".contains(*character)))
    {
        Some(character) => Err(format!(
            "contains {character:?}; only letters, digits, '.', '_' and '-' are allowed"
        )),
        None => Ok(()),
    }
}

/// Assertion ids: `VAL-[A-Z0-9]+-[0-9]{3}`, for example `VAL-API-001`.
pub(crate) fn check_assertion_id(id: &str) -> Result<(), String> {
    let well_formed = id
        .strip_prefix("VAL-")
        .and_then(|rest| rest.rsplit_once('-'))
        .is_some_and(|(area, number)| {
            !area.is_empty()
                && area
                    .chars()
                    .all(|character| character.is_ascii_uppercase() || character.is_ascii_digit())
                && number.len() == 3
                && number.chars().all(|character| character.is_ascii_digit())
        });
    if well_formed {
        Ok(())
    } else {
        Err(
            "must look like VAL-AREA-NNN: \"VAL-\", upper-case letters or digits, '-', \
             three digits (for example VAL-API-001)"
                .to_owned(),
        )
    }
}

/// Skill names: non-empty, no whitespace. Skills may live in the repository, so any
/// such name may be used.
pub(crate) fn check_skill_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if name.chars().any(char::is_whitespace) {
        return Err("must not contain whitespace".to_owned());
    }
    Ok(())
}

/// A branch name git accepts (the rules of `git check-ref-format --branch`).
pub(crate) fn check_branch(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if let Some(character) = name
        .chars()
        .find(|character| character.is_whitespace() || character.is_control())
    {
        return Err(format!("contains {character:?}"));
    }
    if let Some(character) = name
        .chars()
        .find(|character| "~^:?*[\\".contains(*character))
    {
        return Err(format!(
            "contains {character:?}, which git refuses in a branch name"
        ));
    }
    if name.starts_with('-') || name.starts_with('/') || name.ends_with('/') {
        return Err("must not start with '-' or '/', nor end with '/'".to_owned());
    }
    if name.contains("..") || name.contains("//") || name.contains("@{") {
        return Err("must not contain \"..\", \"//\" or \"@{\"".to_owned());
    }
    if name.ends_with('.') || name.ends_with(".lock") || name == "@" {
        return Err("must not end with '.' or \".lock\", nor be \"@\"".to_owned());
    }
    if name
        .split('/')
        .any(|component| component.starts_with('.') || component.ends_with(".lock"))
    {
        return Err("no part between '/' may start with '.' or end with \".lock\"".to_owned());
    }
    Ok(())
}

/// Why a `touches` entry is refused, and the code to report it with.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum GlobProblem {
    Invalid(String),
    OutsideRepository(String),
}

/// A glob relative to the repository root that `globset` compiles.
pub(crate) fn check_touches_glob(pattern: &str) -> Result<(), GlobProblem> {
    if pattern.trim().is_empty() {
        return Err(GlobProblem::Invalid("must not be empty".to_owned()));
    }
    check_inside_repository(pattern).map_err(GlobProblem::OutsideRepository)?;
    match globset::Glob::new(pattern) {
        Ok(_) => Ok(()),
        Err(error) => Err(GlobProblem::Invalid(error.kind().to_string())),
    }
}

/// Why the path of a scripted step (`write`, `append`, `replace`) is refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum StepPathProblem {
    OutsideRepository(String),
    NotAFile(String),
}

/// A file path relative to the repository root, inside it. Blank paths are refused
/// before this, as empty values.
pub(crate) fn check_step_path(path: &str) -> Result<(), StepPathProblem> {
    check_inside_repository(path).map_err(StepPathProblem::OutsideRepository)?;
    let names_something = path
        .split(['/', '\\'])
        .any(|component| !component.is_empty() && component != ".");
    if !names_something || path.ends_with(['/', '\\']) {
        return Err(StepPathProblem::NotAFile(
            "does not name a file; write the path of the file, relative to the repository \
             root"
                .to_owned(),
        ));
    }
    Ok(())
}

/// Paths and globs are relative to the repository root and may not leave it: not
/// absolute (`/x`, `\x`, `~/x`, `C:x`), and no `..` part.
fn check_inside_repository(path: &str) -> Result<(), String> {
    let is_absolute = path.starts_with('/')
        || path.starts_with('\\')
        || path.starts_with('~')
        || path.as_bytes().get(1) == Some(&b':');
    if is_absolute {
        return Err("is an absolute path; write it relative to the repository root".to_owned());
    }
    if path.split(['/', '\\']).any(|component| component == "..") {
        return Err("contains \"..\"; only paths inside the repository may be changed".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(check_id("F-API.list_2").is_ok());
        assert!(check_id("").is_err());
        assert!(check_id("F API").is_err());
        assert!(check_id("F/API").is_err());
        assert!(check_id("é").is_err());
    }

    #[test]
    fn assertion_ids() {
        assert!(check_assertion_id("VAL-API-001").is_ok());
        assert!(check_assertion_id("VAL-A1-999").is_ok());
        for bad in [
            "VAL-API-01",
            "VAL-API-0001",
            "VAL--001",
            "VAL-api-001",
            "VAL-API-AUTH-001",
            "API-001",
            "VAL-API-00a",
            "",
        ] {
            assert!(check_assertion_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn skill_names() {
        assert!(check_skill_name("rust-backend").is_ok());
        assert!(check_skill_name("").is_err());
        assert!(check_skill_name("two words").is_err());
    }

    #[test]
    fn branches() {
        for good in ["main", "sortie/todo-service", "release-1.2"] {
            assert!(check_branch(good).is_ok(), "{good}");
        }
        for bad in [
            "", "a b", "a..b", "-x", "x/", "/x", "x.lock", "a:b", "x.", "a/.b", "@", "a@{b",
        ] {
            assert!(check_branch(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn touches_globs() {
        assert!(check_touches_glob("src/api/**").is_ok());
        assert!(check_touches_glob("*.md").is_ok());
        assert!(matches!(
            check_touches_glob("src/[ab"),
            Err(GlobProblem::Invalid(_))
        ));
        assert!(matches!(
            check_touches_glob("{a,b"),
            Err(GlobProblem::Invalid(_))
        ));
        assert!(matches!(
            check_touches_glob(""),
            Err(GlobProblem::Invalid(_))
        ));
        for outside in ["/etc/passwd", "../other/**", "src/../../x", "C:\\x", "~/x"] {
            assert!(
                matches!(
                    check_touches_glob(outside),
                    Err(GlobProblem::OutsideRepository(_))
                ),
                "{outside}"
            );
        }
    }

    #[test]
    fn step_paths() {
        for good in ["src/main.rs", "./README.md", "docs/a b.md", "src/[x].rs"] {
            assert_eq!(check_step_path(good), Ok(()), "{good}");
        }
        for outside in ["/etc/passwd", "../x", "src/../../x", "~/x", "C:\\x"] {
            assert!(
                matches!(
                    check_step_path(outside),
                    Err(StepPathProblem::OutsideRepository(_))
                ),
                "{outside}"
            );
        }
        for not_a_file in [".", "./", "src/", "./."] {
            assert!(
                matches!(
                    check_step_path(not_a_file),
                    Err(StepPathProblem::NotAFile(_))
                ),
                "{not_a_file}"
            );
        }
    }
}
