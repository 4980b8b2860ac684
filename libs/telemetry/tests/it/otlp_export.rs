//! `init` with a real OTLP/HTTP exporter against a real socket.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use sortie_telemetry::{LogFormat, TelemetryConfig, TelemetryError, init};

/// One HTTP request as the collector saw it.
#[derive(Debug)]
struct ReceivedRequest {
    request_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl ReceivedRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header_name, _)| header_name.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// A minimal OTLP/HTTP collector: answers every request with an empty success.
fn start_collector() -> (String, mpsc::Receiver<ReceivedRequest>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
    let address = listener.local_addr().expect("local address");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { break };
            let Ok(request) = answer(stream) else {
                continue;
            };
            if sender.send(request).is_err() {
                break;
            }
        }
    });
    (format!("http://{address}"), receiver)
}

fn answer(mut stream: TcpStream) -> std::io::Result<ReceivedRequest> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let content_length: usize = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; content_length];
    reader.read_exact(&mut body)?;
    stream.write_all(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    )?;
    Ok(ReceivedRequest {
        request_line: request_line.trim_end().to_owned(),
        headers,
        body,
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[test]
fn init_exports_spans_to_the_collector_on_shutdown() {
    let (endpoint, requests) = start_collector();
    let config = TelemetryConfig {
        service_name: "sortie-telemetry-test".to_owned(),
        format: LogFormat::Json,
        filter: "info".to_owned(),
        otlp_endpoint: Some(endpoint),
    };
    let guard = init(&config).expect("telemetry starts");
    assert!(matches!(
        init(&TelemetryConfig::new("second")),
        Err(TelemetryError::AlreadyInstalled)
    ));

    tracing::info_span!("dispatch_feature", feature = "F-1").in_scope(|| {
        tracing::info!(worker = "w-1", "feature dispatched");
    });
    guard.shutdown().expect("spans are flushed");

    let request = requests
        .recv_timeout(Duration::from_secs(10))
        .expect("the collector receives a request");
    assert_eq!(request.request_line, "POST /v1/traces HTTP/1.1");
    assert_eq!(
        request.header("content-type"),
        Some("application/x-protobuf")
    );
    assert!(
        contains(&request.body, b"sortie-telemetry-test"),
        "the service name is in the resource"
    );
    assert!(
        contains(&request.body, b"dispatch_feature"),
        "the span is exported"
    );
}
