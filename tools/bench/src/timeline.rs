//! What happened to each feature, read from the ledger's event log (and the workers' own
//! log lines), and the overhead samples drawn from it.
//!
//! A feature is ready at the later of its preconditions' `done` and its milestone's
//! activation. A dispatch also needs a free slot: the bench pairs dispatches with the
//! moments slots were freed (the mission's start gives one per worker, every feature
//! leaving flight frees one), first freed first taken, so that time spent waiting for a
//! busy worker is not counted as overhead. A dispatch is eligible at the later of its
//! readiness and its slot; whichever came later is what triggered it.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Utc};
use serde_json::Value;
use sortie_model::api::EventView;

use crate::generate::SyntheticMission;

pub type Time = DateTime<Utc>;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct FeatureTimes {
    /// The first dispatch.
    pub dispatched: Option<Time>,
    /// The last time the ledger saw the attempt start.
    pub running: Option<Time>,
    pub done: Option<Time>,
    pub dispatches: usize,
    /// From the worker's own log: when it took the task and when it sent its result.
    pub worker_started: Option<Time>,
    pub worker_finished: Option<Time>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum SlotEvent {
    Take { feature: usize, at: Time },
    Free { feature: usize, at: Time },
}

/// One mission's run, as its events tell it.
#[derive(Clone, Debug, Default)]
pub struct Timeline {
    pub features: Vec<FeatureTimes>,
    pub milestone_active: Vec<Option<Time>>,
    pub mission_started: Option<Time>,
    pub mission_ended: Option<Time>,
    /// The mission's last state.
    pub mission_state: Option<String>,
    /// Distinct event times: every ledger transaction that changed state stamps its
    /// events with its own start time, so this counts the state-changing transactions.
    pub state_changes: usize,
    slot_events: Vec<SlotEvent>,
}

/// Overhead samples, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overheads {
    /// Eligible (ready, with a free slot) to the ledger's `running`.
    pub ready_to_start: Vec<f64>,
    /// Eligible to `dispatched`: the driver.
    pub ready_to_dispatch: Vec<f64>,
    /// `dispatched` to `running`: the relay, the bus, the worker taking it, its report.
    pub dispatch_to_running: Vec<f64>,
    /// Eligible to the worker's own "attempt started".
    pub ready_to_worker_start: Vec<f64>,
    /// A worker's result to the dispatch it triggered (by freeing its slot, or by being
    /// the last precondition of the feature dispatched).
    pub result_to_dispatch: Vec<f64>,
    /// A worker's result to the ledger's `done`: the report consumer and the merge queue.
    pub result_to_done: Vec<f64>,
    /// `done` to the dispatch it triggered: the driver.
    pub done_to_dispatch: Vec<f64>,
    /// The last `done` of a milestone to the next milestone's activation.
    pub milestone_handover: Vec<f64>,
    /// The worker's own time per feature: its agent, git, and its reports.
    pub worker_busy: Vec<f64>,
    /// Features dispatched more than once (left out of the samples above).
    pub retried: usize,
}

