//! MCP servers reach the real CLIs: a tiny stdio MCP server (Python 3) whose one tool
//! writes a marker file, called by the CLI because the scripted model asks for it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use sortie_agents::{AgentEvent, AgentOutcome};
use sortie_model::mcp::{McpServer, McpTransport};
use sortie_settings::AgentKind;
use sortie_test_support::agent_cli;
use sortie_test_support::model_server::{ModelServer, Script, Turn};
use tempfile::TempDir;

use super::cli::{profile, request, run, workspace};

const HANDOFF: &str = "Done.\n<handoff>\nsummary: Wrote the marker.\nleft undone: none\n</handoff>";

/// An MCP server over stdio (JSON-RPC 2.0, one message a line) with one tool,
/// `write_marker`, that writes its `text` to the file `$MARKER_FILE`.
const MARKER_SERVER: &str = r#"
import json, os, sys

def send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()

for line in sys.stdin:
    if not line.strip():
        continue
    message = json.loads(line)
    if "id" not in message:
        continue  # a notification, such as notifications/initialized
    method = message.get("method")
    params = message.get("params") or {}
    if method == "initialize":
        result = {
            "protocolVersion": params.get("protocolVersion", "2025-06-18"),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "marker", "version": "1.0.0"},
        }
    elif method == "tools/list":
        result = {"tools": [{
            "name": "write_marker",
            "description": "Writes the marker file.",
            "inputSchema": {
                "type": "object",
                "properties": {"text": {"type": "string"}},
                "required": ["text"],
            },
        }]}
    elif method == "tools/call":
        text = (params.get("arguments") or {}).get("text", "")
        with open(os.environ["MARKER_FILE"], "w") as marker:
            marker.write(text)
        result = {"content": [{"type": "text", "text": "marker written"}]}
    elif method == "ping":
        result = {}
    else:
        send({"jsonrpc": "2.0", "id": message["id"],
              "error": {"code": -32601, "message": "no method " + str(method)}})
        continue
    send({"jsonrpc": "2.0", "id": message["id"], "result": result})
"#;

/// The marker server, written into its own directory, and where its marker will be.
struct MarkerServer {
    dir: TempDir,
}

impl MarkerServer {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("a directory for the server");
        std::fs::write(dir.path().join("marker_server.py"), MARKER_SERVER).expect("the script");
        Self { dir }
    }

    fn marker(&self) -> PathBuf {
        self.dir.path().join("marker.txt")
    }

    fn declaration(&self) -> McpServer {
        McpServer {
            name: "marker".to_owned(),
            transport: McpTransport::Stdio {
                command: "python3".to_owned(),
                args: vec![
                    self.dir
                        .path()
                        .join("marker_server.py")
                        .display()
                        .to_string(),
                ],
                env: BTreeMap::from([(
                    "MARKER_FILE".to_owned(),
                    self.marker().display().to_string(),
                )]),
            },
        }
    }
}

fn tools_offered(server: &ModelServer) -> Vec<String> {
    server
        .model_requests()
        .iter()
        .filter_map(|request| request.body.as_ref())
        .filter_map(|body| {
            body.get("tools")
                .and_then(|tools| tools.as_array())
                .cloned()
        })
        .flatten()
        .filter_map(|tool| {
            tool.get("name")
                .and_then(|name| name.as_str())
                .map(str::to_owned)
        })
        .collect()
}

fn assert_marker_written(marker: &Path) {
    assert_eq!(
        std::fs::read_to_string(marker).expect("the MCP tool wrote the marker"),
        "hello from the model"
    );
}

/// Run the CLI of `kind` with the marker server on its request, against a model whose
/// first turn calls `tool` (the CLI's name for the server's `write_marker`).
async fn run_with_marker(
    kind: AgentKind,
    cli: &Path,
    tool: &str,
) -> (AgentOutcome, Vec<AgentEvent>, ModelServer, MarkerServer) {
    let workspace = workspace();
    let marker_server = MarkerServer::new();
    let server = ModelServer::start(Script::new(
        "a CLI calls an MCP tool",
        [
            Turn::tool_call(tool, json!({"text": "hello from the model"})),
            Turn::final_answer(HANDOFF),
        ],
    ))
    .await
    .expect("the model server starts");
    let mut request = request(workspace.path(), Duration::from_secs(120));
    request.mcp_servers = vec![marker_server.declaration()];
    let (outcome, events) = run(profile(kind, cli, &server), &request).await;
    assert_eq!(
        outcome.failure,
        None,
        "events: {events:#?}\ntools offered: {:?}",
        tools_offered(&server)
    );
    assert_marker_written(&marker_server.marker());
    (outcome, events, server, marker_server)
}

#[tokio::test]
async fn claude_code_calls_a_tool_of_the_requests_mcp_server() {
    let (outcome, events, _server, _marker) = run_with_marker(
        AgentKind::ClaudeCode,
        &agent_cli::claude(),
        "mcp__marker__write_marker",
    )
    .await;
    assert!(
        events.iter().any(|event| matches!(
            event,
            AgentEvent::ToolCall { tool, input } if tool == "mcp__marker__write_marker"
                && input.contains("hello from the model")
        )),
        "{events:#?}"
    );
    assert!(
        events.iter().any(|event| matches!(
            event,
            AgentEvent::ToolResult { tool, output, denied: false, .. }
                if tool == "mcp__marker__write_marker" && output.contains("marker written")
        )),
        "{events:#?}"
    );
    assert_eq!(outcome.usage.tool_calls, 1);
}

#[tokio::test]
async fn claude_code_without_mcp_servers_is_offered_no_mcp_tool() {
    let claude = agent_cli::claude();
    let workspace = workspace();
    // A server the repository declares is not used: only the request's servers are.
    std::fs::write(
        workspace.path().join(".mcp.json"),
        r#"{"mcpServers": {"stray": {"command": "python3", "args": ["-c", "pass"]}}}"#,
    )
    .expect(".mcp.json");
    let server = ModelServer::start(Script::new(
        "claude answers at once",
        [Turn::final_answer(HANDOFF)],
    ))
    .await
    .expect("the model server starts");
    let request = request(workspace.path(), Duration::from_secs(120));
    let (outcome, events) = run(profile(AgentKind::ClaudeCode, &claude, &server), &request).await;
    assert_eq!(outcome.failure, None, "{events:#?}");
    let tools = tools_offered(&server);
    assert!(tools.iter().any(|tool| tool == "Write"), "{tools:?}");
    assert!(
        !tools.iter().any(|tool| tool.starts_with("mcp__")),
        "{tools:?}"
    );
}

#[tokio::test]
async fn codex_calls_a_tool_of_the_requests_mcp_server() {
    // The tool `write_marker` of the namespace `mcp__marker`.
    let (outcome, events, server, _marker) = run_with_marker(
        AgentKind::Codex,
        &agent_cli::codex(),
        "mcp__marker/write_marker",
    )
    .await;
    // Codex reports an MCP call as `<server>.<tool>`.
    assert!(
        events.iter().any(|event| matches!(
            event,
            AgentEvent::ToolCall { tool, input } if tool == "marker.write_marker"
                && input.contains("hello from the model")
        )),
        "{events:#?}"
    );
    assert_eq!(outcome.usage.tool_calls, 1);
    // Codex offers each MCP server's tools as one namespace of the Responses API.
    assert!(
        tools_offered(&server)
            .iter()
            .any(|tool| tool == "mcp__marker"),
        "{:?}",
        tools_offered(&server)
    );
}
