//! One bench environment: a database and a bus prefix of its own on the machine's
//! Postgres and NATS, Sortie's real binaries started by `LocalCluster`, and the counters
//! the bench reads (transactions, stream sequences, processes).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use sortie_bus::{StreamKind, Subjects};
use sortie_cli::client::Client;
use sortie_cli::local::{LocalCluster, LocalOptions, Role};
use sortie_ledger::PostgresLedger;
use sortie_model::api::SubmitMission;
use tokio_postgres::NoTls;

#[derive(Clone, Debug)]
pub struct StageOptions {
    pub bin_dir: PathBuf,
    pub workers: usize,
    /// Features each worker process runs at once.
    pub worker_concurrency: usize,
    /// A server URL (any database); the bench makes a database of its own on it.
    pub postgres_url: String,
    pub nats_url: String,
    /// Leave the database, the streams and the work directory behind.
    pub keep: bool,
    pub extra_env: Vec<(String, String)>,
}

/// The stream sequences of the prefix's three streams: messages ever stored in each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Sequences {
    pub tasks: u64,
    pub reports: u64,
    pub events: u64,
}

impl Sequences {
    pub fn since(&self, earlier: &Sequences) -> Sequences {
        Sequences {
            tasks: self.tasks.saturating_sub(earlier.tasks),
            reports: self.reports.saturating_sub(earlier.reports),
            events: self.events.saturating_sub(earlier.events),
        }
    }

    pub fn total(&self) -> u64 {
        self.tasks + self.reports + self.events
    }
}

#[derive(Debug)]
pub struct Stage {
    pub cluster: LocalCluster,
    work: Option<tempfile::TempDir>,
    work_path: PathBuf,
    pub database: String,
    admin: tokio_postgres::Client,
    nats: async_nats::Client,
    jetstream: async_nats::jetstream::Context,
    subjects: Subjects,
    keep: bool,
    repositories: usize,
}

/// The URL with its database name replaced.
pub fn with_database(url: &str, database: &str) -> anyhow::Result<String> {
    let (without_query, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = without_query
        .find("://")
        .map(|index| index + 3)
        .context("the database URL has no scheme")?;
    let base = match without_query[authority_start..].find('/') {
        Some(slash) => &without_query[..authority_start + slash],
        None => without_query,
    };
    Ok(match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    })
}

