//! MCP servers an agent is given: declared by the mission file (`[[mcp_servers]]`) or by
//! the repository (`.mcp.json`, Claude Code's format).
//!
//! The parsing is pure; the worker reads `.mcp.json` from the prepared workspace and
//! [`merge`]s it with the plan's servers, the plan's winning on a name clash.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where a repository declares its MCP servers, relative to its root.
pub const REPOSITORY_MCP_FILE: &str = ".mcp.json";

/// One MCP server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct McpServer {
    /// Letters, digits, `_` and `-`: the name is part of the tools' names
    /// (`mcp__<name>__<tool>`) and of configuration keys.
    pub name: String,
    pub transport: McpTransport,
}

/// How an agent reaches an MCP server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum McpTransport {
    /// A program the agent starts, speaking JSON-RPC on its standard input and output.
    Stdio {
        command: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        args: Vec<String>,
        /// Set on top of the agent's own (cleared) environment.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        env: BTreeMap<String, String>,
    },
    /// A server reached over streamable HTTP.
    Http {
        url: String,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        headers: BTreeMap<String, String>,
    },
}

/// Whether `name` can name an MCP server: `Err` says why not.
pub fn check_server_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".to_owned());
    }
    match name
        .chars()
        .find(|character| !(character.is_ascii_alphanumeric() || "_-".contains(*character)))
    {
        Some(character) => Err(format!(
            "contains {character:?}; only letters, digits, '_' and '-' are allowed"
        )),
        None => Ok(()),
    }
}

/// Whether `url` can be an HTTP server's address.
pub fn check_server_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or("must start with http:// or https://")?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err("has no host".to_owned());
    }
    Ok(())
}

/// The servers of a `.mcp.json` (`{"mcpServers": {"name": {...}}}`), in name order.
/// `Err` names the first problem and where it is (`mcpServers.docs.args[1]`).
pub fn parse_mcp_json(text: &str) -> Result<Vec<McpServer>, String> {
    let document: Value =
        serde_json::from_str(text).map_err(|error| format!("not valid JSON: {error}"))?;
    let Value::Object(top) = document else {
        return Err("the top level must be an object with \"mcpServers\"".to_owned());
    };
    if let Some(unknown) = top.keys().find(|key| *key != "mcpServers") {
        return Err(format!(
            "unknown field {unknown:?} at the top level; only \"mcpServers\" is read"
        ));
    }
    let servers = match top.get("mcpServers") {
        None => return Ok(Vec::new()),
        Some(Value::Object(servers)) => servers,
        Some(_) => return Err("\"mcpServers\" must be an object of servers by name".to_owned()),
    };
    servers
        .iter()
        .map(|(name, server)| {
            let place = format!("mcpServers.{name}");
            check_server_name(name).map_err(|reason| format!("{place}: name {name:?} {reason}"))?;
            let transport = json_transport(server).map_err(|reason| format!("{place}{reason}"))?;
            Ok(McpServer {
                name: name.clone(),
                transport,
            })
        })
        .collect()
}

