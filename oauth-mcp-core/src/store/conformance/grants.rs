//! Conformance checks of the authorization flow's records: pending
//! requests, codes, grants and refresh-token rotation, alone and under
//! [`RACERS`]-way races.

use super::*;

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

    // Taken into a code: once, also under a race; the code is the request's.
    let p = sample_pending(NOW);
    store
        .insert_pending(p.clone())
        .await
        .expect("insert_pending");
    let issue = |n: usize| CodeIssue {
        code_hash: id(&format!("code{n}")),
        grant_id: id("grant"),
        scope: p.scope.clone(),
        subject: "alice".into(),
        issued_at: NOW,
        expires_at: NOW + 600,
    };
    let tasks: Vec<_> = (0..RACERS)
        .map(|n| {
            let s = store.clone();
            let (h, i) = (p.id_hash.clone(), issue(n));
            tokio::spawn(async move {
                let got = s
                    .take_pending_into_code(&h, NOW, i.clone())
                    .await
                    .expect("take_pending_into_code");
                let code = s.get_code(&i.code_hash).await.expect("get_code");
                (got, i, code)
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        let (got, i, code) = t.await.expect("task");
        match got {
            Some(got) => {
                assert_eq!(got, p, "the taken request reads back as stored");
                assert_eq!(
                    code,
                    Some(StoredCode {
                        code: i.code_for(&p),
                        spent: false
                    }),
                    "the code is stored with the request's client, redirect URI, PKCE and resource"
                );
                won += 1;
            }
            None => assert_eq!(code, None, "a request not taken stores no code"),
        }
    }
    assert_eq!(
        won, 1,
        "exactly one of {RACERS} concurrent take_pending_into_code calls gets the request"
    );
    let expired = sample_pending(NOW);
    store
        .insert_pending(expired.clone())
        .await
        .expect("insert_pending");
    let late = issue(RACERS);
    assert_eq!(
        store
            .take_pending_into_code(&expired.id_hash, expired.expires_at, late.clone())
            .await
            .expect("take_pending_into_code"),
        None,
        "an expired request yields no code"
    );
    assert_eq!(
        store.get_code(&late.code_hash).await.expect("get_code"),
        None,
        "an expired request stores no code"
    );
}

/// Codes: read without spending; spent together with their grant, once,
/// under a race (the losers see the code spent only once the winner's grant
/// is stored); replay reports the grant; unknown codes; a grant id already
/// stored leaves the code unspent.
pub async fn codes(store: Arc<dyn Store>) {
    let grant_id = id("grant");
    let c = sample_code(NOW, &grant_id);
    store.insert_code(c.clone()).await.expect("insert_code");
    assert_eq!(
        store.get_code(&c.code_hash).await.expect("get_code"),
        Some(StoredCode {
            code: c.clone(),
            spent: false
        }),
        "a code reads back exactly as stored, unspent"
    );
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let s = store.clone();
            let (h, g) = (c.code_hash.clone(), sample_grant_with_id(&grant_id, NOW));
            let r = refresh_for(&g, NOW);
            tokio::spawn(async move {
                let out = s
                    .redeem_code(&h, g.clone(), Some(r.clone()))
                    .await
                    .expect("redeem_code");
                let stored = s.get_grant(&g.grant_id).await.expect("get_grant");
                (out, r, stored)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        let (out, r, stored) = t.await.expect("task");
        assert!(
            stored.is_some(),
            "once a redemption returns, the winner's grant is stored ({out:?})"
        );
        match out {
            CodeRedemption::Redeemed(got) => {
                assert_eq!(got, c, "a redeemed code reads back exactly as stored");
                winners.push(r);
            }
            CodeRedemption::Replayed { grant_id: g } => {
                assert_eq!(g, grant_id, "a replay names the code's grant");
                assert_eq!(
                    store.get_refresh(&r.token_hash).await.expect("get_refresh"),
                    None,
                    "a loser's refresh token is not stored"
                );
            }
            CodeRedemption::NotFound => {
                panic!("a spent code must be remembered as Replayed, not NotFound")
            }
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one of {RACERS} concurrent redemptions wins"
    );
    assert!(
        store
            .get_refresh(&winners[0].token_hash)
            .await
            .expect("get_refresh")
            .is_some(),
        "the winner's refresh token is stored with its grant"
    );
    assert_eq!(
        code_spent(store.as_ref(), &c.code_hash).await,
        Some(true),
        "a redeemed code reads back spent"
    );
    let late = sample_grant_with_id(&grant_id, NOW);
    assert_eq!(
        store
            .redeem_code(&c.code_hash, late, None)
            .await
            .expect("redeem_code"),
        CodeRedemption::Replayed { grant_id },
        "a later redemption is a replay"
    );
    let unknown = id("nocode");
    assert_eq!(store.get_code(&unknown).await.expect("get_code"), None);
    assert_eq!(
        store
            .redeem_code(&unknown, sample_grant(NOW), None)
            .await
            .expect("redeem_code"),
        CodeRedemption::NotFound,
        "unknown code"
    );
    let expired = sample_code(NOW - 1000, &id("grant"));
    store
        .insert_code(expired.clone())
        .await
        .expect("insert_code");
    assert_eq!(
        store.get_code(&expired.code_hash).await.expect("get_code"),
        Some(StoredCode {
            code: expired,
            spent: false
        }),
        "the store returns an expired code's record; the engine decides about expiry"
    );

    // A code whose grant id is already stored: nothing changes.
    let (taken, clash) = code_into_a_taken_grant_id(store.as_ref()).await;
    let r = refresh_for(&taken, NOW);
    assert!(
        matches!(
            store
                .redeem_code(&clash.code_hash, taken.clone(), Some(r.clone()))
                .await,
            Err(StoreError::Duplicate(_))
        ),
        "redeeming into a stored grant id is a Duplicate"
    );
    assert_eq!(
        code_spent(store.as_ref(), &clash.code_hash).await,
        Some(false),
        "a failed redemption leaves the code unspent"
    );
    assert_eq!(
        store.get_refresh(&r.token_hash).await.expect("get_refresh"),
        None,
        "a failed redemption stores no refresh token"
    );

    // With the client's first token: recorded with the redemption, or left
    // to the caller (the store says which); a replay records nothing.
    let client = client_edited_after_read(store.as_ref()).await;
    let (g, code) = stored_code(store.as_ref()).await;
    let first = FirstToken {
        client_id: client.client_id.clone(),
        expires_at: Some(NOW + 86_400),
    };
    let rt = refresh_for(&g, NOW);
    let (out, recorded) = store
        .redeem_code_with_first_token(
            &code.code_hash,
            g.clone(),
            Some(rt.clone()),
            Some(first.clone()),
        )
        .await
        .expect("redeem_code_with_first_token");
    assert_eq!(out, CodeRedemption::Redeemed(code.clone()));
    assert_eq!(
        store
            .get_refresh_with_grant(&rt.token_hash)
            .await
            .expect("get_refresh_with_grant"),
        Some((rt.clone(), Some(g.clone()))),
        "a refresh token reads back with its grant"
    );
    assert_eq!(
        store
            .get_refresh_with_grant(&id("rt"))
            .await
            .expect("get_refresh_with_grant"),
        None,
        "an unknown refresh token"
    );
    let stored = store
        .get_client(&client.client_id)
        .await
        .expect("get_client")
        .expect("the client is stored");
    if recorded {
        let mut expected = client.clone();
        expected.awaiting_first_token = false;
        expected.expires_at = first.expires_at;
        assert_eq!(
            stored, expected,
            "a recorded first token clears the flag and sets the expiry, and changes nothing else"
        );
    } else {
        assert_eq!(stored, client, "an unrecorded first token changes nothing");
    }
    let other = sample_client();
    store
        .insert_client(other.clone())
        .await
        .expect("insert_client");
    let (out, _) = store
        .redeem_code_with_first_token(
            &code.code_hash,
            sample_grant_with_id(&g.grant_id, NOW),
            None,
            Some(FirstToken {
                client_id: other.client_id.clone(),
                expires_at: None,
            }),
        )
        .await
        .expect("redeem_code_with_first_token");
    assert_eq!(
        out,
        CodeRedemption::Replayed {
            grant_id: g.grant_id.clone()
        }
    );
    assert_eq!(
        store
            .get_client(&other.client_id)
            .await
            .expect("get_client"),
        Some(other),
        "a replayed code records no first token"
    );
}

/// For a store that records a registration's first token with the code's
/// redemption (the built-in stores do; [`codes`] accepts either): it says
/// so (`true`), the record keeps an edit made to the client before the
/// redemption (only the flag and the expiry change), a `None` expiry is
/// stored as such, and nothing is recorded when the code is unknown, when
/// the grant id is taken (the code stays unspent), or when the client no
/// longer awaits its first token.
pub async fn first_token_recorded_with_redemption(store: Arc<dyn Store>) {
    let first_for = |c: &Client, expires_at| FirstToken {
        client_id: c.client_id.clone(),
        expires_at,
    };
    let read = |id: String| {
        let store = store.clone();
        async move { store.get_client(&id).await.expect("get_client") }
    };
    let edited = client_edited_after_read(store.as_ref()).await;

    // An unknown code records nothing.
    let (out, _) = store
        .redeem_code_with_first_token(
            &id("no-such-code"),
            sample_grant(NOW),
            None,
            Some(first_for(&edited, Some(NOW + 3_600))),
        )
        .await
        .expect("redeem_code_with_first_token");
    assert_eq!(out, CodeRedemption::NotFound);
    assert_eq!(read(edited.client_id.clone()).await.as_ref(), Some(&edited));

    // A grant id already stored: the redemption fails, the code stays
    // unspent and the client untouched.
    let (taken, clash) = code_into_a_taken_grant_id(store.as_ref()).await;
    assert!(
        matches!(
            store
                .redeem_code_with_first_token(
                    &clash.code_hash,
                    taken,
                    None,
                    Some(first_for(&edited, Some(NOW + 3_600))),
                )
                .await,
            Err(StoreError::Duplicate(_))
        ),
        "redeeming into a stored grant id is a Duplicate"
    );
    assert_eq!(
        code_spent(store.as_ref(), &clash.code_hash).await,
        Some(false),
        "a failed redemption leaves the code unspent"
    );
    assert_eq!(read(edited.client_id.clone()).await.as_ref(), Some(&edited));

    // Redeemed: recorded, and nothing else changes.
    let (g, code) = stored_code(store.as_ref()).await;
    let first = first_for(&edited, Some(NOW + 3_600));
    let (out, recorded) = store
        .redeem_code_with_first_token(&code.code_hash, g, None, Some(first.clone()))
        .await
        .expect("redeem_code_with_first_token");
    assert_eq!(out, CodeRedemption::Redeemed(code));
    assert!(
        recorded,
        "the store records the first token with the redemption"
    );
    let mut expected = edited;
    expected.awaiting_first_token = false;
    expected.expires_at = first.expires_at;
    assert_eq!(
        read(expected.client_id.clone()).await.as_ref(),
        Some(&expected),
        "only the flag and the expiry change"
    );

    // A client that no longer awaits it keeps its expiry.
    let (g, code) = stored_code(store.as_ref()).await;
    let (out, _) = store
        .redeem_code_with_first_token(
            &code.code_hash,
            g,
            None,
            Some(first_for(&expected, Some(NOW + 7_200))),
        )
        .await
        .expect("redeem_code_with_first_token");
    assert_eq!(out, CodeRedemption::Redeemed(code));
    assert_eq!(
        read(expected.client_id.clone()).await.as_ref(),
        Some(&expected),
        "a client that no longer awaits its first token is left alone"
    );

    // A registration without a lifetime: the early expiry is lifted.
    let other = client_edited_after_read(store.as_ref()).await;
    let (g, code) = stored_code(store.as_ref()).await;
    store
        .redeem_code_with_first_token(&code.code_hash, g, None, Some(first_for(&other, None)))
        .await
        .expect("redeem_code_with_first_token");
    let stored = read(other.client_id.clone()).await.expect("the client");
    assert!(
        !stored.awaiting_first_token && stored.expires_at.is_none(),
        "{stored:?}"
    );
}

/// A client awaiting its first token, stored, then edited in the store (as
/// an operator may do after the engine read it): the edited record, which
/// recording the first token must keep.
pub(super) async fn client_edited_after_read(store: &dyn Store) -> Client {
    let client = sample_client();
    assert!(client.awaiting_first_token);
    store
        .insert_client(client.clone())
        .await
        .expect("insert_client");
    let mut edited = client;
    edited.client_name = Some("edited meanwhile".into());
    edited
        .redirect_uris
        .push("https://app.example/second".into());
    assert!(
        store
            .update_client(edited.clone())
            .await
            .expect("update_client")
    );
    edited
}

/// A stored code and the grant it is to be redeemed into.
async fn stored_code(store: &dyn Store) -> (Grant, AuthorizationCode) {
    let g = sample_grant(NOW);
    let code = sample_code(NOW, &g.grant_id);
    store.insert_code(code.clone()).await.expect("insert_code");
    (g, code)
}

/// [`stored_code`] whose grant id is already taken by a stored grant: its
/// redemption must fail with [`StoreError::Duplicate`].
async fn code_into_a_taken_grant_id(store: &dyn Store) -> (Grant, AuthorizationCode) {
    let (taken, code) = stored_code(store).await;
    store
        .insert_grant(taken.clone(), None)
        .await
        .expect("insert_grant");
    (taken, code)
}

/// Whether the stored code is spent (`None`: not stored).
pub(super) async fn code_spent(store: &dyn Store, code_hash: &str) -> Option<bool> {
    store
        .get_code(code_hash)
        .await
        .expect("get_code")
        .map(|c| c.spent)
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
    let r4 = refresh_for(&g4, NOW);
    store
        .insert_grant(g4.clone(), Some(r4.clone()))
        .await
        .expect("a grant revoked before it was stored is still stored");
    assert!(
        store
            .get_grant(&g4.grant_id)
            .await
            .expect("get_grant")
            .is_some_and(|g| g.revoked && g.client_id == g4.client_id),
        "a grant revoked before it was stored is stored revoked, with its values"
    );
    assert_eq!(
        store
            .get_refresh(&r4.token_hash)
            .await
            .expect("get_refresh"),
        None,
        "a grant revoked before it was stored keeps no refresh token"
    );
    assert!(
        matches!(
            store.insert_grant(g4, None).await,
            Err(StoreError::Duplicate(_))
        ),
        "storing the grant a second time is a Duplicate"
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
