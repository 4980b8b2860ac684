//! The one place a git process is started.
//!
//! Every command gets a timeout (the process is killed when it runs out), no terminal
//! prompt, Sortie's identity, none of the user's global or system config, and no
//! repository hooks unless the config dangerously asks for them.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::config::GitConfig;
use crate::error::{GitError, GitResult};
use crate::url::redact_credentials;

/// Variables that would point git at another repository, index or config than the one
/// a command is run in (they are set, for example, when Sortie itself runs under a hook).
const INHERITED_VARIABLES_TO_CLEAR: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES",
    "GIT_DISCOVERY_ACROSS_FILESYSTEM",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_DATE",
    "GIT_EDITOR",
    "GIT_SEQUENCE_EDITOR",
];

/// Config given to every command before the operator's `extra_config`.
const SAFE_CONFIG: &[(&str, &str)] = &[
    // A workspace's config is writable by the agent; none of it may run a program here.
    ("core.fsmonitor", "false"),
    ("commit.gpgSign", "false"),
    ("tag.gpgSign", "false"),
    // Never ask a person anything: ssh fails instead of prompting for a host key.
    ("core.sshCommand", "ssh -o BatchMode=yes"),
    // Automatic gc runs in the foreground, inside the command's time limit.
    ("gc.autoDetach", "false"),
    ("maintenance.autoDetach", "false"),
    ("advice.detachedHead", "false"),
    ("init.defaultBranch", "main"),
];

const STDERR_TAIL_LINES: usize = 12;
const STDERR_TAIL_BYTES: usize = 2000;

/// Runs git with one [`GitConfig`]. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Git {
    config: Arc<GitConfig>,
}

impl Git {
    pub(crate) fn new(config: GitConfig) -> Self {
        Self {
            config: Arc::new(config),
        }
    }

    pub(crate) fn config(&self) -> &GitConfig {
        &self.config
    }

    /// A command run in `cwd`.
    pub(crate) fn command(&self, cwd: &Path) -> GitCommand<'_> {
        GitCommand {
            git: self,
            cwd: cwd.to_owned(),
            args: Vec::new(),
            stdin: None,
            env: Vec::new(),
            remote: false,
        }
    }
}

/// One git invocation being built.
#[derive(Debug)]
pub(crate) struct GitCommand<'git> {
    git: &'git Git,
    cwd: PathBuf,
    args: Vec<OsString>,
    stdin: Option<Vec<u8>>,
    env: Vec<(&'static str, String)>,
    remote: bool,
}

/// What a finished git process left.
#[derive(Debug)]
pub(crate) struct GitOutput {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
    pub(crate) command: String,
    cwd: PathBuf,
    remote: bool,
}

impl GitOutput {
    pub(crate) fn success(&self) -> bool {
        self.code == Some(0)
    }

    pub(crate) fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub(crate) fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// The error for this output, whatever its exit code.
    pub(crate) fn into_error(self) -> GitError {
        GitError::Command {
            stderr_tail: stderr_tail(&self.stderr),
            command: self.command,
            cwd: self.cwd,
            code: self.code,
            remote: self.remote,
        }
    }

    pub(crate) fn unexpected(&self, detail: impl Into<String>) -> GitError {
        GitError::UnexpectedOutput {
            command: self.command.clone(),
            detail: detail.into(),
        }
    }
}

