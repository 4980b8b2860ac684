//! What only the Postgres ledger does: migrations, the schema's own guards.

use std::sync::Arc;

use sortie_ledger::{Ledger, LedgerError, PostgresLedger, PostgresOptions};
use sortie_test_support::TestDb;

fn ledger(database: &TestDb) -> PostgresLedger {
    PostgresLedger::connect(&database.url, &PostgresOptions::default()).expect("connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_starting_together_migrate_once() {
    let database = TestDb::create().await.expect("test database");
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let ledger = ledger(&database);
            tokio::spawn(async move { ledger.migrate().await })
        })
        .collect();
    for start in starts {
        start
            .await
            .expect("join")
            .expect("every service migrates without error");
    }
    let client = database.client().await.expect("client");
    let versions: Vec<i32> = client
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .expect("versions")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        versions,
        (1..=PostgresLedger::schema_version()).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_schema_newer_than_the_build_is_refused() {
    let database = TestDb::create().await.expect("test database");
    let ledger = ledger(&database);
    ledger.migrate().await.expect("migrate");
    let client = database.client().await.expect("client");
    client
        .execute(
            "INSERT INTO schema_migrations (version, name) VALUES (999, 'future')",
            &[],
        )
        .await
        .expect("insert");
    let error = ledger.migrate().await.expect_err("newer schema");
    assert!(matches!(error, LedgerError::Corrupt(_)), "{error}");
    assert!(error.to_string().contains("version 999"), "{error}");
}

#[tokio::test]
async fn the_event_and_audit_logs_are_append_only() {
    let database = TestDb::create().await.expect("test database");
    let ledger = Arc::new(ledger(&database));
    ledger.migrate().await.expect("migrate");
    let submission = sortie_ledger::MissionSubmission {
        tenant: "acme".to_owned(),
        team: "platform".to_owned(),
        submitted_by: "alice".to_owned(),
        approved_by: Some("alice".to_owned()),
        plan: sortie_ledger::conformance::sample_plan(),
        source: None,
    };
    ledger.create_mission(submission).await.expect("create");
    let client = database.client().await.expect("client");
    for statement in [
        "UPDATE events SET kind = 'forged'",
        "DELETE FROM events",
        "UPDATE audit_log SET actor = 'nobody'",
        "DELETE FROM audit_log",
    ] {
        let error = client.execute(statement, &[]).await.expect_err(statement);
        let message = error
            .as_db_error()
            .map(|db| db.message().to_owned())
            .unwrap_or_default();
        assert!(message.contains("append-only"), "{statement}: {error:?}");
    }
}

#[tokio::test]
async fn an_unreachable_database_is_unavailable() {
    let options = PostgresOptions {
        connect_timeout: std::time::Duration::from_millis(500),
        pool_wait_timeout: std::time::Duration::from_millis(500),
        ..PostgresOptions::default()
    };
    // Port 9 on loopback: nothing listens there.
    let ledger =
        PostgresLedger::connect("postgres://postgres@127.0.0.1:9/none", &options).expect("config");
    let error = ledger.now().await.expect_err("no database");
    assert_eq!(
        error.kind(),
        sortie_model::ErrorKind::Unavailable,
        "{error}"
    );
}

#[test]
fn a_bad_url_names_the_setting() {
    let error =
        PostgresLedger::connect("not a url", &PostgresOptions::default()).expect_err("bad url");
    assert!(
        error
            .to_string()
            .starts_with("invalid change: database url:"),
        "{error}"
    );
}

#[tokio::test]
async fn a_missing_database_is_created_once() {
    let name = format!("sortie_created_{}", uuid::Uuid::new_v4().simple());
    let url = format!(
        "{}/{name}",
        sortie_test_support::db::admin_url()
            .rsplit_once('/')
            .expect("url")
            .0
    );
    assert!(
        PostgresLedger::create_database_if_missing(&url)
            .await
            .expect("create")
    );
    assert!(
        !PostgresLedger::create_database_if_missing(&url)
            .await
            .expect("exists")
    );
    let ledger = PostgresLedger::connect(&url, &PostgresOptions::default()).expect("connect");
    ledger
        .migrate()
        .await
        .expect("the new database takes the schema");
    drop(ledger);
    let admin = sortie_test_support::db::connect(&sortie_test_support::db::admin_url())
        .await
        .expect("admin");
    admin
        .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .expect("drop");
    let refused = PostgresLedger::create_database_if_missing(&format!("{url}-x")).await;
    assert!(matches!(refused, Err(LedgerError::Invalid(_))));
}

#[tokio::test]
async fn the_example_mission_file_is_parsed_validated_and_stored() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/missions/todo-service.toml"
    );
    let text = std::fs::read_to_string(path).expect("example mission file");
    let parsed = sortie_model::mission_file::parse("todo-service.toml", &text).expect("valid");
    assert_eq!(parsed.plan.milestones.len(), 3);
    assert_eq!(parsed.plan.features.len(), 10);
    let database = TestDb::create().await.expect("test database");
    let ledger = ledger(&database);
    ledger.migrate().await.expect("migrate");
    let id = ledger
        .create_mission(sortie_ledger::MissionSubmission {
            tenant: "acme".to_owned(),
            team: "platform".to_owned(),
            submitted_by: "alice".to_owned(),
            approved_by: Some("bob".to_owned()),
            plan: parsed.plan.clone(),
            source: Some(text.clone()),
        })
        .await
        .expect("store");
    let stored = ledger.plan(id, None).await.expect("plan");
    assert_eq!(stored.plan, parsed.plan);
    assert_eq!(stored.source.as_deref(), Some(text.as_str()));
    assert_eq!(ledger.milestones(id).await.expect("milestones").len(), 3);
    assert_eq!(ledger.features(id).await.expect("features").len(), 10);
}
