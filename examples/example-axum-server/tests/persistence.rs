//! The example server on SQL storage: registered clients and refresh tokens
//! survive a restart (SQLite and PostgreSQL), and two server processes
//! sharing one PostgreSQL act as one authorization server.
//!
//! PostgreSQL comes from `OAUTH_MCP_TEST_POSTGRES_URL` (CI starts a cluster
//! and sets it) or a private server the test starts from the PostgreSQL
//! binaries; without either the tests fail, saying how to install them.

// Test helpers panic on failure too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use example_axum_server::{Options, Running, start};
use oauth_mcp_battery::client::*;
use oauth_mcp_battery::process::{ServerProcess, free_loopback_port, temp_dir};
use oauth_mcp_core::token::{SigningAlgorithm, SigningKey};
use oauth_mcp_core::validate::MAX_STALENESS;
use oauth_mcp_sqlx::testing::postgres_for_tests;
use serde_json::json;

fn write_key(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("signing-key.pem");
    std::fs::write(
        &path,
        SigningKey::generate(SigningAlgorithm::Es256)
            .unwrap()
            .to_pkcs8_pem(),
    )
    .unwrap();
    path
}

async fn start_with(store: &str, key: &Path, public_url: Option<String>) -> Running {
    start(Options {
        bind: ([127, 0, 0, 1], 0).into(),
        public_url,
        store: store.to_owned(),
        signing_key: Some(key.to_owned()),
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("server on {store} starts: {e}"))
}

/// Registers a client and gets tokens; restarts the server on the same store
/// and key (same public URL, new port); the client is still known, the
/// refresh token still rotates, and old and new access tokens both work.
async fn survives_restart(store: &str, dir: &Path) {
    let key = write_key(dir);
    let first = start_with(store, &key, None).await;
    let base1 = first.public_url.clone();
    let s = session(&base1, None).await;
    whoami(&base1, &s.tokens.access).await;
    first.task.abort();
    let _ = first.task.await;

    let second = start_with(store, &key, Some(base1.clone())).await;
    let base2 = format!("http://{}", second.addr);
    assert_ne!(base2, base1, "the restarted server listens elsewhere");
    // The registered client is still there: /authorize shows the login page.
    let pkce = Pkce::new();
    let page = authorize_get(&base2, &AuthRequest::new(&s.client, &pkce)).await;
    assert_login_page(&page, 200);
    // The access token from before the restart is still accepted.
    let who = whoami(&base2, &s.tokens.access).await;
    assert_eq!(who["subject"], "demo-user");
    // The refresh token from before the restart still rotates.
    let t = tokens_of(&refresh(&base2, &s.client.client_id, &s.tokens.refresh, None).await);
    assert_ne!(t.refresh, s.tokens.refresh);
    whoami(&base2, &t.access).await;
    second.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_survives_a_restart() {
    let dir = temp_dir("sqlite");
    let store = format!("sqlite://{}?mode=rwc", dir.join("oauth.db").display());
    survives_restart(&store, &dir).await;
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_store_survives_a_restart() {
    let db = postgres_for_tests().await;
    let dir = temp_dir("pg");
    survives_restart(db.url(), &dir).await;
    std::fs::remove_dir_all(&dir).ok();
}

/// Polls `token` at `base` until it is refused (401 `invalid_token`),
/// failing if that takes longer than the bound after `since`.
async fn refused_within(base: &str, token: &str, since: Instant) -> Duration {
    // The bound, plus one request's time on a loaded test machine.
    let bound = MAX_STALENESS + Duration::from_millis(250);
    loop {
        let r = mcp_post(base, Some(token), &tool_call(9, "whoami", &json!({}))).await;
        if r.status() == 401 {
            assert_token_refused(base, token).await;
            return since.elapsed();
        }
        assert_eq!(r.status(), 200, "{}", r.reply.text);
        assert!(
            since.elapsed() <= bound,
            "{base} still accepts a revoked token after {:?}",
            since.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A server process (killed on drop) and its base URL.
struct Process {
    _child: ServerProcess,
    base: String,
}

/// Starts the example binary and waits (bounded) for it to listen.
fn spawn_server(args: &[&str]) -> Process {
    let mut child = ServerProcess::spawn(env!("CARGO_BIN_EXE_example-axum-server"), args, &[]);
    let base = child.wait_listening();
    Process {
        _child: child,
        base,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_share_one_postgres() {
    let db = postgres_for_tests().await;
    let dir = temp_dir("pg2");
    let key = write_key(&dir);
    let key = key.to_str().unwrap();
    // Both instances serve one public URL (as behind a load balancer): A's own.
    let port = free_loopback_port();
    let public = format!("http://127.0.0.1:{port}");
    let bind_a = format!("127.0.0.1:{port}");
    let common = [
        "--store",
        db.url(),
        "--signing-key",
        key,
        "--public-url",
        &public,
    ];
    let a = spawn_server(&[&["--bind", &bind_a][..], &common[..]].concat());
    let b = spawn_server(&[&["--bind", "127.0.0.1:0"][..], &common[..]].concat());
    assert_eq!(a.base, public);

    // A code issued by A is redeemed at B.
    let client = register_public(&a.base).await;
    let pkce = Pkce::new();
    let code = authorize(&a.base, &AuthRequest::new(&client, &pkce)).await;
    let t0 = tokens_of(
        &exchange(
            &b.base,
            &client.client_id,
            &code,
            &pkce.verifier,
            Some(&client.redirect_uri),
            None,
        )
        .await,
    );
    // Its replay at A is refused: the code is spent in the shared database.
    let replay = exchange(
        &a.base,
        &client.client_id,
        &code,
        &pkce.verifier,
        Some(&client.redirect_uri),
        None,
    )
    .await;
    assert_eq!(
        (replay.status, replay.error()),
        (400, "invalid_grant".to_owned())
    );

    // Fresh grant: both instances accept its access token.
    let code = authorize(&a.base, &AuthRequest::new(&client, &pkce)).await;
    let t = tokens_of(
        &exchange(
            &b.base,
            &client.client_id,
            &code,
            &pkce.verifier,
            Some(&client.redirect_uri),
            None,
        )
        .await,
    );
    assert_eq!(whoami(&a.base, &t.access).await["subject"], "demo-user");
    assert_eq!(whoami(&b.base, &t.access).await["subject"], "demo-user");

    // Rotated twice at A, the first refresh token is reused at B: refused, and the grant is revoked.
    let t1 = tokens_of(&refresh(&a.base, &client.client_id, &t.refresh, None).await);
    let t2 = tokens_of(&refresh(&a.base, &client.client_id, &t1.refresh, None).await);
    // Both instances have validated (and cached) an access token of the grant.
    whoami(&a.base, &t1.access).await;
    whoami(&b.base, &t1.access).await;
    let reuse = refresh(&b.base, &client.client_id, &t.refresh, None).await;
    let revoked_at = Instant::now();
    assert_eq!(
        (reuse.status, reuse.error()),
        (400, "invalid_grant".to_owned())
    );
    assert!(reuse.error_description().contains("reus"), "{}", reuse.text);
    // B revoked it: its cached token is refused at once. A shares only the
    // database: within the documented bound (MAX_STALENESS, 1 s).
    let at_b = mcp_post(
        &b.base,
        Some(&t1.access),
        &tool_call(9, "whoami", &json!({})),
    )
    .await;
    assert_eq!(at_b.status(), 401, "{}", at_b.reply.text);
    assert_eq!(at_b.reply.error(), "invalid_token");
    // (B's challenge names the shared public URL, A's.)
    at_b.reply
        .challenge()
        .assert_bearer(&a.base, Some("invalid_token"));
    let took = refused_within(&a.base, &t1.access, revoked_at).await;
    eprintln!("the revocation reached the other process's cache after {took:?}");
    let after = refresh(&a.base, &client.client_id, &t2.refresh, None).await;
    assert_eq!(
        (after.status, after.error()),
        (400, "invalid_grant".to_owned())
    );
    assert_token_refused(&a.base, &t2.access).await;
    drop(t0);
    std::fs::remove_dir_all(&dir).ok();
}

/// The token endpoint's refusals on PostgreSQL, where a code exchange and
/// a refresh are each one statement that also checks the request: a code
/// request that fails a check (verifier, redirect URI, resource, expiry)
/// leaves the code to its client and says why, a replay revokes, and of
/// concurrent exchanges one wins; a refresh asking for more scopes is
/// refused, one asking for fewer gets them, concurrent refreshes all
/// succeed, and the full flow's reused refresh token revokes its grant.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn token_refusals_on_postgres() {
    let db = postgres_for_tests().await;
    let dir = temp_dir("pg-tokens");
    let key = write_key(&dir);
    let serve = |demo_admin: bool| {
        let clock = oauth_mcp_core::clock::ManualClock::new();
        let options = Options {
            bind: ([127, 0, 0, 1], 0).into(),
            store: db.url().to_owned(),
            signing_key: Some(key.clone()),
            clock: Some(std::sync::Arc::new(clock.clone())),
            demo_admin,
            ..Default::default()
        };
        async move {
            let running = start(options)
                .await
                .expect("the example server starts on PostgreSQL");
            let h = oauth_mcp_battery::Harness::new(running.public_url.clone(), move |secs| {
                clock.advance(secs)
            });
            (running, h)
        }
    };
    let (admin, h) = serve(true).await;
    oauth_mcp_battery::refresh_narrowing_scope(&h).await;
    admin.task.abort();
    let (running, h) = serve(false).await;
    oauth_mcp_battery::full_flow(&h).await;
    oauth_mcp_battery::wrong_pkce_verifier(&h).await;
    oauth_mcp_battery::redirect_uri_mismatch_at_token(&h).await;
    oauth_mcp_battery::unknown_resource_at_token(&h).await;
    oauth_mcp_battery::code_replay_revokes_tokens(&h).await;
    oauth_mcp_battery::concurrent_code_redemption(&h).await;
    oauth_mcp_battery::refresh_broader_scope_refused(&h).await;
    oauth_mcp_battery::concurrent_refresh(&h).await;
    oauth_mcp_battery::expired_code(&h).await;
    running.task.abort();
    std::fs::remove_dir_all(&dir).ok();
}
