//! A request's MCP servers, in each CLI's terms: Claude Code's `--mcp-config` file and
//! the permission rules for their tools; Codex's `-c mcp_servers.<name>.*` overrides.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use sortie_model::mcp::{McpServer, McpTransport};

use crate::AgentError;

/// The file in the run's home that holds Claude Code's MCP configuration.
const CLAUDE_CONFIG_FILE: &str = "sortie-mcp.json";

/// Claude Code's `--mcp-config` document: `{"mcpServers": {"<name>": {...}}}`.
pub(crate) fn claude_config(servers: &[McpServer]) -> Value {
    let mut by_name = Map::new();
    for server in servers {
        let entry = match &server.transport {
            McpTransport::Stdio { command, args, env } => json!({
                "type": "stdio",
                "command": command,
                "args": args,
                "env": env,
            }),
            McpTransport::Http { url, headers } => json!({
                "type": "http",
                "url": url,
                "headers": headers,
            }),
        };
        by_name.insert(server.name.clone(), entry);
    }
    json!({ "mcpServers": by_name })
}

/// Writes Claude Code's MCP configuration into the run's home; `None` without servers.
pub(crate) fn write_claude_config(
    home: &Path,
    servers: &[McpServer],
) -> Result<Option<PathBuf>, AgentError> {
    if servers.is_empty() {
        return Ok(None);
    }
    let path = home.join(CLAUDE_CONFIG_FILE);
    let text = serde_json::to_string_pretty(&claude_config(servers))
        .map_err(|error| AgentError::Io(format!("writing the MCP configuration: {error}")))?;
    std::fs::write(&path, text).map_err(|error| {
        AgentError::Io(format!(
            "writing the MCP configuration {}: {error}",
            path.display()
        ))
    })?;
    Ok(Some(path))
}

/// The permission rules that allow every tool of each server (`mcp__<name>__*`).
pub(crate) fn claude_allowed_tools(servers: &[McpServer]) -> Vec<String> {
    servers
        .iter()
        .map(|server| format!("mcp__{}__*", server.name))
        .collect()
}

/// Codex's configuration overrides, each the value of one `-c`: `mcp_servers.<name>.command`
/// and the rest, as TOML values. Codex offers a server's tools to the model as the
/// namespace `mcp__<name>`.
pub(crate) fn codex_overrides(servers: &[McpServer]) -> Vec<String> {
    let mut overrides = Vec::new();
    for server in servers {
        let key = format!("mcp_servers.{}", server.name);
        // `codex exec` asks no one, so a tool that needs approval would always be refused;
        // the servers are the plan's or the repository's, and their tools are allowed.
        overrides.push(format!("{key}.default_tools_approval_mode=\"approve\""));
        match &server.transport {
            McpTransport::Stdio { command, args, env } => {
                overrides.push(format!("{key}.command={}", toml_string(command)));
                if !args.is_empty() {
                    let args: Vec<String> = args.iter().map(|arg| toml_string(arg)).collect();
                    overrides.push(format!("{key}.args=[{}]", args.join(",")));
                }
                if !env.is_empty() {
                    overrides.push(format!("{key}.env={}", toml_table(env)));
                }
            }
            McpTransport::Http { url, headers } => {
                overrides.push(format!("{key}.url={}", toml_string(url)));
                if !headers.is_empty() {
                    overrides.push(format!("{key}.http_headers={}", toml_table(headers)));
                }
            }
        }
    }
    overrides
}

/// A TOML basic string: quotes, backslashes and control characters escaped.
fn toml_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for character in text.chars() {
        match character {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            '\r' => quoted.push_str("\\r"),
            control if control.is_control() => {
                quoted.push_str(&format!("\\u{:04X}", u32::from(control)));
            }
            other => quoted.push(other),
        }
    }
    quoted.push('"');
    quoted
}

/// A TOML inline table of strings, its keys quoted.
fn toml_table(entries: &std::collections::BTreeMap<String, String>) -> String {
    let entries: Vec<String> = entries
        .iter()
        .map(|(name, value)| format!("{}={}", toml_string(name), toml_string(value)))
        .collect();
    format!("{{{}}}", entries.join(","))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn servers() -> Vec<McpServer> {
        vec![
            McpServer {
                name: "marker".to_owned(),
                transport: McpTransport::Stdio {
                    command: "python3".to_owned(),
                    args: vec!["/tmp/a \"b\".py".to_owned(), "-v".to_owned()],
                    env: BTreeMap::from([("MARKER_DIR".to_owned(), "C:\\out".to_owned())]),
                },
            },
            McpServer {
                name: "docs".to_owned(),
                transport: McpTransport::Http {
                    url: "https://docs.example.com/mcp".to_owned(),
                    headers: BTreeMap::from([("Authorization".to_owned(), "Bearer x".to_owned())]),
                },
            },
        ]
    }

    #[test]
    fn claude_code_gets_a_config_document_and_rules_for_every_tool() {
        let config = claude_config(&servers());
        assert_eq!(config["mcpServers"]["marker"]["type"], "stdio");
        assert_eq!(config["mcpServers"]["marker"]["command"], "python3");
        assert_eq!(config["mcpServers"]["marker"]["args"][1], "-v");
        assert_eq!(
            config["mcpServers"]["marker"]["env"]["MARKER_DIR"],
            "C:\\out"
        );
        assert_eq!(config["mcpServers"]["docs"]["type"], "http");
        assert_eq!(
            config["mcpServers"]["docs"]["headers"]["Authorization"],
            "Bearer x"
        );
        assert_eq!(
            claude_allowed_tools(&servers()),
            ["mcp__marker__*", "mcp__docs__*"]
        );
    }

    #[test]
    fn codex_gets_one_toml_override_per_setting() {
        let overrides = codex_overrides(&servers());
        assert_eq!(
            overrides,
            [
                r#"mcp_servers.marker.default_tools_approval_mode="approve""#,
                r#"mcp_servers.marker.command="python3""#,
                r#"mcp_servers.marker.args=["/tmp/a \"b\".py","-v"]"#,
                r#"mcp_servers.marker.env={"MARKER_DIR"="C:\\out"}"#,
                r#"mcp_servers.docs.default_tools_approval_mode="approve""#,
                r#"mcp_servers.docs.url="https://docs.example.com/mcp""#,
                r#"mcp_servers.docs.http_headers={"Authorization"="Bearer x"}"#,
            ]
        );
        assert_eq!(toml_string("a\nb\u{1}"), r#""a\nb\u0001""#);
    }
}
