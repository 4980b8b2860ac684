//! Sortie's telemetry: tracing output, OpenTelemetry export, trace context across the bus
