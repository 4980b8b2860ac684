//! `sortie-planner`: the planner service, answering planner requests on the bus.

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use sortie_planner::service::Application;

#[derive(Debug, Parser)]
#[command(name = "sortie-planner", version, about = "Sortie's planner service")]
struct Cli {
    /// A settings file (TOML); environment variables SORTIE__SECTION__KEY override it.
    #[arg(long, short = 'c')]
    config: Option<std::path::PathBuf>,
    /// Override one setting, as section.key=value (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// How long requests being answered may take to finish after a stop signal.
    #[arg(long, default_value_t = 60)]
    grace_seconds: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings =
        sortie_service::load_settings("sortie-planner", cli.config.as_deref(), &cli.overrides)?;
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
