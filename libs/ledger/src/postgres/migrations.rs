//! Schema migrations, run at start-up under an advisory lock so that services starting
//! together never race each other.

use tokio_postgres::Client;
use tracing::info;

use super::sql_error;
use crate::error::{LedgerError, LedgerResult};

struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "mission_ledger",
        sql: include_str!("../../migrations/0001_mission_ledger.sql"),
    },
    Migration {
        version: 2,
        name: "mission_approval",
        sql: include_str!("../../migrations/0002_mission_approval.sql"),
    },
];

/// The advisory lock key every Sortie service takes while migrating ("sortie" in ASCII).
const MIGRATION_LOCK: i64 = 0x736f_7274_6965;

/// The newest schema version this build knows.
pub(crate) fn latest_version() -> i32 {
    MIGRATIONS.last().map_or(0, |migration| migration.version)
}

pub(crate) async fn migrate(client: &mut Client) -> LedgerResult<()> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(sql_error)?;
    let outcome = migrate_locked(client).await;
    // Unlock even when migrating failed; the session ending would release it too.
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(sql_error);
    outcome.and(unlocked.map(|_| ()))
}

async fn migrate_locked(client: &mut Client) -> LedgerResult<()> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    integer PRIMARY KEY,
                 name       text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now()
             )",
        )
        .await
        .map_err(sql_error)?;
    let applied: i32 = client
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .await
        .map_err(sql_error)?
        .get(0);
    if applied > latest_version() {
        return Err(LedgerError::Corrupt(format!(
            "the ledger's schema is at version {applied}, newer than this build's {}; run a newer Sortie",
            latest_version()
        )));
    }
    for migration in MIGRATIONS
        .iter()
        .filter(|migration| migration.version > applied)
    {
        let transaction = client.transaction().await.map_err(sql_error)?;
        transaction
            .batch_execute(migration.sql)
            .await
            .map_err(sql_error)?;
        transaction
            .execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                &[&migration.version, &migration.name],
            )
            .await
            .map_err(sql_error)?;
        transaction.commit().await.map_err(sql_error)?;
        info!(
            version = migration.version,
            name = migration.name,
            "ledger migrated"
        );
    }
    Ok(())
}
