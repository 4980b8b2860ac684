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
    /// A settings file (TOML); environment variables SORTIE__SECTION__KEY override it.
    #[arg(long, short = 'c')]
    config: Option<std::path::PathBuf>,
    /// Override one setting, as section.key=value (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
}

/// How long running validations may take to finish after a stop signal before they are
/// handed back to the queue.
const GRACE: Duration = Duration::from_secs(30);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings =
        sortie_service::load_settings("sortie-validator", cli.config.as_deref(), &cli.overrides)?;
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
