//! The orchestrator's own settings, taken from Sortie's layered settings.

use std::path::PathBuf;
use std::time::Duration;

use sortie_settings::Settings;

#[derive(Clone, Debug)]
pub struct Config {
    /// This replica's name in mission leases.
    pub replica: String,
    pub mission_lease: Duration,
    /// How long a running attempt lives without a heartbeat.
    pub attempt_lease: Duration,
    /// How long a dispatched attempt may wait for a worker.
    pub dispatch_lease: Duration,
    pub heartbeat: Duration,
    pub attempt_time_limit: Duration,
    pub retry_backoff: Duration,
    pub tick: Duration,
    /// How often the bus is checked against the ledger.
    pub reconcile_interval: Duration,
    pub data_dir: PathBuf,
    /// Missions one replica drives at most.
    pub max_missions: usize,
}

impl Config {
    pub fn from_settings(settings: &Settings) -> Self {
        let orchestrator = &settings.orchestrator;
        let replica = orchestrator
            .replica_id
            .clone()
            .unwrap_or_else(default_replica_name);
        Self {
            replica,
            mission_lease: orchestrator.lease(),
            attempt_lease: orchestrator.attempt_lease(),
            dispatch_lease: orchestrator.dispatch_lease(),
            heartbeat: orchestrator.heartbeat(),
            attempt_time_limit: Duration::from_secs(orchestrator.attempt_time_limit_seconds),
            retry_backoff: Duration::from_secs(orchestrator.retry_backoff_seconds),
            tick: orchestrator.tick(),
            reconcile_interval: Duration::from_secs(orchestrator.reconcile_seconds),
            data_dir: orchestrator.data_dir.clone(),
            max_missions: 1000,
        }
    }

    /// How long a feature waits before its next attempt, after `attempts` attempts.
    pub fn backoff(&self, attempts: i32) -> Duration {
        let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 8)).unwrap_or(0);
        (self.retry_backoff * 2u32.pow(doublings)).min(Duration::from_secs(300))
    }
}

/// `hostname-pid`, so that two replicas on one machine differ.
pub fn default_replica_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "orchestrator".to_owned());
    format!("{host}-{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let config = Config::from_settings(&Settings::default());
        assert_eq!(config.backoff(1), Duration::from_secs(2));
        assert_eq!(config.backoff(2), Duration::from_secs(4));
        assert_eq!(config.backoff(4), Duration::from_secs(16));
        assert_eq!(config.backoff(40), Duration::from_secs(300));
        assert_eq!(config.backoff(0), Duration::from_secs(2));
    }
}
