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

pub mod bounds;
mod exchange;
mod grants;
mod keys;
pub mod limits;
pub mod race;
mod replay;
mod revocations;
pub mod upstream;
pub use exchange::{code_exchange, refresh_exchange};
pub use grants::{
    codes, concurrent_refresh, first_token_recorded_with_redemption, pending_requests,
    refresh_rotation,
};
pub use keys::{clear_keys, key_races, key_set_contract, keys};
pub use replay::{replay_markers, replay_race};
pub use revocations::revocation_feed;

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
        awaiting_first_token: true,
        metadata: serde_json::Map::from_iter([(
            "application_type".to_owned(),
            serde_json::json!("native"),
        )]),
    }
}

fn mcp_resource() -> crate::resource::ResourceUri {
    crate::resource::ResourceUri::parse("https://mcp.example/mcp").expect("a valid resource URI")
}

/// A pending request created at `now`, live for 10 minutes, with fresh
/// ids (its own client's).
pub fn sample_pending(now: i64) -> PendingAuthorization {
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

fn sample_grant_with_id(grant_id: &str, now: i64) -> Grant {
    Grant {
        grant_id: grant_id.to_owned(),
        ..sample_grant(now)
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
        store.get_code(&old_code.code_hash).await.expect("get_code"),
        None,
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
    code_exchange(store.clone()).await;
    refresh_exchange(store.clone()).await;
    refresh_rotation(store.clone()).await;
    concurrent_refresh(store.clone()).await;
    users(store.clone()).await;
    replay_markers(store.clone()).await;
    revocation_feed(vec![store.clone()]).await;
    limits::run_all_but_purge(store.clone()).await;
    bounds::pending_caps(store.clone()).await;
    bounds::unused_registration_flag(store.clone()).await;
    upstream::run_all_but_cleanup(store.clone()).await;
    upstream::cleanup(store.clone()).await;
    cleanup(store.clone()).await;
    limits::purge(store).await;
}
