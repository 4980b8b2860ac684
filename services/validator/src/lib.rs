//! Sortie's validator.
//!
//! It pulls validation tasks (`validator.concurrency` at a time), each pinned to one commit
//! of a mission's integration branch, and for each: reports that it started, keeps a
//! heartbeat going, checks out exactly that commit, and proves what the task asks:
//! - **scrutiny**: the repository's `build`, `test` and `lint` commands, in that order;
//! - **command assertions**: a shell command, its exit code and output;
//! - **user-testing**: the services started and waited on until healthy, the HTTP
//!   assertions called, the services stopped;
//! - **agent assertions**: the task's validator agent profile, run as a read-only reviewer
//!   in the checkout, answers with a verdict and evidence, and code checks that evidence
//!   before it accepts a pass; the `scripted` profile cannot judge them, and says so.
//!
//! It returns every check with its evidence (exit codes, output tails, HTTP exchanges) and
//! a finding for each check that failed, then acknowledges the task.
//!
//! Invariant: the validator never marks work done. The orchestrator accepts a milestone
//! only when the evidence, checked by code, proves every check; a check here passes only
//! when its evidence shows it.
//!
//! Invariant: nothing a validation starts outlives it, and nothing waits forever. Every
//! command and service runs in its own process group, which is killed when its limit
//! passes, when the validation ends, or when the validation is dropped; the whole
//! validation has a hard time limit.

mod agent_check;
mod attempt;
pub mod config;
pub mod error;
mod http;
mod judge;
mod reports;
mod review;
mod services;
mod shell;
mod text;
mod validation;
mod verdict;

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sortie_bus::{Bus, Delivery, WorkQueue};
use sortie_git::RepoCache;
use sortie_model::AttemptId;
use sortie_model::messages::Envelope;
use sortie_model::protocol::{ValidationTask, kind};
use sortie_settings::Settings;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

pub use config::{Config, Limits};
pub use error::{Result, ValidatorError};
pub use text::{BODY_EXCERPT_BYTES, OUTPUT_TAIL_BYTES};
pub use validation::SCRUTINY_STEPS;

/// How long validations handed back at shutdown have to settle their tasks.
const HAND_BACK_DEADLINE: Duration = Duration::from_secs(15);

/// What every validation shares.
#[derive(Debug)]
pub(crate) struct Validator {
    pub(crate) config: Config,
    pub(crate) bus: Arc<dyn Bus>,
    pub(crate) repos: RepoCache,
    pub(crate) http: reqwest::Client,
    /// The attempts running here now.
    running: Mutex<HashSet<AttemptId>>,
}

impl Validator {
    /// Mark `attempt` as running here, unless it already is.
    pub(crate) fn claim(self: &Arc<Self>, attempt: AttemptId) -> Option<Claim> {
        let mut running = self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        running.insert(attempt).then(|| Claim {
            validator: Arc::clone(self),
            attempt,
        })
    }
}

/// An attempt running here, until dropped.
#[derive(Debug)]
pub(crate) struct Claim {
    validator: Arc<Validator>,
    attempt: AttemptId,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.validator
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.attempt);
    }
}

/// The validator, connected and ready to run.
#[derive(Debug)]
pub struct Application {
    validator: Arc<Validator>,
}

impl Application {
    /// Connect to the bus and create its topology, so that a bad address fails here, at
    /// start.
    pub async fn build(settings: &Settings) -> Result<Self> {
        let bus = sortie_service::connect_bus(settings).await?;
        Self::build_with(Arc::new(bus), settings)
    }

    /// Build on a bus made elsewhere (tests, the single-process mode).
    pub fn build_with(bus: Arc<dyn Bus>, settings: &Settings) -> Result<Self> {
        Self::with_config(bus, Config::from_settings(settings))
    }

