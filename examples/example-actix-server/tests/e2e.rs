//! The shared black-box battery and the TypeScript SDK interop test, against
//! the actix-web example over real HTTP on loopback: the very same tests the
//! axum example runs.

use std::sync::Arc;

use oauth_mcp_battery::{Harness, ServerSpec};
use oauth_mcp_core::cimd::CimdConfig;
use oauth_mcp_core::client_assertion::JwksFetchConfig;
use oauth_mcp_core::clock::ManualClock;

async fn start_actix(spec: ServerSpec) -> Harness {
    let clock = ManualClock::new();
    let running = example_actix_server::start(example_actix_server::Options {
        bind: ([127, 0, 0, 1], 0).into(),
        clock: Some(Arc::new(clock.clone())),
        demo_admin: spec.demo_admin,
        signing_key: spec.signing_key,
        public_path: spec.public_path.map(str::to_owned),
        cimd: spec
            .loopback_client_documents
            .then(|| CimdConfig::default().dangerously_allow_loopback_http()),
        client_jwks: spec
            .loopback_client_documents
            .then(|| JwksFetchConfig::default().dangerously_allow_loopback_http()),
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("the actix example server starts: {e}"));
    assert!(running.addr.ip().is_loopback());
    Harness::new(running.public_url, move |secs| clock.advance(secs))
}

oauth_mcp_battery::battery_tests!(start_actix);
