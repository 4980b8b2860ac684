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
    /// A settings file (TOML); environment variables SORTIE__SECTION__KEY override it.
    #[arg(long, short = 'c')]
    config: Option<std::path::PathBuf>,
    /// Override one setting, as section.key=value (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = sortie_service::load_settings(
        "sortie-orchestrator",
        cli.config.as_deref(),
        &cli.overrides,
    )?;
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
