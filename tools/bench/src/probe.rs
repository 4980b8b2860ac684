//! What processes cost: CPU time and resident memory from `/proc`.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;

/// CPU time and memory of one process at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Usage {
    pub cpu_seconds: f64,
    /// The CPU time of its children that ended and were waited for (the git commands
    /// the orchestrator and the workers run).
    pub children_cpu_seconds: f64,
    pub rss_bytes: u64,
}

/// Clock ticks per second of `/proc/<pid>/stat`: `getconf CLK_TCK`, 100 on Linux.
pub fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.trim().parse::<f64>().ok())
        .filter(|ticks| *ticks > 0.0)
        .unwrap_or(100.0)
}

/// (utime + stime, cutime + cstime) from a `/proc/<pid>/stat` line, in ticks. The
/// command name (field 2) may hold spaces and parentheses, so fields are counted after its
/// closing parenthesis.
pub fn cpu_ticks(stat: &str) -> Option<(u64, u64)> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name come state (field 3) ... utime (14), stime (15), cutime (16) and
    // cstime (17).
    let field = |index: usize| fields.get(index)?.parse::<u64>().ok();
    Some((field(11)? + field(12)?, field(13)? + field(14)?))
}

/// `VmRSS` from `/proc/<pid>/status`, in bytes.
pub fn resident_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes * 1024)
}

pub fn usage(pid: u32, ticks_per_second: f64) -> Option<Usage> {
    let proc = Path::new("/proc").join(pid.to_string());
    let stat = std::fs::read_to_string(proc.join("stat")).ok()?;
    let status = std::fs::read_to_string(proc.join("status")).ok()?;
    let (own, children) = cpu_ticks(&stat)?;
    Some(Usage {
        cpu_seconds: own as f64 / ticks_per_second,
        children_cpu_seconds: children as f64 / ticks_per_second,
        rss_bytes: resident_bytes(&status).unwrap_or(0),
    })
}

/// The CPU seconds of several processes together (those that exist), with their
/// children's.
pub fn cpu_seconds(pids: &[u32], ticks_per_second: f64) -> f64 {
    pids.iter()
        .filter_map(|&pid| usage(pid, ticks_per_second))
        .map(|usage| usage.cpu_seconds + usage.children_cpu_seconds)
        .sum()
}

/// Processes whose command line satisfies `matches` (as one string, NULs as spaces).
pub fn pids_where(matches: impl Fn(&str) -> bool) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|bytes| {
                    let line: String = String::from_utf8_lossy(&bytes).replace('\0', " ");
                    matches(&line)
                })
                .unwrap_or(false)
        })
        .collect()
}

/// The Postgres backends serving one database (their titles name it).
pub fn postgres_backends(database: &str) -> Vec<u32> {
    let needle = format!(" {database} ");
    pids_where(|line| line.starts_with("postgres: ") && line.contains(&needle))
}

/// The NATS server processes.
pub fn nats_servers() -> Vec<u32> {
    pids_where(|line| {
        line.split_whitespace()
            .next()
            .is_some_and(|program| program.ends_with("nats-server"))
    })
}

/// Samples one process's memory in the background; the highest reading wins.
#[derive(Debug)]
pub struct PeakMemory {
    peak: Arc<Mutex<u64>>,
    task: JoinHandle<()>,
}

impl PeakMemory {
    pub fn start(pid: u32, every: Duration) -> Self {
        let peak = Arc::new(Mutex::new(0));
        let shared = Arc::clone(&peak);
        let task = tokio::spawn(async move {
            loop {
                if let Some(usage) = usage(pid, 100.0) {
                    let mut peak = shared.lock().expect("peak lock");
                    *peak = (*peak).max(usage.rss_bytes);
                }
                tokio::time::sleep(every).await;
            }
        });
        Self { peak, task }
    }

    /// Stop sampling; the highest resident size seen, in bytes.
    pub fn stop(self) -> u64 {
        self.task.abort();
        *self.peak.lock().expect("peak lock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_read_after_the_name() {
        let stat = "4242 (sortie (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 \
                    250 75 40 2 20 0 8 0 12345 1000000 500 18446744073709551615";
        assert_eq!(cpu_ticks(stat), Some((325, 42)));
        assert_eq!(cpu_ticks("garbage"), None);
    }

    #[test]
    fn resident_size_is_read_in_bytes() {
        let status = "Name:\tsortie\nVmPeak:\t  20000 kB\nVmRSS:\t   1234 kB\nThreads:\t4\n";
        assert_eq!(resident_bytes(status), Some(1234 * 1024));
        assert_eq!(resident_bytes("Name:\tx\n"), None);
    }

    #[test]
    fn this_process_can_be_measured() {
        let own = usage(std::process::id(), clock_ticks()).expect("our own /proc entry");
        assert!(own.rss_bytes > 0);
        assert!(own.cpu_seconds >= 0.0);
    }
}
