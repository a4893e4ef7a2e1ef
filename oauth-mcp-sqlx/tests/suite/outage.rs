//! A private PostgreSQL server goes down under a live store and comes back:
//! operations fail fast with `Unavailable` (HTTP 503
//! `temporarily_unavailable`) and recover without recreating the store.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use oauth_mcp_core::StoreError;
use oauth_mcp_core::config::ServerConfig;
use oauth_mcp_core::http::OAuthHttp;
use oauth_mcp_core::server::AuthServer;
use oauth_mcp_core::store::conformance::sample_client;
use oauth_mcp_core::store::{ClientStore, User, UserStore};
use oauth_mcp_sqlx::SqlStore;
use oauth_mcp_sqlx::testing::{TestPostgres, URL_ENV};

/// An operation must end (either way) within this.
const PROMPT: Duration = Duration::from_secs(10);

async fn register(oauth: &OAuthHttp) -> (u16, serde_json::Value) {
    let req = http::Request::post("/register")
        .header("content-type", "application/json")
        .body(Bytes::from_static(
            br#"{"redirect_uris":["http://127.0.0.1:9/cb"],"token_endpoint_auth_method":"none"}"#,
        ))
        .unwrap();
    let resp = tokio::time::timeout(PROMPT, oauth.handle(req))
        .await
        .expect("POST /register must answer promptly");
    let body = serde_json::from_slice(resp.body()).unwrap_or(serde_json::Value::Null);
    (resp.status().as_u16(), body)
}

fn user(name: &str) -> User {
    User {
        username: name.into(),
        subject: format!("sub-{name}"),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$x$y".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn database_down_and_back() {
    let pg = match tokio::task::spawn_blocking(TestPostgres::start)
        .await
        .unwrap()
    {
        Ok(pg) => pg,
        Err(e) => panic!(
            "\n\n*** this test needs a private PostgreSQL server (even when {URL_ENV} is set, \
             as it stops and starts the server): {}\n\n",
            e.with_hint()
        ),
    };
    let url = pg.create_database("outage").await.unwrap();
    let store = Arc::new(
        SqlStore::options()
            .acquire_timeout(Duration::from_secs(2))
            .connect(&url)
            .await
            .unwrap(),
    );
    store.put_user(user("alice")).await.unwrap();
    let config = ServerConfig::builder("http://127.0.0.1:8080")
        .build()
        .unwrap();
    let oauth = OAuthHttp::new(AuthServer::new(config, store.clone()).unwrap());
    let (status, body) = register(&oauth).await;
    assert_eq!(
        status, 201,
        "registration works while the database is up: {body}"
    );
    let registered = body["client_id"].as_str().unwrap().to_owned();

    // Down.
    // (Blocking calls on a worker thread of this multi-thread runtime.)
    pg.stop().unwrap();

    let started = Instant::now();
    let read = tokio::time::timeout(PROMPT, store.get_user("alice"))
        .await
        .expect("a read while the database is down must end promptly");
    eprintln!("read while down after {:?}: {read:?}", started.elapsed());
    assert!(
        matches!(read, Err(StoreError::Unavailable(_))),
        "a read while the database is down is Unavailable, got {read:?}"
    );
    let write = tokio::time::timeout(PROMPT, store.insert_client(sample_client()))
        .await
        .expect("a write while the database is down must end promptly");
    eprintln!("write while down after {:?}: {write:?}", started.elapsed());
    assert!(
        matches!(write, Err(StoreError::Unavailable(_))),
        "a write while the database is down is Unavailable, got {write:?}"
    );
    let (status, body) = register(&oauth).await;
    assert_eq!(
        status, 503,
        "registration while the database is down: {body}"
    );
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
    assert_eq!(
        body["error_description"],
        "the authorization server's storage is unavailable; try again shortly",
        "no internals: {body}"
    );
    // The authorization endpoint too: a 503 page with Retry-After, not a 400.
    let req = http::Request::get(format!(
        "/authorize?response_type=code&client_id={registered}"
    ))
    .body(Bytes::new())
    .unwrap();
    let resp = tokio::time::timeout(PROMPT, oauth.handle(req))
        .await
        .expect("GET /authorize must answer promptly");
    let page = String::from_utf8_lossy(resp.body()).into_owned();
    assert_eq!(
        resp.status(),
        503,
        "GET /authorize while the database is down: {page}"
    );
    assert_eq!(resp.headers()["retry-after"], "5");
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "a page for the browser"
    );
    for internal in ["pool", "sqlx", "PoolTimedOut", "connection"] {
        assert!(
            !page.contains(internal),
            "the page leaks `{internal}`: {page}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "four failing operations took {:?}",
        started.elapsed()
    );

    // Back, on the same port; the same store and server.
    pg.restart().unwrap();
    let started = Instant::now();
    let got = tokio::time::timeout(PROMPT, store.get_user("alice"))
        .await
        .expect("a read after the restart must end promptly")
        .expect("the pool reconnects by itself after the database is back");
    eprintln!("first read after restart took {:?}", started.elapsed());
    assert_eq!(got, Some(user("alice")), "the data survived the restart");
    store.put_user(user("bob")).await.unwrap();
    let (status, body) = register(&oauth).await;
    assert_eq!(status, 201, "registration after the restart: {body}");
    assert!(started.elapsed() < PROMPT);
    let id = body["client_id"].as_str().unwrap();
    assert!(store.get_client(id).await.unwrap().is_some());
    store.close().await;
}
