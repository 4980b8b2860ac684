//! What every Sortie service does at start and at stop, in one place: load the layered
//! settings, start telemetry, connect to the bus, and turn signals into a shutdown.
//!
//! [`load_settings`] reads the process environment and [`start_telemetry`] installs the
//! global subscriber: binaries call them, libraries do not.

use std::path::Path;

use anyhow::Context;
use sortie_bus::{Bus, BusError, BusOptions, JetStreamBus};
use sortie_settings::{Settings, SettingsSources};
use sortie_telemetry::{TelemetryConfig, TelemetryGuard};

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
