//! Integration tests of the agents against real servers and real workspaces.

mod acp;
mod chat;
mod cli;
mod droid;
mod llm;
mod mcp;
