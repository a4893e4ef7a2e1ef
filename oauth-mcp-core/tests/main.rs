//! Integration tests of oauth-mcp-core through its public API, in process
//! (the HTTP tests over loopback live with the example servers).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "suite/audit.rs"]
mod audit;
#[path = "suite/authorize.rs"]
mod authorize;
#[cfg(feature = "test-kit")]
#[path = "suite/conformance.rs"]
mod conformance;
#[path = "suite/keys.rs"]
mod keys;
#[path = "suite/policy.rs"]
mod policy;
#[path = "suite/registration.rs"]
mod registration;
#[path = "suite/resource_server.rs"]
mod resource_server;
#[path = "suite/store.rs"]
mod store;
#[path = "suite/support.rs"]
mod support;
