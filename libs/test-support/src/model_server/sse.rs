//! Server-sent event bodies: whole, or cut off part way.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use futures_util::StreamExt;
use serde_json::Value;

/// How long a cut stream waits after its last event before it cuts the connection, so
/// the client has seen what came before.
const PAUSE_BEFORE_CUT: Duration = Duration::from_millis(50);

/// One server-sent event: an optional `event:` name and its `data:`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SseEvent {
    name: Option<String>,
    data: String,
}

impl SseEvent {
    pub(crate) fn named(name: &str, data: Value) -> Self {
        Self {
            name: Some(name.to_owned()),
            data: data.to_string(),
        }
    }

    pub(crate) fn data(data: Value) -> Self {
        Self {
            name: None,
            data: data.to_string(),
        }
    }

    pub(crate) fn done() -> Self {
        Self {
            name: None,
            data: "[DONE]".to_owned(),
        }
    }

    pub(crate) fn raw(data: String) -> Self {
        Self { name: None, data }
    }

    fn to_bytes(&self) -> Bytes {
        let mut text = String::new();
        if let Some(name) = &self.name {
            text.push_str("event: ");
            text.push_str(name);
            text.push('\n');
        }
        for line in self.data.split('\n') {
            text.push_str("data: ");
            text.push_str(line);
            text.push('\n');
        }
        text.push('\n');
        Bytes::from(text)
    }
}

pub(crate) fn sse_response(events: Vec<SseEvent>, cut_after: Option<usize>) -> Response {
    let chunks: Vec<Bytes> = events.iter().map(SseEvent::to_bytes).collect();
    match cut_after {
        Some(count) => cut_body_response(
            "text/event-stream",
            chunks.into_iter().take(count).collect(),
        ),
        None => {
            let body = Body::from_stream(futures_util::stream::iter(
                chunks.into_iter().map(Ok::<Bytes, std::io::Error>),
            ));
            streaming_response("text/event-stream", body)
        }
    }
}

/// A 200 that sends `chunks`, then cuts the connection before the body is complete.
pub(crate) fn cut_body_response(content_type: &'static str, chunks: Vec<Bytes>) -> Response {
    let cut = futures_util::stream::once(async {
        tokio::time::sleep(PAUSE_BEFORE_CUT).await;
        Err(std::io::Error::other(
            "the scripted model server cut the stream",
        ))
    });
    let stream = futures_util::stream::iter(chunks.into_iter().map(Ok)).chain(cut);
    streaming_response(content_type, Body::from_stream(stream))
}

fn streaming_response(content_type: &'static str, body: Body) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
