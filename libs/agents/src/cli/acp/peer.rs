//! JSON-RPC 2.0 with a child process, one message a line: Sortie's requests and their
//! responses, and, while it waits for one, the child's notifications and requests, handed
//! to a [`Handler`] and answered. Everything happens before the run's deadline.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio::task::JoinHandle;

use crate::cli::{GARBAGE_LINES_ALLOWED, ProcessEnd, Started};
use crate::process::ProcessGroup;

/// What the client does with what the child sends on its own.
pub(crate) trait Handler {
    /// Each line the child printed, as it printed it, before it is read.
    fn raw(&mut self, line: &str);
    fn notification(&mut self, method: &str, params: &Value);
    fn request(&mut self, method: &str, params: &Value) -> Result<Value, RpcError>;
}

/// A JSON-RPC error answered to the child.
#[derive(Debug)]
pub(crate) struct RpcError {
    pub code: i64,
    pub message: String,
}

impl RpcError {
    pub(crate) fn method_not_found(method: &str) -> Self {
        Self {
            code: -32601,
            message: format!("method not found: {method}"),
        }
    }

    /// A request Sortie understood and refused or could not carry out.
    pub(crate) fn failed(message: String) -> Self {
        Self {
            code: -32000,
            message,
        }
    }
}

/// Why a call got no result.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The run's time limit came first.
    TimeLimit,
    /// The child closed its output (or its input) first.
    Ended { waiting_for: String },
    /// The child printed too many lines that are not JSON-RPC.
    Garbage,
    /// The child answered with an error.
    Refused { method: String, message: String },
}

/// How the child ended, and how long the run took.
#[derive(Debug)]
pub(crate) struct End {
    pub process: ProcessEnd,
    pub wall_ms: u64,
}

impl End {
    pub(crate) fn describe(&self, program: &str) -> String {
        self.process.describe(program)
    }
}

/// One child spoken to over JSON-RPC.
pub(crate) struct Peer<H> {
    child: Child,
    group: ProcessGroup,
    stdin: Option<ChildStdin>,
    lines: Lines<BufReader<ChildStdout>>,
    stderr_task: JoinHandle<String>,
    started: Instant,
    deadline: tokio::time::Instant,
    next_id: u64,
    garbage: Vec<String>,
    handler: H,
}

impl<H: Handler> Peer<H> {
    pub(crate) fn new(started: Started, time_limit: Duration, handler: H) -> Self {
        Self {
            child: started.child,
            group: started.group,
            stdin: started.stdin,
            lines: BufReader::new(started.stdout).lines(),
            stderr_task: started.stderr_task,
            started: Instant::now(),
            deadline: tokio::time::Instant::now() + time_limit,
            next_id: 0,
            garbage: Vec::new(),
            handler,
        }
    }

    pub(crate) fn handler(&mut self) -> &mut H {
        &mut self.handler
    }

    /// Send the request `method` and wait for its result, answering what the child asks
    /// in the meantime.
    pub(crate) async fn call(&mut self, method: &str, params: Value) -> Result<Value, Stop> {
        let id = self.next_id;
        self.next_id += 1;
        let ended = || Stop::Ended {
            waiting_for: method.to_owned(),
        };
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await
            .map_err(|()| ended())?;
        loop {
            let line = match tokio::time::timeout_at(self.deadline, self.lines.next_line()).await {
                Err(_) => return Err(Stop::TimeLimit),
                Ok(Ok(Some(line))) => line,
                Ok(Ok(None)) => return Err(ended()),
                Ok(Err(error)) => {
                    self.garbage.push(format!("(unreadable output: {error})"));
                    return Err(ended());
                }
            };
            if line.trim().is_empty() {
                continue;
            }
            self.handler.raw(&line);
            let message = match serde_json::from_str::<Value>(&line) {
                Ok(message @ Value::Object(_))
                    if message.get("method").is_some() || message.get("id").is_some() =>
                {
                    message
                }
                _ => {
                    tracing::debug!(method, "a line that is not JSON-RPC");
                    self.garbage.push(line);
                    if self.garbage.len() > GARBAGE_LINES_ALLOWED {
                        return Err(Stop::Garbage);
                    }
                    continue;
                }
            };
            let params = message.get("params").cloned().unwrap_or(Value::Null);
            match (
                message.get("method").and_then(Value::as_str),
                message.get("id"),
            ) {
                (Some(asked), Some(their_id)) => {
                    let reply = match self.handler.request(asked, &params) {
                        Ok(result) => json!({"jsonrpc": "2.0", "id": their_id, "result": result}),
                        Err(error) => json!({
                            "jsonrpc": "2.0",
                            "id": their_id,
                            "error": {"code": error.code, "message": error.message},
                        }),
                    };
                    self.send(reply).await.map_err(|()| ended())?;
                }
                (Some(notified), None) => self.handler.notification(notified, &params),
                (None, Some(answered)) if answered.as_u64() == Some(id) => {
                    if let Some(error) = message.get("error") {
                        let text = error
                            .get("message")
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        return Err(Stop::Refused {
                            method: method.to_owned(),
                            message: format!(
                                "{text} ({})",
                                error.get("code").unwrap_or(&Value::Null)
                            ),
                        });
                    }
                    return Ok(message.get("result").cloned().unwrap_or(Value::Null));
                }
                // A response to nothing Sortie is waiting for.
                _ => {}
            }
        }
    }

    async fn send(&mut self, message: Value) -> Result<(), ()> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(());
        };
        let mut line = message.to_string();
        line.push('\n');
        match tokio::time::timeout_at(self.deadline, async {
            stdin.write_all(line.as_bytes()).await?;
            stdin.flush().await
        })
        .await
        {
            Ok(Ok(())) => Ok(()),
            _ => Err(()),
        }
    }

    /// End the child: at once when `kill_now`, else its input is closed and it has a
    /// moment to exit. Its whole process group is killed either way.
    pub(crate) async fn finish(mut self, kill_now: bool) -> (H, End) {
        drop(self.stdin.take());
        let code = if kill_now {
            None
        } else {
            match tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await {
                Ok(Ok(status)) => status.code(),
                _ => None,
            }
        };
        self.group.kill();
        let _ = self.child.kill().await;
        drop(self.group);
        let stderr_tail = match tokio::time::timeout(Duration::from_secs(5), self.stderr_task).await
        {
            Ok(Ok(text)) => text,
            _ => String::new(),
        };
        let end = End {
            process: ProcessEnd {
                code,
                stderr_tail,
                garbage: self.garbage,
            },
            wall_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        (self.handler, end)
    }
}
