//! A conformance kit for storage backends (feature `test-kit`): async checks
//! of every contract of the storage traits, for any implementation. Each
//! check panics with a message naming the broken contract. Ids are random,
//! so the checks can share one store (a real database) and run in parallel.
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() {
//! use std::sync::Arc;
//! use oauth_mcp_core::store::{MemoryStore, conformance};
//! conformance::run_all(Arc::new(MemoryStore::new())).await;
//! # }
//! ```

// A test kit: a broken contract is reported by panicking, as test code does.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;

use crate::client::{Client, TokenEndpointAuthMethod};
use crate::error::StoreError;
use crate::pkce::CodeChallengeMethod;
use crate::scope::ScopeSet;
use crate::secret::random_token;

use super::*;

mod keys;
pub use keys::{clear_keys, key_races, key_set_contract, keys};
pub mod upstream;

/// How many tasks race in the concurrency checks.
pub const RACERS: usize = 16;

fn id(prefix: &str) -> String {
    format!("{prefix}-{}", random_token())
}

/// A client record with fresh ids.
pub fn sample_client() -> Client {
    Client {
        client_id: id("client"),
        secret_hash: Some(crate::secret::hash_secret("s3cret-s3cret-s3cret")),
        redirect_uris: vec![
            "https://app.example/cb".into(),
            "http://127.0.0.1/cb".into(),
        ],
        auth_method: TokenEndpointAuthMethod::ClientSecretPost,
        auth_method_explicit: true,
        client_name: Some("Conformance client".into()),
        scope: Some(ScopeSet::from_scopes(["mcp", "admin"])),
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        trusted: false,
        active: true,
        created_at: 1_700_000_000,
        expires_at: Some(1_900_000_000),
        metadata: serde_json::Map::from_iter([(
            "application_type".to_owned(),
            serde_json::json!("native"),
        )]),
    }
}

fn mcp_resource() -> crate::resource::ResourceUri {
    crate::resource::ResourceUri::parse("https://mcp.example/mcp").expect("a valid resource URI")
}

fn sample_pending(now: i64) -> PendingAuthorization {
    PendingAuthorization {
        id_hash: id("pending"),
        client_id: id("client"),
        redirect_uri: "http://127.0.0.1:5555/cb".into(),
        redirect_uri_explicit: true,
        state: Some("st/ate with spaces".into()),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        code_challenge_method: CodeChallengeMethod::S256,
        scope: ScopeSet::from_scopes(["mcp"]),
        resource: mcp_resource(),
        created_at: now,
        expires_at: now + 600,
    }
}

fn sample_code(now: i64, grant_id: &str) -> AuthorizationCode {
    AuthorizationCode {
        code_hash: id("code"),
        grant_id: grant_id.to_owned(),
        client_id: id("client"),
        redirect_uri: "https://app.example/cb".into(),
        redirect_uri_explicit: false,
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        code_challenge_method: CodeChallengeMethod::S256,
        scope: ScopeSet::from_scopes(["mcp", "admin"]),
        resource: mcp_resource(),
        subject: "alice".into(),
        issued_at: now,
        expires_at: now + 300,
    }
}

fn sample_grant(now: i64) -> Grant {
    Grant {
        grant_id: id("grant"),
        client_id: id("client"),
        subject: "alice".into(),
        scope: ScopeSet::from_scopes(["mcp"]),
        resource: mcp_resource(),
        created_at: now,
        refresh_generation: 0,
        revoked: false,
    }
}

fn refresh_for(grant: &Grant, now: i64) -> RefreshToken {
    RefreshToken {
        token_hash: id("rt"),
        grant_id: grant.grant_id.clone(),
        generation: 0,
        issued_at: now,
        expires_at: now + 3600,
    }
}

const NOW: i64 = 1_800_000_000;

/// Clients: insert, get, duplicate refused, update, list.
pub async fn clients(store: Arc<dyn Store>) {
    let c = sample_client();
    store.insert_client(c.clone()).await.expect("insert_client");
    assert_eq!(
        store.get_client(&c.client_id).await.expect("get_client"),
        Some(c.clone()),
        "a client reads back exactly as stored"
    );
    assert!(
        matches!(
            store.insert_client(c.clone()).await,
            Err(StoreError::Duplicate(_))
        ),
        "insert_client of an existing id must fail with StoreError::Duplicate"
    );
    assert_eq!(
        store.get_client(&id("nobody")).await.expect("get_client"),
        None,
        "unknown client is None"
    );
    let mut updated = c.clone();
    updated.redirect_uris = vec!["https://new.example/cb".into()];
    updated.trusted = true;
    updated.active = false;
    assert!(
        store
            .update_client(updated.clone())
            .await
            .expect("update_client"),
        "update_client of a known id returns true"
    );
    assert_eq!(
        store.get_client(&c.client_id).await.expect("get_client"),
        Some(updated),
        "update_client replaces the record"
    );
    let mut ghost = sample_client();
    ghost.client_id = id("ghost");
    assert!(
        !store.update_client(ghost).await.expect("update_client"),
        "update_client of an unknown id returns false"
    );
    let all = store.list_clients().await.expect("list_clients");
    assert!(
        all.iter().any(|x| x.client_id == c.client_id),
        "list_clients includes every client"
    );
}

/// Pending requests: expiry honoured, take is single use, also under a race.
pub async fn pending_requests(store: Arc<dyn Store>) {
    let p = sample_pending(NOW);
    store
        .insert_pending(p.clone())
        .await
        .expect("insert_pending");
    assert_eq!(
        store
            .get_pending(&p.id_hash, NOW)
            .await
            .expect("get_pending"),
        Some(p.clone()),
        "pending reads back"
    );
    assert_eq!(
        store
            .get_pending(&p.id_hash, p.expires_at)
            .await
            .expect("get_pending"),
        None,
        "an expired pending request is not returned"
    );
    assert_eq!(
        store
            .take_pending(&p.id_hash, p.expires_at + 1)
            .await
            .expect("take_pending"),
        None,
        "an expired pending request cannot be taken"
    );

    let p = sample_pending(NOW);
    store
        .insert_pending(p.clone())
        .await
        .expect("insert_pending");
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let s = store.clone();
            let h = p.id_hash.clone();
            tokio::spawn(async move { s.take_pending(&h, NOW).await.expect("take_pending") })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        if let Some(got) = t.await.expect("task") {
            assert_eq!(got, p);
            won += 1;
        }
    }
    assert_eq!(
        won, 1,
        "exactly one of {RACERS} concurrent take_pending calls gets the request"
    );
    assert_eq!(
        store
            .get_pending(&p.id_hash, NOW)
            .await
            .expect("get_pending"),
        None,
        "a taken request is gone"
    );
}

