//! The end-to-end harness: Sortie's real binaries, started as `sortie up` starts them,
//! against the machine's Postgres and NATS (a database and a bus prefix of their own per
//! test) and real git repositories.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, bail};
use sortie_cli::client::Client;
use sortie_cli::demo::{Example, find_examples, prepare};
use sortie_cli::local::{LocalCluster, LocalOptions};
use sortie_model::api::SubmitMission;
use sortie_test_support::{TestDb, TestNats};
use tokio::sync::{Mutex, MutexGuard};

/// The services' binaries, built once per test run.
pub fn bin_dir() -> anyhow::Result<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| build_binaries().map_err(|error| format!("{error:#}")))
        .clone()
        .map_err(anyhow::Error::msg)
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn build_binaries() -> anyhow::Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .current_dir(workspace_root())
        .args([
            "build",
            "--quiet",
            "-p",
            "sortie-orchestrator",
            "-p",
            "sortie-worker",
            "-p",
            "sortie-validator",
            "-p",
            "sortie",
            "--bins",
        ])
        .status()
        .context("running cargo build for the service binaries")?;
    if !status.success() {
        bail!("building the service binaries failed: {status}");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    Ok(target.join("debug"))
}

/// End-to-end runs start services on fixed ports (the example's service): one at a time.
pub async fn exclusive() -> MutexGuard<'static, ()> {
    static LOCK: OnceLock<Mutex<()>> = OnceLock::new();
    LOCK.get_or_init(|| Mutex::new(())).lock().await
}

/// Timings short enough for a test to see leases run out. An attempt's lease outlasts
/// nine missed heartbeats: on a loaded 2-core machine the orchestrator has been seen to
/// take reports five seconds late, which a shorter lease turned into the abandonment of a
/// healthy worker's attempt.
pub fn fast_leases() -> Vec<(String, String)> {
    [
        ("SORTIE__ORCHESTRATOR__ATTEMPT_LEASE_SECONDS", "10"),
        ("SORTIE__ORCHESTRATOR__HEARTBEAT_SECONDS", "1"),
        ("SORTIE__ORCHESTRATOR__LEASE_SECONDS", "5"),
        ("SORTIE__ORCHESTRATOR__TICK_MILLISECONDS", "200"),
        ("SORTIE__ORCHESTRATOR__RETRY_BACKOFF_SECONDS", "1"),
        ("SORTIE__ORCHESTRATOR__RECONCILE_SECONDS", "2"),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value.to_owned()))
    .collect()
}

/// One end-to-end environment: a database, a bus prefix, a work directory, the services.
#[derive(Debug)]
pub struct Stage {
    pub cluster: LocalCluster,
    pub work: tempfile::TempDir,
    _database: TestDb,
    nats: TestNats,
}

impl Stage {
    pub async fn start(workers: usize, extra_env: Vec<(String, String)>) -> anyhow::Result<Self> {
        Self::start_with(1, workers, extra_env).await
    }

    /// With `orchestrators` replicas sharing the missions.
    pub async fn start_with(
        orchestrators: usize,
        workers: usize,
        extra_env: Vec<(String, String)>,
    ) -> anyhow::Result<Self> {
        let database = TestDb::create().await?;
        let nats = TestNats::new().await?;
        let work = tempfile::Builder::new()
            .prefix("sortie-e2e-")
            .tempdir_in(std::env::temp_dir())?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        drop(listener);
        let options = LocalOptions {
            bin_dir: bin_dir()?,
            work_dir: work.path().to_path_buf(),
            http_port: port,
            orchestrators,
            workers,
            validators: 1,
            database_url: database.url.clone(),
            nats_url: nats.url().to_owned(),
            nats_prefix: nats.prefix().to_owned(),
            extra_env,
        };
        let cluster = LocalCluster::start(options).await?;
        Ok(Self {
            cluster,
            work,
            _database: database,
            nats,
        })
    }

    pub fn client(&self) -> Client {
        self.cluster.client()
    }

    /// The stage's bus prefix on the shared NATS server.
    pub fn nats(&self) -> &TestNats {
        &self.nats
    }

    /// The example mission, against a fresh repository in this stage's work directory.
    pub async fn example_mission(&self) -> anyhow::Result<SubmitMission> {
        let examples = find_examples(None)?;
        prepare(&Example::notes_service(&examples), self.work.path()).await
    }

    pub fn repository(&self, name: &str) -> PathBuf {
        self.work.path().join(format!("{name}.git"))
    }

    /// Every service's log, for a failing test's message.
    pub fn logs(&self) -> String {
        self.cluster
            .processes()
            .iter()
            .map(|process| {
                format!(
                    "--- {} ---\n{}",
                    process.log.display(),
                    sortie_cli::local::log_tail(&process.log, 40)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub async fn stop(self) {
        self.cluster.stop(Duration::from_secs(20)).await;
    }
}

/// Run git in a repository and return its output.
pub fn git(repository: &Path, args: &[&str]) -> anyhow::Result<String> {
    sortie_test_support::git::git(repository, args)
}

/// The mission's integration branch in a bare repository: the one `sortie/` branch that
/// is not an attempt's.
pub fn integration_branch(repository: &Path) -> anyhow::Result<String> {
    let branches = git(
        repository,
        &[
            "for-each-ref",
            "--format=%(refname:short)",
            "refs/heads/sortie",
        ],
    )?;
    let mut candidates: Vec<&str> = branches
        .lines()
        .filter(|branch| !branch.starts_with("sortie/attempts/"))
        .collect();
    if candidates.len() != 1 {
        bail!("expected one integration branch, found {candidates:?}");
    }
    Ok(candidates.remove(0).to_owned())
}
