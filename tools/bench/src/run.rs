//! Running generated missions on a stage and measuring what it cost.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sortie_cli::client::Client;
use sortie_cli::follow::is_settled;
use sortie_model::MissionId;
use sortie_model::api::EventView;
use sortie_model::state::MissionState;

use crate::generate::{MissionSettings, SyntheticMission};
use crate::probe::{self, PeakMemory};
use crate::stage::{Sequences, Stage};
use crate::timeline::{Timeline, WorkerTimes, read_worker_log};

/// How often the bench asks whether the missions have ended. Each look is one
/// single-statement transaction in the ledger, taken out of the counts.
const POLL: Duration = Duration::from_millis(250);

/// One or more missions run side by side, and what they cost.
#[derive(Debug)]
pub struct Measured {
    /// Features done: all of them, unless the run was time-boxed.
    pub features: usize,
    pub features_total: usize,
    /// Whether every mission ran to its end (false when the time box closed first).
    pub complete: bool,
    /// From the first submission to the last mission's end, as the bench saw it.
    pub wall_seconds: f64,
    pub timelines: Vec<(SyntheticMission, Timeline)>,
    /// Committed transactions in the bench database, the bench's own looks taken out.
    pub transactions: i64,
    pub messages: Sequences,
    pub orchestrator_cpu_seconds: f64,
    /// The orchestrator's git commands (the merge queue).
    pub orchestrator_git_cpu_seconds: f64,
    /// The workers' own and their children's (git, the agent).
    pub workers_cpu_seconds: f64,
    pub postgres_cpu_seconds: f64,
    pub nats_cpu_seconds: f64,
    pub orchestrator_peak_rss: u64,
}

struct CpuSnapshot {
    orchestrator: f64,
    orchestrator_children: f64,
    workers: f64,
    postgres: HashMap<u32, f64>,
    nats: f64,
}

fn cpu_snapshot(stage: &Stage, ticks: f64) -> CpuSnapshot {
    let postgres = probe::postgres_backends(&stage.database)
        .into_iter()
        .filter_map(|pid| Some((pid, probe::usage(pid, ticks)?.cpu_seconds)))
        .collect();
    let orchestrator = stage
        .orchestrator_pid()
        .and_then(|pid| probe::usage(pid, ticks))
        .unwrap_or_default();
    CpuSnapshot {
        orchestrator: orchestrator.cpu_seconds,
        orchestrator_children: orchestrator.children_cpu_seconds,
        workers: probe::cpu_seconds(&stage.worker_pids(), ticks),
        postgres,
        nats: probe::cpu_seconds(&probe::nats_servers(), ticks),
    }
}

/// Postgres backends come and go with the pool: a backend new since `before` counts
/// from zero; one that ended meanwhile is lost (the pool keeps them for the run).
fn postgres_cpu_since(before: &HashMap<u32, f64>, after: &HashMap<u32, f64>) -> f64 {
    after
        .iter()
        .map(|(pid, now)| now - before.get(pid).copied().unwrap_or(0.0))
        .sum()
}

/// How long a run may go on.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Past this, the run is an error.
    pub limit: Duration,
    /// Past this, measuring stops and the figures are those of the features done so far.
    pub time_box: Option<Duration>,
}

