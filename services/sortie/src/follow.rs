//! Following a mission to its end, as lines a person reads.

use std::time::{Duration, Instant};

use serde_json::Value;
use sortie_model::MissionId;
use sortie_model::api::{EventView, MissionStatus};
use sortie_model::state::MissionState;

use crate::client::{Client, ClientError};

/// How a followed mission ended.
#[derive(Debug)]
pub struct Followed {
    pub status: MissionStatus,
    pub wall_time: Duration,
    /// The most features that were running at the same moment.
    pub max_parallel_features: usize,
}

/// Where a mission's run stops being followed: its end, or waiting for a person.
pub fn is_settled(state: MissionState) -> bool {
    matches!(
        state,
        MissionState::Completed
            | MissionState::Failed
            | MissionState::Cancelled
            | MissionState::Blocked
    )
}

/// Poll the mission's events until it settles, handing each event's line to `print`.
pub async fn follow(
    client: &Client,
    id: MissionId,
    poll: Duration,
    limit: Duration,
    mut print: impl FnMut(&str),
) -> Result<Followed, ClientError> {
    let started = Instant::now();
    let mut after = 0;
    let mut running = std::collections::BTreeSet::new();
    let mut max_parallel_features = 0;
    loop {
        let events = client.events(id, after).await?;
        for event in &events {
            after = event.seq;
            track_parallelism(event, &mut running, &mut max_parallel_features);
            if let Some(line) = describe(event) {
                print(&format!(
                    "[{:>6.1}s] {line}",
                    started.elapsed().as_secs_f64()
                ));
            }
        }
        if events.is_empty() {
            let status = client.mission(id).await?;
            if is_settled(status.mission.state) {
                // Read what was written between the last poll and the state change.
                let late = client.events(id, after).await?;
                if late.is_empty() {
                    return Ok(Followed {
                        status,
                        wall_time: started.elapsed(),
                        max_parallel_features,
                    });
                }
                continue;
            }
            if started.elapsed() > limit {
                return Err(ClientError::Unexpected(format!(
                    "mission {id} did not settle within {}s",
                    limit.as_secs()
                )));
            }
            tokio::time::sleep(poll).await;
        }
    }
}

fn track_parallelism(
    event: &EventView,
    running: &mut std::collections::BTreeSet<String>,
    max: &mut usize,
) {
    if event.kind != "feature_state" {
        return;
    }
    let feature = text(&event.data["feature"]);
    if event.data["to"] == "running" {
        running.insert(feature);
        *max = (*max).max(running.len());
    } else {
        running.remove(&feature);
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn target(value: &Value) -> String {
    match value["kind"].as_str() {
        Some("feature") => text(&value["feature"]),
        Some("validation") => format!(
            "validation of {} in {}",
            text(&value["milestone"]),
            text(&value["repository"])
        ),
        _ => text(value),
    }
}

/// One line for an event, or none for the noisy ones.
pub fn describe(event: &EventView) -> Option<String> {
    let data = &event.data;
    let line = match event.kind.as_str() {
        "mission_submitted" => format!(
            "mission {} submitted: {} milestones, {} features, {} assertions",
            text(&data["name"]),
            data["milestones"],
            data["features"],
            data["assertions"]
        ),
        "mission_state" => format!(
            "mission {} -> {}: {}",
            text(&data["from"]),
            text(&data["to"]),
            text(&data["reason"])
        ),
        "milestone_state" => format!(
            "milestone {} {} -> {}: {}",
            text(&data["milestone"]),
            text(&data["from"]),
            text(&data["to"]),
            text(&data["reason"])
        ),
        "feature_state" => format!(
            "  feature {} -> {} ({})",
            text(&data["feature"]),
            text(&data["to"]),
            text(&data["reason"])
        ),
        "attempt_dispatched" => format!(
            "  attempt {} of {} dispatched",
            data["epoch"],
            target(&data["target"])
        ),
        "attempt_state" => {
            let to = text(&data["to"]);
            if to == "running" {
                return None;
            }
            format!(
                "  attempt {} of {} {}: {}",
                data["epoch"],
                target(&data["target"]),
                to,
                text(&data["reason"])
            )
        }
        "finding_recorded" => format!(
            "  finding on {}: {}",
            text(&data["milestone"]),
            text(&data["summary"])
        ),
        "validation_report" => format!(
            "  validation of {} in {} at {}: {}",
            text(&data["milestone"]),
            text(&data["repository"]),
            text(&data["commit"]).chars().take(10).collect::<String>(),
            if data["proven"] == true {
                "every check proven"
            } else {
                "not proven"
            }
        ),
        "plan_amended" => format!(
            "plan version {}: {} (added {})",
            data["version"],
            text(&data["reason"]),
            data["added_features"]
        ),
        "handoff_recorded" => return None,
        other => format!("{other}: {data}"),
    };
    Some(line)
}
