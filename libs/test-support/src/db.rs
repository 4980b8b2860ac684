//! A fresh Postgres database for each test, dropped when the test ends.

use anyhow::Context;
use tokio_postgres::NoTls;

/// The server tests use: `SORTIE_TEST_DATABASE_URL`, or the machine's local Postgres.
pub fn admin_url() -> String {
    std::env::var("SORTIE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database of its own for one test. Dropping it drops the database.
#[derive(Debug)]
pub struct TestDb {
    pub name: String,
    /// The URL of the test's own database.
    pub url: String,
    admin_url: String,
}

impl TestDb {
    /// Create a new, empty database. Fails, with the way to start Postgres, when the
    /// server does not answer: a test never quietly skips.
    pub async fn create() -> anyhow::Result<Self> {
        let admin_url = admin_url();
        let name = format!("sortie_test_{}", uuid::Uuid::new_v4().simple());
        let client = connect(&admin_url).await?;
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .with_context(|| format!("creating the test database {name}"))?;
        let url = database_url(&admin_url, &name)?;
        Ok(Self {
            name,
            url,
            admin_url,
        })
    }

    /// A client on the test's database, for checks the ledger's API does not offer.
    pub async fn client(&self) -> anyhow::Result<tokio_postgres::Client> {
        connect(&self.url).await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime; a thread of its own can block on its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let client = connect(&admin_url).await?;
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await?;
                anyhow::Ok(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}

/// Connect, and drive the connection on the current runtime.
pub async fn connect(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.with_context(|| {
        format!(
            "Postgres at {url} is not answering; start it with \
             `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` \
             or set SORTIE_TEST_DATABASE_URL"
        )
    })?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "test database connection ended");
        }
    });
    Ok(client)
}

/// The admin URL with its database name replaced.
fn database_url(admin_url: &str, database: &str) -> anyhow::Result<String> {
    let (without_query, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (admin_url, None),
    };
    let authority_start = without_query
        .find("://")
        .map(|index| index + 3)
        .context("the test database URL has no scheme")?;
    let base = match without_query[authority_start..].find('/') {
        Some(slash) => &without_query[..authority_start + slash],
        None => without_query,
    };
    Ok(match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    })
}

#[cfg(test)]
mod tests {
    use super::database_url;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            database_url("postgres://postgres@127.0.0.1:5432/postgres", "t1").unwrap(),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            database_url("postgres://u:p@h/db?sslmode=disable", "t2").unwrap(),
            "postgres://u:p@h/t2?sslmode=disable"
        );
        assert_eq!(
            database_url("postgres://h:5432", "t3").unwrap(),
            "postgres://h:5432/t3"
        );
    }
}
