//! Reading a file the repository gives the agent (a skill, `.mcp.json`) from an attempt's
//! workspace: only a regular file inside the workspace, not too large, and UTF-8 text.

use std::io;
use std::path::{Path, PathBuf};

/// The text of `relative` under `workspace`; `None` when there is no such file. `Err`
/// says why the file cannot be used: a link that leads outside the workspace, not a
/// regular file, more than `max_bytes`, or not UTF-8 text.
pub(crate) async fn read_repository_file(
    workspace: &Path,
    relative: &str,
    max_bytes: u64,
) -> Result<Option<String>, String> {
    let resolved = match tokio::fs::canonicalize(workspace.join(relative)).await {
        Ok(resolved) => resolved,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error.to_string()),
    };
    let root: PathBuf = tokio::fs::canonicalize(workspace)
        .await
        .map_err(|error| format!("the workspace: {error}"))?;
    if !resolved.starts_with(&root) {
        return Err("it is a link to a file outside the repository".to_owned());
    }
    let metadata = tokio::fs::metadata(&resolved)
        .await
        .map_err(|error| error.to_string())?;
    if !metadata.is_file() {
        return Err("it is not a file".to_owned());
    }
    if metadata.len() > max_bytes {
        return Err(format!(
            "it is {} bytes, more than the {max_bytes} it may have",
            metadata.len()
        ));
    }
    tokio::fs::read_to_string(&resolved)
        .await
        .map(Some)
        .map_err(|error| match error.kind() {
            io::ErrorKind::InvalidData => "it is not UTF-8 text".to_owned(),
            _ => error.to_string(),
        })
}
