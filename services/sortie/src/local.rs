//! Sortie on one machine: the orchestrator, workers and validators as local processes,
//! against the configured Postgres and NATS. `sortie up`, `sortie demo` and the
//! end-to-end tests all start Sortie this way.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rustix::process::{Pid, Signal, kill_process};
use sortie_ledger::PostgresLedger;
use tokio::process::{Child, Command};

use crate::client::Client;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Orchestrator,
    Worker,
    Validator,
}

impl Role {
    fn binary(self) -> &'static str {
        match self {
            Role::Orchestrator => "sortie-orchestrator",
            Role::Worker => "sortie-worker",
            Role::Validator => "sortie-validator",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Role::Orchestrator => "orchestrator",
            Role::Worker => "worker",
            Role::Validator => "validator",
        }
    }
}

/// How to start Sortie locally.
#[derive(Clone, Debug)]
pub struct LocalOptions {
    /// Where the service binaries are.
    pub bin_dir: PathBuf,
    /// Each process works in a directory of its own under this one; logs go to `logs/`.
    pub work_dir: PathBuf,
    /// The first orchestrator's port; further replicas take free ports.
    pub http_port: u16,
    /// Orchestrator replicas; they share missions through leases in the ledger.
    pub orchestrators: usize,
    pub workers: usize,
    pub validators: usize,
    pub database_url: String,
    pub nats_url: String,
    pub nats_prefix: String,
    /// More `SORTIE__...` settings for every process.
    pub extra_env: Vec<(String, String)>,
}

impl LocalOptions {
    /// Defaults from the environment (`SORTIE__DATABASE__URL`, `SORTIE__NATS__URL`,
    /// `SORTIE__NATS__PREFIX`), then the settings' own defaults.
    pub fn from_environment(bin_dir: PathBuf, work_dir: PathBuf) -> Self {
        let defaults = sortie_settings::Settings::default();
        let variable = |name: &str, default: String| std::env::var(name).unwrap_or(default);
        Self {
            bin_dir,
            work_dir,
            http_port: defaults.http.port,
            orchestrators: 1,
            workers: 3,
            validators: 1,
            database_url: variable(
                "SORTIE__DATABASE__URL",
                defaults.database.url.expose_secret().to_owned(),
            ),
            nats_url: variable(
                "SORTIE__NATS__URL",
                defaults.nats.url.expose_secret().to_owned(),
            ),
            nats_prefix: variable("SORTIE__NATS__PREFIX", defaults.nats.prefix),
            extra_env: Vec::new(),
        }
    }

    pub fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }
}

/// One running service process.
#[derive(Debug)]
pub struct ServiceProcess {
    pub role: Role,
    pub index: usize,
    pub log: PathBuf,
    /// The HTTP port, for orchestrators.
    pub port: Option<u16>,
    child: Child,
}

impl ServiceProcess {
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}

/// Sortie's services, running as local processes.
#[derive(Debug)]
pub struct LocalCluster {
    options: LocalOptions,
    processes: Vec<ServiceProcess>,
}

impl LocalCluster {
    /// Create the database if missing, start the orchestrator and wait until it is ready,
    /// then start the workers and validators.
    pub async fn start(options: LocalOptions) -> anyhow::Result<Self> {
        for role in [Role::Orchestrator, Role::Worker, Role::Validator] {
            let binary = options.bin_dir.join(role.binary());
            if !binary.exists() {
                bail!(
                    "{} is missing; build the services with `cargo build --bins`",
                    binary.display()
                );
            }
        }
        tokio::fs::create_dir_all(options.work_dir.join("logs"))
            .await
            .with_context(|| format!("creating {}", options.work_dir.display()))?;
        PostgresLedger::create_database_if_missing(&options.database_url)
            .await
            .context("preparing the database")?;
        let mut cluster = Self {
            options,
            processes: Vec::new(),
        };
        for index in 1..=cluster.options.orchestrators.max(1) {
            cluster.spawn(Role::Orchestrator, index).await?;
            cluster
                .wait_until_ready(index, Duration::from_secs(60))
                .await?;
        }
        for index in 1..=cluster.options.workers {
            cluster.spawn(Role::Worker, index).await?;
        }
        for index in 1..=cluster.options.validators {
            cluster.spawn(Role::Validator, index).await?;
        }
        Ok(cluster)
    }

    /// The first orchestrator's API.
    pub fn api_url(&self) -> String {
        self.options.api_url()
    }

    pub fn client(&self) -> Client {
        Client::new(&self.api_url())
    }

    /// The API of orchestrator replica `index` (from 1).
    pub fn client_of(&self, index: usize) -> Option<Client> {
        let port = self.process(Role::Orchestrator, index)?.port?;
        Some(Client::new(&format!("http://127.0.0.1:{port}")))
    }

