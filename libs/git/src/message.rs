//! Commit messages with the trailers that tie a commit to its mission, feature and attempt.

use crate::error::{GitError, GitResult};

pub const MISSION_TRAILER: &str = "Sortie-Mission";
pub const FEATURE_TRAILER: &str = "Sortie-Feature";
/// The merge queue finds an attempt's integrated commit by this trailer.
pub const ATTEMPT_TRAILER: &str = "Sortie-Attempt";
pub const EPOCH_TRAILER: &str = "Sortie-Epoch";

/// A commit message: free text, then `Key: value` trailers in a last paragraph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitMessage {
    text: String,
    trailers: Vec<(String, String)>,
}

impl CommitMessage {
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            trailers: Vec::new(),
        }
    }

    /// Adds a trailer; checked when the message is rendered.
    #[must_use]
    pub fn trailer(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.trailers.push((key.into(), value.to_string()));
        self
    }

    pub fn trailers(&self) -> &[(String, String)] {
        &self.trailers
    }

    /// The message as git stores it.
    pub fn render(&self) -> GitResult<String> {
        let text = self.text.trim();
        if text.is_empty() {
            return Err(GitError::invalid(
                "commit message",
                &self.text,
                "it is empty",
            ));
        }
        let mut rendered = text.to_owned();
        rendered.push('\n');
        if !self.trailers.is_empty() {
            rendered.push('\n');
        }
        for (key, value) in &self.trailers {
            validate_trailer(key, value)?;
            rendered.push_str(&format!("{key}: {}\n", value.trim()));
        }
        Ok(rendered)
    }
}

fn validate_trailer(key: &str, value: &str) -> GitResult<()> {
    let key_ok = !key.is_empty()
        && key
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-');
    if !key_ok {
        return Err(GitError::invalid(
            "trailer key",
            key,
            "expected letters, digits and '-'",
        ));
    }
    if value.trim().is_empty() || value.contains(['\n', '\r']) {
        return Err(GitError::invalid(
            "trailer value",
            value,
            "expected one non-empty line",
        ));
    }
    Ok(())
}

/// The values of trailer `key` in a rendered message's last paragraph.
pub fn trailer_values<'message>(message: &'message str, key: &str) -> Vec<&'message str> {
    let last_paragraph = message.trim_end().rsplit("\n\n").next().unwrap_or_default();
    last_paragraph
        .lines()
        .filter_map(|line| line.split_once(':'))
        .filter(|(line_key, _)| line_key.trim().eq_ignore_ascii_case(key))
        .map(|(_, value)| value.trim())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailers_form_the_last_paragraph() {
        let message = CommitMessage::new("Add the login page\n\nWith a form.\n")
            .trailer(MISSION_TRAILER, "m-1")
            .trailer(EPOCH_TRAILER, 3);
        let rendered = message.render().unwrap();
        assert_eq!(
            rendered,
            "Add the login page\n\nWith a form.\n\nSortie-Mission: m-1\nSortie-Epoch: 3\n"
        );
        assert_eq!(trailer_values(&rendered, "sortie-epoch"), vec!["3"]);
        assert!(trailer_values(&rendered, ATTEMPT_TRAILER).is_empty());
    }

    #[test]
    fn bad_trailers_and_empty_messages_are_refused() {
        assert!(CommitMessage::new("  \n").render().is_err());
        assert!(
            CommitMessage::new("x")
                .trailer("Bad Key", "v")
                .render()
                .is_err()
        );
        assert!(
            CommitMessage::new("x")
                .trailer("K", "a\nb")
                .render()
                .is_err()
        );
        assert!(CommitMessage::new("x").trailer("K", " ").render().is_err());
    }
}