async fn connect(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .with_context(|| format!("Postgres at {url} is not answering"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

impl Stage {
    pub async fn start(options: &StageOptions) -> anyhow::Result<Self> {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let database = format!("sortie_bench_{}", &unique[..12]);
        let database_url = with_database(&options.postgres_url, &database)?;
        PostgresLedger::create_database_if_missing(&database_url)
            .await
            .context("creating the bench database")?;
        let admin = connect(&with_database(&options.postgres_url, "postgres")?).await?;
        let prefix = format!("bench{}", &unique[..10]);
        let subjects = Subjects::new(&prefix)?;
        let nats = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .connect(&options.nats_url)
            .await
            .with_context(|| format!("NATS at {} is not answering", options.nats_url))?;
        let jetstream = async_nats::jetstream::new(nats.clone());
        let work = tempfile::Builder::new()
            .prefix("sortie-bench-")
            .tempdir_in(std::env::temp_dir())
            .context("making the work directory")?;
        let work_path = work.path().to_path_buf();
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut extra_env = vec![(
            "SORTIE__WORKER__CONCURRENCY".to_owned(),
            options.worker_concurrency.max(1).to_string(),
        )];
        extra_env.extend(options.extra_env.iter().cloned());
        let cluster = LocalCluster::start(LocalOptions {
            bin_dir: options.bin_dir.clone(),
            work_dir: work_path.clone(),
            http_port: port,
            orchestrators: 1,
            workers: options.workers,
            validators: 1,
            database_url,
            nats_url: options.nats_url.clone(),
            nats_prefix: prefix,
            extra_env,
        })
        .await
        .context("starting Sortie's services")?;
        Ok(Self {
            cluster,
            work: Some(work),
            work_path,
            database,
            admin,
            nats,
            jetstream,
            subjects,
            keep: options.keep,
            repositories: 0,
        })
    }

    pub fn client(&self) -> Client {
        self.cluster.client()
    }

    pub fn work_dir(&self) -> &Path {
        &self.work_path
    }

    /// Transactions committed in the bench database so far (Postgres's statistics,
    /// which backends report within about a second of going idle).
    pub async fn transactions(&self) -> anyhow::Result<i64> {
        let row = self
            .admin
            .query_one(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = $1",
                &[&self.database],
            )
            .await
            .context("reading pg_stat_database")?;
        Ok(row.get(0))
    }

    /// Transactions, once the backends have had time to report them.
    pub async fn settled_transactions(&self) -> anyhow::Result<i64> {
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        self.transactions().await
    }

    pub async fn sequences(&self) -> anyhow::Result<Sequences> {
        let sequence = |kind| {
            let name = self.subjects.stream(kind);
            let jetstream = self.jetstream.clone();
            async move {
                let mut stream = jetstream
                    .get_stream(&name)
                    .await
                    .with_context(|| format!("finding the stream {name}"))?;
                let info = stream
                    .info()
                    .await
                    .with_context(|| format!("reading {name}"))?;
                anyhow::Ok(info.state.last_sequence)
            }
        };
        Ok(Sequences {
            tasks: sequence(StreamKind::Tasks).await?,
            reports: sequence(StreamKind::Reports).await?,
            events: sequence(StreamKind::Events).await?,
        })
    }

    pub fn orchestrator_pid(&self) -> Option<u32> {
        self.cluster.process(Role::Orchestrator, 1)?.pid()
    }

    pub fn worker_pids(&self) -> Vec<u32> {
        self.cluster
            .processes()
            .iter()
            .filter(|process| process.role == Role::Worker)
            .filter_map(|process| process.pid())
            .collect()
    }

    pub fn worker_logs(&self) -> Vec<PathBuf> {
        self.cluster
            .processes()
            .iter()
            .filter(|process| process.role == Role::Worker)
            .map(|process| process.log.clone())
            .collect()
    }

    /// A fresh bare repository for one mission, and the submission that points the
    /// mission's repository at it.
    pub async fn submission(&mut self, mission_file: String) -> anyhow::Result<SubmitMission> {
        self.repositories += 1;
        let source = self.work_path.join("seed");
        tokio::fs::create_dir_all(&source).await?;
        tokio::fs::write(
            source.join("README.md"),
            "A repository for Sortie's synthetic benchmark missions.\n",
        )
        .await?;
        let repository = self
            .work_path
            .join(format!("repositories/bench-{}.git", self.repositories));
        sortie_git::seed_bare_repository(
            &sortie_git::GitConfig::default(),
            &source,
            &repository,
            "main",
            "Start of a benchmark repository",
        )
        .await
        .with_context(|| format!("creating {}", repository.display()))?;
        Ok(SubmitMission {
            mission_file,
            file_name: "bench.toml".to_owned(),
            repositories: BTreeMap::from([("bench".to_owned(), repository.display().to_string())]),
            tenant: None,
            team: None,
            submitted_by: Some("sortie-bench".to_owned()),
            launch: true,
            approve: true,
        })
    }

    /// Stop the services and remove what the run made, unless asked to keep it.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.cluster.stop(Duration::from_secs(20)).await;
        if self.keep {
            let kept = self.work.take().map(tempfile::TempDir::keep);
            eprintln!(
                "kept the database {}, the streams under prefix {} and {}",
                self.database,
                self.subjects.prefix(),
                kept.unwrap_or_default().display()
            );
            return Ok(());
        }
        for kind in StreamKind::ALL {
            let _ = self
                .jetstream
                .delete_stream(self.subjects.stream(kind))
                .await;
        }
        let dropped = self
            .admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.database
            ))
            .await;
        if let Err(error) = dropped {
            bail!(
                "could not drop the bench database {}: {error}",
                self.database
            );
        }
        Ok(())
    }

    pub fn nats_version(&self) -> String {
        self.nats.server_info().version
    }

    pub async fn postgres_version(&self) -> String {
        match self.admin.query_one("SHOW server_version", &[]).await {
            Ok(row) => row.get::<_, String>(0),
            Err(error) => format!("unknown ({error})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_get_the_bench_database() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "b1").unwrap(),
            "postgres://postgres@127.0.0.1:5432/b1"
        );
        assert_eq!(
            with_database("postgres://u@h/db?sslmode=disable", "b2").unwrap(),
            "postgres://u@h/b2?sslmode=disable"
        );
        assert!(with_database("no-scheme", "b3").is_err());
    }

    #[test]
    fn sequences_subtract() {
        let before = Sequences {
            tasks: 10,
            reports: 20,
            events: 0,
        };
        let after = Sequences {
            tasks: 110,
            reports: 320,
            events: 0,
        };
        assert_eq!(after.since(&before).total(), 400);
    }
}
