//! A scripted LLM server on loopback that speaks the vendors' HTTP protocols.
//!
//! Coding agents (Sortie's own `llm` agent, and the real CLIs) are pointed at it instead
//! of a vendor's API. It answers each model request with the next turn of a [`Script`]
//! (text, tool calls, a final answer, or a fault) and records every request it gets, so a
//! test can check what the agent sent back (a tool result, its usage of the protocol).
//!
//! It speaks Anthropic Messages (`POST /v1/messages`, also `?beta=true`, and `HEAD /`),
//! OpenAI Chat Completions (`POST /v1/chat/completions`) and OpenAI Responses
//! (`POST /v1/responses`), each streaming (server-sent events) or not. A request past the
//! end of the script gets a 500 that names the script. It stops when dropped.

mod anthropic;
mod chat;
mod responses;
mod script;
mod sse;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::sync::watch;

pub use script::{Fault, Reply, Script, ToolCall, Turn, Usage};
use sse::{SseEvent, cut_body_response, sse_response};

/// A running scripted model server. Dropping it stops it, and any request it is holding
/// (a [`Turn::hang`]) is answered with a 503 and closed.
#[derive(Debug)]
pub struct ModelServer {
    address: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<ScriptState>,
    stopped: watch::Receiver<bool>,
}

#[derive(Debug)]
struct ScriptState {
    script: Script,
    next_turn: usize,
    requests: Vec<RecordedRequest>,
}

/// One request the server got, as it came.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    /// The path without the query: `/v1/messages`.
    pub path: String,
    pub query: Option<String>,
    /// Header names in lower case, in the order they came.
    pub headers: Vec<(String, String)>,
    /// The body as JSON, when it was JSON.
    pub body: Option<Value>,
    pub raw_body: String,
    /// The script's turn (from 0) this request was answered with, if any.
    pub turn: Option<usize>,
}

impl RecordedRequest {
    /// The first value of a header, by its name in any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The JSON body, or `null` when there was none.
    pub fn json(&self) -> &Value {
        self.body.as_ref().unwrap_or(&Value::Null)
    }
}

