//! Running one shell command of the repository: `sh -c` in the checkout, in its own
//! process group, with a time limit, its combined output in a log file.
//!
//! The output goes to a file rather than a pipe, so that a background process the command
//! leaves behind cannot keep the validator waiting for an end of file; the evidence keeps
//! the file's tail.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use sortie_model::records::CommandRun;
use tokio::process::Command;
use tracing::debug;

use crate::text::{OUTPUT_TAIL_BYTES, file_tail};
use sortie_agents::process::ProcessGroup;

/// Variables of the validator's own environment a repository's commands never see: Sortie's
/// settings (which may hold credentials), and git variables that would point git in the
/// checkout at another repository.
const HIDDEN_VARIABLE_PREFIX: &str = "SORTIE__";
const HIDDEN_VARIABLES: &[&str] = &["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"];

/// A shell command to run.
#[derive(Debug)]
pub(crate) struct ShellCommand<'a> {
    pub(crate) script: &'a str,
    pub(crate) cwd: &'a Path,
    /// Where stdout and stderr go, together.
    pub(crate) log: PathBuf,
    /// Variables added to the environment.
    pub(crate) env: Vec<(String, String)>,
}

/// How a command ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Ended {
    Exited(i32),
    /// Ended by a signal it was not sent by the validator.
    Signalled,
    /// Still running at its limit, and killed with its group.
    TimedOut {
        limit: Duration,
    },
    /// It could not be started at all.
    NotStarted {
        error: String,
    },
}

/// A command's run: the evidence, and how it ended.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Finished {
    pub(crate) run: CommandRun,
    pub(crate) ended: Ended,
}

impl ShellCommand<'_> {
    /// A `tokio` command for the script: `sh -c`, in the checkout, in a new process group,
    /// no stdin, killed if dropped, with the environment cleaned.
    pub(crate) fn command(&self) -> Command {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(self.script)
            .current_dir(self.cwd)
            .stdin(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .env("CI", "true");
        for (name, _) in std::env::vars_os() {
            if name.to_str().is_some_and(is_hidden) {
                command.env_remove(&name);
            }
        }
        command.envs(self.env.iter().map(|(name, value)| (name, value)));
        command
    }

    /// Opens the log (truncating it) and sets it as stdout and stderr.
    pub(crate) async fn with_log(&self, command: &mut Command) -> std::io::Result<()> {
        let log = tokio::fs::File::create(&self.log).await?.into_std().await;
        let log_for_stderr = log.try_clone()?;
        command
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_for_stderr));
        Ok(())
    }
}

/// Run `command` until it exits or `limit` passes; at the limit its whole process group is
/// killed. Whatever it left running in its group is killed when it exits.
pub(crate) async fn run(command: ShellCommand<'_>, limit: Duration) -> Finished {
    let started = Instant::now();
    let mut process = command.command();
    let spawned = match command.with_log(&mut process).await {
        Ok(()) => process.spawn(),
        Err(error) => Err(error),
    };
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) => {
            return Finished {
                run: CommandRun {
                    command: command.script.to_owned(),
                    exit_code: None,
                    output_tail: format!("could not start the command: {error}"),
                    duration_ms: elapsed_ms(started),
                },
                ended: Ended::NotStarted {
                    error: error.to_string(),
                },
            };
        }
    };
    // Dropped at the end of this function, or with it on a cancellation: either way the
    // group is killed.
    let group = ProcessGroup::led_by(child.id());
    let ended = match tokio::time::timeout(limit, child.wait()).await {
        Ok(Ok(status)) => status.code().map_or(Ended::Signalled, Ended::Exited),
        Ok(Err(error)) => Ended::NotStarted {
            error: format!("waiting for the command: {error}"),
        },
        Err(_) => {
            group.kill();
            // SIGKILL cannot be ignored; the wait ends at once.
            let _ = child.wait().await;
            Ended::TimedOut { limit }
        }
    };
    drop(group);
    let duration_ms = elapsed_ms(started);
    let output_tail = match file_tail(&command.log, OUTPUT_TAIL_BYTES).await {
        Ok(tail) => tail,
        Err(error) => format!("could not read the command's output: {error}"),
    };
    debug!(
        script = command.script,
        ?ended,
        duration_ms,
        "command ended"
    );
    Finished {
        run: CommandRun {
            command: command.script.to_owned(),
            exit_code: match ended {
                Ended::Exited(code) => Some(code),
                _ => None,
            },
            output_tail,
            duration_ms,
        },
        ended,
    }
}

fn is_hidden(variable: &str) -> bool {
    variable.starts_with(HIDDEN_VARIABLE_PREFIX) || HIDDEN_VARIABLES.contains(&variable)
}

pub(crate) fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command<'a>(script: &'a str, dir: &'a Path) -> ShellCommand<'a> {
        ShellCommand {
            script,
            cwd: dir,
            log: dir.join("out.log"),
            env: vec![("GREETING".to_owned(), "hello".to_owned())],
        }
    }

    #[tokio::test]
    async fn a_command_s_exit_code_and_combined_output_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let finished = run(
            command("echo out; echo err >&2; echo $GREETING; exit 3", dir.path()),
            Duration::from_secs(30),
        )
        .await;
        assert_eq!(finished.ended, Ended::Exited(3));
        assert_eq!(finished.run.exit_code, Some(3));
        assert_eq!(finished.run.output_tail, "out\nerr\nhello\n");
    }

    #[tokio::test]
    async fn a_command_past_its_limit_is_killed_with_its_children() {
        let dir = tempfile::tempdir().unwrap();
        let script = "sleep 30 & echo $! > child.pid; wait";
        let finished = run(command(script, dir.path()), Duration::from_millis(500)).await;
        assert_eq!(
            finished.ended,
            Ended::TimedOut {
                limit: Duration::from_millis(500)
            }
        );
        assert_eq!(finished.run.exit_code, None);
        let child: u32 = std::fs::read_to_string(dir.path().join("child.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!running(child), "the background sleep was killed too");
    }

    #[tokio::test]
    async fn commands_get_the_variables_they_are_given() {
        let dir = tempfile::tempdir().unwrap();
        let mut shell = command("env", dir.path());
        shell.env.push(("PORT".to_owned(), "8080".to_owned()));
        let finished = run(shell, Duration::from_secs(30)).await;
        assert!(finished.run.output_tail.contains("PORT=8080"));
        assert!(finished.run.output_tail.contains("CI=true"));
    }

    #[test]
    fn the_validator_s_settings_are_hidden_from_commands() {
        assert!(is_hidden("SORTIE__NATS__TOKEN"));
        assert!(is_hidden("GIT_DIR"));
        assert!(!is_hidden("PATH"));
        assert!(
            !is_hidden("SORTIE_TEST_NATS_URL"),
            "only settings are hidden"
        );
    }

    #[tokio::test]
    async fn a_command_that_cannot_start_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let shell = ShellCommand {
            script: "true",
            cwd: &missing,
            log: dir.path().join("out.log"),
            env: Vec::new(),
        };
        let finished = run(shell, Duration::from_secs(30)).await;
        assert!(matches!(finished.ended, Ended::NotStarted { .. }));
        assert_eq!(finished.run.exit_code, None);
        assert!(
            finished
                .run
                .output_tail
                .starts_with("could not start the command")
        );
    }

    /// Whether a process runs: it exists and is not a zombie waiting to be reaped.
    fn running(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| {
                let state = stat.rsplit(')').next().unwrap_or("").trim_start();
                !state.starts_with('Z') && !state.starts_with('X')
            })
            .unwrap_or(false)
    }
}
