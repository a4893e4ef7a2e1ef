//! Integration tests of oauth-mcp-core through its public API, in process
//! (the HTTP tests over loopback live with the example servers).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod policy;
mod store;
mod support;
