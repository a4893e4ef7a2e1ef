//! The abuse limits through the HTTP layer, in process: login throttling
//! (exact statuses and headers), the `state` bound, and the purge schedule.

use std::sync::Arc;
use std::time::Duration;

use oauth_mcp_core::clock::ManualClock;
use oauth_mcp_core::http::OAuthHttp;
use oauth_mcp_core::pkce::CodeChallengeMethod;
use oauth_mcp_core::resource::ResourceUri;
use oauth_mcp_core::scope::ScopeSet;
use oauth_mcp_core::store::{AuthorizationStore, MemoryStore, PendingAuthorization};
use oauth_mcp_core::{AuthServer, ServerConfig};

use crate::support::{authorize_uri, hidden, login, query_param, register, req};

const FORM: &str = "application/x-www-form-urlencoded";

async fn oauth_with(
    tune: impl FnOnce(
        oauth_mcp_core::config::ServerConfigBuilder,
    ) -> oauth_mcp_core::config::ServerConfigBuilder,
) -> (OAuthHttp, Arc<MemoryStore>) {
    let cfg = tune(ServerConfig::builder("http://127.0.0.1:8080"))
        .build()
        .unwrap();
    let store = crate::support::store_with_alice().await;
    (
        OAuthHttp::new(AuthServer::new(cfg, store.clone()).unwrap()),
        store,
    )
}

/// Opens a login request; returns its request id.
async fn open(oauth: &OAuthHttp, client: &str) -> String {
    let r = oauth
        .handle(req("GET", &authorize_uri(client, ""), None, ""))
        .await;
    assert_eq!(r.status(), 200);
    hidden(&String::from_utf8_lossy(r.body()), "request_id")
}

