//! SQLite: conformance, persistence, URLs, cleanup.

use std::sync::Arc;
use std::time::Duration;

use oauth_mcp_core::StoreError;
use oauth_mcp_core::pkce::CodeChallengeMethod;
use oauth_mcp_core::scope::ScopeSet;
use oauth_mcp_core::store::conformance::{self, sample_client};
use oauth_mcp_core::store::{
    AuthorizationStore, Cleanup, ClientStore, Grant, PendingAuthorization, RefreshToken,
    RotateOutcome, TokenStore,
};
use oauth_mcp_sqlx::{DatabaseKind, SqlStore};

use crate::common::{TempDb, run_all_but_cleanup};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_sqlite_file() {
    let db = TempDb::new("conformance");
    let store = SqlStore::connect(&db.url()).await.unwrap();
    assert_eq!(store.kind(), DatabaseKind::Sqlite);
    conformance::run_all(Arc::new(store.clone())).await;
    conformance::first_token_recorded_with_redemption(Arc::new(store.clone())).await;
    assert!(
        !conformance::code_exchange(Arc::new(store.clone())).await,
        "SQLite reads the code, then redeems it (no round trip to save)"
    );
    assert!(
        !conformance::refresh_exchange(Arc::new(store.clone())).await,
        "SQLite reads the refresh token, then rotates it"
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_sqlite_memory() {
    let store = SqlStore::connect("sqlite::memory:").await.unwrap();
    conformance::run_all(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_sqlite_file_twice_in_parallel() {
    // Two stores (two pools) on one file, as two server processes would be:
    // the atomic operations must hold across pools too.
    let db = TempDb::new("two-pools");
    let a = SqlStore::connect(&db.url()).await.unwrap();
    let b = SqlStore::connect(&db.url()).await.unwrap();
    let (ra, rb) = tokio::join!(
        tokio::spawn(run_all_but_cleanup(Arc::new(a.clone()))),
        tokio::spawn(run_all_but_cleanup(Arc::new(b.clone())))
    );
    ra.unwrap();
    rb.unwrap();
    conformance::replay_race(vec![Arc::new(a.clone()), Arc::new(b.clone())]).await;
    conformance::cleanup(Arc::new(a)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn persists_across_reconnect() {
    let db = TempDb::new("persist");
    let client = sample_client();
    let grant = Grant {
        grant_id: "grant-persist".into(),
        client_id: client.client_id.clone(),
        subject: "alice".into(),
        scope: ScopeSet::from_scopes(["mcp", "admin"]),
        resource: oauth_mcp_core::resource::ResourceUri::parse("https://mcp.example/mcp").unwrap(),
        created_at: 1_800_000_000,
        refresh_generation: 0,
        revoked: false,
    };
    let rt = RefreshToken {
        token_hash: "rt-persist-0".into(),
        grant_id: grant.grant_id.clone(),
        generation: 0,
        issued_at: 1_800_000_000,
        expires_at: 1_800_003_600,
    };
    let pending = PendingAuthorization {
        id_hash: "pending-persist".into(),
        client_id: client.client_id.clone(),
        redirect_uri: "https://app.example/cb".into(),
        redirect_uri_explicit: false,
        state: None,
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        code_challenge_method: CodeChallengeMethod::S256,
        scope: ScopeSet::empty(),
        resource: oauth_mcp_core::resource::ResourceUri::parse("https://mcp.example/mcp").unwrap(),
        created_at: 1_800_000_000,
        expires_at: 1_800_000_600,
    };
    {
        let store = SqlStore::connect(&db.url()).await.unwrap();
        store.insert_client(client.clone()).await.unwrap();
        store
            .insert_grant(grant.clone(), Some(rt.clone()))
            .await
            .unwrap();
        store.insert_pending(pending.clone()).await.unwrap();
        store.close().await;
    }
    let store = SqlStore::connect(&db.url()).await.unwrap();
    assert_eq!(
        store.get_client(&client.client_id).await.unwrap(),
        Some(client)
    );
    assert_eq!(
        store.get_grant(&grant.grant_id).await.unwrap(),
        Some(grant.clone())
    );
    assert_eq!(store.get_refresh(&rt.token_hash).await.unwrap(), Some(rt));
    assert_eq!(
        store
            .get_pending(&pending.id_hash, 1_800_000_001)
            .await
            .unwrap(),
        Some(pending)
    );
    match store
        .rotate_refresh("rt-persist-0", "rt-persist-1", 1_800_000_010, 1_800_007_200)
        .await
        .unwrap()
    {
        RotateOutcome::Rotated(g) => {
            assert_eq!(g.refresh_generation, 1);
            assert_eq!(g.grant_id, grant.grant_id);
        }
        other => panic!("rotation after reconnect failed: {other:?}"),
    }
    let new = store.get_refresh("rt-persist-1").await.unwrap().unwrap();
    assert_eq!((new.generation, new.expires_at), (1, 1_800_007_200));
    // The migrations ran once; a third connect finds them applied.
    store.close().await;
    let again = SqlStore::connect(&db.url()).await.unwrap();
    assert_eq!(
        again
            .get_grant(&grant.grant_id)
            .await
            .unwrap()
            .unwrap()
            .refresh_generation,
        1
    );
}

#[tokio::test]
async fn url_schemes() {
    match SqlStore::connect("mysql://root@127.0.0.1/db").await {
        Err(StoreError::Other(m)) => assert!(m.contains("`mysql:`"), "{m}"),
        other => panic!("an unknown scheme must be refused, got {other:?}"),
    }
    assert!(matches!(
        SqlStore::connect("no-scheme-here").await,
        Err(StoreError::Other(_))
    ));
    // A file that does not exist without mode=rwc: cannot open.
    let missing = std::env::temp_dir().join("oauth-mcp-sqlx-does-not-exist/x.db");
    assert!(
        SqlStore::connect(&format!("sqlite://{}", missing.display()))
            .await
            .is_err()
    );
    // Nothing listens on port 9 of loopback: unavailable, quickly.
    let started = std::time::Instant::now();
    let r = SqlStore::options()
        .acquire_timeout(Duration::from_secs(1))
        .connect("postgres://nobody@127.0.0.1:9/db")
        .await;
    assert!(
        matches!(r, Err(StoreError::Unavailable(_))),
        "a database that is down is Unavailable, got {r:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// A SQLite file gets one connection unless told otherwise (its writers
/// queue in the pool rather than in SQLite's busy handler); the size set
/// is kept.
#[tokio::test]
async fn sqlite_file_pool_size() {
    let db = TempDb::new("pool");
    let store = SqlStore::connect(&db.url()).await.unwrap();
    let max = |s: &SqlStore| s.sqlite_pool().unwrap().options().get_max_connections();
    assert_eq!(max(&store), 1);
    store.close().await;
    let store = SqlStore::options()
        .max_connections(5)
        .connect(&db.url())
        .await
        .unwrap();
    assert_eq!(max(&store), 5);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_cleanup_purges() {
    let store = Arc::new(SqlStore::connect("sqlite::memory:").await.unwrap());
    let old = PendingAuthorization {
        id_hash: "old".into(),
        client_id: "c".into(),
        redirect_uri: "https://app.example/cb".into(),
        redirect_uri_explicit: false,
        state: None,
        code_challenge: "x".into(),
        code_challenge_method: CodeChallengeMethod::S256,
        scope: ScopeSet::empty(),
        resource: oauth_mcp_core::resource::ResourceUri::parse("https://r.example/mcp").unwrap(),
        created_at: 1,
        expires_at: 2,
    };
    store.insert_pending(old).await.unwrap();
    let task = store.clone().spawn_cleanup(Duration::from_secs(3600));
    // The first purge runs right away.
    let mut gone = false;
    for _ in 0..100 {
        if store.get_pending("old", 0).await.unwrap().is_none() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    task.abort();
    assert!(gone, "spawn_cleanup purged the expired request");
    assert_eq!(store.purge_expired(i64::MAX).await.unwrap(), 0);
}
