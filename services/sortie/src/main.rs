//! `sortie`: run and watch missions, and run Sortie on this machine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sortie_cli::client::{Client, ClientError};
use sortie_cli::demo::{self, Example};
use sortie_cli::follow::{self, Followed};
use sortie_cli::local::{LocalCluster, LocalOptions};
use sortie_cli::plan::PlanOptions;
use sortie_cli::{exit, exit_code, usage_line};
use sortie_model::MissionId;
use sortie_model::api::{ApproveMission, SubmitMission};
use sortie_model::mission_file;

#[derive(Debug, Parser)]
#[command(
    name = "sortie",
    version,
    about = "Run large software missions with coding agents"
)]
struct Cli {
    /// The orchestrator's API.
    #[arg(
        long,
        global = true,
        env = "SORTIE_API",
        default_value = "http://127.0.0.1:7400"
    )]
    api: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Submit a mission file and follow the mission to its end.
    Run {
        /// The mission file (mission.toml).
        file: PathBuf,
        /// Use another URL for a repository of the mission: NAME=URL (repeatable).
        #[arg(long = "repo", value_name = "NAME=URL")]
        repositories: Vec<String>,
        /// Submit and launch, but do not follow.
        #[arg(long)]
        detach: bool,
        /// Submit as a draft: neither approved nor launched (see `sortie approve`).
        #[arg(long, conflicts_with = "detach")]
        draft: bool,
    },
    /// Approve a draft mission's plan, as it stands now or at a named version.
    Approve {
        id: String,
        /// Who approves (default: this machine's user).
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
        /// The plan version read and approved (default: the mission's current one);
        /// refused if the plan changed since.
        #[arg(long, value_name = "N")]
        plan_version: Option<i32>,
    },
    /// Launch an approved mission.
    Launch {
        id: String,
        /// Who launches (default: this machine's user).
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
    },
    /// Propose a mission file for a goal in a repository, with a model profile: answer the
    /// planner's questions, then approve, revise or quit (or take the first plan with --yes).
    Plan {
        /// Take the model's first valid plan, without questions or a conversation.
        #[arg(long)]
        yes: bool,
        /// The goal, in Markdown or plain text.
        #[arg(short = 'f', long = "goal-file", value_name = "GOAL.md")]
        goal_file: PathBuf,
        /// The repository the mission changes.
        #[arg(long = "repo", value_name = "DIR", default_value = ".")]
        repository: PathBuf,
        /// Where the mission file is written.
        #[arg(short = 'o', long, default_value = "mission.toml")]
        output: PathBuf,
        /// The agents.<PROFILE> of the settings to plan with; it must be of kind llm.
        #[arg(long, value_name = "PROFILE", default_value = "planner")]
        agent: String,
        /// A settings file, beside the SORTIE__... environment.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Overwrite the output file.
        #[arg(long)]
        force: bool,
    },
    /// Show a mission, or list missions.
    Status { id: Option<String> },
    /// Start the orchestrator, workers and a validator on this machine.
    Up {
        #[arg(long, default_value_t = 3)]
        workers: usize,
        #[arg(long, default_value_t = 1)]
        validators: usize,
        /// Where the services keep their workspaces and logs.
        #[arg(long, default_value = ".sortie/local")]
        work_dir: PathBuf,
    },
    /// Start Sortie on this machine and run the example mission to its end.
    Demo {
        #[arg(long, default_value_t = 3)]
        workers: usize,
        /// The examples directory (default: ./examples, or the source tree's).
        #[arg(long)]
        examples: Option<PathBuf>,
        /// Where the demo keeps its repository, workspaces and logs.
        #[arg(long)]
        work_dir: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match execute(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("sortie: {error:#}");
            if error
                .downcast_ref::<ClientError>()
                .is_some_and(|error| matches!(error, ClientError::Unreachable { .. }))
            {
                exit::UNAVAILABLE
            } else {
                exit::FAILED
            }
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

async fn execute(cli: Cli) -> anyhow::Result<i32> {
    let client = Client::new(&cli.api);
    match cli.command {
        Command::Run {
            file,
            repositories,
            detach,
            draft,
        } => run(&client, &file, &repositories, detach, draft).await,
        Command::Approve {
            id,
            by,
            plan_version,
        } => approve(&client, &id, by, plan_version).await,
        Command::Launch { id, by } => launch(&client, &id, by).await,
        Command::Plan {
            yes,
            goal_file,
            repository,
            output,
            agent,
            config,
            force,
        } => {
            let options = PlanOptions {
                goal_file,
                repository,
                output,
                agent,
                settings_file: config,
                yes,
                force,
            };
            sortie_cli::plan::plan(&options).await
        }
        Command::Status { id } => status(&client, id.as_deref()).await,
        Command::Up {
            workers,
            validators,
            work_dir,
        } => up(workers, validators, work_dir, &cli.api).await,
        Command::Demo {
            workers,
            examples,
            work_dir,
        } => demo(workers, examples.as_deref(), work_dir).await,
    }
}

fn parse_repositories(entries: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    entries
        .iter()
        .map(|entry| {
            entry
                .split_once('=')
                .map(|(name, url)| (name.trim().to_owned(), url.trim().to_owned()))
                .with_context(|| format!("--repo {entry:?}: expected NAME=URL"))
        })
        .collect()
}

async fn run(
    client: &Client,
    file: &Path,
    repositories: &[String],
    detach: bool,
    draft: bool,
) -> anyhow::Result<i32> {
    let text = match tokio::fs::read_to_string(file).await {
        Ok(text) => text,
        Err(error) => {
            eprintln!("sortie: reading {}: {error}", file.display());
            return Ok(exit::BAD_INPUT);
        }
    };
    let file_name = file.display().to_string();
    // Check the file here first: a mistake is reported before anything is submitted.
    match mission_file::parse(&file_name, &text) {
        Ok(parsed) => {
            for warning in parsed.warnings.iter() {
                eprintln!("{warning}");
            }
        }
        Err(diagnostics) => {
            eprintln!("{diagnostics}");
            return Ok(exit::BAD_INPUT);
        }
    }
    let repositories = match parse_repositories(repositories) {
        Ok(repositories) => repositories,
        Err(error) => {
            eprintln!("sortie: {error}");
            return Ok(exit::BAD_INPUT);
        }
    };
    let request = SubmitMission {
        mission_file: text,
        file_name,
        repositories,
        tenant: None,
        team: None,
        submitted_by: Some(demo::whoami()),
        launch: !draft,
        approve: !draft,
    };
    submit_and_follow(client, &request, detach).await
}

async fn submit_and_follow(
    client: &Client,
    request: &SubmitMission,
    detach: bool,
) -> anyhow::Result<i32> {
    let submitted = match client.submit(request).await {
        Ok(submitted) => submitted,
        Err(ClientError::Api {
            status: 400,
            message,
            diagnostics,
            ..
        }) => {
            eprintln!("sortie: {message}");
            for line in diagnostics {
                eprintln!("{line}");
            }
            return Ok(exit::BAD_INPUT);
        }
        Err(error) => return Err(error.into()),
    };
    if !request.launch {
        println!(
            "mission {id} submitted as a {state}: approve it with `sortie approve {id}`, then `sortie launch {id}`",
            id = submitted.id,
            state = submitted.state
        );
        return Ok(exit::COMPLETED);
    }
    println!("mission {} submitted and launched", submitted.id);
    if detach {
        return Ok(exit::COMPLETED);
    }
    let followed = follow::follow(
        client,
        submitted.id,
        Duration::from_millis(250),
        Duration::from_secs(24 * 3600),
        |line| {
            println!("{line}");
        },
    )
    .await?;
    Ok(report(&followed))
}

fn report(followed: &Followed) -> i32 {
    let status = &followed.status;
    let done = status
        .features
        .iter()
        .filter(|feature| feature.state == sortie_model::state::FeatureState::Done)
        .count();
    println!(
        "mission {} {}: {done}/{} features done, {} findings, wall time {:.1}s, at most {} features at once",
        status.mission.id,
        status.mission.state,
        status.features.len(),
        status.findings.len(),
        followed.wall_time.as_secs_f64(),
        followed.max_parallel_features
    );
    if let Some(reason) = &status.blocked_reason {
        println!("waiting for a person: {reason}");
    }
    exit_code(status.mission.state)
}

fn parse_id(text: &str) -> Option<MissionId> {
    let parsed = text.parse::<MissionId>().ok();
    if parsed.is_none() {
        eprintln!("sortie: {text:?} is not a mission id");
    }
    parsed
}

async fn approve(
    client: &Client,
    id: &str,
    by: Option<String>,
    plan_version: Option<i32>,
) -> anyhow::Result<i32> {
    let Some(id) = parse_id(id) else {
        return Ok(exit::BAD_INPUT);
    };
    let plan_version = match plan_version {
        Some(version) => version,
        None => client.mission(id).await?.mission.plan_version,
    };
    let request = ApproveMission {
        by: Some(by.unwrap_or_else(demo::whoami)),
        plan_version,
    };
    let approved = client.approve(id, &request).await?;
    println!(
        "mission {} plan version {} approved by {}: launch it with `sortie launch {}`",
        approved.id,
        approved.approved_plan_version.unwrap_or(plan_version),
        approved.approved_by.as_deref().unwrap_or("?"),
        approved.id
    );
    Ok(exit::COMPLETED)
}

async fn launch(client: &Client, id: &str, by: Option<String>) -> anyhow::Result<i32> {
    let Some(id) = parse_id(id) else {
        return Ok(exit::BAD_INPUT);
    };
    client.launch(id, &by.unwrap_or_else(demo::whoami)).await?;
    println!("mission {id} launched: follow it with `sortie status {id}`");
    Ok(exit::COMPLETED)
}

async fn status(client: &Client, id: Option<&str>) -> anyhow::Result<i32> {
    let Some(id) = id else {
        for mission in client.missions().await? {
            println!(
                "{}  {:<10} {:<24} v{}  {}",
                mission.id, mission.state, mission.name, mission.plan_version, mission.created_at
            );
        }
        return Ok(exit::COMPLETED);
    };
    let Ok(id) = id.parse::<MissionId>() else {
        eprintln!("sortie: {id:?} is not a mission id");
        return Ok(exit::BAD_INPUT);
    };
    let status = client.mission(id).await?;
    println!(
        "mission {} {} ({})",
        status.mission.id, status.mission.name, status.mission.state
    );
    match (
        &status.mission.approved_by,
        status.mission.approved_plan_version,
        status.mission.approved_at,
    ) {
        (Some(by), Some(version), Some(at)) => {
            println!("  plan version {version} approved by {by} at {at}");
        }
        _ => println!(
            "  plan version {} not approved yet: `sortie approve {}`",
            status.mission.plan_version, status.mission.id
        ),
    }
    if let Some(reason) = &status.blocked_reason {
        println!("  waiting for a person: {reason}");
    }
    println!("  usage: {}", usage_line(&status.mission.usage));
    for milestone in &status.milestones {
        println!(
            "  milestone {} {} ({})",
            milestone.id, milestone.title, milestone.state
        );
        for feature in status
            .features
            .iter()
            .filter(|feature| feature.milestone == milestone.id)
        {
            println!(
                "    {:<28} {:<10} attempts {}{}",
                feature.id.as_str(),
                feature.state.as_str(),
                feature.attempts,
                feature
                    .integrated_commit
                    .as_deref()
                    .map(|commit| format!("  {}", &commit[..commit.len().min(10)]))
                    .unwrap_or_default()
            );
        }
    }
    for finding in &status.findings {
        println!(
            "  finding on {}: {}",
            finding.milestone, finding.finding.summary
        );
    }
    Ok(exit::COMPLETED)
}

fn bin_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the sortie binary")?;
    Ok(exe
        .parent()
        .context("the binary's directory")?
        .to_path_buf())
}

fn port_of(api: &str) -> u16 {
    api.rsplit(':')
        .next()
        .and_then(|port| port.trim_end_matches('/').parse().ok())
        .unwrap_or(7400)
}

async fn up(
    workers: usize,
    validators: usize,
    work_dir: PathBuf,
    api: &str,
) -> anyhow::Result<i32> {
    let mut options = LocalOptions::from_environment(bin_dir()?, work_dir);
    options.workers = workers;
    options.validators = validators;
    options.http_port = port_of(api);
    print_backends(&options);
    let cluster = LocalCluster::start(options.clone()).await?;
    println!(
        "Sortie is up: API at {}, {workers} workers, {validators} validators; logs in {}",
        cluster.api_url(),
        options.work_dir.join("logs").display()
    );
    println!("Press Ctrl-C to stop.");
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    println!("stopping");
    cluster.stop(Duration::from_secs(30)).await;
    Ok(exit::COMPLETED)
}

fn print_backends(options: &LocalOptions) {
    let database = sortie_settings::SecretUrl::new(options.database_url.clone());
    println!(
        "ledger: Postgres at {}; bus: NATS JetStream at {} (prefix {})",
        database.redacted(),
        options.nats_url,
        options.nats_prefix
    );
}

async fn demo(
    workers: usize,
    examples: Option<&Path>,
    work_dir: Option<PathBuf>,
) -> anyhow::Result<i32> {
    let examples = demo::find_examples(examples)?;
    let example = Example::notes_service(&examples);
    let work_dir = work_dir.unwrap_or_else(|| {
        PathBuf::from(".sortie/demo").join(chrono::Utc::now().format("%Y%m%d-%H%M%S").to_string())
    });
    tokio::fs::create_dir_all(&work_dir)
        .await
        .with_context(|| format!("creating {}", work_dir.display()))?;
    let work_dir = std::path::absolute(&work_dir)?;
    let mut options = LocalOptions::from_environment(bin_dir()?, work_dir.clone());
    options.workers = workers;
    options.http_port = free_port()?;
    print_backends(&options);
    let request = demo::prepare(&example, &work_dir).await?;
    let cluster = LocalCluster::start(options).await?;
    println!(
        "Sortie is up at {} with {workers} workers and a validator",
        cluster.api_url()
    );
    let outcome = submit_and_follow(&cluster.client(), &request, false).await;
    cluster.stop(Duration::from_secs(30)).await;
    let code = outcome?;
    println!(
        "the integration branch is in {}; logs in {}",
        work_dir
            .join(format!("{}.git", example.repository))
            .display(),
        work_dir.join("logs").display()
    );
    Ok(code)
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}
