//! Signing keys kept in the store, through the public API: replicas on one
//! store share one key set and accept each other's tokens, the JWKS carries
//! a `Cache-Control` that fits the schedule, a scheduled rotation is
//! coordinated between replicas under a `ManualClock` without a token ever
//! being refused, a wrong key-encryption key fails at start, and operator
//! keys take precedence. (Over real HTTP and SQL stores:
//! `examples/example-axum-server/tests/signing_keys.rs`.)

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use oauth_mcp_core::clock::{Clock, ManualClock};
use oauth_mcp_core::config::{KeyRotation, ServerConfigBuilder};
use oauth_mcp_core::crypto::KeyEncryptionKey;
use oauth_mcp_core::http::OAuthHttp;
use oauth_mcp_core::server::StartError;
use oauth_mcp_core::store::{KeyStore, MemoryStore};
use oauth_mcp_core::token::{KeySet, SigningAlgorithm, SigningKey};
use oauth_mcp_core::validate::{TokenRejection, TokenValidator};
use oauth_mcp_core::{AuthServer, ServerConfig};

use crate::audit::capture;
use crate::support::*;

const HOUR: i64 = 3600;

fn kek() -> KeyEncryptionKey {
    KeyEncryptionKey::from_base64(KeyEncryptionKey::generate_base64().secret()).unwrap()
}

fn builder(clock: &ManualClock) -> ServerConfigBuilder {
    ServerConfig::builder("http://127.0.0.1:8080").clock(Arc::new(clock.clone()))
}

async fn store() -> Arc<MemoryStore> {
    crate::support::store_with_alice().await
}

async fn start(cfg: &Arc<ServerConfig>, store: &Arc<MemoryStore>) -> OAuthHttp {
    OAuthHttp::new(
        AuthServer::start(cfg.clone(), store.clone())
            .await
            .unwrap_or_else(|e| panic!("the server starts: {e}")),
    )
}

/// Logs alice in at `oauth`; returns (access token, refresh token).
async fn tokens(oauth: &OAuthHttp, client: &str) -> (String, String) {
    let (_, loc, _) = login(oauth, &authorize_uri(client, ""), "alice", "pw-alice").await;
    let code = query_param(&loc.unwrap(), "code").unwrap();
    let t = token_ok(oauth, code_exchange_form(client, &code)).await;
    (
        t["access_token"].as_str().unwrap().to_owned(),
        t["refresh_token"].as_str().unwrap().to_owned(),
    )
}

/// Refreshes at `oauth`; returns (access token, new refresh token).
async fn refreshed(oauth: &OAuthHttp, client: &str, refresh: &str) -> (String, String) {
    let t = token_ok(
        oauth,
        format!("grant_type=refresh_token&refresh_token={refresh}&client_id={client}"),
    )
    .await;
    (
        t["access_token"].as_str().unwrap().to_owned(),
        t["refresh_token"].as_str().unwrap().to_owned(),
    )
}

fn kid(jwt: &str) -> String {
    jsonwebtoken::decode_header(jwt).unwrap().kid.unwrap()
}

/// The kids of the JWKS served now, and its `Cache-Control`.
async fn jwks(oauth: &OAuthHttp) -> (Vec<String>, String) {
    let r = oauth.handle(req("GET", "/jwks.json", None, "")).await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
    let mut kids: Vec<String> = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    kids.sort();
    let cc = r.headers()["cache-control"].to_str().unwrap().to_owned();
    (kids, cc)
}

async fn accepts(oauth: &OAuthHttp, token: &str) -> Result<(), TokenRejection> {
    oauth
        .server()
        .local_validator()
        .validate(token)
        .await
        .map(|_| ())
}

const REFRESHING: &str = r#","grant_types":["authorization_code","refresh_token"]"#;

#[tokio::test]
async fn replicas_on_one_store_share_one_key_and_accept_each_others_tokens() {
    let (log, _guard) = capture();
    let clock = ManualClock::new();
    let store = store().await;
    let cfg = builder(&clock).key_encryption_key(kek()).build().unwrap();
    let (a, b) = tokio::join!(start(&cfg, &store), start(&cfg, &store));
    assert_eq!(store.list_keys().await.unwrap().keys.len(), 1);
    assert_eq!(log.named("key.created").len(), 1, "one replica created it");
    log.one("key.activated");
    assert_eq!(jwks(&a).await, jwks(&b).await);

    let client = register(&a, "").await;
    let (from_a, _) = tokens(&a, &client).await;
    let (from_b, _) = tokens(&b, &client).await;
    assert_eq!(kid(&from_a), kid(&from_b), "both sign with one key");
    accepts(&b, &from_a).await.unwrap();
    accepts(&a, &from_b).await.unwrap();

    // A "restart": a new server on the same store keeps the key.
    let again = start(&cfg, &store).await;
    accepts(&again, &from_a).await.unwrap();
    assert_eq!(log.named("key.created").len(), 1);
}

