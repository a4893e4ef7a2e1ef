//! Conformance of the token requests in one step.
//! [`AuthorizationStore::exchange_code`]: a store that does it redeems
//! exactly when [`CodeExchange::matches`] the code, stores
//! [`CodeExchange::grant_for`] it and records the first token, once under
//! a race. [`TokenStore::refresh_for`]: rotates exactly when
//! [`RefreshExchange::matches`] the grant and the rotation is an advance
//! or a sibling, once per generation under a race. A request that does not
//! match changes nothing.

use super::grants::{client_edited_after_read, code_spent};
use super::*;

/// The verifier of RFC 7636's example and its S256 challenge, the
/// challenge [`sample_code`] carries.
const S256: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A stored, unspent code of `client` for `https://app.example/cb`, sent
/// explicitly at /authorize.
async fn code_of(store: &dyn Store, client: &Client) -> AuthorizationCode {
    let code = AuthorizationCode {
        client_id: client.client_id.clone(),
        redirect_uri_explicit: true,
        ..sample_code(NOW, &id("grant"))
    };
    store.insert_code(code.clone()).await.expect("insert_code");
    code
}

/// The request that matches [`code_of`]'s code, with a refresh token and
/// the client's first token.
fn exchange_for(code: &AuthorizationCode) -> CodeExchange {
    CodeExchange {
        client_id: code.client_id.clone(),
        now: NOW,
        redirect_uri: Some(code.redirect_uri.clone()),
        s256_challenge: S256.to_owned(),
        resource: Some(code.resource.clone()),
        refresh: Some(RefreshSeed {
            token_hash: id("rt"),
            expires_at: NOW + 3_600,
        }),
        first_token: Some(FirstToken {
            client_id: code.client_id.clone(),
            expires_at: Some(NOW + 86_400),
        }),
    }
}

/// The one-step code exchange; `true` if this store does it. A store that
/// does not (the default `None` for a matching request) is only checked to
/// change nothing.
pub async fn code_exchange(store: Arc<dyn Store>) -> bool {
    let client = client_edited_after_read(store.as_ref()).await;
    let code = code_of(store.as_ref(), &client).await;
    let x = exchange_for(&code);
    let other_resource =
        crate::resource::ResourceUri::parse("https://other.example/mcp").expect("a resource URI");
    let mismatches = [
        (
            "another client",
            CodeExchange {
                client_id: id("client"),
                ..x.clone()
            },
        ),
        (
            "the code's expiry",
            CodeExchange {
                now: code.expires_at,
                ..x.clone()
            },
        ),
        (
            "another redirect URI",
            CodeExchange {
                redirect_uri: Some("https://app.example/other".into()),
                ..x.clone()
            },
        ),
        (
            "no redirect URI where /authorize named one",
            CodeExchange {
                redirect_uri: None,
                ..x.clone()
            },
        ),
        (
            "another PKCE challenge",
            CodeExchange {
                s256_challenge: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into(),
                ..x.clone()
            },
        ),
        (
            "another resource",
            CodeExchange {
                resource: Some(other_resource),
                ..x.clone()
            },
        ),
    ];
    for (what, m) in &mismatches {
        assert!(
            !m.matches(&code),
            "{what}: the kit's own case must not match"
        );
        assert_eq!(
            store
                .exchange_code(&code.code_hash, m)
                .await
                .expect("exchange_code"),
            None,
            "{what}: a request that does not match redeems nothing"
        );
    }
    let plain = AuthorizationCode {
        code_hash: id("code"),
        grant_id: id("grant"),
        code_challenge_method: crate::pkce::CodeChallengeMethod::Plain,
        ..code.clone()
    };
    store.insert_code(plain.clone()).await.expect("insert_code");
    assert_eq!(
        store
            .exchange_code(&plain.code_hash, &exchange_for(&plain))
            .await
            .expect("exchange_code"),
        None,
        "a plain challenge is never matched in one step, even when equal"
    );
    assert_eq!(
        store
            .exchange_code(&id("no-such-code"), &x)
            .await
            .expect("exchange_code"),
        None,
        "an unknown code"
    );
    assert_eq!(
        code_spent(store.as_ref(), &code.code_hash).await,
        Some(false),
        "the refused requests left the code unspent"
    );
    assert_eq!(
        store.get_grant(&code.grant_id).await.expect("get_grant"),
        None,
        "and stored no grant"
    );
    assert_eq!(
        store
            .get_client(&client.client_id)
            .await
            .expect("get_client")
            .as_ref(),
        Some(&client),
        "and left the client awaiting its first token"
    );

    // The matching request.
    let Some(got) = store
        .exchange_code(&code.code_hash, &x)
        .await
        .expect("exchange_code")
    else {
        // This store reads, then redeems (the default).
        return false;
    };
    assert_eq!(got, code, "the redeemed code reads back exactly as stored");
    assert_eq!(
        code_spent(store.as_ref(), &code.code_hash).await,
        Some(true)
    );
    let (grant, refresh) = x.grant_for(&code);
    assert_eq!(
        store.get_grant(&code.grant_id).await.expect("get_grant"),
        Some(grant),
        "the stored grant is grant_for(code)"
    );
    let refresh = refresh.expect("the kit's request has a refresh token");
    assert_eq!(
        store
            .get_refresh(&refresh.token_hash)
            .await
            .expect("get_refresh"),
        Some(refresh),
        "its refresh token is stored with it"
    );
    let mut recorded = client.clone();
    recorded.awaiting_first_token = false;
    recorded.expires_at = Some(NOW + 86_400);
    assert_eq!(
        store
            .get_client(&client.client_id)
            .await
            .expect("get_client"),
        Some(recorded),
        "the first token is recorded (only the flag and the expiry change)"
    );
    assert_eq!(
        store
            .exchange_code(&code.code_hash, &exchange_for(&code))
            .await
            .expect("exchange_code"),
        None,
        "a spent code is not exchanged again"
    );

    exchange_race(&store, &client).await;
    exchange_into_taken_or_revoked_grant(&store, &client).await;
    true
}

