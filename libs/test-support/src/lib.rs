//! Test support for Sortie: fresh Postgres databases, isolated NATS prefixes, fixture git repositories

pub mod db;
pub mod git;
pub mod nats;

pub use db::TestDb;
pub use git::{BareRepo, GitFixture};
pub use nats::{PrivateNats, TestNats};
