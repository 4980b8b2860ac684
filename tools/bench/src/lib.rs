//! Sortie's bench: measures the orchestration side by side with references, in one run,
//! on the machine's Postgres and NATS with Sortie's real binaries.
//!
//! It generates synthetic missions (seeded: [`generate`]), runs them on an orchestrator,
//! K workers and a validator started as local processes ([`stage`], [`run`]), reads the
//! ledger's event log ([`timeline`]), and reports how long features wait for the
//! orchestrator, how many features per second it completes and what each costs, how close
//! its makespans get to the lower bound beside serial, level-by-level and `make -j K`
//! runs of the same DAG ([`baselines`], [`makefile`]), and how all of that grows with the
//! mission's size ([`results`], [`render`]). `docs/performance.md` says how to read it.
//!
//! No test asserts a time: the tests cover the pure parts (generation, baselines, the
//! Makefile, percentiles, reading events and logs).

pub mod baselines;
pub mod generate;
pub mod makefile;
pub mod phases;
pub mod probe;
pub mod render;
pub mod results;
pub mod rng;
pub mod run;
pub mod stage;
pub mod stats;
pub mod table;
pub mod timeline;