    pub fn processes(&self) -> &[ServiceProcess] {
        &self.processes
    }

    pub fn process(&self, role: Role, index: usize) -> Option<&ServiceProcess> {
        self.processes
            .iter()
            .find(|process| process.role == role && process.index == index)
    }

    async fn spawn(&mut self, role: Role, index: usize) -> anyhow::Result<()> {
        let options = &self.options;
        let name = format!("{}-{index}", role.name());
        let dir = options.work_dir.join(&name);
        tokio::fs::create_dir_all(&dir)
            .await
            .with_context(|| format!("creating {}", dir.display()))?;
        let log = options.work_dir.join("logs").join(format!("{name}.log"));
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("opening {}", log.display()))?;
        let mut command = Command::new(options.bin_dir.join(role.binary()));
        command
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().context("log file")?)
            .stderr(log_file)
            .kill_on_drop(true)
            .env("SORTIE__DATABASE__URL", &options.database_url)
            .env("SORTIE__NATS__URL", &options.nats_url)
            .env("SORTIE__NATS__PREFIX", &options.nats_prefix)
            .env("SORTIE__TELEMETRY__FORMAT", "json");
        let port = match role {
            Role::Orchestrator if index == 1 => Some(options.http_port),
            Role::Orchestrator => Some(
                self.process(role, index)
                    .and_then(|process| process.port)
                    .map_or_else(free_port, Ok)?,
            ),
            Role::Worker | Role::Validator => None,
        };
        match role {
            Role::Orchestrator => {
                command
                    .env("SORTIE__HTTP__PORT", port.unwrap_or_default().to_string())
                    .env("SORTIE__ORCHESTRATOR__REPLICA_ID", &name)
                    .env("SORTIE__ORCHESTRATOR__DATA_DIR", dir.join("data"));
            }
            Role::Worker => {
                command
                    .env("SORTIE__WORKER__ID", &name)
                    .env("SORTIE__WORKER__WORKSPACE_ROOT", dir.join("workspaces"));
            }
            Role::Validator => {
                command.env("SORTIE__VALIDATOR__ID", &name);
            }
        }
        for (key, value) in &options.extra_env {
            command.env(key, value);
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", role.binary()))?;
        self.processes
            .retain(|process| !(process.role == role && process.index == index));
        self.processes.push(ServiceProcess {
            role,
            index,
            log,
            port,
            child,
        });
        Ok(())
    }

    async fn wait_until_ready(&mut self, index: usize, limit: Duration) -> anyhow::Result<()> {
        let client = self
            .client_of(index)
            .with_context(|| format!("no orchestrator {index}"))?;
        let started = Instant::now();
        loop {
            if client.ready().await.is_ok() {
                return Ok(());
            }
            if let Some(process) = self
                .processes
                .iter_mut()
                .find(|process| process.role == Role::Orchestrator && process.index == index)
                && let Some(status) = process.child.try_wait()?
            {
                bail!(
                    "the orchestrator exited ({status}) before it was ready; see {}\n{}",
                    process.log.display(),
                    log_tail(&process.log, 20)
                );
            }
            if started.elapsed() > limit {
                bail!("the orchestrator was not ready within {}s", limit.as_secs());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Kill a process at once (SIGKILL), as a crash would.
    pub async fn kill(&mut self, role: Role, index: usize) -> anyhow::Result<()> {
        let process = self
            .processes
            .iter_mut()
            .find(|process| process.role == role && process.index == index)
            .with_context(|| format!("no {} {index}", role.name()))?;
        process.child.kill().await.context("killing")?;
        Ok(())
    }

    /// Start a process again (after [`LocalCluster::kill`]); the orchestrator is waited for.
    pub async fn restart(&mut self, role: Role, index: usize) -> anyhow::Result<()> {
        self.spawn(role, index).await?;
        if role == Role::Orchestrator {
            self.wait_until_ready(index, Duration::from_secs(60))
                .await?;
        }
        Ok(())
    }

    /// Stop every process with SIGTERM, workers first, and wait for them; a process still
    /// running after `grace` is killed.
    pub async fn stop(mut self, grace: Duration) {
        self.processes.sort_by_key(|process| match process.role {
            Role::Worker | Role::Validator => 0,
            Role::Orchestrator => 1,
        });
        for process in &self.processes {
            if let Some(pid) = process.child.id() {
                terminate(pid);
            }
        }
        for process in &mut self.processes {
            if tokio::time::timeout(grace, process.child.wait())
                .await
                .is_err()
            {
                let _ = process.child.kill().await;
            }
        }
    }
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Ask one process to stop. The signal goes straight to the kernel, not through a `kill`
/// utility whose argument parsing differs between versions.
fn terminate(pid: u32) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = kill_process(pid, Signal::TERM);
    }
}

/// The last lines of a log, for an error message.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
