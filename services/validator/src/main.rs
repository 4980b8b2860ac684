//! `sortie-validator`: the validator service.

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use sortie_validator::Application;

#[derive(Debug, Parser)]
#[command(
    name = "sortie-validator",
    version,
    about = "Sortie's validator service"
)]
struct Cli {
    #[command(flatten)]
    settings: sortie_service::SettingsArgs,
}

/// How long running validations may take to finish after a stop signal before they are
/// handed back to the queue.
const GRACE: Duration = Duration::from_secs(30);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = cli.settings.load("sortie-validator")?;
    let telemetry = sortie_service::start_telemetry(&settings)?;
    let application = Application::build(&settings)
        .await
        .context("starting the validator")?;
    application
        .run_until_stopped(sortie_service::shutdown_signal(), GRACE)
        .await?;
    telemetry.shutdown().ok();
    Ok(())
}