/// Submit the missions at once, wait until every one has settled (or the time box
/// closes), and measure.
pub async fn run_missions(
    stage: &mut Stage,
    missions: Vec<(SyntheticMission, MissionSettings)>,
    limits: Limits,
) -> anyhow::Result<Measured> {
    let ticks = probe::clock_ticks();
    let mut submissions = Vec::with_capacity(missions.len());
    for (mission, settings) in &missions {
        submissions.push(stage.submission(mission.to_toml(*settings)).await?);
    }
    let client = stage.client();
    let transactions_before = stage.settled_transactions().await?;
    let sequences_before = stage.sequences().await?;
    let cpu_before = cpu_snapshot(stage, ticks);
    let memory = stage
        .orchestrator_pid()
        .map(|pid| PeakMemory::start(pid, Duration::from_millis(200)));
    let started = Instant::now();
    let mut ids = Vec::with_capacity(submissions.len());
    for submission in &submissions {
        let submitted = client
            .submit(submission)
            .await
            .context("submitting a generated mission")?;
        ids.push(submitted.id);
    }
    let (polls, complete) = wait_until_settled(&client, &ids, limits).await?;
    // A time-boxed run goes on while it is read: what happened later is left out.
    let cutoff = chrono::Utc::now();
    let wall_seconds = started.elapsed().as_secs_f64();
    let orchestrator_peak_rss = memory.map_or(0, PeakMemory::stop);
    let cpu_after = cpu_snapshot(stage, ticks);
    let transactions_after = stage.settled_transactions().await?;
    let messages = stage.sequences().await?.since(&sequences_before);

    let mut worker_times = HashMap::new();
    let logs: Vec<String> = stage
        .worker_logs()
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .collect();
    let mut timelines = Vec::with_capacity(missions.len());
    for ((mission, _), id) in missions.into_iter().zip(&ids) {
        let mut events = all_events(&client, *id).await?;
        if !complete {
            events.retain(|event| event.at <= cutoff);
        }
        let mut timeline = Timeline::from_events(&mission, &events);
        let times: &mut WorkerTimes = worker_times.entry(*id).or_default();
        for log in &logs {
            read_worker_log(log, &id.to_string(), times);
        }
        timeline.attach_worker_times(&mission, times);
        if complete && timeline.mission_state.as_deref() != Some("completed") {
            bail!(
                "mission {} ({}) ended {:?}, not completed; see the logs in {}",
                mission.name,
                id,
                timeline.mission_state,
                stage.work_dir().join("logs").display()
            );
        }
        timelines.push((mission, timeline));
    }
    Ok(Measured {
        features: timelines
            .iter()
            .map(|(_, timeline)| timeline.features_done())
            .sum(),
        features_total: timelines
            .iter()
            .map(|(mission, _)| mission.features.len())
            .sum(),
        complete,
        wall_seconds,
        timelines,
        transactions: transactions_after - transactions_before - polls,
        messages,
        orchestrator_cpu_seconds: cpu_after.orchestrator - cpu_before.orchestrator,
        orchestrator_git_cpu_seconds: cpu_after.orchestrator_children
            - cpu_before.orchestrator_children,
        workers_cpu_seconds: cpu_after.workers - cpu_before.workers,
        postgres_cpu_seconds: postgres_cpu_since(&cpu_before.postgres, &cpu_after.postgres),
        nats_cpu_seconds: cpu_after.nats - cpu_before.nats,
        orchestrator_peak_rss,
    })
}

/// Look every [`POLL`] until every mission has settled or the time box closed; returns
/// how many looks it took, and whether every mission settled.
async fn wait_until_settled(
    client: &Client,
    ids: &[MissionId],
    limits: Limits,
) -> anyhow::Result<(i64, bool)> {
    let started = Instant::now();
    let mut polls = 0;
    loop {
        tokio::time::sleep(POLL).await;
        let missions = client.missions().await.context("listing missions")?;
        polls += 1;
        let settled = ids.iter().all(|id| {
            missions
                .iter()
                .find(|mission| mission.id == *id)
                .is_some_and(|mission| is_settled(mission.state))
        });
        if settled {
            if let Some(stuck) = missions.iter().find(|mission| {
                ids.contains(&mission.id) && mission.state != MissionState::Completed
            }) {
                bail!("mission {} settled as {:?}", stuck.id, stuck.state);
            }
            return Ok((polls, true));
        }
        if limits
            .time_box
            .is_some_and(|time_box| started.elapsed() >= time_box)
        {
            return Ok((polls, false));
        }
        if started.elapsed() > limits.limit {
            bail!(
                "the missions did not finish within {}s (raise --limit-seconds)",
                limits.limit.as_secs()
            );
        }
    }
}

async fn all_events(client: &Client, id: MissionId) -> anyhow::Result<Vec<EventView>> {
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let page = client.events(id, after).await.context("reading events")?;
        let Some(last) = page.last() else {
            return Ok(events);
        };
        after = last.seq;
        events.extend(page);
    }
}
