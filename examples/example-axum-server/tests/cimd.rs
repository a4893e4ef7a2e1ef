//! Client ID Metadata Documents end to end: a document server on loopback
//! (allowed only by the development flag) serves good and bad documents; each
//! case asserts the outcome, and a document client runs the whole code flow.

// Test helpers panic on failure too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use example_axum_server::{Options, start};
use oauth_mcp_battery::client::*;
use oauth_mcp_core::cimd::CimdConfig;
use oauth_mcp_core::clock::ManualClock;
use serde_json::json;

#[derive(Clone)]
struct Docs {
    base: String,
    other: String,
    callback: String,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

async fn serve_doc(State(d): State<Docs>, Path(name): Path<String>) -> Response {
    *d.hits.lock().unwrap().entry(name.clone()).or_default() += 1;
    let id = format!("{}/{name}", d.base);
    let good = json!({"client_id": id, "client_name": "Doc Client", "redirect_uris": [d.callback], "grant_types": ["authorization_code", "refresh_token"]});
    let json_resp = |v: serde_json::Value, cache: &'static str| {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        h.insert(header::CACHE_CONTROL, cache.parse().unwrap());
        (h, v.to_string()).into_response()
    };
    match name.as_str() {
        "good.json" => json_resp(good, "max-age=600"),
        "nostore.json" => json_resp(good, "no-store"),
        "mismatch.json" => json_resp(
            json!({"client_id": format!("{}/elsewhere.json", d.base), "client_name": "X", "redirect_uris": [d.callback]}),
            "max-age=600",
        ),
        "noname.json" => json_resp(
            json!({"client_id": id, "redirect_uris": [d.callback]}),
            "max-age=600",
        ),
        "nouris.json" => json_resp(json!({"client_id": id, "client_name": "X"}), "max-age=600"),
        "secret.json" => {
            let mut v = good;
            v["client_secret"] = json!("leaked");
            json_resp(v, "max-age=600")
        }
        "big.json" => {
            let mut v = good;
            v["logo_uri"] = json!(format!("https://x.example/{}", "a".repeat(8 * 1024)));
            json_resp(v, "max-age=600")
        }
        "slowgood.json" => {
            tokio::time::sleep(Duration::from_millis(300)).await;
            json_resp(good, "max-age=600")
        }
        "slow.json" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            json_resp(good, "max-age=600")
        }
        "redirect.json" => (
            StatusCode::FOUND,
            [(header::LOCATION, format!("{}/good.json", d.other))],
        )
            .into_response(),
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn doc_server(callback: &str) -> Docs {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let other = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let docs = Docs {
        base: base.clone(),
        other: format!("http://{}", other.local_addr().unwrap()),
        callback: callback.to_owned(),
        hits: Arc::default(),
    };
    let app = axum::Router::new()
        .route("/{name}", axum::routing::get(serve_doc))
        .with_state(docs.clone());
    let other_app = app.clone();
    tokio::spawn(async move { axum::serve(listener, app).await });
    tokio::spawn(async move { axum::serve(other, other_app).await });
    docs
}

async fn server(dev: bool, clock: &ManualClock) -> String {
    let mut cfg = CimdConfig::default()
        .timeout(Duration::from_secs(1))
        .cache_bounds(60, 3600, 30);
    if dev {
        cfg = cfg.dangerously_allow_loopback_http();
    }
    let running = start(Options {
        bind: ([127, 0, 0, 1], 0).into(),
        clock: Some(Arc::new(clock.clone())),
        cimd: Some(cfg),
        ..Default::default()
    })
    .await
    .unwrap();
    running.public_url
}

fn doc_client(docs: &Docs, name: &str) -> Registered {
    Registered {
        client_id: format!("{}/{name}", docs.base),
        client_secret: None,
        redirect_uri: docs.callback.clone(),
    }
}

fn hits(docs: &Docs, name: &str) -> usize {
    docs.hits.lock().unwrap().get(name).copied().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn full_code_flow_with_a_document_client_id() {
    let callback = callback_uri();
    let docs = doc_server(&callback).await;
    let clock = ManualClock::new();
    let base = server(true, &clock).await;
    let md = get_json(&format!("{base}/.well-known/oauth-authorization-server")).await;
    assert_eq!(md["client_id_metadata_document_supported"], true);

    let client = doc_client(&docs, "good.json");
    let pkce = Pkce::new();
    let req = AuthRequest::new(&client, &pkce).resource(&mcp_url(&base));
    // The consent page names the client and the redirect host, and warns about loopback.
    let page = authorize_get(&base, &req).await;
    assert_login_page(&page, 200);
    assert!(page.text.contains("Doc Client"), "{}", page.text);
    assert!(
        page.text.contains("id=\"redirect-host\">127.0.0.1<"),
        "{}",
        page.text
    );
    assert!(page.text.contains("loopback-warning"));
    let code = authorize(&base, &req).await;
    let tokens = tokens_of(
        &exchange(
            &base,
            &client.client_id,
            &code,
            &pkce.verifier,
            Some(&client.redirect_uri),
            None,
        )
        .await,
    );
    let who = whoami(&base, &tokens.access).await;
    assert_eq!(who["client_id"], client.client_id);
    let refreshed = tokens_of(&refresh(&base, &client.client_id, &tokens.refresh, None).await);
    whoami(&base, &refreshed.access).await;
    // Fetched once: the document is cached for its max-age.
    assert_eq!(hits(&docs, "good.json"), 1);
    clock.advance(601);
    assert_login_page(
        &authorize_get(&base, &AuthRequest::new(&client, &Pkce::new())).await,
        200,
    );
    assert_eq!(hits(&docs, "good.json"), 2, "refetched after max-age");

    // A redirect URI the document does not list is refused on a page, never redirected to.
    let mut other = doc_client(&docs, "good.json");
    other.redirect_uri = "http://127.0.0.1:1/elsewhere".into();
    assert_error_page(
        &authorize_get(&base, &AuthRequest::new(&other, &Pkce::new())).await,
        400,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_documents_are_refused_without_redirect() {
    let callback = callback_uri();
    let docs = doc_server(&callback).await;
    let clock = ManualClock::new();
    let base = server(true, &clock).await;
    for name in [
        "mismatch.json",
        "noname.json",
        "nouris.json",
        "secret.json",
        "big.json",
        "slow.json",
        "redirect.json",
        "missing.json",
    ] {
        let client = doc_client(&docs, name);
        let r = authorize_get(&base, &AuthRequest::new(&client, &Pkce::new())).await;
        assert_error_page(&r, 400);
        assert!(r.text.contains("cannot be used"), "{name}: {}", r.text);
    }
    // The redirect was not followed: the other host's good.json was never fetched.
    assert_eq!(hits(&docs, "good.json"), 0);
    // A document client cannot use the token endpoint with a refused document either.
    let r = token(
        &base,
        &[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("code_verifier", &"v".repeat(43)),
            ("client_id", &format!("{}/secret.json", docs.base)),
        ],
        None,
    )
    .await;
    assert_eq!((r.status, r.error()), (401, "invalid_client".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn caching_of_failures_and_no_store_documents() {
    let callback = callback_uri();
    let docs = doc_server(&callback).await;
    let clock = ManualClock::new();
    let base = server(true, &clock).await;
    let fail = doc_client(&docs, "missing.json");
    for _ in 0..5 {
        assert_error_page(
            &authorize_get(&base, &AuthRequest::new(&fail, &Pkce::new())).await,
            400,
        );
    }
    assert_eq!(
        hits(&docs, "missing.json"),
        1,
        "a failure is cached: a bad URL cannot hammer a host"
    );
    clock.advance(31);
    assert_error_page(
        &authorize_get(&base, &AuthRequest::new(&fail, &Pkce::new())).await,
        400,
    );
    assert_eq!(hits(&docs, "missing.json"), 2);

    let ns = doc_client(&docs, "nostore.json");
    for _ in 0..3 {
        assert_login_page(
            &authorize_get(&base, &AuthRequest::new(&ns, &Pkce::new())).await,
            200,
        );
    }
    assert_eq!(
        hits(&docs, "nostore.json"),
        1,
        "no-store is cached for the minimum (60 s)"
    );
    clock.advance(61);
    assert_login_page(
        &authorize_get(&base, &AuthRequest::new(&ns, &Pkce::new())).await,
        200,
    );
    assert_eq!(hits(&docs, "nostore.json"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn loopback_documents_are_refused_without_the_development_flag() {
    let callback = callback_uri();
    let docs = doc_server(&callback).await;
    let clock = ManualClock::new();
    let base = server(false, &clock).await;
    let client = doc_client(&docs, "good.json");
    assert_error_page(
        &authorize_get(&base, &AuthRequest::new(&client, &Pkce::new())).await,
        400,
    );
    assert_eq!(
        hits(&docs, "good.json"),
        0,
        "nothing is sent to a refused address"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_refusal_names_its_reason() {
    use oauth_mcp_core::cimd::CimdResolver;
    let callback = callback_uri();
    let docs = doc_server(&callback).await;
    let resolver = CimdResolver::new(
        CimdConfig::default()
            .dangerously_allow_loopback_http()
            .timeout(Duration::from_secs(1)),
    );
    for (name, reason) in [
        ("mismatch.json", "is not its URL"),
        ("noname.json", "no client_name"),
        ("nouris.json", "no redirect_uris"),
        ("secret.json", "must never hold a secret"),
        ("big.json", "larger than 5120 bytes"),
        ("slow.json", "longer than"),
        ("redirect.json", "redirects are not followed"),
        ("missing.json", "answered 500"),
    ] {
        let e = resolver
            .resolve(&format!("{}/{name}", docs.base), 0)
            .await
            .unwrap_err();
        assert!(e.reason.contains(reason), "{name}: {}", e.reason);
    }
    let ok = resolver
        .resolve(&format!("{}/good.json", docs.base), 0)
        .await
        .unwrap();
    assert_eq!(ok.client_name.as_deref(), Some("Doc Client"));
    // Without the development flag, loopback is refused before any request.
    let strict = CimdResolver::new(CimdConfig::default());
    let e = strict
        .resolve(&format!("{}/good.json", docs.base), 0)
        .await
        .unwrap_err();
    assert!(e.reason.contains("https"), "{}", e.reason);
    let e = strict
        .resolve("https://127.0.0.1:1/client.json", 0)
        .await
        .unwrap_err();
    assert!(e.reason.contains("loopback address"), "{}", e.reason);
    let e = strict.resolve("https://app.example/", 0).await.unwrap_err();
    assert!(e.reason.contains("path"), "{}", e.reason);
}

/// Concurrent lookups of one client id share one fetch: a burst of
/// authorization requests naming the same document cannot make the server
/// fetch it once per request.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_lookups_share_one_fetch() {
    use oauth_mcp_core::cimd::CimdResolver;
    let docs = doc_server(&callback_uri()).await;
    let resolver = Arc::new(CimdResolver::new(
        CimdConfig::default().dangerously_allow_loopback_http(),
    ));
    let id = format!("{}/slowgood.json", docs.base);
    let lookups: Vec<_> = (0..20)
        .map(|_| {
            let (resolver, id) = (resolver.clone(), id.clone());
            tokio::spawn(async move { resolver.resolve(&id, 0).await })
        })
        .collect();
    for l in lookups {
        assert_eq!(
            l.await.unwrap().unwrap().client_name.as_deref(),
            Some("Doc Client")
        );
    }
    assert_eq!(hits(&docs, "slowgood.json"), 1);
}