#[tokio::test]
async fn the_jwks_cache_control_fits_the_schedule_and_bad_schedules_refuse_to_start() {
    let clock = ManualClock::new();
    let store = store().await;
    let default = builder(&clock).build().unwrap();
    assert_eq!(
        jwks(&start(&default, &store).await).await.1,
        "public, max-age=3600"
    );
    let short = builder(&clock)
        .key_rotation(KeyRotation::default().publish_lead(Duration::from_secs(1800)))
        .build()
        .unwrap();
    assert_eq!(
        jwks(&start(&short, &store).await).await.1,
        "public, max-age=900"
    );

    for (rotation, fragment) in [
        (
            KeyRotation::default().refresh_interval(Duration::from_secs(600)),
            "longer than the leeway",
        ),
        (
            KeyRotation::default()
                .publish_lead(Duration::from_secs(60))
                .refresh_interval(Duration::from_secs(30)),
            "not shorter than the publish lead",
        ),
        (
            KeyRotation::default().every(Duration::from_secs(3600 * 24)),
            "not longer than the publish lead",
        ),
    ] {
        let e = builder(&clock).key_rotation(rotation).build().unwrap_err();
        assert!(e.to_string().contains(fragment), "{e}");
        assert!(e.to_string().contains("key_"), "names the setting: {e}");
    }
}

#[tokio::test]
async fn a_wrong_or_missing_key_encryption_key_fails_at_start_and_adds_no_key() {
    let clock = ManualClock::new();
    let store = store().await;
    start(
        &builder(&clock).key_encryption_key(kek()).build().unwrap(),
        &store,
    )
    .await;
    let before = store.list_keys().await.unwrap();

    let wrong = builder(&clock).key_encryption_key(kek()).build().unwrap();
    let Err(StartError::KeyEncryptionKey(why)) = AuthServer::start(wrong, store.clone()).await
    else {
        panic!("a wrong key-encryption key must fail with StartError::KeyEncryptionKey");
    };
    assert!(why.contains("another key-encryption key"), "{why}");

    let none = builder(&clock)
        .dangerously_store_signing_keys_unencrypted()
        .build()
        .unwrap();
    let Err(StartError::KeyEncryptionKey(why)) = AuthServer::start(none, store.clone()).await
    else {
        panic!("no key-encryption key for sealed keys must fail");
    };
    assert!(why.contains("no key-encryption key was given"), "{why}");
    assert_eq!(store.list_keys().await.unwrap(), before, "nothing written");
}

#[tokio::test]
async fn operator_keys_take_precedence_and_leave_the_store_alone() {
    let clock = ManualClock::new();
    let store = store().await;
    let key = SigningKey::generate(SigningAlgorithm::Es256).unwrap();
    let cfg = builder(&clock)
        .signing_keys(KeySet::new(key.clone()))
        .build()
        .unwrap();
    let oauth = start(&cfg, &store).await;
    assert_eq!(jwks(&oauth).await.0, [key.kid().to_owned()]);
    assert!(store.list_keys().await.unwrap().keys.is_empty());
    let client = register(&oauth, "").await;
    assert_eq!(kid(&tokens(&oauth, &client).await.0), key.kid());
    assert!(oauth.server().keys().rotate(true).await.is_err());
}

#[tokio::test]
async fn an_immediate_rotation_reaches_the_other_replica_with_its_first_token() {
    let (log, _guard) = capture();
    let clock = ManualClock::new();
    let store = store().await;
    let cfg = builder(&clock).key_encryption_key(kek()).build().unwrap();
    let (a, b) = (start(&cfg, &store).await, start(&cfg, &store).await);
    let client = register(&a, "").await;
    let (old, _) = tokens(&a, &client).await;

    let out = a.server().keys().rotate(true).await.unwrap();
    let names: Vec<_> = out.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        names,
        [
            "key.created",
            "key.published",
            "key.activated",
            "key.retired"
        ]
    );
    let retired = log.one("key.retired");
    assert_eq!(retired["kid"], kid(&old));
    assert_eq!(retired["cause"], "rotate");

    let (new, _) = tokens(&a, &client).await;
    assert_ne!(kid(&new), kid(&old));
    // B has not re-read the store (its interval has not passed): the new
    // kid makes it re-read at once.
    accepts(&b, &new).await.unwrap();
    accepts(&b, &old).await.unwrap();
    assert_eq!(jwks(&b).await.0.len(), 2);
}

