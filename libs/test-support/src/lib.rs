//! Test support for Sortie: fresh Postgres databases, isolated NATS prefixes, fixture git repositories

pub mod agent_cli;
pub mod db;
pub mod git;
pub mod model_server;
pub mod nats;

pub use db::TestDb;
pub use git::{BareRepo, GitFixture};
pub use model_server::{ModelServer, Script, Turn};
pub use nats::{PrivateNats, TestNats};
