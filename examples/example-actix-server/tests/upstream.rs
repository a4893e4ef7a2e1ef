//! Upstream login end to end over real HTTP (the shared scenarios of
//! `oauth_mcp_battery::upstream_e2e`) on the actix-web example.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use example_actix_server::{Options, start_on};
use example_common::UpstreamOptions;
use oauth_mcp_battery::Harness;
use oauth_mcp_core::clock::ManualClock;

/// Starts the example on `listener` with upstream login `upstream`.
async fn start_actix(listener: std::net::TcpListener, upstream: UpstreamOptions) -> Harness {
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

oauth_mcp_battery::upstream_tests!(start_actix);