/// Codes: single use under a race, replay reports the grant, unknown codes.
pub async fn codes(store: Arc<dyn Store>) {
    let grant_id = id("grant");
    let c = sample_code(NOW, &grant_id);
    store.insert_code(c.clone()).await.expect("insert_code");
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let s = store.clone();
            let h = c.code_hash.clone();
            tokio::spawn(async move { s.redeem_code(&h).await.expect("redeem_code") })
        })
        .collect();
    let mut redeemed = 0;
    for t in tasks {
        match t.await.expect("task") {
            CodeRedemption::Redeemed(got) => {
                assert_eq!(got, c, "a redeemed code reads back exactly as stored");
                redeemed += 1;
            }
            CodeRedemption::Replayed { grant_id: g } => {
                assert_eq!(g, grant_id, "a replay names the code's grant")
            }
            CodeRedemption::NotFound => {
                panic!("a spent code must be remembered as Replayed, not NotFound")
            }
        }
    }
    assert_eq!(
        redeemed, 1,
        "exactly one of {RACERS} concurrent redemptions wins"
    );
    assert_eq!(
        store.redeem_code(&c.code_hash).await.expect("redeem_code"),
        CodeRedemption::Replayed { grant_id },
        "a later redemption is a replay"
    );
    assert_eq!(
        store.redeem_code(&id("nocode")).await.expect("redeem_code"),
        CodeRedemption::NotFound,
        "unknown code"
    );
    let expired = sample_code(NOW - 1000, &id("grant"));
    store
        .insert_code(expired.clone())
        .await
        .expect("insert_code");
    assert!(
        matches!(
            store
                .redeem_code(&expired.code_hash)
                .await
                .expect("redeem_code"),
            CodeRedemption::Redeemed(_)
        ),
        "the store returns an expired code's record; the engine decides about expiry"
    );
}