fn millis(from: Time, to: Time) -> f64 {
    (to - from).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

impl Timeline {
    pub fn from_events(mission: &SyntheticMission, events: &[EventView]) -> Self {
        let position_of: HashMap<&str, usize> = mission
            .features
            .iter()
            .enumerate()
            .map(|(position, feature)| (feature.id.as_str(), position))
            .collect();
        let milestone_of: HashMap<String, usize> = (0..mission.milestones)
            .map(|position| (crate::generate::milestone_id(position), position))
            .collect();
        let mut timeline = Timeline {
            features: vec![FeatureTimes::default(); mission.features.len()],
            milestone_active: vec![None; mission.milestones],
            ..Timeline::default()
        };
        let mut distinct_times = std::collections::HashSet::new();
        for event in events {
            let data = &event.data;
            match event.kind.as_str() {
                "mission_state" => {
                    let to = text(&data["to"]);
                    if to == "running" && timeline.mission_started.is_none() {
                        timeline.mission_started = Some(event.at);
                    }
                    if matches!(to, "completed" | "failed" | "cancelled" | "blocked") {
                        timeline.mission_ended = Some(event.at);
                    }
                    timeline.mission_state = Some(to.to_owned());
                    distinct_times.insert(event.at);
                }
                "milestone_state" => {
                    if text(&data["to"]) == "active"
                        && let Some(&position) = milestone_of.get(text(&data["milestone"]))
                    {
                        timeline.milestone_active[position].get_or_insert(event.at);
                    }
                    distinct_times.insert(event.at);
                }
                "feature_state" => {
                    distinct_times.insert(event.at);
                    let Some(&position) = position_of.get(text(&data["feature"])) else {
                        continue;
                    };
                    let (from, to) = (text(&data["from"]), text(&data["to"]));
                    let times = &mut timeline.features[position];
                    match to {
                        "dispatched" => {
                            times.dispatches += 1;
                            times.dispatched.get_or_insert(event.at);
                            timeline.slot_events.push(SlotEvent::Take {
                                feature: position,
                                at: event.at,
                            });
                        }
                        "running" => times.running = Some(event.at),
                        "done" => times.done = Some(event.at),
                        _ => {}
                    }
                    let was_in_flight = matches!(from, "dispatched" | "running");
                    if was_in_flight && to != "running" {
                        timeline.slot_events.push(SlotEvent::Free {
                            feature: position,
                            at: event.at,
                        });
                    }
                }
                _ => {
                    distinct_times.insert(event.at);
                }
            }
        }
        timeline.state_changes = distinct_times.len();
        timeline
    }

    /// Attach the workers' own times, by feature id.
    pub fn attach_worker_times(&mut self, mission: &SyntheticMission, times: &WorkerTimes) {
        for (feature, recorded) in mission.features.iter().zip(&mut self.features) {
            if let Some((started, finished)) = times.get(&feature.id) {
                recorded.worker_started = *started;
                recorded.worker_finished = *finished;
            }
        }
    }

    pub fn features_done(&self) -> usize {
        self.features
            .iter()
            .filter(|times| times.done.is_some())
            .count()
    }

    /// From the mission's start to its end, in milliseconds.
    pub fn makespan_ms(&self) -> Option<f64> {
        Some(millis(self.mission_started?, self.mission_ended?))
    }

    /// Features done per second in the middle of the run (from the 10th to the 90th
    /// percentile of `done` times), where the workers are busiest.
    pub fn steady_throughput(&self) -> Option<f64> {
        let mut done: Vec<Time> = self
            .features
            .iter()
            .filter_map(|times| times.done)
            .collect();
        done.sort_unstable();
        if done.len() < 10 {
            return None;
        }
        let first = done.len() / 10;
        let last = done.len() - 1 - done.len() / 10;
        let seconds = millis(done[first], done[last]) / 1000.0;
        (seconds > 0.0).then(|| (last - first) as f64 / seconds)
    }

    /// When the feature was ready, and whether a precondition (by position) made it so.
    fn ready(&self, mission: &SyntheticMission, position: usize) -> Option<(Time, Option<usize>)> {
        let feature = &mission.features[position];
        let mut ready = (self.milestone_active[feature.milestone]?, None);
        for &precondition in &feature.preconditions {
            let done = self.features[precondition].done?;
            if done > ready.0 {
                ready = (done, Some(precondition));
            }
        }
        Some(ready)
    }

    /// When a feature's worker reported its result: the worker's own time when its log
    /// had it, else the ledger's `done`.
    fn result_time(&self, position: usize) -> Option<Time> {
        let times = &self.features[position];
        times.worker_finished.or(times.done)
    }

    pub fn overheads(&self, mission: &SyntheticMission, slots: usize) -> Overheads {
        let mut overheads = Overheads::default();
        let Some(start) = self
            .mission_started
            .or_else(|| self.milestone_active.first().copied().flatten())
        else {
            return overheads;
        };
        let mut free_slots: VecDeque<(Time, Option<usize>)> =
            (0..slots.max(1)).map(|_| (start, None)).collect();
        for event in &self.slot_events {
            let (position, dispatched) = match *event {
                SlotEvent::Free { feature, at } => {
                    free_slots.push_back((at, Some(feature)));
                    continue;
                }
                SlotEvent::Take { feature, at } => (feature, at),
            };
            let (slot_time, freed_by) = free_slots.pop_front().unwrap_or((dispatched, None));
            let times = &self.features[position];
            if times.dispatches != 1 {
                continue;
            }
            let Some((ready_time, made_ready_by)) = self.ready(mission, position) else {
                continue;
            };
            let (eligible, trigger) = if slot_time > ready_time {
                (slot_time, freed_by)
            } else {
                (ready_time, made_ready_by)
            };
            overheads
                .ready_to_dispatch
                .push(millis(eligible, dispatched));
            if let Some(running) = times.running {
                overheads
                    .dispatch_to_running
                    .push(millis(dispatched, running));
                overheads.ready_to_start.push(millis(eligible, running));
            }
            if let Some(worker_started) = times.worker_started {
                overheads
                    .ready_to_worker_start
                    .push(millis(eligible, worker_started));
            }
            if let Some(trigger) = trigger {
                if let Some(result) = self.result_time(trigger) {
                    overheads
                        .result_to_dispatch
                        .push(millis(result, dispatched));
                }
                if let Some(done) = self.features[trigger].done {
                    overheads.done_to_dispatch.push(millis(done, dispatched));
                }
            }
        }
        for times in &self.features {
            if times.dispatches > 1 {
                overheads.retried += 1;
            }
            if let (Some(finished), Some(done)) = (times.worker_finished, times.done)
                && times.dispatches == 1
            {
                overheads.result_to_done.push(millis(finished, done));
            }
            if let (Some(started), Some(finished)) = (times.worker_started, times.worker_finished) {
                overheads.worker_busy.push(millis(started, finished));
            }
        }
        let mut last_done = vec![None::<Time>; mission.milestones];
        for (feature, times) in mission.features.iter().zip(&self.features) {
            if let Some(done) = times.done {
                let slot = &mut last_done[feature.milestone];
                *slot = Some(slot.map_or(done, |current: Time| current.max(done)));
            }
        }
        for milestone in 1..mission.milestones {
            if let (Some(previous), Some(active)) =
                (last_done[milestone - 1], self.milestone_active[milestone])
            {
                overheads.milestone_handover.push(millis(previous, active));
            }
        }
        overheads
    }
}

/// Each feature's (started, finished) times from the workers' logs, by feature id.
pub type WorkerTimes = HashMap<String, (Option<Time>, Option<Time>)>;

/// Read the workers' JSON log lines of one mission: "attempt started" and "attempt
/// finished", in the span of the attempt that names the mission and the feature. The last
/// attempt of a feature wins.
pub fn read_worker_log(log: &str, mission: &str, times: &mut WorkerTimes) {
    for line in log.lines() {
        let started = line.contains("\"attempt started\"");
        if !(started || line.contains("\"attempt finished\"")) || !line.contains(mission) {
            continue;
        }
        let Ok(record) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let span = &record["span"];
        if text(&span["mission"]) != mission {
            continue;
        }
        let Ok(at) = text(&record["timestamp"]).parse::<Time>() else {
            continue;
        };
        let entry = times.entry(text(&span["feature"]).to_owned()).or_default();
        if started {
            entry.0 = Some(at);
            entry.1 = None;
        } else {
            entry.1 = Some(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{SyntheticFeature, feature_id};
    use serde_json::json;

    fn at(millis: i64) -> Time {
        DateTime::from_timestamp_millis(1_700_000_000_000 + millis).unwrap()
    }

    fn event(seq: i64, millis: i64, kind: &str, data: Value) -> EventView {
        EventView {
            seq,
            at: at(millis),
            kind: kind.to_owned(),
            actor: "test".to_owned(),
            data,
        }
    }

    fn feature_event(seq: i64, millis: i64, feature: usize, from: &str, to: &str) -> EventView {
        event(
            seq,
            millis,
            "feature_state",
            json!({ "feature": feature_id(feature), "from": from, "to": to }),
        )
    }

    /// Feature 1 waits on feature 0; feature 2 is alone; one slot.
    fn chain() -> SyntheticMission {
        let feature = |position, preconditions: Vec<usize>| SyntheticFeature {
            id: feature_id(position),
            milestone: 0,
            preconditions,
            duration_ms: 0,
            shared: None,
        };
        SyntheticMission {
            name: "chain".to_owned(),
            milestones: 1,
            features: vec![feature(0, vec![]), feature(1, vec![0]), feature(2, vec![])],
        }
    }

    fn chain_events() -> Vec<EventView> {
        vec![
            event(
                1,
                0,
                "mission_state",
                json!({ "from": "approved", "to": "running" }),
            ),
            event(
                2,
                10,
                "milestone_state",
                json!({ "milestone": "m000", "from": "pending", "to": "active" }),
            ),
            feature_event(3, 10, 0, "pending", "dispatched"),
            feature_event(4, 30, 0, "dispatched", "running"),
            feature_event(5, 100, 0, "running", "done"),
            // Feature 2 was ready from the start but waited for the only slot.
            feature_event(6, 120, 2, "pending", "dispatched"),
            feature_event(7, 125, 2, "dispatched", "running"),
            feature_event(8, 200, 2, "running", "done"),
            feature_event(9, 250, 1, "pending", "dispatched"),
            feature_event(10, 260, 1, "dispatched", "running"),
            feature_event(11, 300, 1, "running", "done"),
            event(
                12,
                310,
                "mission_state",
                json!({ "from": "running", "to": "completed" }),
            ),
        ]
    }

    #[test]
    fn the_timeline_follows_the_events() {
        let mission = chain();
        let timeline = Timeline::from_events(&mission, &chain_events());
        assert_eq!(timeline.makespan_ms(), Some(310.0));
        assert_eq!(timeline.mission_state.as_deref(), Some("completed"));
        assert_eq!(timeline.features[1].dispatched, Some(at(250)));
        assert_eq!(timeline.features[1].done, Some(at(300)));
        // Times 0, 10, 30, 100, 120, 125, 200, 250, 260, 300, 310.
        assert_eq!(timeline.state_changes, 11);
    }

    #[test]
    fn overheads_leave_out_the_wait_for_a_slot() {
        let mission = chain();
        let mut timeline = Timeline::from_events(&mission, &chain_events());
        let mut worker = WorkerTimes::new();
        worker.insert(feature_id(0), (Some(at(20)), Some(at(90))));
        worker.insert(feature_id(2), (Some(at(124)), Some(at(190))));
        timeline.attach_worker_times(&mission, &worker);
        let overheads = timeline.overheads(&mission, 1);
        // Feature 0: eligible at 10 (activation), dispatched at 10, running at 30.
        // Feature 2: ready at 10, its slot freed at 100 by feature 0: eligible at 100.
        // Feature 1: ready at 100 (feature 0 done), its slot freed at 200: eligible 200.
        assert_eq!(overheads.ready_to_dispatch, vec![0.0, 20.0, 50.0]);
        assert_eq!(overheads.dispatch_to_running, vec![20.0, 5.0, 10.0]);
        assert_eq!(overheads.ready_to_start, vec![20.0, 25.0, 60.0]);
        assert_eq!(overheads.ready_to_worker_start, vec![10.0, 24.0]);
        // Feature 2 was triggered by feature 0's result (90, worker time); feature 1 by
        // feature 2's slot (result at 190).
        assert_eq!(overheads.result_to_dispatch, vec![30.0, 60.0]);
        assert_eq!(overheads.done_to_dispatch, vec![20.0, 50.0]);
        assert_eq!(overheads.result_to_done, vec![10.0, 10.0]);
        assert_eq!(overheads.worker_busy, vec![70.0, 66.0]);
        assert_eq!(overheads.retried, 0);
    }

    #[test]
    fn worker_log_lines_give_start_and_finish() {
        let mission = "0193";
        let lines = [
            r#"{"timestamp":"2026-01-01T00:00:01.500000Z","level":"INFO","fields":{"message":"attempt started"},"span":{"feature":"f00001","mission":"0193","name":"attempt"}}"#,
            r#"{"timestamp":"2026-01-01T00:00:02.250000Z","level":"INFO","fields":{"message":"attempt finished"},"span":{"feature":"f00001","mission":"0193","name":"attempt"}}"#,
            r#"{"timestamp":"2026-01-01T00:00:03Z","level":"INFO","fields":{"message":"attempt started"},"span":{"feature":"f00002","mission":"other0193x","name":"attempt"}}"#,
            "not json at all \"attempt started\" 0193",
        ];
        let mut times = WorkerTimes::new();
        read_worker_log(&lines.join("\n"), mission, &mut times);
        assert_eq!(times.len(), 1);
        let (started, finished) = times["f00001"];
        assert_eq!(
            millis(started.unwrap(), finished.unwrap()),
            750.0,
            "from the log's own timestamps"
        );
    }

    #[test]
    fn steady_throughput_uses_the_middle_of_the_run() {
        let timeline = Timeline {
            features: (0..20)
                .map(|second| FeatureTimes {
                    done: Some(at(second * 1000)),
                    ..FeatureTimes::default()
                })
                .collect(),
            ..Timeline::default()
        };
        // From the 3rd done (2 s) to the 18th (17 s): 15 features in 15 s.
        assert_eq!(timeline.steady_throughput(), Some(1.0));
    }
}
