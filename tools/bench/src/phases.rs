//! The bench's phases: no-op runs by size, the makespan run, the scale run.

use std::time::Duration;

use anyhow::Context;
use sortie_model::Plan;
use sortie_model::mission_file;

use crate::baselines::Baselines;
use crate::generate::{MissionSettings, Shape, SyntheticMission};
use crate::makefile::run_make;
use crate::results::{Costs, MakespanResult, OverheadSummary, ScaleResult, SizeResult};
use crate::rng::Durations;
use crate::run::{Limits, Measured, run_missions};
use crate::stage::Stage;
use crate::stats::Percentiles;
use crate::timeline::Overheads;

/// What every phase shares.
#[derive(Clone, Debug)]
pub struct PhasePlan {
    pub shape: Shape,
    pub features_per_milestone: usize,
    pub workers: usize,
    pub estimates: bool,
    pub make: bool,
    pub limit: Duration,
    /// Stop the no-op runs after this long and measure the features done by then.
    pub time_box: Option<Duration>,
}

impl PhasePlan {
    pub fn shape_for(&self, features: usize, durations: Durations, seed_offset: u64) -> Shape {
        Shape {
            features,
            milestones: features.div_ceil(self.features_per_milestone.max(1)),
            durations,
            seed: self.shape.seed.wrapping_add(seed_offset),
            ..self.shape.clone()
        }
    }

    fn settings(&self, max_parallel_workers: usize) -> MissionSettings {
        MissionSettings {
            max_parallel_workers,
            estimates: self.estimates,
        }
    }
}

/// Parse the generated file as the orchestrator will, and return its plan.
pub fn plan_of(mission: &SyntheticMission, settings: MissionSettings) -> anyhow::Result<Plan> {
    let text = mission.to_toml(settings);
    mission_file::parse("bench.toml", &text)
        .map(|parsed| parsed.plan)
        .map_err(|diagnostics| {
            anyhow::anyhow!(
                "the generated mission {} does not parse: {diagnostics:?}",
                mission.name
            )
        })
}

fn overheads_of(measured: &Measured, slots: usize) -> Vec<Overheads> {
    measured
        .timelines
        .iter()
        .map(|(mission, timeline)| timeline.overheads(mission, slots))
        .collect()
}

/// The no-op run of one size: the DAG generated with the sampled durations is computed
/// on, and run for real with every duration zero.
pub async fn size_run(
    stage: &mut Stage,
    plan: &PhasePlan,
    features: usize,
) -> anyhow::Result<SizeResult> {
    let shape = plan.shape_for(features, plan.shape.durations, features as u64);
    let timed = SyntheticMission::generate(&format!("bench-{features}"), &shape);
    let settings = plan.settings(plan.workers);
    let simulated = Baselines::compute(&timed, &plan_of(&timed, settings)?, plan.workers);
    let noop = SyntheticMission {
        name: format!("bench-noop-{features}"),
        ..timed.with_durations(|_| 0)
    };
    plan_of(&noop, settings)?;
    eprintln!(
        "running {features} no-op features on {} workers",
        plan.workers
    );
    let limits = Limits {
        limit: plan.limit,
        time_box: plan.time_box,
    };
    let measured = run_missions(stage, vec![(noop.clone(), settings)], limits).await?;
    let overhead = OverheadSummary::of(&overheads_of(&measured, plan.workers));
    let make_noop_seconds = if plan.make {
        let dir = stage.work_dir().join(format!("make-noop-{features}"));
        Some(run_make(&noop, &dir, plan.workers).await?.as_secs_f64())
    } else {
        None
    };
    Ok(SizeResult {
        features,
        milestones: noop.milestones,
        preconditions: noop.edges(),
        overhead,
        costs: Costs::of(&measured),
        make_noop_seconds,
        simulated,
    })
}

