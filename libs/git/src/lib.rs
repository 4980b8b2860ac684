//! Sortie's git: the only crate that runs git.
//!
//! - [`RepoCache`] keeps a bare mirror per remote URL, so nothing clones from scratch.
//! - [`Workspace`] is a worker's clone on a new branch from the integration branch: what
//!   changed, commit, squash, rebase onto the latest integration tip, push.
//! - [`integrate`] is the merge queue's fenced integration of a proposal, computed in the
//!   mirror with `git merge-tree` and landed with a compare-and-swap push.
//! - [`ensure_branch`], [`branch_tip`] and [`is_ancestor`] answer the orchestrator;
//!   [`checkout_commit`] gives a validator exactly the commit it must prove.
//!
//! Invariant: every git process is started by `runner`, with a time limit after which it
//! is killed, no terminal prompt, Sortie's identity, none of the user's global or system
//! config, and no repository hooks unless the config dangerously asks for them.
//!
//! Invariant: credentials in a remote URL never reach the disk, a log line or an error:
//! mirrors and workspaces are given the URL on each command line, and what is stored or
//! shown has its user information removed or redacted.

mod branches;
mod cache;
mod checkout;
mod config;
mod error;
mod integrate;
mod message;
mod push;
mod refs;
mod runner;
mod seed;
mod touches;
mod url;
mod workspace;

pub use branches::{branch_tip, delete_branch_if_at, ensure_branch, is_ancestor};
pub use cache::{Mirror, RepoCache};
pub use checkout::{checkout_commit, remove_workspace};
pub use config::{GitConfig, Identity};
pub use error::{GitError, GitResult};
pub use integrate::{IntegrationOutcome, Proposal, integrate};
pub use message::{
    ATTEMPT_TRAILER, CommitMessage, EPOCH_TRAILER, FEATURE_TRAILER, MISSION_TRAILER, trailer_values,
};
pub use refs::{CommitId, attempt_branch, validate_branch_name};
pub use seed::seed_bare_repository;
pub use touches::paths_outside;
pub use workspace::{RebaseOutcome, Workspace};
