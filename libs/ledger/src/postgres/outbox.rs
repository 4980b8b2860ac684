//! Draining the outbox to the bus.

use std::collections::BTreeMap;

use sortie_model::MissionId;
use sortie_model::messages::Topic;
use tokio_postgres::Client;

use super::sql_error;
use crate::error::{LedgerError, LedgerResult};
use crate::outbox::{OutboxRow, OutboxSink, OutgoingMessage};

/// Lock a batch of unsent rows (skipping rows another relay holds), hand them to the sink,
/// and mark them sent in the same transaction. If the process dies after the sink took them
/// but before the commit, the rows stay unsent and are published again with the same
/// dedupe ids.
pub(super) async fn drain(
    client: &mut Client,
    limit: i64,
    sink: &dyn OutboxSink,
) -> LedgerResult<usize> {
    let transaction = client.transaction().await.map_err(sql_error)?;
    let rows = transaction
        .query(
            "SELECT id, mission_id, topic, msg_id, payload, headers FROM outbox
             WHERE sent_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
            &[&limit],
        )
        .await
        .map_err(sql_error)?;
    if rows.is_empty() {
        transaction.commit().await.map_err(sql_error)?;
        return Ok(0);
    }
    let batch = rows
        .iter()
        .map(|row| {
            let topic: String = row.get("topic");
            let topic: Topic = topic.parse().map_err(|error| {
                LedgerError::Corrupt(format!("outbox row {}: {error}", row.get::<_, i64>("id")))
            })?;
            let headers: BTreeMap<String, String> = serde_json::from_value(row.get("headers"))
                .map_err(|error| LedgerError::Corrupt(format!("outbox headers: {error}")))?;
            Ok(OutboxRow {
                id: row.get("id"),
                mission: row
                    .get::<_, Option<uuid::Uuid>>("mission_id")
                    .map(MissionId),
                message: OutgoingMessage {
                    topic,
                    msg_id: row.get("msg_id"),
                    payload: row.get("payload"),
                    headers,
                },
            })
        })
        .collect::<LedgerResult<Vec<_>>>()?;
    sink.publish(&batch)
        .await
        .map_err(|error| LedgerError::Unavailable(error.to_string()))?;
    let ids: Vec<i64> = batch.iter().map(|row| row.id).collect();
    transaction
        .execute(
            "UPDATE outbox SET sent_at = now() WHERE id = ANY($1)",
            &[&ids],
        )
        .await
        .map_err(sql_error)?;
    transaction.commit().await.map_err(sql_error)?;
    Ok(batch.len())
}
