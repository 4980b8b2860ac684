//! The ledger on Postgres (tokio-postgres with a deadpool pool).

mod apply;
mod migrations;
mod outbox;
mod reads;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use sortie_model::records::Usage;
use sortie_model::{AttemptId, MissionId};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use crate::Ledger;
use crate::error::{LedgerError, LedgerResult};
use crate::outbox::OutboxSink;
use crate::types::*;

/// How to reach the database.
#[derive(Clone, Debug)]
pub struct PostgresOptions {
    pub pool_size: usize,
    pub connect_timeout: Duration,
    /// Every statement is cancelled by the server after this long.
    pub statement_timeout: Duration,
    /// How long a caller waits for a free connection.
    pub pool_wait_timeout: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            pool_size: 8,
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
            pool_wait_timeout: Duration::from_secs(10),
        }
    }
}

/// The ledger on a Postgres database.
#[derive(Clone)]
pub struct PostgresLedger {
    pool: Pool,
}

impl std::fmt::Debug for PostgresLedger {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.pool.status();
        formatter
            .debug_struct("PostgresLedger")
            .field("pool_size", &status.size)
            .field("pool_available", &status.available)
            .finish()
    }
}

impl PostgresLedger {
    /// A ledger on the database at `url`. Nothing is connected until first use; call
    /// [`PostgresLedger::migrate`] at start-up, which also proves the database answers.
    pub fn connect(url: &str, options: &PostgresOptions) -> LedgerResult<Self> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|error| LedgerError::Invalid(format!("database url: {error}")))?;
        config.connect_timeout(options.connect_timeout);
        config.options(format!(
            "-c statement_timeout={}",
            options.statement_timeout.as_millis()
        ));
        config.application_name("sortie");
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.pool_wait_timeout))
            .create_timeout(Some(options.connect_timeout))
            .recycle_timeout(Some(options.connect_timeout))
            .build()
            .map_err(|error| LedgerError::Invalid(format!("database pool: {error}")))?;
        Ok(Self { pool })
    }

    /// Bring the schema up to this build's version, under an advisory lock.
    pub async fn migrate(&self) -> LedgerResult<()> {
        let mut client = self.client().await?;
        migrations::migrate(&mut client).await
    }

    /// Create the database `url` names when the server does not have it yet, connecting
    /// to the server's `postgres` database to do so. For a laptop's first run; a platform
    /// team creates the database itself and grants Sortie only what it needs.
    pub async fn create_database_if_missing(url: &str) -> LedgerResult<bool> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|error| LedgerError::Invalid(format!("database url: {error}")))?;
        let name = config
            .get_dbname()
            .ok_or_else(|| LedgerError::Invalid("database url: it names no database".to_owned()))?
            .to_owned();
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|character| character.is_ascii_alphanumeric() || character == '_');
        if !valid_name {
            return Err(LedgerError::Invalid(format!(
                "database url: Sortie creates only databases named with letters, digits and '_', not {name:?}"
            )));
        }
        let mut admin = config.clone();
        admin.dbname("postgres");
        admin.connect_timeout(std::time::Duration::from_secs(5));
        let (client, connection) = admin.connect(NoTls).await.map_err(sql_error)?;
        let driver = tokio::spawn(connection);
        let exists = client
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
            .await
            .map_err(sql_error)?
            .is_some();
        let created = if exists {
            false
        } else {
            match client
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .await
            {
                Ok(()) => true,
                // Another process created it meanwhile.
                Err(error) if error.code() == Some(&SqlState::DUPLICATE_DATABASE) => false,
                Err(error) => return Err(sql_error(error)),
            }
        };
        drop(client);
        let _ = driver.await;
        Ok(created)
    }

    /// The newest schema version this build knows.
    pub fn schema_version() -> i32 {
        migrations::latest_version()
    }

    async fn client(&self) -> LedgerResult<Object> {
        self.pool
            .get()
            .await
            .map_err(|error| LedgerError::Unavailable(error.to_string()))
    }
}

/// Map a database error to the ledger's error.
pub(crate) fn sql_error(error: tokio_postgres::Error) -> LedgerError {
    if let Some(database_error) = error.as_db_error() {
        let code = database_error.code();
        if *code == SqlState::UNIQUE_VIOLATION || *code == SqlState::T_R_SERIALIZATION_FAILURE {
            return LedgerError::Conflict(database_error.message().to_owned());
        }
        if *code == SqlState::QUERY_CANCELED {
            return LedgerError::Unavailable(format!(
                "statement cancelled: {}",
                database_error.message()
            ));
        }
        return LedgerError::Database(format!("{}: {}", code.code(), database_error.message()));
    }
    if error.is_closed() {
        return LedgerError::Unavailable("the database connection closed".to_owned());
    }
    LedgerError::Unavailable(error.to_string())
}

