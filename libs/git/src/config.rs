use std::path::PathBuf;
use std::time::Duration;

/// The name and email on every commit Sortie writes (as committer, and as author of the
/// commits it makes for workers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub email: String,
}

impl Default for Identity {
    fn default() -> Self {
        Self {
            name: "Sortie".to_owned(),
            email: "sortie@localhost".to_owned(),
        }
    }
}

/// How Sortie runs git. Binaries fill it from their settings; libraries never read the
/// environment for it.
#[derive(Clone, Debug)]
pub struct GitConfig {
    /// The git executable.
    pub program: PathBuf,
    pub identity: Identity,
    /// The limit for a command that only touches local repositories.
    pub local_timeout: Duration,
    /// The limit for a command that talks to a remote (fetch, push, ls-remote).
    pub remote_timeout: Duration,
    /// How many times the merge queue tries a compare-and-swap push before it gives up
    /// on a branch that keeps moving.
    pub max_push_attempts: u32,
    /// `-c key=value` pairs added to every command, after Sortie's own, e.g. a credential
    /// helper or `http.extraHeader`. The user's global and system git config are never read.
    pub extra_config: Vec<(String, String)>,
    /// Run the hooks a repository carries (a workspace's `.git/hooks` is writable by the
    /// coding agent). Off by default.
    pub dangerously_run_repository_hooks: bool,
}

impl Default for GitConfig {
    fn default() -> Self {
        Self {
            program: PathBuf::from("git"),
            identity: Identity::default(),
            local_timeout: Duration::from_secs(300),
            remote_timeout: Duration::from_secs(600),
            max_push_attempts: 8,
            extra_config: Vec::new(),
            dangerously_run_repository_hooks: false,
        }
    }
}