impl GitCommand<'_> {
    pub(crate) fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub(crate) fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|arg| arg.as_ref().to_owned()));
        self
    }

    pub(crate) fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    pub(crate) fn env(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.env.push((key, value.into()));
        self
    }

    /// The command talks to a remote: it gets the remote time limit, and its failures
    /// count as possibly temporary.
    pub(crate) fn remote(mut self) -> Self {
        self.remote = true;
        self
    }

    /// Runs the command and requires exit code 0.
    pub(crate) async fn run(self) -> GitResult<GitOutput> {
        let output = self.output().await?;
        if output.success() {
            Ok(output)
        } else {
            Err(output.into_error())
        }
    }

    /// Runs the command and returns its stdout without the trailing newline.
    pub(crate) async fn read_line(self) -> GitResult<String> {
        let output = self.run().await?;
        Ok(output
            .stdout_text()
            .trim_end_matches(['\n', '\r'])
            .to_owned())
    }

    /// Runs the command whatever its exit code; fails only when git could not be run or
    /// ran out of time.
    pub(crate) async fn output(self) -> GitResult<GitOutput> {
        let config = self.git.config();
        let limit = if self.remote {
            config.remote_timeout
        } else {
            config.local_timeout
        };
        let command_text = self.display();
        let mut command = self.build(config);
        let started = Instant::now();
        tracing::debug!(command = %command_text, cwd = %self.cwd.display(), "running git");

        let mut child = command.spawn().map_err(|source| GitError::Spawn {
            command: command_text.clone(),
            source,
        })?;
        let stdin_pipe = child.stdin.take();
        let input = self.stdin.unwrap_or_default();
        let feed_stdin = async move {
            if let Some(mut pipe) = stdin_pipe {
                // A git that does not read its input closes the pipe; that is not an error.
                let _ = pipe.write_all(&input).await;
            }
        };
        // Dropping the child on timeout kills it (`kill_on_drop`).
        let finished = tokio::time::timeout(limit, async {
            let ((), output) = tokio::join!(feed_stdin, child.wait_with_output());
            output
        })
        .await;
        let output = match finished {
            Err(_elapsed) => {
                tracing::warn!(command = %command_text, cwd = %self.cwd.display(), ?limit, "git ran out of time and was killed");
                return Err(GitError::Timeout {
                    command: command_text,
                    cwd: self.cwd,
                    limit,
                });
            }
            Ok(Err(source)) => {
                return Err(GitError::Spawn {
                    command: command_text,
                    source,
                });
            }
            Ok(Ok(output)) => output,
        };
        let elapsed: Duration = started.elapsed();
        tracing::debug!(command = %command_text, code = ?output.status.code(), ?elapsed, "git finished");
        Ok(GitOutput {
            code: output.status.code(),
            stdout: output.stdout,
            stderr: output.stderr,
            command: command_text,
            cwd: self.cwd,
            remote: self.remote,
        })
    }

    fn build(&self, config: &GitConfig) -> Command {
        let mut command = Command::new(&config.program);
        command
            .current_dir(&self.cwd)
            .kill_on_drop(true)
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for variable in INHERITED_VARIABLES_TO_CLEAR {
            command.env_remove(variable);
        }
        command
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", &config.identity.name)
            .env("GIT_AUTHOR_EMAIL", &config.identity.email)
            .env("GIT_COMMITTER_NAME", &config.identity.name)
            .env("GIT_COMMITTER_EMAIL", &config.identity.email)
            // Messages Sortie reads (push status, lock failures) stay in English.
            .env("LC_ALL", "C");
        for (key, value) in &self.env {
            command.env(key, value);
        }
        for (key, value) in SAFE_CONFIG {
            command.arg("-c").arg(format!("{key}={value}"));
        }
        if !config.dangerously_run_repository_hooks {
            command.arg("-c").arg("core.hooksPath=/dev/null");
        }
        for (key, value) in &config.extra_config {
            command.arg("-c").arg(format!("{key}={value}"));
        }
        command.args(&self.args);
        command
    }

    /// The command line for logs and errors: without Sortie's `-c` options, and with
    /// credentials in URLs redacted.
    fn display(&self) -> String {
        let mut text = String::from("git");
        for arg in &self.args {
            text.push(' ');
            text.push_str(&redact_credentials(&arg.to_string_lossy()));
        }
        text
    }
}

/// The last lines of stderr, short enough for an error message.
fn stderr_tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let start = lines.len().saturating_sub(STDERR_TAIL_LINES);
    let tail = lines[start..].join("\n");
    if tail.len() <= STDERR_TAIL_BYTES {
        return redact_credentials(&tail).into_owned();
    }
    let mut cut = tail.len() - STDERR_TAIL_BYTES;
    while !tail.is_char_boundary(cut) {
        cut += 1;
    }
    redact_credentials(&format!("...{}", &tail[cut..])).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stderr_tail_keeps_the_last_lines() {
        let stderr: String = (0..30).map(|line| format!("line {line}\n")).collect();
        let tail = stderr_tail(stderr.as_bytes());
        assert!(tail.starts_with("line 18"), "{tail}");
        assert!(tail.ends_with("line 29"), "{tail}");
    }

    #[test]
    fn the_stderr_tail_is_bounded_and_redacted() {
        let stderr = format!(
            "{}\nfatal: could not read from https://user:token@example.invalid/repo.git",
            "x".repeat(5000)
        );
        let tail = stderr_tail(stderr.as_bytes());
        assert!(tail.len() <= STDERR_TAIL_BYTES + 3);
        assert!(!tail.contains("token"), "{tail}");
    }

    #[test]
    fn the_displayed_command_hides_credentials() {
        let git = Git::new(GitConfig::default());
        let command = git
            .command(Path::new("/"))
            .args(["fetch", "https://bot:s3cret@example.invalid/r.git"]);
        assert_eq!(
            command.display(),
            "git fetch https://***@example.invalid/r.git"
        );
    }
}