/// Five days in one-hour steps, rotating every two days with a six-hour
/// publish lead; tokens come alternately from two replicas, and every token
/// is checked at both until it expires.
#[tokio::test]
async fn a_scheduled_rotation_is_coordinated_between_replicas_and_never_refuses_a_token() {
    let (log, _guard) = capture();
    let clock = ManualClock::new();
    let store = store().await;
    let cfg = builder(&clock)
        .key_encryption_key(kek())
        .key_rotation(
            KeyRotation::default()
                .every(Duration::from_secs(48 * HOUR as u64))
                .publish_lead(Duration::from_secs(6 * HOUR as u64)),
        )
        .build()
        .unwrap();
    let replicas = [start(&cfg, &store).await, start(&cfg, &store).await];
    let t0 = clock.now();
    let client = register(&replicas[0], REFRESHING).await;
    let (_, mut refresh) = tokens(&replicas[0], &client).await;

    let mut issued: Vec<(i64, String)> = Vec::new();
    // Per replica: when each kid first appeared in its JWKS.
    let mut first_published: [BTreeMap<String, i64>; 2] = Default::default();
    let mut first_signed: BTreeMap<String, i64> = BTreeMap::new();
    let mut last_signed: BTreeMap<String, i64> = BTreeMap::new();
    let mut last_published: BTreeMap<String, i64> = BTreeMap::new();
    for step in 0..120 {
        let now = clock.now();
        let issuer = &replicas[step % 2];
        let (access, next) = refreshed(issuer, &client, &refresh).await;
        refresh = next;
        let k = kid(&access);
        first_signed.entry(k.clone()).or_insert(now);
        last_signed.insert(k, now);
        issued.push((now, access));
        for (r, oauth) in replicas.iter().enumerate() {
            for k in jwks(oauth).await.0 {
                first_published[r].entry(k.clone()).or_insert(now);
                last_published.insert(k, now);
            }
        }
        for (at, token) in &issued {
            for oauth in &replicas {
                let verdict = accepts(oauth, token).await;
                if now < at + HOUR {
                    verdict.unwrap_or_else(|e| {
                        panic!(
                            "a token issued at +{}s refused at +{}s: {e}",
                            at - t0,
                            now - t0
                        )
                    });
                } else if now >= at + HOUR + 30 {
                    assert!(
                        matches!(
                            verdict,
                            Err(TokenRejection::Expired(_)) | Err(TokenRejection::UnknownKey(_))
                        ),
                        "an expired token must be refused: {verdict:?}"
                    );
                }
            }
        }
        issued.retain(|(at, _)| now < at + 2 * HOUR);
        clock.advance(HOUR);
    }

    // Three keys signed, each after the previous one, and each was in the
    // JWKS of both replicas six hours before it signed.
    let order: Vec<_> = first_signed.iter().map(|(k, t)| (*t, k.clone())).collect();
    assert_eq!(order.len(), 3, "{order:?}");
    let mut order = order;
    order.sort();
    assert_eq!(order[0].0, t0);
    assert_eq!(
        order[1].0 - t0,
        48 * HOUR,
        "the successor signs after one period"
    );
    assert_eq!(order[2].0 - t0, 96 * HOUR);
    for (signed_at, k) in &order[1..] {
        for published in &first_published {
            assert!(
                signed_at - published[k] >= 6 * HOUR,
                "{k} signed {} s after a replica published it",
                signed_at - published[k]
            );
        }
    }
    // The first two keys left the JWKS, but only after their last token expired.
    for (_, k) in &order[..2] {
        let gone_after = last_published[k];
        assert!(gone_after >= last_signed[k] + HOUR, "{k} removed too early");
        assert!(gone_after < t0 + 119 * HOUR, "{k} was never removed");
    }
    for (name, count) in [
        ("key.created", 3),
        ("key.published", 3),
        ("key.activated", 3),
        ("key.retired", 2),
        ("key.removed", 2),
    ] {
        assert_eq!(log.named(name).len(), count, "{name}");
    }
    assert_eq!(store.list_keys().await.unwrap().keys.len(), 1);
}