    /// Build with a config of the caller's (tests point the workspace root elsewhere and
    /// shorten the limits).
    pub fn with_config(bus: Arc<dyn Bus>, mut config: Config) -> Result<Self> {
        config.workspace_root = config::absolute(&config.workspace_root)
            .map_err(|error| ValidatorError::Start(format!("the current directory: {error}")))?;
        std::fs::create_dir_all(&config.workspace_root).map_err(|error| {
            ValidatorError::Start(format!(
                "cannot create the workspace root {}: {error}",
                config.workspace_root.display()
            ))
        })?;
        let repos = RepoCache::new(config.mirrors(), config.git.clone());
        let http = http::client()
            .map_err(|error| ValidatorError::Start(format!("the HTTP client: {error}")))?;
        Ok(Self {
            validator: Arc::new(Validator {
                config,
                bus,
                repos,
                http,
                running: Mutex::new(HashSet::new()),
            }),
        })
    }

    /// This validator's name in its reports.
    pub fn id(&self) -> &str {
        &self.validator.config.id
    }

    pub fn config(&self) -> &Config {
        &self.validator.config
    }

    /// Validate until `shutdown` completes; then take nothing new, let running
    /// validations finish within `grace`, and hand the rest back to the queue for another
    /// validator.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
        grace: Duration,
    ) -> Result<()> {
        let validator = self.validator;
        let stop_taking = CancellationToken::new();
        let hand_back = CancellationToken::new();
        let tracker = TaskTracker::new();
        let permits = Arc::new(Semaphore::new(validator.config.concurrency));
        info!(
            validator = %validator.config.id,
            concurrency = validator.config.concurrency,
            "validator running"
        );
        let pull = tokio::spawn(pull_loop(
            Arc::clone(&validator),
            permits,
            tracker.clone(),
            stop_taking.clone(),
            hand_back.clone(),
        ));
        shutdown.await;
        info!(validator = %validator.config.id, "validator stopping: taking no new tasks");
        stop_taking.cancel();
        if let Err(error) = pull.await {
            warn!(%error, "the task puller ended abnormally");
        }
        tracker.close();
        if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
            warn!(
                ?grace,
                "validations still running after the grace period: handing them back"
            );
            hand_back.cancel();
            if tokio::time::timeout(HAND_BACK_DEADLINE, tracker.wait())
                .await
                .is_err()
            {
                warn!("validations did not hand back in time");
            }
        }
        Ok(())
    }
}

/// Take a task whenever a slot is free, and run it in the tracker.
async fn pull_loop(
    validator: Arc<Validator>,
    permits: Arc<Semaphore>,
    tracker: TaskTracker,
    stop_taking: CancellationToken,
    hand_back: CancellationToken,
) {
    let fetch_wait = validator.config.limits.fetch_wait;
    sortie_service::pull_tasks(
        Arc::clone(&validator.bus),
        WorkQueue::ValidationTasks,
        permits,
        tracker,
        stop_taking,
        fetch_wait,
        move |delivery| handle(Arc::clone(&validator), delivery, hand_back.clone()),
    )
    .await;
}

async fn handle(validator: Arc<Validator>, delivery: Delivery, hand_back: CancellationToken) {
    let envelope = match Envelope::<ValidationTask>::from_slice(delivery.payload()) {
        Ok(envelope) => envelope,
        Err(error) => {
            warn!(%error, msg_id = ?delivery.msg_id(), "a validation task that cannot be read; dropping it");
            if let Err(error) = delivery.term().await {
                warn!(%error, "could not terminate an unreadable validation task");
            }
            return;
        }
    };
    if envelope.kind != kind::VALIDATION_TASK {
        warn!(kind = %envelope.kind, msg_id = %envelope.id, "a message on the validation queue that is not a validation task; dropping it");
        if let Err(error) = delivery.term().await {
            warn!(%error, "could not terminate a message that is not a validation task");
        }
        return;
    }
    attempt::run(validator, envelope.body, delivery, hand_back).await;
}
