//! Integration tests of the test-support crate's servers.

mod model_server;