/// Grants and refresh rotation: advance, sibling, reuse revokes, expiry,
/// revocation, and the tombstone of a grant revoked before it was stored.
pub async fn refresh_rotation(store: Arc<dyn Store>) {
    let g = sample_grant(NOW);
    let r0 = refresh_for(&g, NOW);
    store
        .insert_grant(g.clone(), Some(r0.clone()))
        .await
        .expect("insert_grant");
    assert_eq!(
        store.get_grant(&g.grant_id).await.expect("get_grant"),
        Some(g.clone()),
        "grant reads back"
    );
    assert_eq!(
        store
            .get_refresh(&r0.token_hash)
            .await
            .expect("get_refresh"),
        Some(r0.clone()),
        "refresh reads back"
    );

    let rotate = |from: String, to: String, now: i64| {
        let s = store.clone();
        async move {
            s.rotate_refresh(&from, &to, now, now + 3600)
                .await
                .expect("rotate_refresh")
        }
    };
    let (t1, t1b, t2) = (id("rt"), id("rt"), id("rt"));
    assert!(
        matches!(rotate(r0.token_hash.clone(), t1.clone(), NOW + 1).await, RotateOutcome::Rotated(ref x) if x.refresh_generation == 1),
        "the newest token advances the generation"
    );
    let stored = store
        .get_refresh(&t1)
        .await
        .expect("get_refresh")
        .expect("the new token is stored");
    assert_eq!(
        (
            stored.generation,
            stored.grant_id.as_str(),
            stored.expires_at
        ),
        (1, g.grant_id.as_str(), NOW + 1 + 3600)
    );
    assert!(
        matches!(rotate(r0.token_hash.clone(), t1b.clone(), NOW + 2).await, RotateOutcome::Rotated(ref x) if x.refresh_generation == 1),
        "the previous token (successor unused) yields a sibling"
    );
    assert!(
        matches!(rotate(t1.clone(), t2.clone(), NOW + 3).await, RotateOutcome::Rotated(ref x) if x.refresh_generation == 2),
        "a sibling of the newest generation advances"
    );
    assert!(
        matches!(
            rotate(t1b.clone(), id("rt"), NOW + 4).await,
            RotateOutcome::Rotated(_)
        ),
        "the other generation-1 sibling is still the previous one"
    );
    match rotate(r0.token_hash.clone(), id("rt"), NOW + 5).await {
        RotateOutcome::Reused { grant_id } => {
            assert_eq!(grant_id, g.grant_id, "reuse names the grant")
        }
        other => panic!("a token two generations old must be Reused, got {other:?}"),
    }
    assert!(
        store
            .get_grant(&g.grant_id)
            .await
            .expect("get_grant")
            .expect("grant")
            .revoked,
        "reuse revokes the grant"
    );
    assert_eq!(
        rotate(t2.clone(), id("rt"), NOW + 6).await,
        RotateOutcome::Invalid,
        "no token of a revoked grant rotates"
    );

    // Expiry.
    let g2 = sample_grant(NOW);
    let r = refresh_for(&g2, NOW);
    store
        .insert_grant(g2.clone(), Some(r.clone()))
        .await
        .expect("insert_grant");
    assert_eq!(
        rotate(r.token_hash.clone(), id("rt"), r.expires_at).await,
        RotateOutcome::Invalid,
        "an expired refresh token is Invalid"
    );
    assert_eq!(
        rotate(id("unknown"), id("rt"), NOW).await,
        RotateOutcome::Invalid,
        "an unknown refresh token is Invalid"
    );

    // Explicit revocation.
    let g3 = sample_grant(NOW);
    let r = refresh_for(&g3, NOW);
    store
        .insert_grant(g3.clone(), Some(r.clone()))
        .await
        .expect("insert_grant");
    assert!(
        store
            .revoke_grant(&g3.grant_id)
            .await
            .expect("revoke_grant"),
        "revoking a known grant returns true"
    );
    assert_eq!(
        rotate(r.token_hash.clone(), id("rt"), NOW + 1).await,
        RotateOutcome::Invalid,
        "a revoked grant's refresh token is Invalid"
    );

    // Tombstone.
    let g4 = sample_grant(NOW);
    assert!(
        !store
            .revoke_grant(&g4.grant_id)
            .await
            .expect("revoke_grant"),
        "revoking an unknown grant returns false"
    );
    assert!(
        matches!(
            store.insert_grant(g4, None).await,
            Err(StoreError::Duplicate(_))
        ),
        "a grant revoked before it was stored must not be stored afterwards (Duplicate)"
    );
}