async fn post_login(
    oauth: &OAuthHttp,
    rid: &str,
    user: &str,
    pw: &str,
) -> http::Response<bytes::Bytes> {
    let form = format!("request_id={rid}&username={user}&password={pw}&action=approve");
    oauth
        .handle(req("POST", "/authorize", Some(FORM), form))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_wrong_passwords_discard_the_request() {
    let (oauth, _) = oauth_with(|b| b).await;
    let client = register(&oauth, "").await;
    let rid = open(&oauth, &client).await;
    // Different names, so that only the per-request limit applies.
    for i in 1..=9 {
        let r = post_login(&oauth, &rid, &format!("user{i}"), "wrong").await;
        assert_eq!(r.status(), 401, "attempt {i}");
    }
    let r = post_login(&oauth, &rid, "user10", "wrong").await;
    assert_eq!(r.status(), 400, "the 10th failure discards the request");
    let page = String::from_utf8_lossy(r.body()).into_owned();
    assert!(page.contains("too many failed sign-in attempts"), "{page}");
    let r = post_login(&oauth, &rid, "alice", "pw-alice").await;
    assert_eq!(
        r.status(),
        400,
        "even the right password: the request is gone"
    );
    assert!(r.headers().get("location").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn username_backoff_is_429_with_retry_after_and_reveals_nothing() {
    let (oauth, _) = oauth_with(|b| b).await;
    let client = register(&oauth, "").await;
    let mut pages = Vec::new();
    for user in ["alice", "nobody"] {
        for i in 0..5 {
            let rid = open(&oauth, &client).await;
            assert_eq!(
                post_login(&oauth, &rid, user, "wrong").await.status(),
                401,
                "{user} {i}"
            );
        }
        let rid = open(&oauth, &client).await;
        let r = post_login(
            &oauth,
            &rid,
            user,
            if user == "alice" { "pw-alice" } else { "x" },
        )
        .await;
        assert_eq!(r.status(), 429, "{user}: after 5 failures");
        // The window is 60 s from the first failure on the real clock: a
        // slow machine may have spent a few seconds on the five hashes.
        let retry: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((50..=60).contains(&retry), "retry-after {retry}");
        let page = String::from_utf8_lossy(r.body()).into_owned();
        assert!(
            page.contains(&format!(
                "Too many failed sign-ins for this username; try again in {retry} s."
            )),
            "{page}"
        );
        pages.push(
            page.replace(user, "USER")
                .replace(&hidden(&page, "request_id"), "RID")
                .replace(&format!("{retry} s"), "N s"),
        );
        // The request itself is intact: another name still signs in.
        let r = post_login(&oauth, &rid, "ALICE-other", "x").await;
        assert_eq!(r.status(), 401);
    }
    assert_eq!(
        pages[0], pages[1],
        "an existing and an unknown user get the same page"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_long_state_is_refused_and_not_echoed() {
    let (oauth, _) = oauth_with(|b| b.max_state_bytes(100)).await;
    let client = register(&oauth, "").await;
    let (status, loc, _) = login(
        &oauth,
        &authorize_uri(&client, &"x".repeat(98)),
        "alice",
        "pw-alice",
    )
    .await;
    assert_eq!(status, 303, "100 bytes (st + 98) pass");
    assert!(query_param(loc.as_deref().unwrap(), "code").is_some());
    let r = oauth
        .handle(req(
            "GET",
            &authorize_uri(&client, &"x".repeat(99)),
            None,
            "",
        ))
        .await;
    assert_eq!(r.status(), 303);
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        query_param(&loc, "error").as_deref(),
        Some("invalid_request")
    );
    assert!(
        query_param(&loc, "error_description")
            .unwrap()
            .contains("at most 100")
    );
    assert_eq!(
        query_param(&loc, "state"),
        None,
        "an over-long state is not echoed"
    );
    assert!(
        ServerConfig::builder("http://127.0.0.1:8080")
            .max_state_bytes(10)
            .build()
            .is_err(),
        "a bound too small for real clients fails at start-up"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_library_purges_on_its_own() {
    let clock = ManualClock::new();
    let (oauth, store) = oauth_with(|b| {
        b.clock(Arc::new(clock.clone()))
            .purge_every(Duration::from_secs(1))
    })
    .await;
    let now = oauth_mcp_core::clock::Clock::now(&clock);
    store
        .insert_pending(PendingAuthorization {
            id_hash: "stale".into(),
            client_id: "c".into(),
            redirect_uri: "http://127.0.0.1:7777/cb".into(),
            redirect_uri_explicit: false,
            state: None,
            code_challenge: "x".into(),
            code_challenge_method: CodeChallengeMethod::S256,
            scope: ScopeSet::empty(),
            resource: ResourceUri::parse("http://127.0.0.1:8080/mcp").unwrap(),
            created_at: now,
            expires_at: now + 600,
        })
        .await
        .unwrap();
    clock.advance(601);
    let mut gone = false;
    for _ in 0..50 {
        if store
            .get_pending("stale", i64::MIN)
            .await
            .unwrap()
            .is_none()
        {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the expired request was purged without anyone asking");
    assert!(oauth.server().purge_now().await.is_ok());
    assert!(
        ServerConfig::builder("http://127.0.0.1:8080")
            .purge_every(Duration::from_millis(10))
            .build()
            .is_err()
    );
}

#[tokio::test]
async fn pending_requests_are_capped_per_client_and_in_total() {
    let (oauth, _) = oauth_with(|b| b.max_pending(2, 3)).await;
    let (a, b) = (register(&oauth, "").await, register(&oauth, "").await);
    let get = |client: &str| req("GET", &authorize_uri(client, ""), None, "");
    for _ in 0..2 {
        assert_eq!(oauth.handle(get(&a)).await.status(), 200);
    }
    let r = oauth.handle(get(&a)).await;
    assert_eq!(r.status(), 503, "the client's third waiting request");
    assert_eq!(r.headers()["retry-after"], "5");
    assert!(r.headers().get("location").is_none());
    let page = String::from_utf8_lossy(r.body()).into_owned();
    assert!(
        page.contains("too many sign-in requests of this client are waiting (limit 2)"),
        "{page}"
    );
    assert_eq!(
        oauth.handle(get(&b)).await.status(),
        200,
        "another client has room"
    );
    let r = oauth.handle(get(&b)).await;
    assert_eq!(r.status(), 503, "the server's fourth waiting request");
    let page = String::from_utf8_lossy(r.body()).into_owned();
    assert!(
        page.contains("too many sign-in requests are waiting on this server (limit 3)"),
        "{page}"
    );
    assert!(
        ServerConfig::builder("http://127.0.0.1:8080")
            .max_pending(5, 4)
            .build()
            .is_err(),
        "a total below the per-client cap fails at build"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unused_registrations_expire_used_ones_stay() {
    use oauth_mcp_core::store::ClientStore;
    let clock = ManualClock::new();
    let (oauth, store) = oauth_with(|b| {
        b.clock(Arc::new(clock.clone()))
            .unused_registration_ttl(Some(Duration::from_secs(3600)))
    })
    .await;
    let (used, unused) = (register(&oauth, "").await, register(&oauth, "").await);
    let waiting = store.get_client(&unused).await.unwrap().unwrap();
    let now = oauth_mcp_core::clock::Clock::now(&clock);
    assert!(waiting.awaiting_first_token);
    assert_eq!(waiting.expires_at, Some(now + 3600));
    let (status, location, _) = login(&oauth, &authorize_uri(&used, ""), "alice", "pw-alice").await;
    assert_eq!(status, 303);
    let code = query_param(&location.unwrap(), "code").unwrap();
    crate::support::token_ok(&oauth, crate::support::code_exchange_form(&used, &code)).await;
    let confirmed = store.get_client(&used).await.unwrap().unwrap();
    assert!(!confirmed.awaiting_first_token);
    // This server sees the change at once (its cached copy is dropped).
    let seen = oauth.server().find_client(&used).await.unwrap().unwrap();
    assert!(!seen.awaiting_first_token);
    assert_eq!(seen.expires_at, None);
    assert_eq!(
        confirmed.expires_at, None,
        "the registration lifetime (none by default)"
    );
    clock.advance(3601);
    oauth.server().purge_now().await.unwrap();
    assert!(
        store.get_client(&unused).await.unwrap().is_none(),
        "the unused registration is gone"
    );
    assert!(
        store.get_client(&used).await.unwrap().is_some(),
        "the used one stays"
    );
    let r = oauth
        .handle(req("GET", &authorize_uri(&unused, ""), None, ""))
        .await;
    assert_eq!(r.status(), 400, "its id is unknown now");
    assert!(
        ServerConfig::builder("http://127.0.0.1:8080")
            .unused_registration_ttl(Some(Duration::from_secs(60)))
            .build()
            .is_err()
    );
}
