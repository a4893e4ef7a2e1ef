//! Upstream login end to end over real HTTP (the shared scenarios of
//! `oauth_mcp_battery::upstream_e2e`): the axum example signing people in at
//! panva's `oidc-provider` (login and consent forms) or the GitHub stand-in.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use example_axum_server::{Options, start_on};
use example_common::UpstreamOptions;
use oauth_mcp_battery::Harness;
use oauth_mcp_core::clock::ManualClock;

/// Starts the example on `listener` with upstream login `upstream`.
async fn start_axum(listener: std::net::TcpListener, upstream: UpstreamOptions) -> Harness {
    listener.set_nonblocking(true).unwrap();
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    let clock = ManualClock::new();
    let running = start_on(
        listener,
        Options {
            clock: Some(Arc::new(clock.clone())),
            upstream: Some(upstream),
            ..Default::default()
        },
    )
    .await
    .expect("the example server starts");
    Harness::new(running.public_url, move |secs| clock.advance(secs))
}

oauth_mcp_battery::upstream_tests!(start_axum);
