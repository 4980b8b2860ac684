//! Sortie's worker.
//!
//! It pulls feature tasks (`worker.concurrency` at a time), and for each: reports that it
//! started, keeps a heartbeat going, prepares a git workspace on a new branch from the
//! mission's integration branch, runs the feature's agent with the feature's skill (the
//! plan's, or else the repository's `SKILL.md`: see [`skills`]), checks that the work stays
//! inside the feature's `touches`, commits it as one commit, rebases it onto the latest
//! integration branch (a conflict fails the attempt with the paths), pushes it to the
//! attempt's own branch, and proposes it to the orchestrator's merge queue with a
//! handoff.
//!
//! Invariant: the worker never writes the integration branch and never marks work done;
//! the orchestrator integrates a proposal only after checking the attempt's fence.

mod attempt;
pub mod mcp;
mod reports;
mod repository_file;
pub mod skills;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sortie_bus::{Bus, Delivery, WorkQueue};
use sortie_git::{GitConfig, RepoCache};
use sortie_model::messages::Envelope;
use sortie_model::protocol::FeatureTask;
use sortie_settings::Settings;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Bus(#[from] sortie_bus::BusError),
    #[error("cannot start: {0}")]
    Start(String),
}

/// What the worker's tasks share.
#[derive(Debug)]
pub(crate) struct Worker {
    pub(crate) id: String,
    pub(crate) bus: Arc<dyn Bus>,
    pub(crate) repos: RepoCache,
    pub(crate) workspace_root: PathBuf,
    /// The agent profiles of the settings (`agents.<name>`), by name.
    pub(crate) agents: std::collections::BTreeMap<String, sortie_settings::AgentProfileSettings>,
}

/// The worker, connected and ready to run.
#[derive(Debug)]
pub struct Application {
    worker: Arc<Worker>,
    concurrency: usize,
}

impl Application {
    pub async fn build(settings: &Settings) -> Result<Self, WorkerError> {
        let bus = sortie_service::connect_bus(settings).await?;
        Self::build_with(Arc::new(bus), settings)
    }

    pub fn build_with(bus: Arc<dyn Bus>, settings: &Settings) -> Result<Self, WorkerError> {
        let id = settings
            .worker
            .id
            .clone()
            .unwrap_or_else(|| default_id("worker"));
        let workspace_root = absolute(&settings.worker.workspace_root)?;
        let repos = RepoCache::new(workspace_root.join("mirrors"), GitConfig::default());
        Ok(Self {
            worker: Arc::new(Worker {
                id,
                bus,
                repos,
                workspace_root,
                agents: settings.agents.clone(),
            }),
            concurrency: usize::try_from(settings.worker.concurrency)
                .unwrap_or(1)
                .max(1),
        })
    }

    pub fn id(&self) -> &str {
        &self.worker.id
    }

    /// Work until `shutdown` completes; then take nothing new, let running attempts finish
    /// within `grace`, and hand the rest back to the queue for another worker.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
        grace: Duration,
    ) -> Result<(), WorkerError> {
        let stop_taking = CancellationToken::new();
        let hand_back = CancellationToken::new();
        let tracker = TaskTracker::new();
        let permits = Arc::new(Semaphore::new(self.concurrency));
        info!(worker = %self.worker.id, concurrency = self.concurrency, "worker running");
        let pull = tokio::spawn(pull_loop(
            Arc::clone(&self.worker),
            Arc::clone(&permits),
            tracker.clone(),
            stop_taking.clone(),
            hand_back.clone(),
        ));
        shutdown.await;
        info!(worker = %self.worker.id, "worker stopping: taking no new work");
        stop_taking.cancel();
        let _ = pull.await;
        tracker.close();
        if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
            warn!(
                ?grace,
                "attempts still running after the grace period: handing them back"
            );
            hand_back.cancel();
            if tokio::time::timeout(Duration::from_secs(10), tracker.wait())
                .await
                .is_err()
            {
                warn!("attempts did not hand back in time");
            }
        }
        Ok(())
    }
}

/// Take a task whenever a slot is free, and run it in the tracker.
async fn pull_loop(
    worker: Arc<Worker>,
    permits: Arc<Semaphore>,
    tracker: TaskTracker,
    stop_taking: CancellationToken,
    hand_back: CancellationToken,
) {
    let fetch_wait = Duration::from_secs(1);
    sortie_service::pull_tasks(
        Arc::clone(&worker.bus),
        WorkQueue::FeatureTasks,
        permits,
        tracker,
        stop_taking,
        fetch_wait,
        move |delivery| handle(Arc::clone(&worker), delivery, hand_back.clone()),
    )
    .await;
}

async fn handle(worker: Arc<Worker>, delivery: Delivery, hand_back: CancellationToken) {
    let task = match Envelope::<FeatureTask>::from_slice(delivery.payload()) {
        Ok(envelope) => envelope.body,
        Err(error) => {
            warn!(%error, "a feature task that cannot be read; dropping it");
            if let Err(error) = delivery.term().await {
                warn!(%error, "could not terminate an unreadable task");
            }
            return;
        }
    };
    attempt::run(&worker, task, delivery, hand_back).await;
}

pub(crate) fn default_id(role: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_default();
    format!("{role}-{host}-{}", std::process::id())
}

fn absolute(path: &std::path::Path) -> Result<PathBuf, WorkerError> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    std::env::current_dir()
        .map(|current| current.join(path))
        .map_err(|error| WorkerError::Start(format!("the current directory: {error}")))
}
