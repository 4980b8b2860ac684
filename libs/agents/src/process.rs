//! Running one shell command for an agent: in its own process group, with a limit, and
//! with the tail of its output kept.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process_group};
use sortie_model::records::CommandRun;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

/// The most output a command run keeps: its tail.
pub(crate) const OUTPUT_TAIL_BYTES: usize = 16 * 1024;

/// Run `sh -c command` in `dir`; a command still running at `limit` is killed with its
/// whole process group.
pub(crate) async fn run_shell(
    dir: &Path,
    command: &str,
    limit: Duration,
) -> std::io::Result<CommandRun> {
    let started = Instant::now();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let collect = async {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let (read_out, read_err) =
            tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
        read_out?;
        read_err?;
        out.extend_from_slice(&err);
        let status = child.wait().await?;
        std::io::Result::Ok((status, out))
    };
    let (exit_code, output) = match tokio::time::timeout(limit, collect).await {
        Ok(result) => {
            let (status, output) = result?;
            (status.code(), output)
        }
        Err(_) => {
            ProcessGroup::led_by(child.id()).kill();
            let _ = child.kill().await;
            (
                None,
                format!(
                    "killed after {}s: the command's time limit",
                    limit.as_secs()
                )
                .into_bytes(),
            )
        }
    };
    Ok(CommandRun {
        command: command.to_owned(),
        exit_code,
        output_tail: tail(&output),
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// A process group: a command or service and everything it started, such as a shell's
/// children, a test runner's workers or a server's reloader. Every process an agent or a
/// validator starts leads a group of its own (`process_group(0)`), whose id is its own.
/// A group is killed when dropped, so nothing outlives the run that started it.
///
/// Signals go straight to the kernel (`kill(-pgid, sig)`), never through a `kill`
/// utility: some versions of procps' `kill` read `-KILL -12345` as a signal to group 1,
/// which is every process the user may signal.
#[derive(Debug)]
pub struct ProcessGroup {
    id: Option<Pid>,
}

/// The signals Sortie sends to the groups it started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupSignal {
    Terminate,
    Kill,
}

impl ProcessGroup {
    /// The group a child started with `process_group(0)` leads. Ids 0 and 1 (this
    /// process's own group and init's) are never signalled.
    pub fn led_by(pid: Option<u32>) -> Self {
        let id = pid
            .filter(|pid| *pid > 1)
            .and_then(|pid| i32::try_from(pid).ok())
            .and_then(Pid::from_raw);
        Self { id }
    }

    /// Send `signal` to every process of the group. A group that is gone already is not
    /// an error.
    pub fn signal(&self, signal: GroupSignal) {
        let Some(id) = self.id else {
            return;
        };
        let sig = match signal {
            GroupSignal::Terminate => Signal::TERM,
            GroupSignal::Kill => Signal::KILL,
        };
        match kill_process_group(id, sig) {
            Ok(()) => tracing::debug!(group = id.as_raw_pid(), ?signal, "signalled"),
            Err(rustix::io::Errno::SRCH) => {
                tracing::debug!(group = id.as_raw_pid(), "the process group is gone");
            }
            Err(error) => {
                tracing::warn!(%error, group = id.as_raw_pid(), "cannot signal a process group");
            }
        }
    }

    pub fn terminate(&self) {
        self.signal(GroupSignal::Terminate);
    }

    pub fn kill(&self) {
        self.signal(GroupSignal::Kill);
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
    }
}

pub(crate) fn tail(output: &[u8]) -> String {
    let start = output.len().saturating_sub(OUTPUT_TAIL_BYTES);
    String::from_utf8_lossy(&output[start..]).into_owned()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn sleeper_group() -> tokio::process::Child {
        // A shell with a child of its own: the group, not only its leader, must stop.
        Command::new("sh")
            .arg("-c")
            .arg("sleep 60 & wait")
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("sh starts")
    }

    #[tokio::test]
    async fn killing_a_group_stops_it_and_no_other() {
        let mut doomed = sleeper_group();
        let mut bystander = sleeper_group();
        ProcessGroup::led_by(doomed.id()).kill();
        let status = tokio::time::timeout(Duration::from_secs(10), doomed.wait())
            .await
            .expect("the killed group's leader ends")
            .expect("wait works");
        assert_eq!(status.code(), None, "ended by a signal");
        assert!(
            bystander.try_wait().expect("try_wait works").is_none(),
            "another group is untouched"
        );
        ProcessGroup::led_by(bystander.id()).terminate();
        tokio::time::timeout(Duration::from_secs(10), bystander.wait())
            .await
            .expect("a terminated group ends")
            .expect("wait works");
    }

    #[test]
    fn this_process_group_and_init_are_never_signalled() {
        assert!(ProcessGroup::led_by(None).id.is_none());
        assert!(ProcessGroup::led_by(Some(0)).id.is_none());
        assert!(ProcessGroup::led_by(Some(1)).id.is_none());
        assert!(ProcessGroup::led_by(Some(4242)).id.is_some());
    }
}
