//! The validated-token cache through the public API (issue 12): a repeated
//! token costs no store lookup; an entry never outlives the token's `exp`,
//! the cache's TTL, or a revocation — at once on the instance that revoked
//! it, within `MAX_STALENESS` on another instance sharing the store, also
//! when an operator revokes in the store directly; the off switches.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use http::HeaderMap;
use oauth_mcp_core::clock::{Clock, ManualClock};
use oauth_mcp_core::http::OAuthHttp;
use oauth_mcp_core::resource::ResourceUri;
use oauth_mcp_core::scope::ScopeSet;
use oauth_mcp_core::store::{
    Grant, MemoryStore, RefreshToken, RevocationCursor, RevocationFeed, RotateOutcome, TokenStore,
};
use oauth_mcp_core::token::{KeySet, MintRequest, SigningAlgorithm, SigningKey, TokenSigner};
use oauth_mcp_core::token_cache::TokenCacheConfig;
use oauth_mcp_core::validate::{
    LocalJwtValidator, MAX_STALENESS, POLL_INTERVAL, TokenRejection, TokenValidator,
};
use oauth_mcp_core::{AuthServer, ResourceServer, ServerConfig, StoreError};
use serde_json::Value;

use crate::support::*;

const PUBLIC: &str = "http://127.0.0.1:8080";
const MCP: &str = "http://127.0.0.1:8080/mcp";

/// One instance: its authorization server (keys in the shared store) and
/// its resource server.
async fn instance(store: Arc<MemoryStore>) -> (OAuthHttp, ResourceServer) {
    let cfg = ServerConfig::builder(PUBLIC)
        .scopes_supported(["mcp"])
        .default_scopes(["mcp"])
        .build()
        .unwrap();
    let server = AuthServer::start(cfg, store).await.unwrap();
    let rs = ResourceServer::for_auth_server(&server)
        .required_scopes(["mcp"])
        .build()
        .unwrap();
    (OAuthHttp::new(server), rs)
}

async fn store() -> Arc<MemoryStore> {
    crate::support::store_with_alice().await
}

/// Registers a client, logs in and redeems the code: the token answer.
async fn tokens(oauth: &OAuthHttp) -> (String, Value) {
    let client = register(oauth, "").await;
    let (status, loc, body) = login(oauth, &authorize_uri(&client, ""), "alice", "pw-alice").await;
    assert_eq!(status, 303, "{body}");
    let code = query_param(&loc.unwrap(), "code").unwrap();
    let t = token_ok(oauth, code_exchange_form(&client, &code)).await;
    (client, t)
}

fn bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("authorization", format!("Bearer {token}").parse().unwrap());
    h
}

async fn revoke(oauth: &OAuthHttp, client: &str, token: &str) {
    let r = oauth
        .handle(req(
            "POST",
            "/revoke",
            Some("application/x-www-form-urlencoded"),
            format!("token={token}&client_id={client}"),
        ))
        .await;
    assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(r.body()));
}

