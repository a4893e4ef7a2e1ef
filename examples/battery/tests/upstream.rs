//! The upstream provider clients of `oauth-mcp-core` (feature `upstream`)
//! and the browser leg of an upstream login, against real servers on
//! loopback: panva's certified `oidc-provider` with its login and consent
//! forms (`oidc`), and a stand-in with GitHub's endpoint shapes (`github`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "upstream/github.rs"]
mod github;
#[path = "upstream/oidc.rs"]
mod oidc;
#[path = "upstream/support.rs"]
mod support;
