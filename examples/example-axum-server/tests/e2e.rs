//! Black-box end-to-end tests of the axum example over real HTTP on loopback:
//! each test starts its own server on an ephemeral port (with a manual clock)
//! and runs one function of the shared battery against it.

// Helpers outside #[test] functions panic on failure too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod battery;

use std::sync::Arc;

use battery::Harness;
use example_axum_server::{Options, start};
use oauth_mcp_core::clock::ManualClock;
use oauth_mcp_core::token::{SigningAlgorithm, SigningKey};

/// Starts the example with `tweak` applied to the test defaults.
async fn server(tweak: impl FnOnce(&mut Options)) -> Harness {
    let clock = ManualClock::new();
    let mut opts = Options {
        bind: "127.0.0.1:0".parse().unwrap(),
        clock: Some(Arc::new(clock.clone())),
        ..Default::default()
    };
    tweak(&mut opts);
    let running = start(opts).await.expect("the example server starts");
    assert!(running.addr.ip().is_loopback());
    Harness::new(running.public_url, move |secs| clock.advance(secs))
}

/// One test per battery function, each on a fresh default server.
macro_rules! battery_tests {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            battery::$name(&server(|_| {}).await).await;
        }
    )*};
}

battery_tests!(
    full_flow,
    omitted_resource_defaults_to_mcp,
    wrong_pkce_verifier,
    code_replay_revokes_tokens,
    redirect_uri_mismatch_at_authorize,
    redirect_uri_mismatch_at_token,
    loopback_redirect_any_port,
    unknown_client_at_authorize,
    unknown_resource_at_authorize,
    unknown_resource_at_token,
    missing_code_challenge,
    plain_pkce_refused,
    expired_code,
    expired_access_token,
    insufficient_scope_for_admin_tool,
    token_in_query_refused,
    malformed_token_requests,
    malformed_registrations,
    oversize_bodies,
    garbage_bearer,
    confidential_client_wrong_secret,
    confidential_client_basic_and_post,
    explicit_post_client_refuses_basic,
    refresh_broader_scope_refused,
    user_denies_consent,
    wrong_password_then_retry,
    cors,
    concurrent_refresh,
    concurrent_code_redemption,
);

/// Tests that need a server granting the demo user `admin`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admin_tool_with_admin_scope() {
    let h = server(|o| o.demo_admin = true).await;
    battery::admin_tool_with_admin_scope(&h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_narrowing_scope() {
    let h = server(|o| o.demo_admin = true).await;
    battery::refresh_narrowing_scope(&h).await;
}

/// The server signs with a key the test also holds, so it can mint a token
/// whose audience is the authorization server itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn token_for_authorization_server_refused() {
    let key = SigningKey::generate(SigningAlgorithm::Es256).unwrap();
    let path = std::env::temp_dir().join(format!(
        "oauth-mcp-e2e-{}-{}.pem",
        std::process::id(),
        key.kid()
    ));
    std::fs::write(&path, key.to_pkcs8_pem()).unwrap();
    let h = server(|o| o.signing_key = Some(path.clone())).await;
    // The key is read at start-up.
    std::fs::remove_file(&path).unwrap();
    battery::token_for_authorization_server_refused(&h, &key).await;
}