/// The exact refusal of a revoked token.
fn assert_revoked(r: Result<oauth_mcp_core::AuthContext, oauth_mcp_core::bearer::BearerRefusal>) {
    let e = r.expect_err("a revoked token is refused");
    assert_eq!(e.status, 401);
    assert_eq!(e.error, Some(oauth_mcp_core::ErrorCode::InvalidToken));
    assert_eq!(e.description, "the token was revoked");
    assert!(
        e.challenge.contains(r#"error="invalid_token""#)
            && e.challenge.contains("resource_metadata="),
        "{}",
        e.challenge
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_stops_cached_tokens_at_once_here_and_within_the_bound_on_a_replica() {
    let store = store().await;
    let (oauth_a, rs_a) = instance(store.clone()).await;
    let (_oauth_b, rs_b) = instance(store.clone()).await;
    let (client, t) = tokens(&oauth_a).await;
    let access = t["access_token"].as_str().unwrap();
    let h = bearer(access);
    // Both instances validate it and cache it.
    for _ in 0..3 {
        assert_eq!(&*rs_a.check(&h, None, None).await.unwrap().subject, "alice");
        assert_eq!(&*rs_b.check(&h, None, None).await.unwrap().subject, "alice");
    }

    // Revoked through A's /revoke: A refuses it at once.
    revoke(&oauth_a, &client, t["refresh_token"].as_str().unwrap()).await;
    let revoked_at = Instant::now();
    assert_revoked(rs_a.check(&h, None, None).await);

    // B learns it from the store's revocation feed within MAX_STALENESS.
    loop {
        match rs_b.check(&h, None, None).await {
            Ok(_) => {
                assert!(
                    revoked_at.elapsed() <= MAX_STALENESS,
                    "B still serves the revoked token after {:?}",
                    revoked_at.elapsed()
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => {
                assert_revoked(Err(e));
                break;
            }
        }
    }
    assert!(revoked_at.elapsed() <= MAX_STALENESS + Duration::from_millis(100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_code_and_a_reused_refresh_token_stop_cached_tokens_at_once() {
    let store = store().await;
    let (oauth, rs) = instance(store).await;

    // Code replay.
    let client = register(&oauth, "").await;
    let (_, loc, _) = login(&oauth, &authorize_uri(&client, ""), "alice", "pw-alice").await;
    let code = query_param(&loc.unwrap(), "code").unwrap();
    let t = token_ok(&oauth, code_exchange_form(&client, &code)).await;
    let h = bearer(t["access_token"].as_str().unwrap());
    assert!(rs.check(&h, None, None).await.is_ok());
    let replay = oauth
        .handle(req(
            "POST",
            "/token",
            Some("application/x-www-form-urlencoded"),
            code_exchange_form(&client, &code),
        ))
        .await;
    assert_eq!(replay.status(), 400);
    assert_revoked(rs.check(&h, None, None).await);

    // Refresh-token reuse.
    let (client, t) = tokens(&oauth).await;
    let first = t["refresh_token"].as_str().unwrap().to_owned();
    let form = |r: &str| format!("grant_type=refresh_token&refresh_token={r}&client_id={client}");
    let t1 = token_ok(&oauth, form(&first)).await;
    let t2 = token_ok(&oauth, form(t1["refresh_token"].as_str().unwrap())).await;
    let h = bearer(t2["access_token"].as_str().unwrap());
    assert!(rs.check(&h, None, None).await.is_ok());
    let reuse = oauth
        .handle(req(
            "POST",
            "/token",
            Some("application/x-www-form-urlencoded"),
            form(&first),
        ))
        .await;
    assert_eq!(reuse.status(), 400);
    assert_revoked(rs.check(&h, None, None).await);
}

/// A token store that counts grant lookups and feed reads.
struct Counting {
    inner: MemoryStore,
    get_grant: AtomicUsize,
    feed_reads: AtomicUsize,
    /// Answer `Ok(None)` to feed reads (a store without a feed).
    no_feed: bool,
}

#[async_trait]
impl TokenStore for Counting {
    async fn insert_grant(&self, g: Grant, r: Option<RefreshToken>) -> Result<(), StoreError> {
        self.inner.insert_grant(g, r).await
    }
    async fn get_grant(&self, grant_id: &str) -> Result<Option<Grant>, StoreError> {
        self.get_grant.fetch_add(1, Ordering::SeqCst);
        self.inner.get_grant(grant_id).await
    }
    async fn revoke_grant(&self, grant_id: &str) -> Result<bool, StoreError> {
        self.inner.revoke_grant(grant_id).await
    }
    async fn get_refresh(&self, h: &str) -> Result<Option<RefreshToken>, StoreError> {
        self.inner.get_refresh(h).await
    }
    async fn rotate_refresh(
        &self,
        p: &str,
        n: &str,
        now: i64,
        exp: i64,
    ) -> Result<RotateOutcome, StoreError> {
        self.inner.rotate_refresh(p, n, now, exp).await
    }
    async fn revocations_since(
        &self,
        after: Option<RevocationCursor>,
    ) -> Result<Option<RevocationFeed>, StoreError> {
        self.feed_reads.fetch_add(1, Ordering::SeqCst);
        if self.no_feed {
            return Ok(None);
        }
        self.inner.revocations_since(after).await
    }
}

struct Fixture {
    store: Arc<Counting>,
    signer: TokenSigner,
    clock: ManualClock,
    keys: Arc<KeySet>,
}

impl Fixture {
    async fn new(no_feed: bool) -> Self {
        let store = Arc::new(Counting {
            inner: MemoryStore::new(),
            get_grant: AtomicUsize::new(0),
            feed_reads: AtomicUsize::new(0),
            no_feed,
        });
        let keys = Arc::new(KeySet::new(
            SigningKey::generate(SigningAlgorithm::Es256).unwrap(),
        ));
        Self {
            store,
            signer: TokenSigner::new(keys.clone(), PUBLIC),
            clock: ManualClock::new(),
            keys,
        }
    }

    fn validator(&self) -> LocalJwtValidator {
        LocalJwtValidator::new(
            self.keys.clone(),
            PUBLIC,
            ResourceUri::parse(MCP).unwrap(),
            Arc::new(self.clock.clone()),
        )
        .with_revocation_check(self.store.clone())
    }

    /// A token of a stored grant `gid`, living `ttl` seconds.
    async fn token(&self, gid: &str, ttl: i64) -> String {
        let now = self.clock.now();
        self.store
            .insert_grant(
                Grant {
                    grant_id: gid.into(),
                    client_id: "c".into(),
                    subject: "alice".into(),
                    scope: ScopeSet::parse("mcp").unwrap(),
                    resource: ResourceUri::parse(MCP).unwrap(),
                    created_at: now,
                    refresh_generation: 0,
                    revoked: false,
                },
                None,
            )
            .await
            .unwrap();
        self.signer
            .mint(&MintRequest {
                subject: "alice",
                client_id: "c",
                scope: &ScopeSet::parse("mcp").unwrap(),
                audience: &ResourceUri::parse(MCP).unwrap(),
                grant_id: Some(gid),
                now,
                ttl,
            })
            .unwrap()
            .0
    }

    fn lookups(&self) -> usize {
        self.store.get_grant.load(Ordering::SeqCst)
    }
}

#[tokio::test]
async fn a_repeated_token_costs_no_store_lookup_and_the_whole_token_must_match() {
    let f = Fixture::new(false).await;
    let v = f.validator();
    let t = f.token("g1", 300).await;
    for _ in 0..100 {
        assert_eq!(&*v.validate(&t).await.unwrap().subject, "alice");
    }
    assert_eq!(f.lookups(), 1, "one lookup for the first sight only");
    assert_eq!(v.cached_tokens(), 1);
    // A token differing in its last signature character is not a hit.
    let mut forged = t.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert!(v.validate(&forged).await.is_err());
    // Clones share the cache.
    assert!(v.clone().validate(&t).await.is_ok());
    assert_eq!(f.lookups(), 1);
}

#[tokio::test]
async fn an_entry_never_outlives_exp_or_the_ttl() {
    let f = Fixture::new(false).await;
    // exp: cached until exp, then validated in full (and refused past the leeway).
    let v = f.validator();
    let t = f.token("g1", 60).await;
    assert!(v.validate(&t).await.is_ok());
    f.clock.advance(59);
    assert!(v.validate(&t).await.is_ok());
    assert_eq!(f.lookups(), 1);
    f.clock.advance(1);
    assert!(v.validate(&t).await.is_ok(), "within the 30 s leeway");
    assert_eq!(f.lookups(), 2, "at exp the entry is gone");
    f.clock.advance(30);
    assert!(matches!(
        v.validate(&t).await,
        Err(TokenRejection::Expired(_))
    ));

    // TTL: a 10 s cache re-validates after 10 s although the token lives on.
    let v = f
        .validator()
        .with_token_cache(TokenCacheConfig::default().with_ttl(Duration::from_secs(10)));
    let t = f.token("g2", 300).await;
    let before = f.lookups();
    assert!(v.validate(&t).await.is_ok());
    f.clock.advance(9);
    assert!(v.validate(&t).await.is_ok());
    assert_eq!(f.lookups(), before + 1);
    f.clock.advance(1);
    assert!(v.validate(&t).await.is_ok());
    assert_eq!(f.lookups(), before + 2);
}

#[tokio::test]
async fn an_operator_revoking_in_the_store_reaches_cached_tokens_within_the_bound() {
    let f = Fixture::new(false).await;
    let v = f.validator();
    let t = f.token("g1", 300).await;
    assert!(v.validate(&t).await.is_ok());
    // Straight in the store (another process, an operator's tool).
    f.store.revoke_grant("g1").await.unwrap();
    let revoked_at = Instant::now();
    loop {
        match v.validate(&t).await {
            Ok(_) => assert!(revoked_at.elapsed() <= MAX_STALENESS),
            Err(e) => {
                assert_eq!(e, TokenRejection::Revoked);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The feed is read at most every 500 ms, not per request.
    let reads = f.store.feed_reads.load(Ordering::SeqCst);
    assert!(reads <= 5, "{reads} feed reads");
}

#[tokio::test]
async fn validate_now_answers_only_what_the_cache_may_serve_without_waiting() {
    let f = Fixture::new(false).await;
    let v = f.validator();
    let t = f.token("g1", 60).await;
    assert_eq!(v.validate_now(t.as_bytes()), None, "never validated");
    let ctx = v.validate(&t).await.unwrap();
    assert_eq!(v.validate_now(t.as_bytes()), Some(ctx));
    assert_eq!(f.lookups(), 1);
    // Revoked in the store (an operator, another replica): served until the
    // feed is due, then nothing at once, and `validate` reads the feed.
    f.store.revoke_grant("g1").await.unwrap();
    tokio::time::sleep(POLL_INTERVAL + Duration::from_millis(50)).await;
    assert_eq!(v.validate_now(t.as_bytes()), None, "the feed is due");
    assert_eq!(v.validate(&t).await.unwrap_err(), TokenRejection::Revoked);
    assert_eq!(v.validate_now(t.as_bytes()), None);

    // Never at or past exp.
    let t = f.token("g2", 60).await;
    v.validate(&t).await.unwrap();
    assert!(v.validate_now(t.as_bytes()).is_some());
    f.clock.advance(60);
    assert_eq!(v.validate_now(t.as_bytes()), None);

    // Without a feed every hit asks the store, so nothing is answered at
    // once; without the cache, nothing either.
    let f = Fixture::new(true).await;
    let t = f.token("g1", 300).await;
    let v = f.validator();
    v.validate(&t).await.unwrap();
    assert_eq!(v.validate_now(t.as_bytes()), None);
    let v = f.validator().without_token_cache();
    v.validate(&t).await.unwrap();
    assert_eq!(v.validate_now(t.as_bytes()), None);
}

#[tokio::test]
async fn without_a_feed_or_without_the_cache_every_request_asks_the_store() {
    // A store without a revocation feed: cached tokens still ask get_grant.
    let f = Fixture::new(true).await;
    let v = f.validator();
    let t = f.token("g1", 300).await;
    for _ in 0..5 {
        assert!(v.validate(&t).await.is_ok());
    }
    assert_eq!(f.lookups(), 5);
    f.store.revoke_grant("g1").await.unwrap();
    assert_eq!(v.validate(&t).await.unwrap_err(), TokenRejection::Revoked);

    // The cache switched off.
    let f = Fixture::new(false).await;
    let v = f.validator().without_token_cache();
    let t = f.token("g1", 300).await;
    for _ in 0..5 {
        assert!(v.validate(&t).await.is_ok());
    }
    assert_eq!(f.lookups(), 5);
    assert_eq!(v.cached_tokens(), 0);
    assert_eq!(f.store.feed_reads.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_resource_server_builder_sets_the_embedded_cache_only() {
    let store = store().await;
    let cfg = ServerConfig::builder(PUBLIC)
        .scopes_supported(["mcp"])
        .build()
        .unwrap();
    let server = AuthServer::start(cfg, store).await.unwrap();
    let oauth = OAuthHttp::new(server.clone());
    let rs = ResourceServer::for_auth_server(&server)
        .without_token_cache()
        .build()
        .unwrap();
    let (client, t) = tokens(&oauth).await;
    let h = bearer(t["access_token"].as_str().unwrap());
    assert!(rs.check(&h, None, None).await.is_ok());
    revoke(&oauth, &client, t["refresh_token"].as_str().unwrap()).await;
    assert_revoked(rs.check(&h, None, None).await);
    assert!(
        ResourceServer::for_auth_server(&server)
            .token_cache(TokenCacheConfig::default().with_max_entries(10))
            .build()
            .is_ok()
    );
    // A validator given by the caller carries its own cache settings.
    let e = ResourceServer::for_auth_server(&server)
        .validator(server.local_validator())
        .without_token_cache()
        .build()
        .unwrap_err();
    assert_eq!(e.field, "token_cache");
    assert!(e.to_string().contains("with_token_cache"), "{e}");
}
