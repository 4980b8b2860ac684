//! Reports to the orchestrator, each with a dedupe id derived from the attempt.

use sortie_bus::{Bus, BusError, Route};
use sortie_model::MissionId;
use sortie_model::messages::{Envelope, Topic};
use sortie_model::protocol::{Report, kind};

/// Publish a report and wait until the bus stored it. The same report sent twice (a
/// retry after a lost acknowledgement) carries the same id and is stored once.
pub(crate) async fn send(
    bus: &dyn Bus,
    mission: MissionId,
    msg_id: String,
    report: Report,
) -> Result<(), BusError> {
    let envelope = Envelope::new(msg_id.clone(), kind::REPORT, Some(mission), report);
    let payload = serde_json::to_vec(&envelope).expect("a report is always serialisable");
    let headers = sortie_telemetry::current_context_headers();
    bus.publish(
        Route::mission(Topic::AttemptReport, mission),
        &msg_id,
        payload.into(),
        &headers,
    )
    .await?;
    Ok(())
}
