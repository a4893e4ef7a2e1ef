//! Integration tests of `oauth-mcp` (one test binary; the modules live in
//! `tests/cli/`): `trace` against the axum and actix-web example servers, the
//! TypeScript MCP SDK's demo OAuth server and deliberately misconfigured
//! servers; `--save-trace`, `--format mermaid`, the browser login; and the
//! `store` commands on SQLite. Every server listens on loopback only.

// Test code: the helpers and the fake servers are not #[test] functions,
// and a failed expectation there is a failed test, so they panic on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli;
