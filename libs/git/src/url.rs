//! Remote URLs: keeping their credentials out of logs, errors and files on disk.

use std::borrow::Cow;

/// Where the user information of a `scheme://user:secret@host/...` URL is, if it has one.
fn user_info_range(url: &str) -> Option<std::ops::Range<usize>> {
    let scheme_end = url.find("://")? + 3;
    let authority_end = url[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |offset| scheme_end + offset);
    let at = url[scheme_end..authority_end].rfind('@')? + scheme_end;
    Some(scheme_end..at)
}

/// `url` with the user information of any `scheme://...@` URL in it replaced by `***`.
/// Works on any text (an argument, a line of stderr).
pub(crate) fn redact_credentials(text: &str) -> Cow<'_, str> {
    if !text.contains("://") || !text.contains('@') {
        return Cow::Borrowed(text);
    }
    let mut redacted = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(scheme_at) = rest.find("://") {
        // Look for user information only up to the next whitespace.
        let word_end = rest[scheme_at..]
            .find(char::is_whitespace)
            .map_or(rest.len(), |offset| scheme_at + offset);
        let word = &rest[..word_end];
        match user_info_range(word) {
            Some(range) => {
                redacted.push_str(&word[..range.start]);
                redacted.push_str("***");
                redacted.push_str(&word[range.end..]);
            }
            None => redacted.push_str(word),
        }
        rest = &rest[word_end..];
    }
    redacted.push_str(rest);
    Cow::Owned(redacted)
}

/// `url` without its user information: what may be written to disk or shown.
pub(crate) fn strip_credentials(url: &str) -> String {
    match user_info_range(url) {
        Some(range) => format!("{}{}", &url[..range.start], &url[range.end + 1..]),
        None => url.to_owned(),
    }
}

/// A stable 64-bit FNV-1a hash: the same in every process and every build, unlike std's.
fn fnv1a_64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET_BASIS, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(PRIME)
    })
}

/// The directory name of a URL's mirror: a readable hint and a hash of the URL without
/// credentials (so a rotated token keeps its mirror).
pub(crate) fn mirror_dir_name(url: &str) -> String {
    let without_credentials = strip_credentials(url);
    let trimmed = without_credentials.trim_end_matches('/');
    let last_component = trimmed.rsplit(['/', ':']).next().unwrap_or_default();
    let hint: String = last_component
        .trim_end_matches(".git")
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() || character == '-' || character == '_' {
                character
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    let hint = if hint.is_empty() {
        "repo".to_owned()
    } else {
        hint
    };
    format!(
        "{hint}-{:016x}.git",
        fnv1a_64(without_credentials.as_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_redacted_wherever_they_appear() {
        assert_eq!(
            redact_credentials("https://bot:tok@host.invalid/a/b.git"),
            "https://***@host.invalid/a/b.git"
        );
        assert_eq!(
            redact_credentials("fatal: unable to access 'https://tok@h.invalid/r/': 403"),
            "fatal: unable to access 'https://***@h.invalid/r/': 403"
        );
        assert_eq!(
            redact_credentials("git@host:owner/repo.git"),
            "git@host:owner/repo.git"
        );
        assert_eq!(
            redact_credentials("file:///tmp/a@b/repo.git"),
            "file:///tmp/a@b/repo.git"
        );
    }

    #[test]
    fn stripping_removes_user_information_only() {
        assert_eq!(
            strip_credentials("https://bot:tok@host.invalid/r.git"),
            "https://host.invalid/r.git"
        );
        assert_eq!(strip_credentials("/srv/repo.git"), "/srv/repo.git");
    }

    #[test]
    fn mirror_names_are_stable_readable_and_ignore_credentials() {
        let name = mirror_dir_name("https://host.invalid/team/My Repo.git");
        assert!(name.starts_with("My_Repo-"), "{name}");
        assert!(name.ends_with(".git"));
        assert_eq!(
            name,
            mirror_dir_name("https://u:p@host.invalid/team/My Repo.git")
        );
        assert_ne!(
            name,
            mirror_dir_name("https://host.invalid/other/My Repo.git")
        );
        assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
