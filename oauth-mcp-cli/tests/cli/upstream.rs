//! `trace` follows an upstream login: the example server signs people in at
//! panva's `oidc-provider`, whose login and consent forms the tracer fills in
//! after the server's own consent page, then the callback back to the server.

use std::sync::Arc;

use example_common::{UpstreamChoice, UpstreamOptions};
use oauth_mcp_battery::oidc::OidcProvider;
use oauth_mcp_battery::upstream_idp::{ALICE, UPSTREAM_CLIENT, start_upstream_idp};
use oauth_mcp_cli::{Outcome, Status, TraceOptions};
use oauth_mcp_core::clock::ManualClock;

use super::support::{assert_completed, assert_diagnosis, run_trace};

/// The provider and the axum example signing `allowed` in there.
async fn upstream_server(allowed: &[&str]) -> (OidcProvider, example_axum_server::Running) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let op = start_upstream_idp(&[&format!("{base}/upstream/callback")]).await;
    listener.set_nonblocking(true).unwrap();
    let running = example_axum_server::start_on(
        tokio::net::TcpListener::from_std(listener).unwrap(),
        example_axum_server::Options {
            clock: Some(Arc::new(ManualClock::new())),
            upstream: Some(UpstreamOptions {
                provider: UpstreamChoice::Issuer(op.issuer().to_owned()),
                client_id: UPSTREAM_CLIENT.id.to_owned(),
                client_secret: Some(UPSTREAM_CLIENT.secret.into()),
                allowed_users: allowed.iter().map(|s| (*s).to_owned()).collect(),
                admin_users: Vec::new(),
                github_web_url: None,
                github_api_url: None,
                scopes: None,
            }),
            ..Default::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("the axum example starts: {e}"));
    (op, running)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_follows_an_upstream_login() {
    let (op, server) = upstream_server(&["alice"]).await;
    let r = run_trace(
        &TraceOptions::new(&server.mcp_url).with_credentials(ALICE.login, ALICE.password),
    )
    .await;
    assert_completed(&r);
    assert_eq!(r.outcome(), Outcome::Ok, "{}", r.render_text(true));
    let login = r.step("login").unwrap();
    assert_eq!(login.status, Status::Ok);
    assert!(
        login.notes.iter().any(
            |n| n.contains("a login form followed") && n.contains("upstream identity provider")
        ),
        "{login:?}"
    );
    // The tracer went to the provider and came back through the callback.
    let urls: Vec<&str> = login
        .exchanges
        .iter()
        .map(|i| r.exchanges[*i].url.as_str())
        .collect();
    assert!(urls.iter().any(|u| u.starts_with(op.issuer())), "{urls:?}");
    assert!(
        urls.iter()
            .any(|u| u.starts_with(&format!("{}/upstream/callback", server.public_url))),
        "{urls:?}"
    );
    assert_eq!(
        r.summary.audience.as_deref(),
        Some(&[server.mcp_url.clone()][..])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_reports_a_refused_upstream_password() {
    let (_op, server) = upstream_server(&["alice"]).await;
    let r = run_trace(
        &TraceOptions::new(&server.mcp_url).with_credentials(ALICE.login, "wrong password"),
    )
    .await;
    assert_diagnosis(&r, "login", "login-refused");
}
