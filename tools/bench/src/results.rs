//! The figures of one bench run, as written to JSON, and how they are drawn from the
//! measurements.

use serde::Serialize;

use crate::baselines::Baselines;
use crate::run::Measured;
use crate::stage::Sequences;
use crate::stats::{Percentiles, describe_growth, growth_exponent};
use crate::timeline::Overheads;

#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub kernel: String,
    pub rustc: String,
    pub postgres: String,
    pub nats: String,
    pub make: String,
    pub sortie: String,
}

/// The bench's own settings, so two runs can be compared knowingly.
#[derive(Clone, Debug, Serialize)]
pub struct BenchSettings {
    pub workers: usize,
    pub seed: u64,
    pub density: f64,
    pub window: usize,
    pub features_per_milestone: usize,
    pub overlap: f64,
    pub durations: String,
    pub estimates: bool,
    pub binaries: String,
}

/// Overhead samples summarised, in milliseconds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct OverheadSummary {
    pub ready_to_start: Percentiles,
    pub ready_to_dispatch: Percentiles,
    pub dispatch_to_running: Percentiles,
    pub ready_to_worker_start: Percentiles,
    pub result_to_dispatch: Percentiles,
    pub result_to_done: Percentiles,
    pub done_to_dispatch: Percentiles,
    pub milestone_handover: Percentiles,
    pub worker_busy: Percentiles,
    pub retried: usize,
}

impl OverheadSummary {
    pub fn of(overheads: &[Overheads]) -> Self {
        let gather = |pick: fn(&Overheads) -> &Vec<f64>| {
            let samples: Vec<f64> = overheads
                .iter()
                .flat_map(|o| pick(o).iter().copied())
                .collect();
            Percentiles::of(&samples)
        };
        Self {
            ready_to_start: gather(|o| &o.ready_to_start),
            ready_to_dispatch: gather(|o| &o.ready_to_dispatch),
            dispatch_to_running: gather(|o| &o.dispatch_to_running),
            ready_to_worker_start: gather(|o| &o.ready_to_worker_start),
            result_to_dispatch: gather(|o| &o.result_to_dispatch),
            result_to_done: gather(|o| &o.result_to_done),
            done_to_dispatch: gather(|o| &o.done_to_dispatch),
            milestone_handover: gather(|o| &o.milestone_handover),
            worker_busy: gather(|o| &o.worker_busy),
            retried: overheads.iter().map(|o| o.retried).sum(),
        }
    }
}

/// What a run cost, per feature and in all.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Costs {
    /// Features done (all of them unless the run was time-boxed).
    pub features: usize,
    pub features_total: usize,
    pub complete: bool,
    pub wall_seconds: f64,
    /// Features done per second between the 10th and 90th percentile of `done` times.
    pub throughput_steady: f64,
    pub throughput_overall: f64,
    pub transactions_per_feature: f64,
    pub state_changes_per_feature: f64,
    pub messages: Sequences,
    pub messages_per_feature: f64,
    pub orchestrator_cpu_ms_per_feature: f64,
    pub orchestrator_git_cpu_ms_per_feature: f64,
    pub workers_cpu_ms_per_feature: f64,
    pub postgres_cpu_ms_per_feature: f64,
    /// The whole NATS server's, which other users of the machine may share.
    pub nats_cpu_ms_per_feature: f64,
    pub orchestrator_cpu_seconds: f64,
    pub orchestrator_peak_rss_mib: f64,
}

impl Costs {
    pub fn of(measured: &Measured) -> Self {
        let features = measured.features.max(1) as f64;
        let per_feature_ms = |seconds: f64| seconds * 1000.0 / features;
        let state_changes: usize = measured
            .timelines
            .iter()
            .map(|(_, timeline)| timeline.state_changes)
            .sum();
        let throughput_steady = if measured.timelines.len() == 1 {
            measured.timelines[0]
                .1
                .steady_throughput()
                .unwrap_or(f64::NAN)
        } else {
            f64::NAN
        };
        Self {
            features: measured.features,
            features_total: measured.features_total,
            complete: measured.complete,
            wall_seconds: measured.wall_seconds,
            throughput_steady,
            throughput_overall: measured.features as f64 / measured.wall_seconds,
            transactions_per_feature: measured.transactions as f64 / features,
            state_changes_per_feature: state_changes as f64 / features,
            messages: measured.messages,
            messages_per_feature: measured.messages.total() as f64 / features,
            orchestrator_cpu_ms_per_feature: per_feature_ms(measured.orchestrator_cpu_seconds),
            orchestrator_git_cpu_ms_per_feature: per_feature_ms(
                measured.orchestrator_git_cpu_seconds,
            ),
            workers_cpu_ms_per_feature: per_feature_ms(measured.workers_cpu_seconds),
            postgres_cpu_ms_per_feature: per_feature_ms(measured.postgres_cpu_seconds),
            nats_cpu_ms_per_feature: per_feature_ms(measured.nats_cpu_seconds),
            orchestrator_cpu_seconds: measured.orchestrator_cpu_seconds,
            orchestrator_peak_rss_mib: measured.orchestrator_peak_rss as f64 / (1024.0 * 1024.0),
        }
    }
}

