use opentelemetry::trace::{TraceContextExt as _, TraceId};
use sortie_telemetry::{
    TelemetryConfig, build_subscriber, current_context_headers, install_trace_context_propagator,
    set_parent_from_headers, span_context_headers,
};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

fn trace_id(span: &tracing::Span) -> TraceId {
    span.context().span().span_context().trace_id()
}

#[test]
fn headers_carry_the_trace_to_the_receiving_span() {
    install_trace_context_propagator();
    let (subscriber, _guard) =
        build_subscriber(&TelemetryConfig::new("propagation-test")).expect("subscriber builds");
    tracing::subscriber::with_default(subscriber, || {
        let sending_span = tracing::info_span!("publish_task");
        let headers = sending_span.in_scope(current_context_headers);
        let sending_trace_id = trace_id(&sending_span);
        assert_ne!(sending_trace_id, TraceId::INVALID);

        let traceparent = headers.get("traceparent").expect("a traceparent header");
        let parts: Vec<&str> = traceparent.split('-').collect();
        assert_eq!(parts.len(), 4, "{traceparent}");
        assert_eq!(parts[0], "00", "{traceparent}");
        assert_eq!(parts[1], sending_trace_id.to_string(), "{traceparent}");
        assert_eq!(headers, span_context_headers(&sending_span));

        // As a bus message's headers arrive: any case, mixed with other headers.
        let received: Vec<(String, String)> = vec![
            ("Traceparent".to_owned(), traceparent.clone()),
            ("Nats-Msg-Id".to_owned(), "outbox-17".to_owned()),
        ];
        let receiving_span = tracing::info_span!("handle_task");
        assert!(set_parent_from_headers(&receiving_span, received));
        assert_eq!(trace_id(&receiving_span), sending_trace_id);

        let unrelated_span = tracing::info_span!("unrelated");
        assert!(!set_parent_from_headers(
            &unrelated_span,
            [("nats-msg-id", "outbox-18")]
        ));
        assert_ne!(trace_id(&unrelated_span), sending_trace_id);
    });
}

#[test]
fn no_span_means_no_headers() {
    install_trace_context_propagator();
    let (subscriber, _guard) =
        build_subscriber(&TelemetryConfig::new("propagation-test")).expect("subscriber builds");
    tracing::subscriber::with_default(subscriber, || {
        assert!(current_context_headers().is_empty());
    });
}
