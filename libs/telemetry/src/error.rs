/// Why telemetry could not start or stop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TelemetryError {
    #[error("telemetry: filter {filter:?} is not valid: {reason}")]
    Filter { filter: String, reason: String },

    #[error("telemetry: otlp endpoint {endpoint:?}: {reason}")]
    Endpoint { endpoint: String, reason: String },

    #[error("telemetry: a global tracing subscriber is already installed")]
    AlreadyInstalled,

    #[error("telemetry: flushing traces failed: {reason}")]
    Flush { reason: String },
}
