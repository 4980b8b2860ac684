//! `sortie-worker`: a worker that runs coding agents on feature tasks.

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use sortie_worker::Application;

#[derive(Debug, Parser)]
#[command(name = "sortie-worker", version, about = "Sortie's worker service")]
struct Cli {
    #[command(flatten)]
    settings: sortie_service::SettingsArgs,
    /// How long running attempts may take to finish after a stop signal.
    #[arg(long, default_value_t = 60)]
    grace_seconds: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = cli.settings.load("sortie-worker")?;
    let telemetry = sortie_service::start_telemetry(&settings)?;
    let application = Application::build(&settings)
        .await
        .context("starting the worker")?;
    application
        .run_until_stopped(
            sortie_service::shutdown_signal(),
            Duration::from_secs(cli.grace_seconds),
        )
        .await?;
    telemetry.shutdown().ok();
    Ok(())
}
