use std::path::PathBuf;
use std::time::Duration;

use sortie_model::ErrorKind;

/// Everything that can go wrong while Sortie drives git.
///
/// Command lines in errors have the credentials of remote URLs replaced by `***`.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error(
        "`{command}` in {cwd} exited with {}: {stderr_tail}",
        exit_code_text(*code)
    )]
    Command {
        command: String,
        cwd: PathBuf,
        /// `None` when git was ended by a signal.
        code: Option<i32>,
        /// The last lines git wrote to stderr.
        stderr_tail: String,
        /// Whether the command talked to a remote, so that a failure may be temporary.
        remote: bool,
    },
    #[error("`{command}` in {cwd} did not finish within {limit:?} and was killed")]
    Timeout {
        command: String,
        cwd: PathBuf,
        limit: Duration,
    },
    #[error("could not start `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid {what} {value:?}: {reason}")]
    Invalid {
        what: &'static str,
        value: String,
        reason: String,
    },
    #[error("branch {branch} does not exist on {url}")]
    BranchNotFound { url: String, branch: String },
    #[error("commit {commit} is not in {url}")]
    CommitNotFound { url: String, commit: String },
    #[error("the workspace at {dir} has uncommitted changes: {paths:?}")]
    DirtyWorkspace { dir: PathBuf, paths: Vec<String> },
    #[error("{dir} already exists and is not empty")]
    DirectoryNotEmpty { dir: PathBuf },
    #[error("branch {branch} on {url} moved on each of {attempts} push attempts; gave up")]
    BranchContended {
        url: String,
        branch: String,
        attempts: u32,
    },
    #[error("{url} refused the push to {branch}: {reason}")]
    PushRefused {
        url: String,
        branch: String,
        reason: String,
    },
    #[error("unexpected output from `{command}`: {detail}")]
    UnexpectedOutput { command: String, detail: String },
}

fn exit_code_text(code: Option<i32>) -> String {
    match code {
        Some(code) => format!("exit code {code}"),
        None => "a signal".to_owned(),
    }
}

impl GitError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            GitError::Command { remote: true, .. } | GitError::BranchContended { .. } => {
                ErrorKind::Unavailable
            }
            GitError::Timeout { .. } => ErrorKind::Timeout,
            GitError::Invalid { .. } => ErrorKind::BadRequest,
            GitError::BranchNotFound { .. } | GitError::CommitNotFound { .. } => {
                ErrorKind::NotFound
            }
            GitError::DirtyWorkspace { .. } | GitError::DirectoryNotEmpty { .. } => {
                ErrorKind::Conflict
            }
            GitError::PushRefused { .. } => ErrorKind::Forbidden,
            GitError::Command { remote: false, .. }
            | GitError::Spawn { .. }
            | GitError::Io { .. }
            | GitError::UnexpectedOutput { .. } => ErrorKind::Internal,
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        GitError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(what: &'static str, value: &str, reason: impl Into<String>) -> Self {
        GitError::Invalid {
            what,
            value: value.to_owned(),
            reason: reason.into(),
        }
    }
}

pub type GitResult<T> = Result<T, GitError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_failures_are_retryable_and_local_ones_are_not() {
        let failure = |remote| GitError::Command {
            command: "git fetch".to_owned(),
            cwd: PathBuf::from("/tmp"),
            code: Some(128),
            stderr_tail: "fatal: unable to access".to_owned(),
            remote,
        };
        assert!(failure(true).kind().is_retryable());
        assert!(!failure(false).kind().is_retryable());
    }

    #[test]
    fn command_errors_name_the_command_and_exit_code() {
        let error = GitError::Command {
            command: "git rev-parse HEAD".to_owned(),
            cwd: PathBuf::from("/w"),
            code: Some(128),
            stderr_tail: "fatal: bad revision".to_owned(),
            remote: false,
        };
        assert_eq!(
            error.to_string(),
            "`git rev-parse HEAD` in /w exited with exit code 128: fatal: bad revision"
        );
    }
}
