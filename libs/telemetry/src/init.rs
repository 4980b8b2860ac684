//! The subscriber: a filter, log lines on stderr, and OpenTelemetry spans.

use std::io::IsTerminal;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::resource::TelemetryResourceDetector;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, fmt};

use crate::config::{LogFormat, TelemetryConfig};
use crate::error::TelemetryError;

/// How long one export request to the collector may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for the last spans to reach the collector.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// The exporter's own HTTP stack logs every request at debug; with a verbose filter those
/// events (and spans) would be exported in turn. Kept at warn unless the filter names them.
const QUIET_TARGETS: &[&str] = &[
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "opentelemetry",
    "opentelemetry_sdk",
    "opentelemetry_otlp",
    "opentelemetry_http",
];
const OTLP_TRACES_PATH: &str = "/v1/traces";

/// Installs the global `tracing` subscriber and the W3C TraceContext propagator. Call it
/// once, from a binary's `main`, and keep the guard until the end.
pub fn init(config: &TelemetryConfig) -> Result<TelemetryGuard, TelemetryError> {
    let (subscriber, guard) = build_subscriber(config)?;
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|_| TelemetryError::AlreadyInstalled)?;
    install_trace_context_propagator();
    Ok(guard)
}

/// Sets the W3C TraceContext propagator (`traceparent`, `tracestate`) as the global one,
/// which [`crate::current_context_headers`] and [`crate::set_parent_from_headers`] use.
pub fn install_trace_context_propagator() {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
}

/// The subscriber [`init`] installs, not installed, for tests and for binaries that
/// compose their own; the guard owns its tracer provider.
pub fn build_subscriber(
    config: &TelemetryConfig,
) -> Result<(impl Subscriber + Send + Sync + 'static, TelemetryGuard), TelemetryError> {
    let filter = env_filter(&config.filter)?;
    let provider = tracer_provider(config)?;
    // Without an exporter the tracer still gives spans real ids, so trace context is
    // carried through this service to the next one.
    let tracer = provider.tracer("sortie");

    let output_layer = match config.format {
        LogFormat::Pretty => fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .boxed(),
        LogFormat::Json => fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
    };
    let subscriber = Registry::default()
        .with(filter)
        .with(output_layer)
        .with(tracing_opentelemetry::layer().with_tracer(tracer));
    let guard = TelemetryGuard {
        provider: Some(provider),
    };
    Ok((subscriber, guard))
}

fn env_filter(filter: &str) -> Result<EnvFilter, TelemetryError> {
    let mut directives = filter.trim().to_owned();
    for target in QUIET_TARGETS {
        if !filter.contains(target) {
            directives.push_str(&format!(",{target}=warn"));
        }
    }
    EnvFilter::builder()
        .parse(&directives)
        .map_err(|error| TelemetryError::Filter {
            filter: filter.to_owned(),
            reason: error.to_string(),
        })
}

fn tracer_provider(config: &TelemetryConfig) -> Result<SdkTracerProvider, TelemetryError> {
    let resource = Resource::builder_empty()
        .with_detector(Box::new(TelemetryResourceDetector))
        .with_service_name(config.service_name.clone())
        .build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    if let Some(endpoint) = &config.otlp_endpoint {
        let exporter = SpanExporter::builder()
            .with_http()
            .with_endpoint(traces_url(endpoint)?)
            .with_protocol(Protocol::HttpBinary)
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|error| TelemetryError::Endpoint {
                endpoint: endpoint.clone(),
                reason: error.to_string(),
            })?;
        // The batch processor exports from its own thread, so the service never waits
        // on the collector.
        builder = builder.with_batch_exporter(exporter);
    }
    Ok(builder.build())
}

/// The collector's base URL with the traces path added, as `OTEL_EXPORTER_OTLP_ENDPOINT`
/// is read by other OpenTelemetry SDKs.
fn traces_url(endpoint: &str) -> Result<String, TelemetryError> {
    let endpoint_error = |reason: &str| TelemetryError::Endpoint {
        endpoint: endpoint.to_owned(),
        reason: reason.to_owned(),
    };
    if endpoint.starts_with("https://") {
        return Err(endpoint_error(
            "https needs TLS, which this build leaves out; send to a collector over http://",
        ));
    }
    if !endpoint.starts_with("http://") {
        return Err(endpoint_error(
            "must be an http:// URL, such as http://127.0.0.1:4318",
        ));
    }
    let base = endpoint.trim_end_matches('/');
    if base.ends_with(OTLP_TRACES_PATH) {
        Ok(base.to_owned())
    } else {
        Ok(format!("{base}{OTLP_TRACES_PATH}"))
    }
}

/// Owns the tracer provider: flushes and shuts it down on [`TelemetryGuard::shutdown`]
/// or on drop. Shutting down blocks for up to a few seconds while the last spans are
/// sent; binaries call it after draining.
#[derive(Debug)]
#[must_use = "dropping the guard stops trace export"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Sends the spans recorded so far, without stopping.
    pub fn flush(&self) -> Result<(), TelemetryError> {
        let Some(provider) = &self.provider else {
            return Ok(());
        };
        provider
            .force_flush()
            .map_err(|error| TelemetryError::Flush {
                reason: error.to_string(),
            })
    }

    /// Sends the last spans and stops exporting.
    pub fn shutdown(mut self) -> Result<(), TelemetryError> {
        self.shutdown_provider()
    }

    fn shutdown_provider(&mut self) -> Result<(), TelemetryError> {
        let Some(provider) = self.provider.take() else {
            return Ok(());
        };
        provider
            .shutdown_with_timeout(SHUTDOWN_TIMEOUT)
            .map_err(|error| TelemetryError::Flush {
                reason: error.to_string(),
            })
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        // Errors cannot be reported from drop; `shutdown` reports them.
        let _ = self.shutdown_provider();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_path_is_added_once() {
        assert_eq!(
            traces_url("http://127.0.0.1:4318").unwrap(),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://collector:4318/").unwrap(),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://collector:4318/v1/traces").unwrap(),
            "http://collector:4318/v1/traces"
        );
        assert!(traces_url("https://collector:4318").is_err());
        assert!(traces_url("collector:4318").is_err());
    }

    #[test]
    fn bad_filter_is_refused_with_its_text() {
        let error = env_filter("info,[[[").unwrap_err();
        assert!(error.to_string().contains("\"info,[[[\""), "{error}");
    }
}
