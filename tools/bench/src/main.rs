//! `sortie-bench`: the command line of the bench (see the library's documentation and
//! `docs/performance.md`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

use sortie_bench::generate::Shape;
use sortie_bench::phases::{self, PhasePlan, ScaleLayout};
use sortie_bench::render;
use sortie_bench::results::{BenchSettings, Machine, Report, growth};
use sortie_bench::rng::Durations;
use sortie_bench::stage::{Stage, StageOptions};

#[derive(Debug, Parser)]
#[command(
    name = "sortie-bench",
    version,
    about = "Measure Sortie's orchestration: overhead, throughput, scheduling quality, scale"
)]
struct Cli {
    /// Where the service binaries are; build them with `cargo build --release --bins`.
    #[arg(long, default_value_os_t = default_bin_dir())]
    bin_dir: PathBuf,
    /// K: worker processes, one feature at a time each; every mission may use them all.
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Mission sizes of the no-op runs (features); 0 runs none.
    #[arg(long, value_delimiter = ',', default_value = "100,1000")]
    sizes: Vec<usize>,
    /// Features of the run with durations, timed against the references (0: none).
    #[arg(long, default_value_t = 100)]
    makespan_features: usize,
    /// Agent durations: 0, fixed:MS, uniform:MIN-MAX or lognormal:MEDIAN:SIGMA.
    #[arg(long, default_value = "lognormal:500:0.8")]
    durations: Durations,
    /// Mean preconditions per feature.
    #[arg(long, default_value_t = 1.0)]
    density: f64,
    /// How far back in plan order a precondition may be.
    #[arg(long, default_value_t = 32)]
    window: usize,
    #[arg(long, default_value_t = 50)]
    features_per_milestone: usize,
    /// The share of features that also touch one of a few shared paths.
    #[arg(long, default_value_t = 0.0)]
    overlap: f64,
    #[arg(long, default_value_t = 8)]
    shared_paths: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Do not tell the scheduler the durations (as `estimate_minutes`).
    #[arg(long)]
    no_estimates: bool,
    /// Skip the make -j K references.
    #[arg(long)]
    no_make: bool,
    /// Also run many missions at once (10,000 features by default): memory, CPU, and
    /// dispatch latency with the workers about 80 % busy.
    #[arg(long)]
    scale: bool,
    #[arg(long, default_value_t = 10_000)]
    scale_features: usize,
    #[arg(long, default_value_t = 8)]
    scale_missions: usize,
    /// Worker processes of the scale run.
    #[arg(long, default_value_t = 5)]
    scale_workers: usize,
    /// Features each worker of the scale run runs at once.
    #[arg(long, default_value_t = 2)]
    scale_concurrency: usize,
    #[arg(long, default_value = "0")]
    scale_durations: Durations,
    /// Measure the scale run for this long (0: until every mission ends).
    #[arg(long, default_value_t = 600)]
    scale_seconds: u64,
    /// Stop each no-op run after this long and measure the features done by then
    /// (0: run every mission to its end), for sizes whose full run takes too long here.
    #[arg(long, default_value_t = 0)]
    time_box: u64,
    /// A Postgres server (any database on it): the bench makes a database of its own.
    #[arg(
        long,
        env = "SORTIE_BENCH_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    database_url: String,
    #[arg(
        long,
        env = "SORTIE_BENCH_NATS_URL",
        default_value = "nats://127.0.0.1:4222"
    )]
    nats_url: String,
    /// Also write the results as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Leave the database, the streams and the work directory behind.
    #[arg(long)]
    keep: bool,
    /// A setting for every service process, as KEY=VALUE (repeatable), such as
    /// SORTIE__ORCHESTRATOR__TICK_MILLISECONDS=200.
    #[arg(long = "service-env", value_name = "KEY=VALUE")]
    service_env: Vec<String>,
    /// The longest any one phase may take.
    #[arg(long, default_value_t = 3_600)]
    limit_seconds: u64,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn default_bin_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
        .join("release")
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match execute(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sortie-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(cli: Cli) -> anyhow::Result<()> {
    let plan = PhasePlan {
        shape: Shape {
            features: 0,
            milestones: 0,
            density: cli.density,
            window: cli.window,
            overlap: cli.overlap,
            shared_paths: cli.shared_paths,
            durations: cli.durations,
            seed: cli.seed,
        },
        features_per_milestone: cli.features_per_milestone,
        workers: cli.workers.max(1),
        estimates: !cli.no_estimates,
        make: !cli.no_make,
        limit: Duration::from_secs(cli.limit_seconds),
        time_box: seconds(cli.time_box),
    };
    let stage_options = StageOptions {
        bin_dir: cli.bin_dir.clone(),
        workers: plan.workers,
        worker_concurrency: 1,
        postgres_url: cli.database_url.clone(),
        nats_url: cli.nats_url.clone(),
        keep: cli.keep,
        extra_env: service_env(&cli.service_env)?,
    };
    // Every phase runs on services, a database and a bus prefix of its own, so that no
    // phase inherits another's missions, history or memory.
    let mut machine_info = None;
    let mut sizes = Vec::new();
    for &features in cli.sizes.iter().filter(|&&features| features > 0) {
        let result = in_stage(&stage_options, &mut machine_info, async |stage| {
            phases::size_run(stage, &plan, features).await
        })
        .await?;
        sizes.push(result);
    }
    let makespan = match cli.makespan_features {
        0 => None,
        features => Some(
            in_stage(&stage_options, &mut machine_info, async |stage| {
                phases::makespan_run(stage, &plan, features).await
            })
            .await?,
        ),
    };
    let scale = if cli.scale {
        let options = StageOptions {
            workers: cli.scale_workers.max(1),
            worker_concurrency: cli.scale_concurrency.max(1),
            ..stage_options.clone()
        };
        let layout = ScaleLayout {
            features: cli.scale_features,
            missions: cli.scale_missions.max(1),
            slots: options.workers * options.worker_concurrency,
            durations: cli.scale_durations,
            time_box: seconds(cli.scale_seconds),
        };
        Some(
            in_stage(&options, &mut machine_info, async |stage| {
                phases::scale_run(stage, &plan, layout).await
            })
            .await?,
        )
    } else {
        None
    };
    let machine = match machine_info {
        Some(machine) => machine,
        None => {
            let stage = Stage::start(&stage_options).await?;
            let described = machine(&stage).await;
            stage.stop().await?;
            described
        }
    };

    let report = Report {
        settings: BenchSettings {
            workers: plan.workers,
            seed: cli.seed,
            density: cli.density,
            window: cli.window,
            features_per_milestone: cli.features_per_milestone,
            overlap: cli.overlap,
            durations: cli.durations.to_string(),
            estimates: plan.estimates,
            binaries: cli.bin_dir.display().to_string(),
        },
        machine,
        growth: growth(&sizes),
        sizes,
        makespan,
        scale,
    };
    print!("{}", render::render(&report));
    if let Some(path) = &cli.json {
        let json = serde_json::to_string_pretty(&report).context("writing the results")?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("results written to {}", path.display());
    }
    Ok(())
}

/// Run one phase on a fresh stage, stopping it whatever the phase's outcome; the
/// machine's description is read from the first stage.
async fn in_stage<T>(
    options: &StageOptions,
    machine_info: &mut Option<Machine>,
    phase: impl AsyncFnOnce(&mut Stage) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let mut stage = Stage::start(options).await?;
    if machine_info.is_none() {
        *machine_info = Some(machine(&stage).await);
    }
    let outcome = phase(&mut stage).await;
    stage.stop().await?;
    outcome
}

/// Zero means none.
fn seconds(value: u64) -> Option<Duration> {
    (value > 0).then(|| Duration::from_secs(value))
}

fn service_env(pairs: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    pairs
        .iter()
        .map(|pair| {
            pair.split_once('=')
                .map(|(key, value)| (key.to_owned(), value.to_owned()))
                .with_context(|| format!("--service-env takes KEY=VALUE, not {pair:?}"))
        })
        .collect()
}

/// The first line a command prints, or "unknown".
fn command_line(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .current_dir(workspace_root())
        .output()
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| {
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

async fn machine(stage: &Stage) -> Machine {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, name)| name.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let commit = command_line("git", &["rev-parse", "--short", "HEAD"]);
    Machine {
        cores: std::thread::available_parallelism().map_or(1, usize::from),
        cpu,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|text| text.trim().to_owned())
            .unwrap_or_else(|_| "unknown".to_owned()),
        rustc: command_line("rustc", &["--version"]),
        postgres: stage.postgres_version().await,
        nats: stage.nats_version(),
        make: command_line("make", &["--version"]),
        sortie: format!("{} ({commit})", env!("CARGO_PKG_VERSION")),
    }
}
