//! What every Sortie service does at start and at stop, in one place: load the layered
//! settings, start telemetry, connect to the bus, and turn signals into a shutdown.
//!
//! [`load_settings`] reads the process environment and [`start_telemetry`] installs the
//! global subscriber: binaries call them, libraries do not.

use std::path::Path;

use anyhow::Context;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sortie_bus::{Bus, BusError, BusOptions, Delivery, JetStreamBus, WorkQueue};
use sortie_settings::{Settings, SettingsSources};
use sortie_telemetry::{TelemetryConfig, TelemetryGuard};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The flags every service takes for its settings: `-c FILE` and `--set key=value`.
#[derive(Debug, Clone, clap::Args)]
pub struct SettingsArgs {
    /// A settings file (TOML); environment variables SORTIE__SECTION__KEY override it.
    #[arg(long, short = 'c')]
    pub config: Option<std::path::PathBuf>,
    /// Override one setting, as section.key=value (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
}

impl SettingsArgs {
    /// The settings of `service_name`, as [`load_settings`] layers them.
    pub fn load(&self, service_name: &str) -> anyhow::Result<Settings> {
        load_settings(service_name, self.config.as_deref(), &self.overrides)
    }
}

/// Defaults, then the file, then `SORTIE__...` variables, then `--set key=value` flags.
pub fn load_settings(
    service_name: &str,
    file: Option<&Path>,
    overrides: &[String],
) -> anyhow::Result<Settings> {
    let mut sources = SettingsSources::new().with_default("telemetry.service_name", service_name);
    if let Some(file) = file {
        sources = sources.file(file);
    }
    sources = sources.process_environment();
    for entry in overrides {
        let (key, value) = entry
            .split_once('=')
            .with_context(|| format!("--set {entry:?}: expected section.key=value"))?;
        sources = sources.flag(key.trim(), value.trim());
    }
    Ok(sources.load()?)
}

pub fn start_telemetry(settings: &Settings) -> anyhow::Result<TelemetryGuard> {
    let telemetry = &settings.telemetry;
    let mut config = TelemetryConfig::new(telemetry.service_name.clone());
    config.format = match telemetry.format {
        sortie_settings::LogFormat::Json => sortie_telemetry::LogFormat::Json,
        sortie_settings::LogFormat::Pretty => sortie_telemetry::LogFormat::Pretty,
    };
    config.filter.clone_from(&telemetry.filter);
    config.otlp_endpoint.clone_from(&telemetry.otlp_endpoint);
    Ok(sortie_telemetry::init(&config)?)
}

/// Connect to the bus the settings name and bring its topology up to date, so that a bad
/// address fails at start.
pub async fn connect_bus(settings: &Settings) -> Result<JetStreamBus, BusError> {
    let options = BusOptions {
        client_name: Some(settings.telemetry.service_name.clone()),
        connect_timeout: settings.nats.connect_timeout(),
        request_timeout: settings.nats.request_timeout(),
        ..BusOptions::default()
    };
    let bus = JetStreamBus::connect(
        settings.nats.url.expose_secret(),
        &settings.nats.prefix,
        options,
    )
    .await?;
    bus.ensure_topology().await?;
    Ok(bus)
}

/// Pull tasks from `queue` whenever one of `permits` is free, and run `handle` on each in
/// `tracker`, until `stop_taking` is cancelled. What is not taken stays in the queue for
/// another process; a lost connection is made again.
pub async fn pull_tasks<Handle, Handled>(
    bus: Arc<dyn Bus>,
    queue: WorkQueue,
    permits: Arc<Semaphore>,
    tracker: TaskTracker,
    stop_taking: CancellationToken,
    fetch_wait: Duration,
    handle: Handle,
) where
    Handle: Fn(Delivery) -> Handled,
    Handled: Future<Output = ()> + Send + 'static,
{
    while !stop_taking.is_cancelled() {
        let deliveries = match bus.consume(queue).await {
            Ok(deliveries) => deliveries,
            Err(error) => {
                tracing::warn!(%error, ?queue, "cannot consume tasks; trying again");
                tokio::select! {
                    () = stop_taking.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        loop {
            let permit = tokio::select! {
                () = stop_taking.cancelled() => return,
                permit = Arc::clone(&permits).acquire_owned() => {
                    permit.expect("the semaphore is never closed")
                }
            };
            let fetched = tokio::select! {
                () = stop_taking.cancelled() => return,
                fetched = deliveries.next(fetch_wait) => fetched,
            };
            match fetched {
                Ok(Some(delivery)) => {
                    let handled = handle(delivery);
                    tracker.spawn(async move {
                        handled.await;
                        drop(permit);
                    });
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(%error, ?queue, "fetching tasks failed; reconnecting");
                    break;
                }
            }
        }
    }
}

/// Completes on the first SIGTERM or SIGINT; a second one ends the process at once.
pub async fn shutdown_signal() {
    wait_for_signal().await;
    tracing::info!("stopping: finishing what is running (signal again to stop at once)");
    tokio::spawn(async {
        wait_for_signal().await;
        tracing::warn!("second signal: exiting now");
        std::process::exit(130);
    });
}

async fn wait_for_signal() {
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops this process");
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
