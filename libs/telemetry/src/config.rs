/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// For people at a terminal.
    #[default]
    Pretty,
    /// One JSON object a line, for log collectors.
    Json,
}

/// What [`crate::init`] needs; binaries fill it from their settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetryConfig {
    /// The OpenTelemetry `service.name`, such as `sortie-orchestrator`.
    pub service_name: String,
    pub format: LogFormat,
    /// An `EnvFilter` directive string, such as `info,sortie_bus=debug`.
    pub filter: String,
    /// Base URL of an OTLP/HTTP collector, such as `http://127.0.0.1:4318`; spans go to
    /// `<base>/v1/traces`. No export when unset.
    pub otlp_endpoint: Option<String>,
}

impl TelemetryConfig {
    /// Pretty logs at `info`, no export.
    pub fn new(service_name: impl Into<String>) -> Self {
        Self {
            service_name: service_name.into(),
            format: LogFormat::Pretty,
            filter: "info".to_owned(),
            otlp_endpoint: None,
        }
    }
}
