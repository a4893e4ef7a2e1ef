//! Black-box end-to-end tests of the axum example over real HTTP on loopback:
//! the shared battery (`oauth-mcp-battery`), each test on its own server on an
//! ephemeral port with a manual clock, plus the TypeScript SDK interop test.

// The start helper is not a #[test] function, and panics on failure too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use example_axum_server::{Options, start};
use oauth_mcp_battery::{Harness, ServerSpec};
use oauth_mcp_core::cimd::CimdConfig;
use oauth_mcp_core::client_assertion::JwksFetchConfig;
use oauth_mcp_core::clock::ManualClock;

/// Starts the example on `127.0.0.1:0` with a manual clock and `spec` applied.
async fn start_axum(spec: ServerSpec) -> Harness {
    let ServerSpec {
        demo_admin,
        signing_key,
        public_path,
        loopback_client_documents,
    } = spec;
    let clock = ManualClock::new();
    let running = start(Options {
        bind: "127.0.0.1:0".parse().unwrap(),
        clock: Some(Arc::new(clock.clone())),
        demo_admin,
        signing_key,
        public_path: public_path.map(str::to_owned),
        cimd: loopback_client_documents
            .then(|| CimdConfig::default().dangerously_allow_loopback_http()),
        client_jwks: loopback_client_documents
            .then(|| JwksFetchConfig::default().dangerously_allow_loopback_http()),
        ..Default::default()
    })
    .await
    .expect("the example server starts");
    assert!(running.addr.ip().is_loopback());
    Harness::new(running.public_url, move |secs| clock.advance(secs))
}

oauth_mcp_battery::battery_tests!(start_axum);