impl ModelServer {
    /// Start answering from `script` on 127.0.0.1 and an ephemeral port.
    pub async fn start(script: Script) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the scripted model server to 127.0.0.1")?;
        let address = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        let shared = Arc::new(Shared {
            state: Mutex::new(ScriptState {
                script,
                next_turn: 0,
                requests: Vec::new(),
            }),
            stopped: stopped.clone(),
        });
        let router = Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&shared));
        let mut shutdown = stopped;
        tokio::spawn(async move {
            let serving = axum::serve(listener, router).with_graceful_shutdown(async move {
                let _ = shutdown.wait_for(|stopped| *stopped).await;
            });
            if let Err(error) = serving.await {
                tracing::warn!(%error, "the scripted model server stopped with an error");
            }
        });
        Ok(Self {
            address,
            shared,
            stop,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `http://127.0.0.1:PORT`: the base URL Anthropic clients take.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// `http://127.0.0.1:PORT/v1`: the base URL OpenAI clients take.
    pub fn openai_base_url(&self) -> String {
        format!("{}/v1", self.url())
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// The requests that were answered with a turn of the script, in order.
    pub fn model_requests(&self) -> Vec<RecordedRequest> {
        self.lock()
            .requests
            .iter()
            .filter(|request| request.turn.is_some())
            .cloned()
            .collect()
    }

    /// How many turns of the script have been used.
    pub fn turns_used(&self) -> usize {
        self.lock().next_turn
    }

    /// How many turns of the script are left.
    pub fn turns_left(&self) -> usize {
        let state = self.lock();
        state.script.len().saturating_sub(state.next_turn)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ScriptState> {
        self.shared.state.lock().expect("model server state lock")
    }
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protocol {
    Anthropic,
    Chat,
    Responses,
}

impl Protocol {
    fn of(method: &Method, path: &str) -> Option<Self> {
        if method != Method::POST {
            return None;
        }
        match path {
            "/v1/messages" => Some(Protocol::Anthropic),
            "/v1/chat/completions" => Some(Protocol::Chat),
            "/v1/responses" => Some(Protocol::Responses),
            _ => None,
        }
    }

    fn error(self, status: u16, message: &str) -> Value {
        match self {
            Protocol::Anthropic => anthropic::error(status, message),
            Protocol::Chat => chat::error(status, message),
            Protocol::Responses => responses::error(status, message),
        }
    }

    fn check(self, body: &Value) -> Result<(), String> {
        match self {
            Protocol::Anthropic => anthropic::check(body),
            Protocol::Chat => chat::check(body),
            Protocol::Responses => responses::check(body),
        }
    }

    fn whole(self, reply: &Reply, turn: usize, model: &str) -> Value {
        match self {
            Protocol::Anthropic => anthropic::message(reply, turn, model),
            Protocol::Chat => chat::completion(reply, turn, model),
            Protocol::Responses => responses::response(reply, turn, model),
        }
    }

    fn events(self, reply: &Reply, turn: usize, request: &Value) -> Vec<SseEvent> {
        let model = request["model"].as_str().unwrap_or_default();
        match self {
            Protocol::Anthropic => anthropic::events(reply, turn, model),
            Protocol::Chat => {
                let include_usage = request["stream_options"]["include_usage"] == true;
                chat::chunks(reply, turn, model, include_usage)
            }
            Protocol::Responses => responses::events(reply, turn, model),
        }
    }
}

async fn answer(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let raw_body = String::from_utf8_lossy(&body).into_owned();
    let json: Option<Value> = serde_json::from_slice(&body).ok();
    let mut recorded = RecordedRequest {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers: headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect(),
        body: json.clone(),
        raw_body,
        turn: None,
    };
    let Some(protocol) = Protocol::of(&method, uri.path()) else {
        shared.record(recorded);
        if method == Method::HEAD && uri.path() == "/" {
            return StatusCode::OK.into_response();
        }
        let message = format!(
            "the scripted model server has no route {method} {}",
            uri.path()
        );
        return json_response(StatusCode::NOT_FOUND, &Protocol::Chat.error(404, &message));
    };
    let Some(request) = json else {
        shared.record(recorded);
        let message = "the request body is not valid JSON";
        return json_response(StatusCode::BAD_REQUEST, &protocol.error(400, message));
    };
    if let Err(message) = protocol.check(&request) {
        shared.record(recorded);
        return json_response(StatusCode::BAD_REQUEST, &protocol.error(400, &message));
    }
    let model = request["model"].as_str().unwrap_or_default();
    let next = {
        let mut state = shared.state.lock().expect("model server state lock");
        let side = state
            .script
            .side_models
            .iter()
            .any(|prefix| model.starts_with(prefix.as_str()));
        if side {
            state.requests.push(recorded);
            drop(state);
            let reply = Reply {
                text: Some("ok".to_owned()),
                ..Reply::default()
            };
            return if request["stream"] == true {
                sse_response(protocol.events(&reply, 0, &request), None)
            } else {
                json_response(StatusCode::OK, &protocol.whole(&reply, 0, model))
            };
        }
        let index = state.next_turn;
        let turn = state.script.turns.get(index).cloned();
        let name = state.script.name.clone();
        let length = state.script.len();
        if turn.is_some() {
            state.next_turn += 1;
            recorded.turn = Some(index);
        }
        state.requests.push(recorded);
        turn.map(|turn| (index, turn)).ok_or((name, length))
    };
    let (index, turn) = match next {
        Ok(next) => next,
        Err((name, length)) => {
            let message = format!(
                "the scripted model server's script {name:?} has {length} turns, and this \
                 request came after the last one"
            );
            return json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &protocol.error(500, &message),
            );
        }
    };
    let streaming = request["stream"] == true;
    match turn {
        Turn::Reply(reply) => {
            if streaming {
                sse_response(protocol.events(&reply, index, &request), None)
            } else {
                json_response(StatusCode::OK, &protocol.whole(&reply, index, model))
            }
        }
        Turn::Fault(Fault::Status {
            status,
            body,
            retry_after,
        }) => {
            let status_code =
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = body.unwrap_or_else(|| {
                let reason = status_code.canonical_reason().unwrap_or("error");
                let message = format!("scripted fault: {status} {reason}");
                protocol.error(status, &message).to_string()
            });
            let content_type = if serde_json::from_str::<Value>(&body).is_ok() {
                "application/json"
            } else {
                "text/plain"
            };
            let mut response = (status_code, body).into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            if let Some(seconds) = retry_after
                && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
            {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        Turn::Fault(Fault::Malformed { body }) => {
            if streaming {
                sse_response(vec![SseEvent::raw(body)], None)
            } else {
                let mut response = (StatusCode::OK, body).into_response();
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                response
            }
        }
        Turn::Fault(Fault::Hang) => {
            let mut stopped = shared.stopped.clone();
            let _ = stopped.wait_for(|stopped| *stopped).await;
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the scripted model server stopped",
            )
                .into_response()
        }
        Turn::Fault(Fault::CutStream {
            reply,
            after_events,
        }) => {
            if streaming {
                sse_response(protocol.events(&reply, index, &request), Some(after_events))
            } else {
                let whole = protocol.whole(&reply, index, model).to_string();
                let half = whole.as_bytes()[..whole.len() / 2].to_vec();
                cut_body_response("application/json", vec![Bytes::from(half)])
            }
        }
    }
}

impl Shared {
    fn record(&self, request: RecordedRequest) {
        self.state
            .lock()
            .expect("model server state lock")
            .requests
            .push(request);
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
