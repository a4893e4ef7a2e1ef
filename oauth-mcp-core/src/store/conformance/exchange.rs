//! Conformance of [`AuthorizationStore::exchange_code`], the code exchange
//! in one step: a store that does it redeems exactly when
//! [`CodeExchange::matches`] the code, stores [`CodeExchange::grant_for`]
//! it and records the first token, once under a race; a request that does
//! not match changes nothing.

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
