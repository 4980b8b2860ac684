//! The conformance suite, run against the Postgres ledger.

use std::sync::Arc;

use sortie_ledger::{Ledger, PostgresLedger, PostgresOptions};
use sortie_test_support::TestDb;

async fn fresh() -> (Arc<dyn Ledger>, TestDb) {
    let database = TestDb::create().await.expect("test database");
    let ledger =
        PostgresLedger::connect(&database.url, &PostgresOptions::default()).expect("connect");
    ledger.migrate().await.expect("migrate");
    (Arc::new(ledger), database)
}

sortie_ledger::ledger_conformance_suite!(fresh);
