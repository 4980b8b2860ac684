//! Commit ids and branch names, checked before they reach a command line.

use std::fmt;
use std::str::FromStr;

use crate::error::{GitError, GitResult};

/// A full commit id: 40 (SHA-1) or 64 (SHA-256) lowercase hex digits.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommitId(String);

impl CommitId {
    pub fn parse(text: &str) -> GitResult<Self> {
        let well_formed =
            matches!(text.len(), 40 | 64) && text.bytes().all(|byte| byte.is_ascii_hexdigit());
        if !well_formed {
            return Err(GitError::invalid(
                "commit id",
                text,
                "expected 40 or 64 hex digits",
            ));
        }
        Ok(Self(text.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first twelve digits, for messages.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

impl FromStr for CommitId {
    type Err = GitError;

    fn from_str(text: &str) -> GitResult<Self> {
        Self::parse(text)
    }
}

impl fmt::Display for CommitId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl fmt::Debug for CommitId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "CommitId({})", self.short())
    }
}

impl AsRef<str> for CommitId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The branch a worker pushes an attempt's commit to.
pub fn attempt_branch(attempt: &str) -> String {
    format!("sortie/attempts/{attempt}")
}

/// Checks `name` is a branch name git accepts (the rules of `git check-ref-format
/// --branch`) and that it cannot be read as an option.
pub fn validate_branch_name(name: &str) -> GitResult<()> {
    let refuse = |reason: &str| Err(GitError::invalid("branch name", name, reason));
    if name.is_empty() {
        return refuse("it is empty");
    }
    if name.starts_with('-') {
        return refuse("it starts with '-'");
    }
    if name == "@" || name == "HEAD" {
        return refuse("it names HEAD");
    }
    if name.starts_with('/') || name.ends_with('/') || name.contains("//") {
        return refuse("it has an empty path component");
    }
    if name.ends_with('.') {
        return refuse("it ends with '.'");
    }
    if name.contains("..") || name.contains("@{") {
        return refuse("it contains '..' or '@{'");
    }
    let forbidden = |character: char| {
        character.is_ascii_control()
            || matches!(character, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\')
    };
    if name.contains(forbidden) {
        return refuse("it contains a control character, a space or one of ~^:?*[\\");
    }
    for component in name.split('/') {
        if component.starts_with('.') || component.ends_with(".lock") {
            return refuse("a component starts with '.' or ends with '.lock'");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_ids_are_full_hex() {
        let id = CommitId::parse(&"AB".repeat(20)).unwrap();
        assert_eq!(id.as_str(), "ab".repeat(20));
        assert_eq!(id.short(), "abababababab");
        assert!(CommitId::parse(&"a".repeat(64)).is_ok());
        assert!(CommitId::parse("abc123").is_err());
        assert!(CommitId::parse(&"g".repeat(40)).is_err());
    }

    #[test]
    fn branch_names_follow_git_rules() {
        for good in ["main", "sortie/attempts/01J", "mission/m-1", "feature_x.y"] {
            assert!(validate_branch_name(good).is_ok(), "{good}");
        }
        for bad in [
            "", "-f", "HEAD", "@", "/a", "a/", "a//b", "a.", "a..b", "a@{1}", "a b", "a~1", "a:b",
            "a*", "a[", "a\\b", ".hidden", "a/.b", "x.lock", "a\nb",
        ] {
            assert!(validate_branch_name(bad).is_err(), "{bad:?}");
        }
    }
}
