//! Trace context in message headers: the sender injects, the receiver extracts, and both
//! sides' spans share one trace id.

use std::collections::{BTreeMap, HashMap};

use opentelemetry::propagation::Injector;
use opentelemetry::trace::TraceContextExt as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The current span's trace context as headers (`traceparent`, and `tracestate` when
/// there is one), to put on an outgoing message. Empty when there is no span, no
/// OpenTelemetry layer, or no propagator installed.
pub fn current_context_headers() -> BTreeMap<String, String> {
    span_context_headers(&tracing::Span::current())
}

/// Like [`current_context_headers`], for a given span.
pub fn span_context_headers(span: &tracing::Span) -> BTreeMap<String, String> {
    let context = span.context();
    let mut headers = BTreeMap::new();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(&mut headers));
    });
    headers
}

/// Makes the trace context carried by `headers` the parent of `span`, so work done for a
/// message continues the sender's trace. Call it right after creating the span, before
/// entering it. Returns whether the headers carried a context that was set; header names
/// are matched case-insensitively and headers other than trace context are ignored.
pub fn set_parent_from_headers<I, K, V>(span: &tracing::Span, headers: I) -> bool
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let headers: HashMap<String, String> = headers
        .into_iter()
        .map(|(name, value)| {
            (
                name.as_ref().to_ascii_lowercase(),
                value.as_ref().to_owned(),
            )
        })
        .collect();
    let parent =
        opentelemetry::global::get_text_map_propagator(|propagator| propagator.extract(&headers));
    if !parent.span().span_context().is_valid() {
        return false;
    }
    span.set_parent(parent).is_ok()
}

struct HeaderInjector<'a>(&'a mut BTreeMap<String, String>);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_ascii_lowercase(), value);
    }
}
