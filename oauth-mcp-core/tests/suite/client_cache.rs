//! The authorization server's client cache: a client read from the store
//! serves its next steps for one second; a change made to the store by
//! someone else (an operator, another replica) is seen within that second,
//! and at once with the cache off.

use std::sync::Arc;
use std::time::{Duration, Instant};

use oauth_mcp_core::client::CLIENT_CACHE_FRESH_FOR;
use oauth_mcp_core::http::OAuthHttp;
use oauth_mcp_core::store::{ClientStore, MemoryStore};
use oauth_mcp_core::{AuthServer, ServerConfig};

use crate::support::{
    authorize_uri, code_exchange_form, login, query_param, register, req, token_ok,
};

fn replicas(cached: bool) -> (OAuthHttp, OAuthHttp, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new());
    let server = || {
        let b = ServerConfig::builder("http://127.0.0.1:8080");
        let b = if cached { b } else { b.without_client_cache() };
        OAuthHttp::new(AuthServer::new(b.build().unwrap(), store.clone()).unwrap())
    };
    (server(), server(), store)
}

async fn authorize_status(oauth: &OAuthHttp, client_id: &str) -> u16 {
    oauth
        .handle(req("GET", &authorize_uri(client_id, ""), None, ""))
        .await
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_deactivated_in_the_store_is_refused_within_a_second() {
    for cached in [true, false] {
        let (a, b, store) = replicas(cached);
        let id = register(&a, "").await;
        // Replica b reads it from the store (and keeps it, if cached).
        let read = Instant::now();
        assert_eq!(authorize_status(&b, &id).await, 200, "cached: {cached}");
        // An operator deactivates it in the shared store.
        let mut c = store.get_client(&id).await.unwrap().unwrap();
        c.active = false;
        assert!(store.update_client(c).await.unwrap());
        let status = authorize_status(&b, &id).await;
        if !cached {
            assert_eq!(status, 400, "without the cache, refused at once");
        } else if read.elapsed() < CLIENT_CACHE_FRESH_FOR / 2 {
            // (Only asserted when this machine was quick enough for it.)
            assert_eq!(status, 200, "the cached copy serves within the second");
        }
        // Once the second is over, refused everywhere.
        let wait = (read + CLIENT_CACHE_FRESH_FOR + Duration::from_millis(50))
            .saturating_duration_since(Instant::now());
        tokio::time::sleep(wait).await;
        for (name, replica) in [("a", &a), ("b", &b)] {
            let r = replica
                .handle(req("GET", &authorize_uri(&id, ""), None, ""))
                .await;
            assert_eq!(r.status(), 400, "replica {name}, cached: {cached}");
            let page = String::from_utf8_lossy(r.body()).into_owned();
            assert!(page.contains("unknown client_id"), "{page}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_client_ids_are_not_cached() {
    // An id looked up before it exists is found as soon as it does.
    let (a, b, store) = replicas(true);
    assert_eq!(authorize_status(&b, "later").await, 400);
    let registered = register(&a, "").await;
    let mut later = store.get_client(&registered).await.unwrap().unwrap();
    later.client_id = "later".into();
    store.insert_client(later).await.unwrap();
    assert_eq!(authorize_status(&b, "later").await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_token_keeps_a_change_made_to_the_client_meanwhile() {
    // A registration's first token is recorded on the stored record, not on
    // the cached copy the exchange used: an operator's change made in the
    // cache's second survives it. (The memory store records it with the
    // redemption, changing only the flag and the expiry; the engine's
    // fallback for other stores is tested in `grant`'s unit tests.)
    let store = crate::support::store_with_alice().await;
    let cfg = ServerConfig::builder("http://127.0.0.1:8080")
        .build()
        .unwrap();
    let oauth = OAuthHttp::new(AuthServer::new(cfg, store.clone()).unwrap());
    let id = register(&oauth, "").await;
    let (status, location, _) = login(&oauth, &authorize_uri(&id, ""), "alice", "pw-alice").await;
    assert_eq!(status, 303);
    let code = query_param(&location.unwrap(), "code").unwrap();
    // This server reads the client now (and keeps it); right after, the
    // operator renames it and adds a redirect URI in the store.
    let read = Instant::now();
    oauth.server().find_client(&id).await.unwrap().unwrap();
    let mut c = store.get_client(&id).await.unwrap().unwrap();
    assert!(c.awaiting_first_token);
    c.client_name = Some("renamed by the operator".into());
    c.redirect_uris.push("http://127.0.0.1:7777/second".into());
    assert!(store.update_client(c).await.unwrap());
    let seen = oauth.server().find_client(&id).await.unwrap().unwrap();
    let renamed = Some("renamed by the operator");
    let stale = seen.client_name.as_deref() != renamed;
    token_ok(&oauth, code_exchange_form(&id, &code)).await;
    // Within the second the exchange used the cached copy, which lacks the
    // change (asserted only when this machine was quick enough).
    if read.elapsed() < CLIENT_CACHE_FRESH_FOR {
        assert!(stale, "the cache serves the copy read before the change");
    }
    let stored = store.get_client(&id).await.unwrap().unwrap();
    assert!(!stored.awaiting_first_token, "the first token is recorded");
    assert_eq!(stored.client_name.as_deref(), renamed);
    assert_eq!(stored.redirect_uris.len(), 2, "{:?}", stored.redirect_uris);
}
