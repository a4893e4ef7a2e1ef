//! Integration tests of oauth-mcp-core through its public API, in process
//! (the HTTP tests over loopback live with the example servers).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "suite/abuse.rs"]
mod abuse;
#[path = "suite/audit.rs"]
mod audit;
#[path = "suite/authorize.rs"]
mod authorize;
#[cfg(all(feature = "cimd", feature = "test-kit"))]
#[path = "suite/cimd_jwks.rs"]
mod cimd_jwks;
#[path = "suite/client_cache.rs"]
mod client_cache;
#[cfg(feature = "test-kit")]
#[path = "suite/conformance.rs"]
mod conformance;
#[path = "suite/keys.rs"]
mod keys;
#[path = "suite/offline_access.rs"]
mod offline_access;
#[path = "suite/policy.rs"]
mod policy;
#[cfg(feature = "test-kit")]
#[path = "suite/private_key_jwt.rs"]
mod private_key_jwt;
#[path = "suite/ratelimit.rs"]
mod ratelimit;
#[path = "suite/registration.rs"]
mod registration;
#[path = "suite/resource_server.rs"]
mod resource_server;
#[path = "suite/store.rs"]
mod store;
#[path = "suite/support.rs"]
mod support;
#[path = "suite/token_cache.rs"]
mod token_cache;
