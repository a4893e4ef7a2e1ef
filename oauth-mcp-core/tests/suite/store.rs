//! The memory store's atomic operations under concurrency.

use oauth_mcp_core::pkce::CodeChallengeMethod;
use oauth_mcp_core::scope::ScopeSet;
use oauth_mcp_core::store::*;

fn code(hash: &str) -> AuthorizationCode {
    AuthorizationCode {
        code_hash: hash.into(),
        grant_id: "g1".into(),
        client_id: "c".into(),
        redirect_uri: "https://a/cb".into(),
        redirect_uri_explicit: true,
        code_challenge: "x".into(),
        code_challenge_method: CodeChallengeMethod::S256,
        scope: ScopeSet::parse("mcp").unwrap(),
        resource: oauth_mcp_core::resource::ResourceUri::parse("https://r/mcp").unwrap(),
        subject: "alice".into(),
        issued_at: 0,
        expires_at: 100,
    }
}

async fn grant(store: &MemoryStore) {
    let g = Grant {
        grant_id: "g".into(),
        client_id: "c".into(),
        subject: "alice".into(),
        scope: ScopeSet::parse("mcp").unwrap(),
        resource: oauth_mcp_core::resource::ResourceUri::parse("https://r/mcp").unwrap(),
        created_at: 0,
        refresh_generation: 0,
        revoked: false,
    };
    let r = RefreshToken {
        token_hash: "t0".into(),
        grant_id: "g".into(),
        generation: 0,
        issued_at: 0,
        expires_at: 1000,
    };
    store.insert_grant(g, Some(r)).await.unwrap();
}

#[tokio::test]
async fn rotation_keeps_the_previous_token_until_its_successor_is_used() {
    let store = MemoryStore::new();
    grant(&store).await;
    assert!(matches!(
        store.rotate_refresh("t0", "t1", 1, 1000).await.unwrap(),
        RotateOutcome::Rotated(_)
    ));
    // Lost response: t0 again yields t1b, a sibling of t1; both stay valid.
    assert!(matches!(
        store.rotate_refresh("t0", "t1b", 2, 1000).await.unwrap(),
        RotateOutcome::Rotated(_)
    ));
    assert!(matches!(
        store.rotate_refresh("t1", "t2", 3, 1000).await.unwrap(),
        RotateOutcome::Rotated(_)
    ));
    // t1b is generation 1, the previous one: still usable (gives a sibling of t2).
    assert!(matches!(
        store.rotate_refresh("t1b", "t2b", 4, 1000).await.unwrap(),
        RotateOutcome::Rotated(_)
    ));
    assert_eq!(
        store
            .get_grant("g")
            .await
            .unwrap()
            .unwrap()
            .refresh_generation,
        2
    );
    // t0 is two generations behind now: reuse.
    assert!(matches!(
        store.rotate_refresh("t0", "x", 5, 1000).await.unwrap(),
        RotateOutcome::Reused { .. }
    ));
    assert_eq!(
        store.rotate_refresh("t2", "y", 6, 1000).await.unwrap(),
        RotateOutcome::Invalid
    );
}

#[tokio::test]
async fn reuse_of_an_old_token_revokes_the_grant() {
    let store = MemoryStore::new();
    grant(&store).await;
    store.rotate_refresh("t0", "t1", 1, 1000).await.unwrap();
    store.rotate_refresh("t1", "t2", 2, 1000).await.unwrap();
    // t0 is kept in the store for detection until pruned; t1 is previous.
    // Present t1 after t2 was used -> t1 is two behind t3 only after t2 is used:
    store.rotate_refresh("t2", "t3", 3, 1000).await.unwrap();
    match store.rotate_refresh("t1", "x", 4, 1000).await.unwrap() {
        RotateOutcome::Reused { grant_id } => assert_eq!(grant_id, "g"),
        other => panic!("expected reuse, got {other:?}"),
    }
    assert!(store.get_grant("g").await.unwrap().unwrap().revoked);
    assert_eq!(
        store.rotate_refresh("t3", "y", 5, 1000).await.unwrap(),
        RotateOutcome::Invalid
    );
}

#[tokio::test]
async fn expired_tokens_are_invalid_and_purged() {
    let store = MemoryStore::new();
    grant(&store).await;
    assert_eq!(
        store.rotate_refresh("t0", "t1", 1000, 2000).await.unwrap(),
        RotateOutcome::Invalid
    );
    store.insert_code(code("c")).await.unwrap();
    assert!(store.purge_expired(5000).await.unwrap() >= 2);
    assert_eq!(store.get_code("c").await.unwrap(), None);
}
