//! The bus against a real NATS server (and, for the relay, a real Postgres ledger).

mod faults;
mod publish;
mod relay;
mod support;
mod topology;
mod watch;
mod work_queue;
