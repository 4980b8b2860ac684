//! Signals to a whole process group: a command or service and everything it started.
//!
//! Every process the validator starts leads a process group of its own, so that a shell's
//! children (a test runner's workers, a server's reloader) are stopped with it. Signals go
//! through the system's `kill` utility, which sends them to a group with `kill -- -PGID`.

use std::process::{Command, Stdio};

use tracing::debug;

/// A process group, killed when dropped: nothing a validation started outlives it.
#[derive(Debug)]
pub(crate) struct ProcessGroup {
    id: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Signal {
    Terminate,
    Kill,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Signal::Terminate => "TERM",
            Signal::Kill => "KILL",
        }
    }
}

impl ProcessGroup {
    /// The group a child started with `process_group(0)` leads: its id is the child's.
    pub(crate) fn led_by(pid: Option<u32>) -> Self {
        Self {
            id: pid.filter(|pid| *pid > 1),
        }
    }

    /// Send `signal` to every process of the group. A group that is gone already is
    /// not an error.
    pub(crate) fn signal(&self, signal: Signal) {
        let Some(id) = self.id else {
            return;
        };
        // The flags end before the group, so `-PGID` is read as a group, not a signal.
        let sent = Command::new("kill")
            .args(["-s", signal.name(), "--", &format!("-{id}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        match sent {
            Ok(status) if status.success() => {
                debug!(group = id, signal = signal.name(), "signalled");
            }
            Ok(_) => debug!(group = id, "the process group is gone"),
            Err(error) => {
                tracing::warn!(%error, group = id, "cannot run kill to signal a process group");
            }
        }
    }

    pub(crate) fn terminate(&self) {
        self.signal(Signal::Terminate);
    }

    pub(crate) fn kill(&self) {
        self.signal(Signal::Kill);
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
    }
}