/// Concurrent refreshes with one token never leave the client without a
/// valid token: every racer gets a token, and at least one still rotates.
pub async fn concurrent_refresh(store: Arc<dyn Store>) {
    let g = sample_grant(NOW);
    let r0 = refresh_for(&g, NOW);
    store
        .insert_grant(g, Some(r0.clone()))
        .await
        .expect("insert_grant");
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let s = store.clone();
            let from = r0.token_hash.clone();
            tokio::spawn(async move {
                let to = id("rt");
                let out = s
                    .rotate_refresh(&from, &to, NOW + 1, NOW + 3600)
                    .await
                    .expect("rotate_refresh");
                (to, out)
            })
        })
        .collect();
    let mut fresh = Vec::new();
    for t in tasks {
        let (to, out) = t.await.expect("task");
        assert!(
            matches!(out, RotateOutcome::Rotated(_)),
            "a concurrent refresh with the current token must succeed, got {out:?}"
        );
        fresh.push(to);
    }
    let mut ok = 0;
    for to in fresh {
        if matches!(
            store
                .rotate_refresh(&to, &id("rt"), NOW + 2, NOW + 3600)
                .await
                .expect("rotate_refresh"),
            RotateOutcome::Rotated(_)
        ) {
            ok += 1;
        }
    }
    assert!(
        ok >= 1,
        "after concurrent refreshes at least one returned token must still rotate"
    );
}

/// Single-use markers: consumed once until they expire, also under a
/// [`RACERS`]-way race; an expired marker may be consumed again.
pub async fn replay_markers(store: Arc<dyn Store>) {
    replay_race(vec![store.clone()]).await;
    let key = id("jti");
    let until = NOW + 300;
    assert!(
        store
            .consume_once(&key, until, NOW)
            .await
            .expect("consume_once"),
        "the first use of a marker succeeds"
    );
    for now in [NOW, NOW + 1, until - 1] {
        assert!(
            !store
                .consume_once(&key, until + 100, now)
                .await
                .expect("consume_once"),
            "a marker is refused until it expires (at {now}, expires {until})"
        );
    }
    assert!(
        store
            .consume_once(&key, until + 300, until)
            .await
            .expect("consume_once"),
        "a marker expired at `now` may be consumed again"
    );
    assert!(
        !store
            .consume_once(&key, until + 600, until + 1)
            .await
            .expect("consume_once"),
        "consuming again renews the marker until its new expiry"
    );
    assert!(
        store
            .consume_once(&id("jti"), until, NOW)
            .await
            .expect("consume_once"),
        "markers are independent"
    );
}