/// [`RACERS`] concurrent exchanges of one code: exactly one wins, and only
/// its refresh token is stored.
async fn exchange_race(store: &Arc<dyn Store>, client: &Client) {
    let code = code_of(store.as_ref(), client).await;
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let s = store.clone();
            let x = exchange_for(&code);
            let h = code.code_hash.clone();
            tokio::spawn(async move {
                let out = s.exchange_code(&h, &x).await.expect("exchange_code");
                (out, x)
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        let (out, x) = t.await.expect("task");
        let rt = x.refresh.expect("a refresh token").token_hash;
        let stored = store.get_refresh(&rt).await.expect("get_refresh");
        if out.is_some() {
            won += 1;
            assert!(stored.is_some(), "the winner's refresh token is stored");
        } else {
            assert_eq!(stored, None, "a loser's refresh token is not stored");
        }
    }
    assert_eq!(
        won, 1,
        "exactly one of {RACERS} concurrent exchanges of a code wins"
    );
}

/// A code whose grant id is taken by a live grant: the exchange fails with
/// [`StoreError::Duplicate`] and leaves the code unspent. One whose grant
/// was revoked before it was stored (a tombstone): exchanged, the grant
/// stored revoked, without a refresh token.
async fn exchange_into_taken_or_revoked_grant(store: &Arc<dyn Store>, client: &Client) {
    let code = code_of(store.as_ref(), client).await;
    store
        .insert_grant(sample_grant_with_id(&code.grant_id, NOW), None)
        .await
        .expect("insert_grant");
    assert!(
        matches!(
            store
                .exchange_code(&code.code_hash, &exchange_for(&code))
                .await,
            Err(StoreError::Duplicate(_))
        ),
        "exchanging into a stored grant id is a Duplicate"
    );
    assert_eq!(
        code_spent(store.as_ref(), &code.code_hash).await,
        Some(false),
        "a failed exchange leaves the code unspent"
    );

    let code = code_of(store.as_ref(), client).await;
    assert!(
        !store
            .revoke_grant(&code.grant_id)
            .await
            .expect("revoke_grant"),
        "the grant is not stored yet"
    );
    let x = exchange_for(&code);
    assert_eq!(
        store
            .exchange_code(&code.code_hash, &x)
            .await
            .expect("exchange_code"),
        Some(code.clone())
    );
    let grant = store
        .get_grant(&code.grant_id)
        .await
        .expect("get_grant")
        .expect("the grant is stored");
    assert!(
        grant.revoked,
        "a grant revoked before it was stored stays revoked"
    );
    let rt = x.refresh.expect("a refresh token").token_hash;
    assert_eq!(
        store.get_refresh(&rt).await.expect("get_refresh"),
        None,
        "and gets no refresh token"
    );
}

/// The request that matches `grant`, with a fresh new token.
fn refresh_exchange_for(grant: &Grant) -> RefreshExchange {
    RefreshExchange {
        client_id: grant.client_id.clone(),
        resource: Some(grant.resource.clone()),
        now: NOW,
        new_hash: id("rt"),
        new_expires_at: NOW + 3_600,
    }
}

/// The one-step refresh ([`TokenStore::refresh_for`]); `true` if this store
/// does it. A store that does not (the default `None` for a matching
/// request) is only checked to change nothing.
pub async fn refresh_exchange(store: Arc<dyn Store>) -> bool {
    let grant = sample_grant(NOW);
    let r0 = refresh_for(&grant, NOW);
    store
        .insert_grant(grant.clone(), Some(r0.clone()))
        .await
        .expect("insert_grant");
    let x = refresh_exchange_for(&grant);
    let other_resource =
        crate::resource::ResourceUri::parse("https://other.example/mcp").expect("a resource URI");
    let refused = [
        (
            "another client",
            r0.token_hash.clone(),
            RefreshExchange {
                client_id: id("client"),
                ..x.clone()
            },
        ),
        (
            "another resource",
            r0.token_hash.clone(),
            RefreshExchange {
                resource: Some(other_resource),
                ..x.clone()
            },
        ),
        (
            "the token's expiry",
            r0.token_hash.clone(),
            RefreshExchange {
                now: r0.expires_at,
                ..x.clone()
            },
        ),
        ("an unknown token", id("no-such-token"), x.clone()),
    ];
    for (what, presented, r) in &refused {
        assert_eq!(
            store.refresh_for(presented, r).await.expect("refresh_for"),
            None,
            "{what}: nothing is rotated"
        );
        assert_eq!(
            store.get_refresh(&r.new_hash).await.expect("get_refresh"),
            None,
            "{what}: no new token is stored"
        );
    }
    assert_eq!(
        store.get_grant(&grant.grant_id).await.expect("get_grant"),
        Some(grant.clone()),
        "the refused requests left the grant as it was"
    );

    let Some(rotated) = store
        .refresh_for(&r0.token_hash, &x)
        .await
        .expect("refresh_for")
    else {
        // This store reads, then rotates (the default).
        return false;
    };
    let mut expected = grant.clone();
    expected.refresh_generation = 1;
    assert_eq!(rotated, expected, "advanced: the grant at generation 1");
    let stored_new = |x: RefreshExchange, generation: u64| {
        let store = store.clone();
        let grant_id = grant.grant_id.clone();
        async move {
            assert_eq!(
                store.get_refresh(&x.new_hash).await.expect("get_refresh"),
                Some(RefreshToken {
                    token_hash: x.new_hash.clone(),
                    grant_id,
                    generation,
                    issued_at: x.now,
                    expires_at: x.new_expires_at,
                }),
                "the new token is stored at generation {generation}"
            );
        }
    };
    stored_new(x.clone(), 1).await;

    // The token just rotated out, again (a retry): a sibling at generation 1.
    let sibling = refresh_exchange_for(&grant);
    assert_eq!(
        store
            .refresh_for(&r0.token_hash, &sibling)
            .await
            .expect("refresh_for"),
        Some(expected.clone()),
        "a sibling keeps the generation"
    );
    stored_new(sibling, 1).await;

    // Advance to 2, then present generation 0: a reuse, left to the caller.
    let x2 = refresh_exchange_for(&grant);
    assert!(
        store
            .refresh_for(&x.new_hash, &x2)
            .await
            .expect("refresh_for")
            .is_some()
    );
    let reuse = refresh_exchange_for(&grant);
    assert_eq!(
        store
            .refresh_for(&r0.token_hash, &reuse)
            .await
            .expect("refresh_for"),
        None,
        "a reuse is not rotated"
    );
    let after = store
        .get_grant(&grant.grant_id)
        .await
        .expect("get_grant")
        .expect("the grant");
    assert!(
        !after.revoked && after.refresh_generation == 2,
        "and not revoked here either (rotate_refresh does it): {after:?}"
    );
    assert_eq!(
        store
            .get_refresh(&reuse.new_hash)
            .await
            .expect("get_refresh"),
        None
    );

    refresh_race(&store, &grant, &x2.new_hash).await;
    assert!(
        store
            .revoke_grant(&grant.grant_id)
            .await
            .expect("revoke_grant")
    );
    let late = refresh_exchange_for(&grant);
    assert_eq!(
        store
            .refresh_for(&x2.new_hash, &late)
            .await
            .expect("refresh_for"),
        None,
        "a revoked grant is not refreshed"
    );
    true
}

/// [`RACERS`] concurrent one-step refreshes of the grant's newest token
/// (generation 2): one advances to 3, the others are its siblings; none
/// advances twice.
async fn refresh_race(store: &Arc<dyn Store>, grant: &Grant, newest: &str) {
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let s = store.clone();
            let x = refresh_exchange_for(grant);
            let h = newest.to_owned();
            tokio::spawn(async move { s.refresh_for(&h, &x).await.expect("refresh_for") })
        })
        .collect();
    for t in tasks {
        let got = t.await.expect("task").expect("every racer rotates");
        assert_eq!(got.refresh_generation, 3, "advance or sibling of 3");
    }
    assert_eq!(
        store
            .get_grant(&grant.grant_id)
            .await
            .expect("get_grant")
            .map(|g| g.refresh_generation),
        Some(3),
        "{RACERS} concurrent refreshes advance the grant once"
    );
}