/// One size of the no-op run: overhead and cost, the make -j K reference for the same
/// DAG, and the simulated schedules of the same DAG with the sampled durations.
#[derive(Clone, Debug, Serialize)]
pub struct SizeResult {
    pub features: usize,
    pub milestones: usize,
    pub preconditions: usize,
    pub overhead: OverheadSummary,
    pub costs: Costs,
    pub make_noop_seconds: Option<f64>,
    pub simulated: Baselines,
}

/// The same DAG and durations, run for real by Sortie and by make, beside the
/// computed references.
#[derive(Clone, Debug, Serialize)]
pub struct MakespanResult {
    pub features: usize,
    pub milestones: usize,
    pub baselines: Baselines,
    pub sortie_ms: f64,
    pub make_ms: Option<f64>,
    pub ratio_sortie: f64,
    pub ratio_scheduler: f64,
    pub ratio_make: Option<f64>,
    pub ratio_waves: f64,
    pub ratio_serial: f64,
    pub ratio_milestone_bound: f64,
    /// The worker's time per feature beyond its agent's sleep (workspace, git, reports).
    pub worker_extra_ms: Percentiles,
    pub overhead: OverheadSummary,
    pub costs: Costs,
}

/// Many missions at once, with the workers about 80 % busy.
#[derive(Clone, Debug, Serialize)]
pub struct ScaleResult {
    pub missions: usize,
    pub features: usize,
    pub slots: usize,
    pub cap_per_mission: usize,
    /// Busy worker time over slots times the run's length.
    pub utilisation: f64,
    pub overhead: OverheadSummary,
    pub costs: Costs,
    pub orchestrator_cpu_seconds_per_1000: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct GrowthLine {
    pub figure: String,
    /// (features, value)
    pub points: Vec<(usize, f64)>,
    pub exponent: Option<f64>,
    pub verdict: String,
}

impl GrowthLine {
    /// A per-feature figure: the total grows with exponent 1 + that of the figure.
    pub fn per_feature(figure: &str, points: Vec<(usize, f64)>) -> Self {
        let exponent = exponent_of(&points).map(|exponent| exponent + 1.0);
        Self {
            figure: format!("{figure} (total)"),
            verdict: describe_growth(exponent),
            points,
            exponent,
        }
    }

    /// A latency or a rate: how the figure itself grows.
    pub fn itself(figure: &str, points: Vec<(usize, f64)>) -> Self {
        let exponent = exponent_of(&points);
        Self {
            figure: figure.to_owned(),
            verdict: describe_growth(exponent),
            points,
            exponent,
        }
    }
}

fn exponent_of(points: &[(usize, f64)]) -> Option<f64> {
    let as_floats: Vec<(f64, f64)> = points
        .iter()
        .map(|&(size, value)| (size as f64, value))
        .collect();
    growth_exponent(&as_floats)
}

/// How the figures of the no-op runs grow with the mission's size.
pub fn growth(sizes: &[SizeResult]) -> Vec<GrowthLine> {
    let points = |pick: &dyn Fn(&SizeResult) -> f64| -> Vec<(usize, f64)> {
        sizes
            .iter()
            .map(|size| (size.features, pick(size)))
            .collect()
    };
    vec![
        GrowthLine::itself(
            "ready -> running p50 (ms)",
            points(&|size| size.overhead.ready_to_start.p50),
        ),
        GrowthLine::itself(
            "result -> next dispatch p50 (ms)",
            points(&|size| size.overhead.result_to_dispatch.p50),
        ),
        GrowthLine::itself(
            "steady throughput (features/s)",
            points(&|size| size.costs.throughput_steady),
        ),
        GrowthLine::per_feature(
            "orchestrator CPU ms / feature",
            points(&|size| size.costs.orchestrator_cpu_ms_per_feature),
        ),
        GrowthLine::per_feature(
            "postgres CPU ms / feature",
            points(&|size| size.costs.postgres_cpu_ms_per_feature),
        ),
        GrowthLine::per_feature(
            "ledger transactions / feature",
            points(&|size| size.costs.transactions_per_feature),
        ),
        GrowthLine::per_feature(
            "NATS messages / feature",
            points(&|size| size.costs.messages_per_feature),
        ),
        GrowthLine::itself(
            "orchestrator peak RSS (MiB)",
            points(&|size| size.costs.orchestrator_peak_rss_mib),
        ),
        GrowthLine::per_feature(
            "make -j K seconds / feature",
            points(&|size| {
                size.make_noop_seconds
                    .map_or(f64::NAN, |seconds| seconds / size.features as f64)
            }),
        ),
        GrowthLine::itself(
            "scheduler alone / lower bound",
            points(&|size| size.simulated.ratio(size.simulated.scheduler_ms as f64)),
        ),
    ]
}

/// Everything, for `--json`.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub machine: Machine,
    pub settings: BenchSettings,
    pub sizes: Vec<SizeResult>,
    pub makespan: Option<MakespanResult>,
    pub scale: Option<ScaleResult>,
    pub growth: Vec<GrowthLine>,
}
