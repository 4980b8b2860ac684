//! The validator's own settings, taken from Sortie's layered settings.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sortie_git::GitConfig;
use sortie_settings::{AgentProfileSettings, Settings};

/// Where checkouts and mirrors go unless the config says otherwise.
pub const DEFAULT_WORKSPACE_ROOT: &str = ".sortie/validator";

#[derive(Clone, Debug)]
pub struct Config {
    /// This validator's name in reports: `validator.id`, or `validator-<host>-<pid>`.
    pub id: String,
    /// Validations run at once.
    pub concurrency: usize,
    /// Checkouts go to `<root>/<attempt>`, mirrors to `<root>/mirrors`.
    pub workspace_root: PathBuf,
    pub git: GitConfig,
    pub limits: Limits,
    /// The agent profiles of the settings (`agents.<name>`), by name: a task's validator
    /// profile is looked up here.
    pub agents: BTreeMap<String, AgentProfileSettings>,
}

/// The limits of what a validation runs. Each is cut short by the validation's own time
/// limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// One scrutiny step (build, test, lint).
    pub scrutiny_step: Duration,
    /// A command assertion that names no `timeout_seconds`.
    pub command_assertion: Duration,
    /// One agent-judged assertion: the validator agent's whole run.
    pub agent_check: Duration,
    /// One HTTP assertion's request and answer.
    pub http_request: Duration,
    /// A service's `stop` command.
    pub service_stop_command: Duration,
    /// How long a service has to exit after its stop command, and again after SIGTERM,
    /// before its process group is killed.
    pub service_stop_grace: Duration,
    /// How long one pull from the task queue waits for a task.
    pub fetch_wait: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            scrutiny_step: Duration::from_secs(30 * 60),
            command_assertion: Duration::from_secs(300),
            agent_check: Duration::from_secs(15 * 60),
            http_request: Duration::from_secs(30),
            service_stop_command: Duration::from_secs(30),
            service_stop_grace: Duration::from_secs(10),
            fetch_wait: Duration::from_secs(1),
        }
    }
}

impl Limits {
    /// What a validation keeps back from its time limit to stop its services and report.
    pub(crate) fn reserve(&self) -> Duration {
        self.service_stop_command + self.service_stop_grace * 2 + Duration::from_secs(5)
    }
}

impl Config {
    pub fn from_settings(settings: &Settings) -> Self {
        let validator = &settings.validator;
        Self {
            id: validator.id.clone().unwrap_or_else(default_id),
            concurrency: usize::try_from(validator.concurrency).unwrap_or(1).max(1),
            workspace_root: PathBuf::from(DEFAULT_WORKSPACE_ROOT),
            git: GitConfig::default(),
            limits: Limits::default(),
            agents: settings.agents.clone(),
        }
    }

    /// The mirror cache's directory.
    pub fn mirrors(&self) -> PathBuf {
        self.workspace_root.join("mirrors")
    }
}

/// `validator-<hostname>-<pid>`, so that two validators on one machine differ.
pub fn default_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("validator-{host}-{}", std::process::id())
}

/// `path` made absolute against the current directory, so that commands run elsewhere
/// still find it.
pub(crate) fn absolute(path: &Path) -> std::io::Result<PathBuf> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    Ok(std::env::current_dir()?.join(path))
}

/// When a validation's checks must end, and when it is stopped whatever it is doing: the
/// checks end early enough to leave `reserve` for stopping services and reporting, but
/// never take less than half the limit.
pub(crate) fn deadlines(limit: Duration, reserve: Duration) -> (Duration, Duration) {
    let checks = limit.saturating_sub(reserve).max(limit / 2);
    (checks, limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_comes_from_the_settings_or_the_host() {
        let mut settings = Settings::default();
        let config = Config::from_settings(&settings);
        assert!(config.id.starts_with("validator-"), "{}", config.id);
        assert!(config.id.ends_with(&format!("-{}", std::process::id())));
        assert_eq!(config.concurrency, 1);
        settings.validator.id = Some("v1".to_owned());
        settings.validator.concurrency = 0;
        let config = Config::from_settings(&settings);
        assert_eq!(config.id, "v1");
        assert_eq!(config.concurrency, 1, "at least one validation at a time");
    }

    #[test]
    fn checks_leave_time_to_stop_and_report() {
        let reserve = Duration::from_secs(55);
        assert_eq!(
            deadlines(Duration::from_secs(3600), reserve),
            (Duration::from_secs(3545), Duration::from_secs(3600))
        );
        assert_eq!(
            deadlines(Duration::from_secs(60), reserve),
            (Duration::from_secs(30), Duration::from_secs(60)),
            "a short limit still leaves the checks half of it"
        );
    }
}