/// One server of `.mcp.json`; `Err` starts with the field it is about (`.url: ...`) or
/// with `: `.
fn json_transport(server: &Value) -> Result<McpTransport, String> {
    let Value::Object(fields) = server else {
        return Err(": a server must be an object".to_owned());
    };
    let kind = match fields.get("type") {
        None => None,
        Some(Value::String(kind)) => Some(kind.as_str()),
        Some(_) => return Err(".type: must be a string".to_owned()),
    };
    let kind = match (
        kind,
        fields.contains_key("command"),
        fields.contains_key("url"),
    ) {
        (Some("stdio"), ..) | (None, true, false) => "stdio",
        (Some("http"), ..) | (None, false, true) => "http",
        (Some(other), ..) => {
            return Err(format!(
                ".type: {other:?} is not supported; use \"stdio\" or \"http\""
            ));
        }
        (None, true, true) => return Err(": has both \"command\" and \"url\"".to_owned()),
        (None, false, false) => return Err(": has neither \"command\" nor \"url\"".to_owned()),
    };
    let allowed: &[&str] = if kind == "stdio" {
        &["type", "command", "args", "env"]
    } else {
        &["type", "url", "headers"]
    };
    if let Some(unknown) = fields.keys().find(|key| !allowed.contains(&key.as_str())) {
        return Err(format!(
            ".{unknown}: not a field of a {kind} server (its fields: {})",
            allowed.join(", ")
        ));
    }
    let text = |key: &str| match fields.get(key) {
        Some(Value::String(text)) if !text.trim().is_empty() => Ok(text.clone()),
        Some(Value::String(_)) => Err(format!(".{key}: must not be empty")),
        Some(_) => Err(format!(".{key}: must be a string")),
        None => Err(format!(": missing field {key:?}")),
    };
    let map = |key: &str| -> Result<BTreeMap<String, String>, String> {
        match fields.get(key) {
            None => Ok(BTreeMap::new()),
            Some(Value::Object(entries)) => entries
                .iter()
                .map(|(name, value)| match value {
                    Value::String(value) => Ok((name.clone(), value.clone())),
                    _ => Err(format!(".{key}.{name}: must be a string")),
                })
                .collect(),
            Some(_) => Err(format!(".{key}: must be an object of strings")),
        }
    };
    if kind == "http" {
        let url = text("url")?;
        check_server_url(&url).map_err(|reason| format!(".url: {url:?} {reason}"))?;
        return Ok(McpTransport::Http {
            url,
            headers: map("headers")?,
        });
    }
    let args = match fields.get("args") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(index, item)| match item {
                Value::String(arg) => Ok(arg.clone()),
                _ => Err(format!(".args[{index}]: must be a string")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(".args: must be an array of strings".to_owned()),
    };
    Ok(McpTransport::Stdio {
        command: text("command")?,
        args,
        env: map("env")?,
    })
}

/// The plan's servers, then the repository's whose names the plan does not use: the
/// plan's declaration wins on a name clash.
pub fn merge(plan: &[McpServer], repository: Vec<McpServer>) -> Vec<McpServer> {
    let mut servers = plan.to_vec();
    servers.extend(
        repository
            .into_iter()
            .filter(|server| !plan.iter().any(|declared| declared.name == server.name)),
    );
    servers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claude_codes_format_is_read() {
        let servers = parse_mcp_json(
            r#"{"mcpServers": {
                "files": {"command": "npx", "args": ["-y", "files-mcp"], "env": {"ROOT": "."}},
                "docs": {"type": "http", "url": "https://docs.example.com/mcp",
                         "headers": {"Authorization": "Bearer x"}},
                "typed": {"type": "stdio", "command": "./serve"}
            }}"#,
        )
        .expect("a valid file");
        assert_eq!(servers.len(), 3);
        assert_eq!(servers[0].name, "docs");
        assert!(matches!(
            &servers[0].transport,
            McpTransport::Http { url, headers } if url == "https://docs.example.com/mcp" && headers.len() == 1
        ));
        assert_eq!(
            servers[1].transport,
            McpTransport::Stdio {
                command: "npx".to_owned(),
                args: vec!["-y".to_owned(), "files-mcp".to_owned()],
                env: BTreeMap::from([("ROOT".to_owned(), ".".to_owned())]),
            }
        );
        assert!(
            matches!(&servers[2].transport, McpTransport::Stdio { command, .. } if command == "./serve")
        );
        assert_eq!(parse_mcp_json("{}"), Ok(Vec::new()));
    }

    #[test]
    fn a_bad_file_is_refused_naming_the_place() {
        for (text, expected) in [
            ("{", "not valid JSON"),
            (r#"{"servers": {}}"#, "unknown field \"servers\""),
            (r#"{"mcpServers": []}"#, "must be an object"),
            (
                r#"{"mcpServers": {"a b": {"command": "x"}}}"#,
                "mcpServers.a b: name",
            ),
            (r#"{"mcpServers": {"x": {}}}"#, "mcpServers.x: has neither"),
            (
                r#"{"mcpServers": {"x": {"command": "a", "url": "http://h"}}}"#,
                "both",
            ),
            (
                r#"{"mcpServers": {"x": {"type": "sse", "url": "http://h"}}}"#,
                "\"sse\" is not supported",
            ),
            (
                r#"{"mcpServers": {"x": {"command": "a", "args": [1]}}}"#,
                "mcpServers.x.args[0]: must be a string",
            ),
            (
                r#"{"mcpServers": {"x": {"command": "a", "url2": 1}}}"#,
                "mcpServers.x.url2: not a field",
            ),
            (
                r#"{"mcpServers": {"x": {"url": "ftp://h"}}}"#,
                "mcpServers.x.url: \"ftp://h\" must start",
            ),
            (
                r#"{"mcpServers": {"x": {"command": " "}}}"#,
                "mcpServers.x.command: must not be empty",
            ),
            (
                r#"{"mcpServers": {"x": {"command": "a", "env": {"K": 1}}}}"#,
                "mcpServers.x.env.K",
            ),
        ] {
            let error = parse_mcp_json(text).expect_err(text);
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn the_plans_server_wins_a_name_clash() {
        let server = |name: &str, command: &str| McpServer {
            name: name.to_owned(),
            transport: McpTransport::Stdio {
                command: command.to_owned(),
                args: Vec::new(),
                env: BTreeMap::new(),
            },
        };
        let merged = merge(
            &[server("shared", "plan")],
            vec![server("shared", "repository"), server("own", "repository")],
        );
        assert_eq!(
            merged,
            [server("shared", "plan"), server("own", "repository")]
        );
    }
}