/// The same DAG and durations run by Sortie and by make, beside the computed schedules.
pub async fn makespan_run(
    stage: &mut Stage,
    plan: &PhasePlan,
    features: usize,
) -> anyhow::Result<MakespanResult> {
    let shape = plan.shape_for(features, plan.shape.durations, 0);
    let mission = SyntheticMission::generate(&format!("bench-timed-{features}"), &shape);
    let settings = plan.settings(plan.workers);
    let baselines = Baselines::compute(&mission, &plan_of(&mission, settings)?, plan.workers);
    eprintln!(
        "running {features} features of {} on {} workers (lower bound {:.1} s)",
        shape.durations,
        plan.workers,
        baselines.lower_bound_ms / 1000.0
    );
    let limits = Limits {
        limit: plan.limit,
        time_box: None,
    };
    let measured = run_missions(stage, vec![(mission.clone(), settings)], limits).await?;
    let overheads = overheads_of(&measured, plan.workers);
    let (_, timeline) = &measured.timelines[0];
    let sortie_ms = timeline
        .makespan_ms()
        .context("the mission's start or end is missing from its events")?;
    let make_ms = if plan.make {
        eprintln!("running the same DAG with make -j{}", plan.workers);
        let dir = stage.work_dir().join(format!("make-timed-{features}"));
        Some(run_make(&mission, &dir, plan.workers).await?.as_secs_f64() * 1000.0)
    } else {
        None
    };
    let extra: Vec<f64> = mission
        .features
        .iter()
        .zip(&timeline.features)
        .filter_map(|(feature, times)| {
            let busy = (times.worker_finished? - times.worker_started?).num_microseconds()? as f64
                / 1000.0;
            Some(busy - feature.duration_ms as f64)
        })
        .collect();
    Ok(MakespanResult {
        features,
        milestones: mission.milestones,
        ratio_sortie: baselines.ratio(sortie_ms),
        ratio_scheduler: baselines.ratio(baselines.scheduler_ms as f64),
        ratio_make: make_ms.map(|ms| baselines.ratio(ms)),
        ratio_waves: baselines.ratio(baselines.waves_ms as f64),
        ratio_serial: baselines.ratio(baselines.serial_ms as f64),
        ratio_milestone_bound: baselines.milestone_bound_ms / baselines.lower_bound_ms,
        worker_extra_ms: Percentiles::of(&extra),
        overhead: OverheadSummary::of(&overheads),
        costs: Costs::of(&measured),
        sortie_ms,
        make_ms,
        baselines,
    })
}

/// How the scale run is laid out.
#[derive(Clone, Copy, Debug)]
pub struct ScaleLayout {
    pub features: usize,
    pub missions: usize,
    pub slots: usize,
    pub durations: Durations,
    /// Measure for this long, all missions still in flight, rather than to their end.
    pub time_box: Option<Duration>,
}

impl ScaleLayout {
    /// Each mission's cap, so that together they use about 80 % of the slots.
    pub fn cap_per_mission(&self) -> usize {
        ((self.slots as f64 * 0.8) / self.missions.max(1) as f64)
            .floor()
            .max(1.0) as usize
    }
}

/// Many missions at once, each capped so that the workers are about 80 % busy.
pub async fn scale_run(
    stage: &mut Stage,
    plan: &PhasePlan,
    layout: ScaleLayout,
) -> anyhow::Result<ScaleResult> {
    let cap = layout.cap_per_mission();
    let per_mission = layout.features.div_ceil(layout.missions.max(1));
    let settings = plan.settings(cap);
    let mut missions = Vec::with_capacity(layout.missions);
    for index in 0..layout.missions.max(1) {
        let shape = plan.shape_for(per_mission, layout.durations, 1_000 + index as u64);
        let mission = SyntheticMission::generate(&format!("bench-scale-{index}"), &shape);
        plan_of(&mission, settings)?;
        missions.push((mission, settings));
    }
    eprintln!(
        "running {} missions of {per_mission} features at once on {} slots, {cap} per mission",
        missions.len(),
        layout.slots
    );
    let limits = Limits {
        limit: plan.limit,
        time_box: layout.time_box,
    };
    let measured = run_missions(stage, missions, limits).await?;
    let overheads = overheads_of(&measured, cap);
    let busy_ms: f64 = overheads
        .iter()
        .flat_map(|overheads| overheads.worker_busy.iter())
        .sum();
    let costs = Costs::of(&measured);
    Ok(ScaleResult {
        missions: layout.missions,
        features: measured.features,
        slots: layout.slots,
        cap_per_mission: cap,
        utilisation: busy_ms / 1000.0 / (layout.slots as f64 * measured.wall_seconds),
        overhead: OverheadSummary::of(&overheads),
        orchestrator_cpu_seconds_per_1000: measured.orchestrator_cpu_seconds * 1000.0
            / measured.features.max(1) as f64,
        costs,
    })
}
