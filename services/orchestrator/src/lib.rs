//! Sortie's orchestrator: the only writer of the ledger.
//!
//! One process runs four loops under one cancellation token:
//! - the **driver** claims missions (a fenced lease per mission, so replicas share the
//!   work and take over from one that dies) and, for each, abandons attempts whose lease
//!   ran out, moves milestones along, dispatches features chosen by the scheduler and
//!   validations pinned to the integration branch, and completes or blocks the mission;
//! - the **report consumer** applies what workers and validators report: starts,
//!   heartbeats, finished features (through the merge queue) and validations (accepted
//!   only on evidence, checked by code);
//! - the **outbox relay** publishes what the ledger committed;
//! - the **HTTP API** takes missions and shows where they stand.
//!
//! Invariant: every state change is one ledger transaction with its events and outbox
//! rows; the driver's changes carry the mission lease's fence, workers' reports carry the
//! attempt's fence.

pub mod api;
pub mod config;
mod driver;
pub mod error;
pub mod fixes;
mod merge_queue;
mod plans;
mod reconcile;
mod reports;
pub mod tasks;
pub mod verify;

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sortie_bus::{Bus, OutboxRelay, RelaySettings};
use sortie_git::{GitConfig, RepoCache};
use sortie_ledger::{Actor, Ledger, MissionLease, PostgresLedger, PostgresOptions};
use sortie_model::MissionId;
use sortie_settings::Settings;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

pub use config::Config;
pub use error::{OrchestratorError, Result};

use plans::PlanCache;

/// What every loop of the orchestrator shares.
#[derive(Debug)]
pub struct Core {
    pub ledger: Arc<dyn Ledger>,
    pub bus: Arc<dyn Bus>,
    pub config: Config,
    repos: RepoCache,
    plans: PlanCache,
    /// Wakes the driver at once (a report changed something).
    wake: Notify,
    /// The missions a wake-up is for: the driver drives only these between ticks.
    woken: Mutex<HashSet<MissionId>>,
    /// Wakes the driver to claim missions at once (one was launched).
    claim: Notify,
    /// Wakes the outbox relay at once (a change committed outbox rows).
    relay_wake: Arc<Notify>,
    /// The missions this replica holds leases on now.
    owned: Mutex<Vec<MissionLease>>,
    prepared: merge_queue::PreparedBranches,
}

impl Core {
    pub fn new(
        ledger: Arc<dyn Ledger>,
        bus: Arc<dyn Bus>,
        config: Config,
        relay_wake: Arc<Notify>,
    ) -> Self {
        let repos = RepoCache::new(config.data_dir.join("mirrors"), GitConfig::default());
        Self {
            ledger,
            bus,
            config,
            repos,
            plans: PlanCache::default(),
            wake: Notify::new(),
            woken: Mutex::new(HashSet::new()),
            claim: Notify::new(),
            relay_wake,
            owned: Mutex::new(Vec::new()),
            prepared: merge_queue::PreparedBranches::default(),
        }
    }

    /// Wake the driver to decide about `mission` at once.
    fn wake_for(&self, mission: MissionId) {
        self.woken.lock().expect("woken lock").insert(mission);
        self.wake.notify_one();
    }

    fn actor(&self) -> Actor {
        Actor::new(format!("orchestrator:{}", self.config.replica))
    }

    /// Apply a change and poke the relay when it committed messages.
    async fn apply(&self, change: sortie_ledger::Change) -> Result<sortie_ledger::Applied> {
        let sends = !change.outbox.is_empty();
        let applied = self.ledger.apply(change).await?;
        if sends && !applied.duplicate {
            self.relay_wake.notify_one();
        }
        Ok(applied)
    }
}

/// The orchestrator, built and bound, ready to run.
pub struct Application {
    listener: TcpListener,
    port: u16,
    core: Arc<Core>,
    relay: OutboxRelay,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Application")
            .field("port", &self.port)
            .field("replica", &self.core.config.replica)
            .finish()
    }
}

impl Application {
    /// Connect to the ledger and the bus, migrate, create the bus topology and bind the
    /// HTTP port, so that anything misconfigured fails here, at start.
    pub async fn build(settings: &Settings) -> Result<Self> {
        let options = PostgresOptions {
            pool_size: usize::try_from(settings.database.pool_size).unwrap_or(8),
            connect_timeout: settings.database.connect_timeout(),
            statement_timeout: settings.database.statement_timeout(),
            ..PostgresOptions::default()
        };
        let ledger = PostgresLedger::connect(settings.database.url.expose_secret(), &options)?;
        ledger.migrate().await?;
        let bus = sortie_service::connect_bus(settings).await?;
        Self::build_with(Arc::new(ledger), Arc::new(bus), settings).await
    }

    /// Build on a ledger and a bus made elsewhere (tests, the single-process mode).
    pub async fn build_with(
        ledger: Arc<dyn Ledger>,
        bus: Arc<dyn Bus>,
        settings: &Settings,
    ) -> Result<Self> {
        let address = settings.http.bind_address();
        let listener = TcpListener::bind(&address)
            .await
            .map_err(|error| OrchestratorError::Start(format!("binding {address}: {error}")))?;
        let port = listener
            .local_addr()
            .map_err(|error| OrchestratorError::Start(error.to_string()))?
            .port();
        let relay = OutboxRelay::new(
            Arc::clone(&ledger),
            Arc::clone(&bus),
            RelaySettings::default(),
        );
        let config = Config::from_settings(settings);
        let core = Arc::new(Core::new(ledger, bus, config, relay.waker()));
        Ok(Self {
            listener,
            port,
            core,
            relay,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// Run until `shutdown` completes, then stop taking work, give up mission leases so
    /// another replica takes them at once, and drain within `drain_deadline`.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
        drain_deadline: Duration,
    ) -> Result<()> {
        let cancel = CancellationToken::new();
        let tracker = TaskTracker::new();
        let core = self.core;
        info!(port = self.port, replica = %core.config.replica, "orchestrator running");

        tracker.spawn(reconcile::run(Arc::clone(&core), cancel.clone()));
        tracker.spawn(driver::run(Arc::clone(&core), cancel.clone()));
        tracker.spawn(reports::run(Arc::clone(&core), cancel.clone()));
        let relay = self.relay;
        let relay_cancel = cancel.clone();
        tracker.spawn(async move { relay.run(relay_cancel).await });
        let router = api::router(Arc::clone(&core));
        let server_cancel = cancel.clone();
        let listener = self.listener;
        tracker.spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move { server_cancel.cancelled().await })
                .await;
            if let Err(error) = served {
                warn!(%error, "the HTTP server stopped");
            }
        });
        tracker.close();

        shutdown.await;
        info!("orchestrator stopping");
        cancel.cancel();
        if tokio::time::timeout(drain_deadline, tracker.wait())
            .await
            .is_err()
        {
            warn!(
                ?drain_deadline,
                "tasks did not stop within the drain deadline"
            );
        }
        driver::release_leases(&core).await;
        Ok(())
    }
}
