//! Integration tests of the agents against real servers and real workspaces.

mod cli;
mod llm;
mod mcp;
