//! The MCP servers an agent is given: the plan's (the task carries them), then those the
//! repository declares in `.mcp.json` at the attempt's base commit, the plan's winning a
//! name clash. A `.mcp.json` that cannot be used fails the attempt; it is never passed
//! over, since the agent would then run without servers the repository expects.
//!
//! Invariant: only a file inside the workspace is read: a `.mcp.json` that is a symbolic
//! link to somewhere else is refused.

use std::path::Path;

use sortie_model::mcp::{McpServer, REPOSITORY_MCP_FILE, merge, parse_mcp_json};

use crate::repository_file::read_repository_file;

/// The largest `.mcp.json` read: a list of servers, not a data file.
pub const MAX_MCP_FILE_BYTES: u64 = 256 * 1024;

#[derive(Debug, thiserror::Error)]
#[error("the repository's {REPOSITORY_MCP_FILE} cannot be used: {reason}")]
pub struct McpFileError {
    reason: String,
}

/// The plan's servers and the repository's, for the workspace at `workspace`.
pub async fn servers_for_attempt(
    planned: &[McpServer],
    workspace: &Path,
) -> Result<Vec<McpServer>, McpFileError> {
    let Some(text) = read_mcp_file(workspace).await? else {
        return Ok(planned.to_vec());
    };
    let repository = parse_mcp_json(&text).map_err(|reason| McpFileError { reason })?;
    Ok(merge(planned, repository))
}

/// The text of the workspace's `.mcp.json`, or `None` when it has none.
async fn read_mcp_file(workspace: &Path) -> Result<Option<String>, McpFileError> {
    read_repository_file(workspace, REPOSITORY_MCP_FILE, MAX_MCP_FILE_BYTES)
        .await
        .map_err(|reason| McpFileError { reason })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use sortie_model::mcp::McpTransport;
    use tempfile::TempDir;

    use super::*;

    fn stdio(name: &str, command: &str) -> McpServer {
        McpServer {
            name: name.to_owned(),
            transport: McpTransport::Stdio {
                command: command.to_owned(),
                args: Vec::new(),
                env: BTreeMap::new(),
            },
        }
    }

    fn workspace_with(mcp_json: Option<&str>) -> TempDir {
        let workspace = tempfile::tempdir().expect("a workspace");
        if let Some(text) = mcp_json {
            std::fs::write(workspace.path().join(".mcp.json"), text).expect(".mcp.json");
        }
        workspace
    }

    #[tokio::test]
    async fn the_repositorys_servers_join_the_plans_which_win_a_clash() {
        let workspace = workspace_with(Some(
            r#"{"mcpServers": {"shared": {"command": "repo-shared"}, "own": {"command": "repo-own"}}}"#,
        ));
        let servers = servers_for_attempt(&[stdio("shared", "plan-shared")], workspace.path())
            .await
            .expect("a valid .mcp.json");
        assert_eq!(
            servers,
            [stdio("shared", "plan-shared"), stdio("own", "repo-own")]
        );
    }

    #[tokio::test]
    async fn without_a_file_the_plans_servers_are_all() {
        let workspace = workspace_with(None);
        let servers = servers_for_attempt(&[stdio("a", "a")], workspace.path())
            .await
            .expect("no file is fine");
        assert_eq!(servers, [stdio("a", "a")]);
    }

    #[tokio::test]
    async fn a_bad_file_fails_naming_the_file_and_the_problem() {
        let workspace = workspace_with(Some(r#"{"mcpServers": {"docs": {"url": "ftp://h"}}}"#));
        let error = servers_for_attempt(&[], workspace.path())
            .await
            .expect_err("a bad url");
        let message = error.to_string();
        assert!(message.contains(".mcp.json"), "{message}");
        assert!(message.contains("mcpServers.docs.url"), "{message}");
    }

    #[tokio::test]
    async fn a_link_out_of_the_workspace_is_refused() {
        let outside = workspace_with(Some(r#"{"mcpServers": {}}"#));
        let workspace = workspace_with(None);
        std::os::unix::fs::symlink(
            outside.path().join(".mcp.json"),
            workspace.path().join(".mcp.json"),
        )
        .expect("a link");
        let error = servers_for_attempt(&[], workspace.path())
            .await
            .expect_err("a link out");
        assert!(error.to_string().contains("outside"), "{error}");
    }
}
