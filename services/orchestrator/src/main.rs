//! `sortie-orchestrator`: the orchestrator service.

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use sortie_orchestrator::Application;

#[derive(Debug, Parser)]
#[command(
    name = "sortie-orchestrator",
    version,
    about = "Sortie's orchestrator service"
)]
struct Cli {
    #[command(flatten)]
    settings: sortie_service::SettingsArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = cli.settings.load("sortie-orchestrator")?;
    let telemetry = sortie_service::start_telemetry(&settings)?;
    let application = Application::build(&settings)
        .await
        .context("starting the orchestrator")?;
    application
        .run_until_stopped(sortie_service::shutdown_signal(), Duration::from_secs(30))
        .await?;
    telemetry.shutdown().ok();
    Ok(())
}
