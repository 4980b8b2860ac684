//! Sortie's telemetry: log output, OpenTelemetry trace export, and trace context across
//! the bus, so that one mission is one trace through every service.
//!
//! Nothing here installs anything global until a binary calls [`init`] (or a test calls
//! [`install_trace_context_propagator`]); [`build_subscriber`] builds the same subscriber
//! without installing it, for `tracing::subscriber::with_default`.
//!
//! ```no_run
//! let config = sortie_telemetry::TelemetryConfig::new("sortie-worker");
//! let telemetry = sortie_telemetry::init(&config)?;
//! // ... run, then drain ...
//! telemetry.shutdown()?;
//! # Ok::<(), sortie_telemetry::TelemetryError>(())
//! ```

mod config;
mod error;
mod init;
mod propagation;

pub use config::{LogFormat, TelemetryConfig};
pub use error::TelemetryError;
pub use init::{TelemetryGuard, build_subscriber, init, install_trace_context_propagator};
pub use propagation::{current_context_headers, set_parent_from_headers, span_context_headers};
