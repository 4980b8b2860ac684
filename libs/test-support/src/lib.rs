//! Test support for Sortie: fresh Postgres databases, isolated NATS prefixes, fixture git repositories

pub mod db;

pub use db::TestDb;