/// [`RACERS`] concurrent consumptions of one marker, spread over `stores`
/// (one store, or several pools on one database as replicas would be):
/// exactly one succeeds.
pub async fn replay_race(stores: Vec<Arc<dyn Store>>) {
    assert!(!stores.is_empty(), "replay_race needs a store");
    let key = id("jti");
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let s = stores[i % stores.len()].clone();
            let k = key.clone();
            tokio::spawn(async move {
                s.consume_once(&k, NOW + 300, NOW)
                    .await
                    .expect("consume_once")
            })
        })
        .collect();
    let mut first = 0;
    for t in tasks {
        if t.await.expect("task") {
            first += 1;
        }
    }
    assert_eq!(
        first, 1,
        "exactly one of {RACERS} concurrent consumptions of one marker succeeds"
    );
}

/// Users: put, get, replace.
pub async fn users(store: Arc<dyn Store>) {
    let name = id("user");
    let u = User {
        username: name.clone(),
        subject: id("sub"),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$x$y".into(),
    };
    store.put_user(u.clone()).await.expect("put_user");
    assert_eq!(
        store.get_user(&name).await.expect("get_user"),
        Some(u.clone())
    );
    let u2 = User {
        password_hash: "$argon2id$other".into(),
        ..u
    };
    store.put_user(u2.clone()).await.expect("put_user");
    assert_eq!(
        store.get_user(&name).await.expect("get_user"),
        Some(u2),
        "put_user replaces"
    );
    assert_eq!(store.get_user(&id("nobody")).await.expect("get_user"), None);
}

/// Cleanup removes expired pending requests, codes, refresh tokens and
/// single-use markers, and keeps live ones.
pub async fn cleanup(store: Arc<dyn Store>) {
    // Far in the future relative to the other checks' records.
    let later = NOW + 10_000_000;
    let live_pending = sample_pending(later);
    let old_pending = sample_pending(NOW);
    store
        .insert_pending(live_pending.clone())
        .await
        .expect("insert_pending");
    store
        .insert_pending(old_pending.clone())
        .await
        .expect("insert_pending");
    let old_code = sample_code(NOW, &id("grant"));
    store
        .insert_code(old_code.clone())
        .await
        .expect("insert_code");
    let g = sample_grant(NOW);
    let old_rt = refresh_for(&g, NOW);
    store
        .insert_grant(g, Some(old_rt.clone()))
        .await
        .expect("insert_grant");
    let old_marker = id("jti");
    assert!(
        store
            .consume_once(&old_marker, NOW, NOW - 10)
            .await
            .expect("consume_once")
    );
    let live_marker = id("jti");
    assert!(
        store
            .consume_once(&live_marker, later + 600, later)
            .await
            .expect("consume_once")
    );
    let purged = store.purge_expired(later).await.expect("purge_expired");
    assert!(
        purged >= 4,
        "purge_expired counts what it removed (got {purged})"
    );
    assert_eq!(
        store
            .get_pending(&live_pending.id_hash, later)
            .await
            .expect("get_pending"),
        Some(live_pending),
        "live rows stay"
    );
    assert_eq!(
        store
            .redeem_code(&old_code.code_hash)
            .await
            .expect("redeem_code"),
        CodeRedemption::NotFound,
        "expired codes go"
    );
    assert_eq!(
        store
            .get_refresh(&old_rt.token_hash)
            .await
            .expect("get_refresh"),
        None,
        "expired refresh tokens go"
    );
    assert!(
        !store
            .consume_once(&live_marker, later + 600, later + 1)
            .await
            .expect("consume_once"),
        "live single-use markers stay"
    );
}

/// Every check, in sequence. [`keys`] manages the store's one key set, so
/// run this on a store no server is using.
pub async fn run_all(store: Arc<dyn Store>) {
    keys(store.clone()).await;
    clients(store.clone()).await;
    pending_requests(store.clone()).await;
    codes(store.clone()).await;
    refresh_rotation(store.clone()).await;
    concurrent_refresh(store.clone()).await;
    users(store.clone()).await;
    replay_markers(store.clone()).await;
    upstream::run_all_but_cleanup(store.clone()).await;
    upstream::cleanup(store.clone()).await;
    cleanup(store).await;
}