fn seconds(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

fn limit(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

#[async_trait]
impl Ledger for PostgresLedger {
    async fn now(&self) -> LedgerResult<DateTime<Utc>> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT now()", &[])
            .await
            .map_err(sql_error)?;
        Ok(row.get(0))
    }

    async fn create_mission(&self, submission: MissionSubmission) -> LedgerResult<MissionId> {
        let mut client = self.client().await?;
        apply::create_mission(&mut client, submission).await
    }

    async fn mission(&self, id: MissionId) -> LedgerResult<MissionRecord> {
        reads::mission(&**self.client().await?, id).await
    }

    async fn missions(&self, count: usize) -> LedgerResult<Vec<MissionRecord>> {
        reads::missions(&**self.client().await?, limit(count)).await
    }

    async fn plan(&self, id: MissionId, version: Option<i32>) -> LedgerResult<PlanVersion> {
        reads::plan(&**self.client().await?, id, version).await
    }

    async fn milestones(&self, id: MissionId) -> LedgerResult<Vec<MilestoneRecord>> {
        reads::milestones(&**self.client().await?, id).await
    }

    async fn features(&self, id: MissionId) -> LedgerResult<Vec<FeatureRecord>> {
        reads::features(&**self.client().await?, id).await
    }

    async fn attempts(&self, id: MissionId) -> LedgerResult<Vec<AttemptRecord>> {
        reads::attempts(&**self.client().await?, id).await
    }

    async fn attempt(&self, id: AttemptId) -> LedgerResult<AttemptRecord> {
        reads::attempt(&**self.client().await?, id).await
    }

    async fn handoffs(&self, id: MissionId) -> LedgerResult<Vec<HandoffRecord>> {
        reads::handoffs(&**self.client().await?, id).await
    }

    async fn findings(&self, id: MissionId) -> LedgerResult<Vec<FindingRecord>> {
        reads::findings(&**self.client().await?, id).await
    }

    async fn mission_usage(&self, ids: &[MissionId]) -> LedgerResult<HashMap<MissionId, Usage>> {
        reads::mission_usage(&**self.client().await?, ids).await
    }

    async fn apply(&self, change: Change) -> LedgerResult<Applied> {
        let mut client = self.client().await?;
        apply::apply(&mut client, change).await
    }

    async fn heartbeat(
        &self,
        fence: AttemptFence,
        actor: &Actor,
        lease: Duration,
    ) -> LedgerResult<DateTime<Utc>> {
        let client = self.client().await?;
        apply::heartbeat(&client, fence, actor, lease).await
    }

    async fn expired_attempts(&self, count: usize) -> LedgerResult<Vec<AttemptRecord>> {
        reads::expired_attempts(&**self.client().await?, limit(count)).await
    }

    async fn events(
        &self,
        id: MissionId,
        after_seq: i64,
        count: usize,
    ) -> LedgerResult<Vec<EventRecord>> {
        reads::events(&**self.client().await?, id, after_seq, limit(count)).await
    }

    async fn audit_log(
        &self,
        mission: Option<MissionId>,
        after_id: i64,
        count: usize,
    ) -> LedgerResult<Vec<AuditRecord>> {
        reads::audit_log(&**self.client().await?, mission, after_id, limit(count)).await
    }

    async fn drain_outbox(&self, count: usize, sink: &dyn OutboxSink) -> LedgerResult<usize> {
        let mut client = self.client().await?;
        outbox::drain(&mut client, limit(count), sink).await
    }

    async fn outbox_backlog(&self) -> LedgerResult<i64> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT count(*) FROM outbox WHERE sent_at IS NULL", &[])
            .await
            .map_err(sql_error)?;
        Ok(row.get(0))
    }

    async fn claim_missions(
        &self,
        replica: &str,
        lease: Duration,
        count: usize,
    ) -> LedgerResult<Vec<MissionLease>> {
        let client = self.client().await?;
        apply::claim_missions(&client, replica, seconds(lease), limit(count)).await
    }

    async fn release_mission(&self, fence: &OwnerFence, mission: MissionId) -> LedgerResult<()> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE missions SET owner = NULL, owner_expires_at = NULL
                 WHERE id = $1 AND owner = $2 AND owner_epoch = $3",
                &[&mission.0, &fence.replica, &fence.epoch],
            )
            .await
            .map_err(sql_error)?;
        Ok(())
    }
}
