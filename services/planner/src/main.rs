//! `sortie-planner`: the planner service, answering planner requests on the bus.

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use sortie_planner::service::Application;

#[derive(Debug, Parser)]
#[command(name = "sortie-planner", version, about = "Sortie's planner service")]
struct Cli {
    #[command(flatten)]
    settings: sortie_service::SettingsArgs,
    /// How long requests being answered may take to finish after a stop signal.
    #[arg(long, default_value_t = 60)]
    grace_seconds: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = cli.settings.load("sortie-planner")?;
    let telemetry = sortie_service::start_telemetry(&settings)?;
    let application = Application::build(&settings)
        .await
        .context("starting the planner")?;
    application
        .run_until_stopped(
            sortie_service::shutdown_signal(),
            Duration::from_secs(cli.grace_seconds),
        )
        .await;
    telemetry.shutdown().ok();
    Ok(())
}
