//! Integration tests of oauth-mcp-core through its public API, in process
//! (the HTTP tests over loopback live with the example servers).

mod policy;
mod store;
mod support;
