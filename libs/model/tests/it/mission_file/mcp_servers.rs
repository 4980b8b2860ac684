//! `[[mcp_servers]]`: the MCP servers a mission's agents are given.

use std::collections::BTreeMap;

use sortie_model::mcp::McpTransport;
use sortie_model::mission_file::DiagnosticCode;

use super::{MINIMAL, accepted, expect_one, line_of, refused};

fn with_servers(servers: &str) -> String {
    format!("{MINIMAL}\n{servers}")
}

#[test]
fn stdio_and_http_servers_are_read() {
    let text = with_servers(
        r#"[[mcp_servers]]
name = "files"
command = "npx"
args = ["-y", "files-mcp"]
env = { ROOT = "." }

[[mcp_servers]]
name = "docs"
url = "https://docs.example.com/mcp"
headers = { Authorization = "Bearer x" }
"#,
    );
    let plan = accepted(&text).plan;
    assert_eq!(plan.mcp_servers.len(), 2);
    assert_eq!(plan.mcp_servers[0].name, "files");
    assert_eq!(
        plan.mcp_servers[0].transport,
        McpTransport::Stdio {
            command: "npx".to_owned(),
            args: vec!["-y".to_owned(), "files-mcp".to_owned()],
            env: BTreeMap::from([("ROOT".to_owned(), ".".to_owned())]),
        }
    );
    assert_eq!(
        plan.mcp_servers[1].transport,
        McpTransport::Http {
            url: "https://docs.example.com/mcp".to_owned(),
            headers: BTreeMap::from([("Authorization".to_owned(), "Bearer x".to_owned())]),
        }
    );
    assert!(accepted(MINIMAL).plan.mcp_servers.is_empty());
}

#[test]
fn a_server_name_with_a_dot_is_refused() {
    let text = with_servers("[[mcp_servers]]\nname = \"my.docs\"\ncommand = \"serve\"\n");
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::InvalidMcpServerName,
        line_of(&text, "name = \"my.docs\"", 1),
        "mcp_servers[0].name",
    );
    assert!(diagnostic.message.contains("'.'"), "{diagnostic}");
}

#[test]
fn a_server_with_neither_command_nor_url_is_refused_at_its_header() {
    let text = with_servers("[[mcp_servers]]\nname = \"docs\"\n");
    let diagnostics = refused(&text);
    let diagnostic = expect_one(
        &diagnostics,
        DiagnosticCode::InvalidMcpServer,
        line_of(&text, "[[mcp_servers]]", 1),
        "mcp_servers[0]",
    );
    assert!(
        diagnostic.message.contains("needs a command"),
        "{diagnostic}"
    );
}

#[test]
fn a_server_with_both_command_and_url_is_refused_at_the_url() {
    let text = with_servers(
        "[[mcp_servers]]\nname = \"docs\"\ncommand = \"serve\"\nurl = \"http://localhost:9\"\n",
    );
    let diagnostics = refused(&text);
    expect_one(
        &diagnostics,
        DiagnosticCode::InvalidMcpServer,
        line_of(&text, "url = \"http", 1),
        "mcp_servers[0].url",
    );
}

#[test]
fn options_of_the_other_transport_and_bad_urls_are_refused() {
    let text = with_servers(
        "[[mcp_servers]]\nname = \"docs\"\nurl = \"http://localhost:9\"\nargs = [\"-v\"]\n\n\
         [[mcp_servers]]\nname = \"web\"\nurl = \"ws://localhost:9\"\n",
    );
    let diagnostics = refused(&text);
    let codes: Vec<(&str, usize)> = diagnostics
        .iter()
        .map(|diagnostic| (diagnostic.field.as_str(), diagnostic.line))
        .collect();
    assert_eq!(
        codes,
        [
            ("mcp_servers[0].args", line_of(&text, "args = ", 1)),
            ("mcp_servers[1].url", line_of(&text, "ws://", 1)),
        ],
        "{diagnostics}"
    );
    assert!(
        diagnostics
            .iter()
            .all(|diagnostic| diagnostic.code == DiagnosticCode::InvalidMcpServer)
    );
}

#[test]
fn a_server_declared_twice_is_refused_at_the_second() {
    let text = with_servers(
        "[[mcp_servers]]\nname = \"docs\"\ncommand = \"a\"\n\n\
         [[mcp_servers]]\nname = \"docs\"\ncommand = \"b\"\n",
    );
    let diagnostics = refused(&text);
    expect_one(
        &diagnostics,
        DiagnosticCode::DuplicateId,
        line_of(&text, "name = \"docs\"", 2),
        "mcp_servers[1].name",
    );
}

#[test]
fn wrong_types_and_unknown_fields_are_refused() {
    let text = with_servers(
        "[[mcp_servers]]\nname = \"docs\"\ncommand = \"serve\"\nenv = { PORT = 8080 }\ncwd = \"/\"\n",
    );
    let diagnostics = refused(&text);
    expect_one(
        &diagnostics,
        DiagnosticCode::WrongType,
        line_of(&text, "env = ", 1),
        "mcp_servers[0].env.PORT",
    );
    expect_one(
        &diagnostics,
        DiagnosticCode::UnknownField,
        line_of(&text, "cwd = ", 1),
        "mcp_servers[0].cwd",
    );
}
