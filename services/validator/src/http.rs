//! One HTTP exchange with a started service, recorded as evidence.

use std::time::{Duration, Instant};

use reqwest::{Client, Method, header};
use sortie_model::records::Evidence;

use crate::shell::elapsed_ms;
use crate::text::{BODY_EXCERPT_BYTES, head_text};

/// What was asked and what came back.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Exchange {
    pub(crate) method: String,
    pub(crate) url: String,
    pub(crate) status: Option<u16>,
    /// The start of the response body.
    pub(crate) body_excerpt: String,
    pub(crate) duration_ms: u64,
    /// Why no answer came, when none did.
    pub(crate) error: Option<String>,
}

impl Exchange {
    pub(crate) fn evidence(&self) -> Evidence {
        Evidence::HttpExchange {
            method: self.method.clone(),
            url: self.url.clone(),
            status: self.status,
            body_excerpt: self.body_excerpt.clone(),
            duration_ms: self.duration_ms,
        }
    }
}

/// The client for checks and health probes: no proxy (services listen on loopback), and
/// no redirects followed, so a check sees the status the service answered.
pub(crate) fn client() -> reqwest::Result<Client> {
    Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .build()
}

/// `http://127.0.0.1:<port><path>`.
pub(crate) fn local_url(port: u16, path: &str) -> String {
    if path.starts_with('/') {
        format!("http://127.0.0.1:{port}{path}")
    } else {
        format!("http://127.0.0.1:{port}/{path}")
    }
}

/// Send one request and read the start of the answer, all within `limit`. A body that is
/// JSON is sent as `application/json`, any other as plain text.
pub(crate) async fn exchange(
    client: &Client,
    method: &str,
    url: String,
    body: Option<&str>,
    limit: Duration,
) -> Exchange {
    let started = Instant::now();
    let mut exchange = Exchange {
        method: method.to_owned(),
        url,
        status: None,
        body_excerpt: String::new(),
        duration_ms: 0,
        error: None,
    };
    let parsed_method = match Method::from_bytes(method.as_bytes()) {
        Ok(parsed) => parsed,
        Err(error) => {
            exchange.error = Some(format!("{method:?} is not an HTTP method: {error}"));
            return exchange;
        }
    };
    let mut request = client.request(parsed_method, &exchange.url).timeout(limit);
    if let Some(body) = body {
        let content_type = if serde_json::from_str::<serde_json::Value>(body).is_ok() {
            "application/json"
        } else {
            "text/plain; charset=utf-8"
        };
        request = request
            .header(header::CONTENT_TYPE, content_type)
            .body(body.to_owned());
    }
    match read(request).await {
        Ok((status, body)) => {
            exchange.status = Some(status);
            exchange.body_excerpt = head_text(&body, BODY_EXCERPT_BYTES);
        }
        Err((status, error)) => {
            exchange.status = status;
            exchange.error = Some(describe(&error));
        }
    }
    exchange.duration_ms = elapsed_ms(started);
    exchange
}

/// The status and the first bytes of the body; the rest of the body is not read.
async fn read(
    request: reqwest::RequestBuilder,
) -> Result<(u16, Vec<u8>), (Option<u16>, reqwest::Error)> {
    let mut response = request.send().await.map_err(|error| (None, error))?;
    let status = response.status().as_u16();
    let mut body = Vec::new();
    while body.len() < BODY_EXCERPT_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(error) => return Err((Some(status), error)),
        }
    }
    Ok((status, body))
}

/// An error with its causes, which is where reqwest says what went wrong
/// ("connection refused").
pub(crate) fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_urls_are_on_loopback() {
        assert_eq!(
            local_url(8080, "/notes?q=x"),
            "http://127.0.0.1:8080/notes?q=x"
        );
        assert_eq!(local_url(8080, "health"), "http://127.0.0.1:8080/health");
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_exchange_without_status() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let client = client().unwrap();
        let exchange = exchange(
            &client,
            "GET",
            local_url(port, "/"),
            None,
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(exchange.status, None);
        let error = exchange.error.unwrap();
        assert!(error.to_lowercase().contains("refused"), "{error}");
    }

    #[tokio::test]
    async fn a_bad_method_is_refused_before_sending() {
        let client = client().unwrap();
        let exchange = exchange(
            &client,
            "GE T",
            local_url(1, "/"),
            None,
            Duration::from_secs(5),
        )
        .await;
        assert!(exchange.error.unwrap().contains("is not an HTTP method"));
    }
}
