//! The real coding-agent CLIs the tests drive, at the versions `scripts/agent-clis.env`
//! pins, installed by `scripts/install-agent-clis` into a cache outside the repository.
//! A test that needs a CLI that is not installed fails with the command that installs it.

use std::path::PathBuf;

const PINNED: &str = include_str!("../../../scripts/agent-clis.env");

/// A pinned version from `scripts/agent-clis.env`.
fn version(name: &str) -> String {
    PINNED
        .lines()
        .filter_map(|line| line.split_once('='))
        .find(|(key, _)| key.trim() == name)
        .map(|(_, value)| value.trim().to_owned())
        .unwrap_or_else(|| panic!("scripts/agent-clis.env pins no {name}"))
}

/// Where the CLIs are installed.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SORTIE_AGENT_CLIS") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .expect("HOME or XDG_CACHE_HOME is set");
    cache.join("sortie/agent-clis")
}

fn installed(dir: &str, bin: &str) -> PathBuf {
    let path = cache_dir().join(dir).join("node_modules/.bin").join(bin);
    assert!(
        path.is_file(),
        "{} is not installed; install the pinned agent CLIs with: scripts/install-agent-clis",
        path.display()
    );
    path
}

/// The pinned `claude` (Claude Code).
pub fn claude() -> PathBuf {
    installed(
        &format!("claude-code-{}", version("CLAUDE_CODE_VERSION")),
        "claude",
    )
}

/// The pinned `codex` (OpenAI Codex CLI).
pub fn codex() -> PathBuf {
    installed(&format!("codex-{}", version("CODEX_VERSION")), "codex")
}

/// The pinned `droid` (Factory's droid CLI).
pub fn droid() -> PathBuf {
    installed(&format!("droid-{}", version("DROID_VERSION")), "droid")
}

/// The pinned `claude-code-acp` (Zed's Claude Code adapter for the Agent Client Protocol).
pub fn claude_code_acp() -> PathBuf {
    installed(
        &format!("claude-code-acp-{}", version("CLAUDE_CODE_ACP_VERSION")),
        "claude-code-acp",
    )
}
