//! Integration tests of sortie-telemetry.
//!
//! A global subscriber can be installed once per process: only `otlp_export` calls
//! `init`; the other tests use `build_subscriber` with `with_default`.

mod otlp_export;
mod propagation;
