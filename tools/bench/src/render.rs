//! The report as tables people read.

use crate::results::{Costs, OverheadSummary, Report, SizeResult};
use crate::stats::Percentiles;
use crate::table::{Table, figure, thousands};

fn triple(percentiles: &Percentiles) -> String {
    if percentiles.count == 0 {
        return "-".to_owned();
    }
    format!(
        "{} / {} / {}",
        figure(percentiles.p50),
        figure(percentiles.p99),
        figure(percentiles.max)
    )
}

fn seconds(ms: f64) -> String {
    figure(ms / 1000.0)
}

type OverheadRow = (&'static str, fn(&OverheadSummary) -> &Percentiles);

const OVERHEAD_ROWS: [OverheadRow; 9] = [
    ("ready -> running (ledger)", |o| &o.ready_to_start),
    ("  ready -> dispatched (driver)", |o| &o.ready_to_dispatch),
    ("  dispatched -> running (relay, bus, worker)", |o| {
        &o.dispatch_to_running
    }),
    ("ready -> attempt started (worker log)", |o| {
        &o.ready_to_worker_start
    }),
    ("worker result -> next dispatch", |o| &o.result_to_dispatch),
    ("  result -> done (reports, merge queue)", |o| {
        &o.result_to_done
    }),
    ("  done -> next dispatch (driver)", |o| &o.done_to_dispatch),
    ("milestone hand-over (last done -> active)", |o| {
        &o.milestone_handover
    }),
    ("worker time per feature (git, agent, reports)", |o| {
        &o.worker_busy
    }),
];

type CostRow = (&'static str, fn(&Costs) -> f64);

const COST_ROWS: [CostRow; 13] = [
    ("features/s at saturation (middle 80 %)", |c| {
        c.throughput_steady
    }),
    ("features/s over the whole run", |c| c.throughput_overall),
    ("ledger transactions / feature", |c| {
        c.transactions_per_feature
    }),
    ("  state-changing transactions / feature", |c| {
        c.state_changes_per_feature
    }),
    ("NATS messages / feature", |c| c.messages_per_feature),
    ("  task messages / feature", |c| {
        c.messages.tasks as f64 / c.features.max(1) as f64
    }),
    ("  report messages / feature", |c| {
        c.messages.reports as f64 / c.features.max(1) as f64
    }),
    ("orchestrator CPU ms / feature", |c| {
        c.orchestrator_cpu_ms_per_feature
    }),
    ("  its git commands (merge queue)", |c| {
        c.orchestrator_git_cpu_ms_per_feature
    }),
    ("workers CPU ms / feature (with git, agent)", |c| {
        c.workers_cpu_ms_per_feature
    }),
    ("postgres CPU ms / feature (bench database)", |c| {
        c.postgres_cpu_ms_per_feature
    }),
    ("nats-server CPU ms / feature (whole server)", |c| {
        c.nats_cpu_ms_per_feature
    }),
    ("orchestrator peak RSS (MiB)", |c| {
        c.orchestrator_peak_rss_mib
    }),
];

fn size_header(first: &str, sizes: &[SizeResult]) -> Vec<String> {
    std::iter::once(first.to_owned())
        .chain(sizes.iter().map(|size| {
            if size.costs.complete {
                format!("{} features", thousands(size.features))
            } else {
                format!(
                    "{} features ({} done in {:.0} s)",
                    thousands(size.features),
                    thousands(size.costs.features),
                    size.costs.wall_seconds
                )
            }
        }))
        .collect()
}

pub fn render(report: &Report) -> String {
    let machine = &report.machine;
    let settings = &report.settings;
    let mut text = format!(
        "sortie-bench: Sortie {} | {} cores ({}) | {} | PostgreSQL {} | NATS {} | {} | Linux {}\n\
         K = {} workers; DAG: {} preconditions per feature on average, window {}, {} features \
         per milestone, touches overlap {}; durations {}; seed {}; binaries {}\n\n",
        machine.sortie,
        machine.cores,
        machine.cpu,
        machine.rustc,
        machine.postgres,
        machine.nats,
        machine.make,
        machine.kernel,
        settings.workers,
        settings.density,
        settings.window,
        settings.features_per_milestone,
        settings.overlap,
        settings.durations,
        settings.seed,
        settings.binaries,
    );
    if !report.sizes.is_empty() {
        let mut overhead = Table::new(
            "Overhead per feature, no-op agent: p50 / p99 / max (ms)",
            size_header("", &report.sizes),
        );
        for (label, pick) in OVERHEAD_ROWS {
            let mut cells = vec![label.to_owned()];
            cells.extend(report.sizes.iter().map(|size| triple(pick(&size.overhead))));
            overhead.row(cells);
        }
        text.push_str(&overhead.render());
        text.push('\n');

        let mut costs = Table::new(
            "Throughput and cost, no-op agent",
            size_header("", &report.sizes),
        );
        for (label, pick) in COST_ROWS {
            let mut cells = vec![label.to_owned()];
            cells.extend(report.sizes.iter().map(|size| figure(pick(&size.costs))));
            costs.row(cells);
        }
        let mut make = vec![format!(
            "make -j{} targets/s (same DAG, no-op)",
            settings.workers
        )];
        make.extend(report.sizes.iter().map(|size| {
            size.make_noop_seconds.map_or("-".to_owned(), |seconds| {
                figure(size.features as f64 / seconds)
            })
        }));
        costs.row(make);
        text.push_str(&costs.render());
        text.push('\n');
    }
    if report.makespan.is_some() || !report.sizes.is_empty() {
        text.push_str(&quality_table(report).render());
        text.push('\n');
    }
    if let Some(scale) = &report.scale {
        let mut table = Table::new(
            format!(
                "Scale: {} features in {} missions at once, {} worker slots, {} per mission; \
                 {} done in {:.0} s{}",
                thousands(scale.costs.features_total),
                scale.missions,
                scale.slots,
                scale.cap_per_mission,
                thousands(scale.costs.features),
                scale.costs.wall_seconds,
                if scale.costs.complete {
                    ""
                } else {
                    " (time-boxed: the rest still in flight)"
                }
            ),
            vec!["".to_owned(), "value".to_owned()],
        );
        let rows = [
            (
                "worker utilisation (busy / slots x time)",
                format!("{:.0} %", scale.utilisation * 100.0),
            ),
            (
                "ready -> running p50 / p99 / max (ms)",
                triple(&scale.overhead.ready_to_start),
            ),
            (
                "ready -> dispatched p50 / p99 / max (ms)",
                triple(&scale.overhead.ready_to_dispatch),
            ),
            (
                "worker result -> next dispatch p50 / p99 / max (ms)",
                triple(&scale.overhead.result_to_dispatch),
            ),
            (
                "orchestrator peak RSS (MiB)",
                figure(scale.costs.orchestrator_peak_rss_mib),
            ),
            (
                "orchestrator CPU s / 1,000 features",
                figure(scale.orchestrator_cpu_seconds_per_1000),
            ),
            (
                "orchestrator CPU s in all",
                figure(scale.costs.orchestrator_cpu_seconds),
            ),
            (
                "postgres CPU ms / feature",
                figure(scale.costs.postgres_cpu_ms_per_feature),
            ),
            (
                "features/s over the whole run",
                figure(scale.costs.throughput_overall),
            ),
            (
                "ledger transactions / feature",
                figure(scale.costs.transactions_per_feature),
            ),
            (
                "NATS messages / feature",
                figure(scale.costs.messages_per_feature),
            ),
            ("wall time (s)", figure(scale.costs.wall_seconds)),
        ];
        for (label, value) in rows {
            table.row(vec![label.to_owned(), value]);
        }
        text.push_str(&table.render());
        text.push('\n');
    }
    if report.sizes.len() > 1 {
        let mut table = Table::new(
            "How it grows with the features (no-op runs)",
            size_header("", &report.sizes)
                .into_iter()
                .chain(["growth".to_owned()])
                .collect(),
        );
        for line in &report.growth {
            let mut cells = vec![line.figure.clone()];
            cells.extend(line.points.iter().map(|(_, value)| figure(*value)));
            cells.push(line.verdict.clone());
            table.row(cells);
        }
        text.push_str(&table.render());
    }
    text
}

/// Makespan over the lower bound: the real run and make where they ran, the computed
/// schedules for every size.
fn quality_table(report: &Report) -> Table {
    let mut header = vec![String::new()];
    let mut columns: Vec<Vec<String>> = Vec::new();
    let labels = [
        "lower bound max(critical path, work / K) (s)",
        "  critical path (s)",
        "  total work / K (s)",
        "bound with milestones in order / lower bound",
        "Sortie, real run",
        "Sortie's scheduler alone (simulated, no overhead)",
        "make -jK (real run)",
        "level-by-level waves",
        "serial (one at a time)",
    ];
    if let Some(makespan) = &report.makespan {
        let baselines = &makespan.baselines;
        header.push(format!("{} features, real", thousands(makespan.features)));
        columns.push(vec![
            seconds(baselines.lower_bound_ms),
            seconds(baselines.critical_path_ms as f64),
            seconds(baselines.total_work_ms as f64 / baselines.slots as f64),
            figure(makespan.ratio_milestone_bound),
            format!(
                "{} ({} s)",
                figure(makespan.ratio_sortie),
                seconds(makespan.sortie_ms)
            ),
            figure(makespan.ratio_scheduler),
            match (makespan.ratio_make, makespan.make_ms) {
                (Some(ratio), Some(ms)) => format!("{} ({} s)", figure(ratio), seconds(ms)),
                _ => "-".to_owned(),
            },
            figure(makespan.ratio_waves),
            figure(makespan.ratio_serial),
        ]);
    }
    for size in &report.sizes {
        let baselines = &size.simulated;
        header.push(format!("{} features, computed", thousands(size.features)));
        columns.push(vec![
            seconds(baselines.lower_bound_ms),
            seconds(baselines.critical_path_ms as f64),
            seconds(baselines.total_work_ms as f64 / baselines.slots as f64),
            figure(baselines.milestone_bound_ms / baselines.lower_bound_ms),
            "-".to_owned(),
            figure(baselines.ratio(baselines.scheduler_ms as f64)),
            "-".to_owned(),
            figure(baselines.ratio(baselines.waves_ms as f64)),
            figure(baselines.ratio(baselines.serial_ms as f64)),
        ]);
    }
    let mut table = Table::new(
        format!(
            "Scheduling quality: makespan / lower bound (durations {}, K = {})",
            report.settings.durations, report.settings.workers
        ),
        header,
    );
    for (row, label) in labels.iter().enumerate() {
        let mut cells = vec![(*label).to_owned()];
        cells.extend(columns.iter().map(|column| column[row].clone()));
        table.row(cells);
    }
    table
}
