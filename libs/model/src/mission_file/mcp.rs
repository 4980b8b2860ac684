//! `[[mcp_servers]]`: the MCP servers the mission's agents are given.

use std::collections::BTreeMap;

use crate::mcp::{McpTransport, check_server_name, check_server_url};

use super::diagnostic::DiagnosticCode;
use super::raw::RawMcpServer;
use super::reader::{TableReader, as_string};
use super::source::Sink;

pub(crate) const MCP_SERVER_FIELDS: &[&str] = &["name", "command", "args", "env", "url", "headers"];

/// The fields that belong to each transport, to report those given to the other.
const STDIO_ONLY: &[&str] = &["args", "env"];
const HTTP_ONLY: &[&str] = &["headers"];

pub(crate) fn read_mcp_server(table: &TableReader<'_, '_>, sink: &mut Sink<'_>) -> RawMcpServer {
    let name = table.required_string("name", sink).filter(|name| {
        let verdict = check_server_name(&name.text);
        if let Err(reason) = &verdict {
            sink.report_at(
                DiagnosticCode::InvalidMcpServerName,
                name,
                format!("MCP server name {:?} {reason}", name.text),
            );
        }
        verdict.is_ok()
    });
    RawMcpServer {
        name,
        transport: read_transport(table, sink),
    }
}

/// The server's transport: a `command` (stdio) or a `url` (HTTP), never both.
fn read_transport(table: &TableReader<'_, '_>, sink: &mut Sink<'_>) -> Option<McpTransport> {
    let report = |sink: &mut Sink<'_>, key: &str, message: String| {
        let span = table
            .value(key)
            .map_or_else(|| table.span(), |value| value.span());
        sink.report(
            DiagnosticCode::InvalidMcpServer,
            span,
            &table.path().key(key),
            message,
        );
    };
    match (table.has("command"), table.has("url")) {
        (true, true) => {
            report(
                sink,
                "url",
                "an MCP server has either a command (stdio) or a url (HTTP), not both".to_owned(),
            );
            None
        }
        (false, false) => {
            sink.report(
                DiagnosticCode::InvalidMcpServer,
                table.span(),
                table.path(),
                "an MCP server needs a command (stdio) or a url (HTTP)",
            );
            None
        }
        (true, false) => {
            for key in HTTP_ONLY.iter().filter(|key| table.has(key)) {
                report(
                    sink,
                    key,
                    format!("{key:?} belongs to an HTTP server (url); this one has a command"),
                );
            }
            let command = table.required_text("command", sink);
            let args = table
                .string_list("args", sink)
                .into_iter()
                .map(|arg| arg.text)
                .collect();
            Some(McpTransport::Stdio {
                command,
                args,
                env: read_strings(table, "env", sink),
            })
        }
        (false, true) => {
            for key in STDIO_ONLY.iter().filter(|key| table.has(key)) {
                report(
                    sink,
                    key,
                    format!("{key:?} belongs to a stdio server (command); this one has a url"),
                );
            }
            let url = table.required_string("url", sink)?;
            if let Err(reason) = check_server_url(&url.text) {
                sink.report_at(
                    DiagnosticCode::InvalidMcpServer,
                    &url,
                    format!("url {:?} {reason}", url.text),
                );
            }
            Some(McpTransport::Http {
                url: url.text,
                headers: read_strings(table, "headers", sink),
            })
        }
    }
}

/// A table of strings by name (`env = { KEY = "value" }`).
fn read_strings(
    table: &TableReader<'_, '_>,
    key: &str,
    sink: &mut Sink<'_>,
) -> BTreeMap<String, String> {
    table
        .optional_map(key, sink)
        .into_iter()
        .filter_map(|(name, value)| {
            let value = as_string(value, &name.path, sink)?;
            Some((name.text, value.text))
        })
        .collect()
}
