//! Conformance checks for the abuse limits a store carries: rate-limit
//! buckets ([`RateLimitStore`]), login attempts per pending request
//! ([`AuthorizationStore::consume_login_attempt`]) and purging
//! ([`Cleanup::purge`]).

use crate::clock::{Clock, SystemClock};

use super::*;

/// Rate-limit buckets: the GCRA rule step by step, `peek` counts nothing,
/// buckets are independent, and of [`RACERS`] concurrent hits on a bucket
/// with `burst` cells exactly `burst` are allowed.
pub async fn rate_limits(store: Arc<dyn Store>) {
    let rule = GcraRule {
        interval_ms: 1000,
        burst: 3,
    };
    let bucket = id("rl");
    let t0 = NOW * 1000;
    let mut tat = None;
    for i in 0..5 {
        let want = gcra_peek(tat, t0, rule);
        assert_eq!(
            store
                .rate_limit_peek(&bucket, rule, t0)
                .await
                .expect("rate_limit_peek"),
            want,
            "peek #{i} agrees with gcra_peek"
        );
        let got = store
            .rate_limit_hit(&bucket, rule, t0)
            .await
            .expect("rate_limit_hit");
        let expected = match gcra_step(tat, t0, rule) {
            Ok(next) => {
                tat = Some(next);
                RateDecision::Allowed
            }
            Err(retry_after_ms) => RateDecision::Limited { retry_after_ms },
        };
        assert_eq!(got, expected, "hit #{i} at one instant follows gcra_step");
    }
    assert_eq!(
        store
            .rate_limit_hit(&bucket, rule, t0)
            .await
            .expect("rate_limit_hit"),
        RateDecision::Limited {
            retry_after_ms: 1000
        },
        "a full bucket says how long to wait"
    );
    assert_eq!(
        store
            .rate_limit_hit(&bucket, rule, t0 + 1000)
            .await
            .expect("rate_limit_hit"),
        RateDecision::Allowed,
        "one cell refills after the interval"
    );
    assert!(
        store
            .rate_limit_hit(&id("rl"), rule, t0)
            .await
            .expect("rate_limit_hit")
            .is_allowed(),
        "another bucket is independent"
    );

    // A race on one bucket.
    let burst = 5;
    let rule = GcraRule {
        interval_ms: 60_000,
        burst,
    };
    let bucket = id("rl-race");
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let s = store.clone();
            let b = bucket.clone();
            tokio::spawn(async move {
                s.rate_limit_hit(&b, rule, t0)
                    .await
                    .expect("rate_limit_hit")
            })
        })
        .collect();
    let mut allowed = 0;
    for t in tasks {
        if t.await.expect("task").is_allowed() {
            allowed += 1;
        }
    }
    assert_eq!(
        allowed, burst,
        "exactly `burst` of {RACERS} concurrent hits on a fresh bucket are allowed"
    );
}

/// Login attempts: counted down to zero, then the request is discarded;
/// unknown and expired requests; a race spends exactly `max` attempts.
pub async fn login_attempts(store: Arc<dyn Store>) {
    let p = sample_pending(NOW);
    store
        .insert_pending(p.clone())
        .await
        .expect("insert_pending");
    for remaining in (0..3).rev() {
        assert_eq!(
            attempt(&store, &p.id_hash, 3, NOW).await,
            LoginAttempt::Granted { remaining },
            "attempts count down"
        );
    }
    assert_eq!(
        store
            .get_pending(&p.id_hash, NOW)
            .await
            .expect("get_pending"),
        Some(p.clone()),
        "counting attempts leaves the request as it was"
    );
    assert_eq!(
        attempt(&store, &p.id_hash, 3, NOW).await,
        LoginAttempt::Exhausted,
        "past the last attempt the request is exhausted"
    );
    assert_eq!(
        store
            .get_pending(&p.id_hash, NOW)
            .await
            .expect("get_pending"),
        None,
        "an exhausted request is discarded"
    );
    assert_eq!(
        attempt(&store, &p.id_hash, 3, NOW).await,
        LoginAttempt::Unknown,
        "a discarded request is unknown"
    );
    assert_eq!(
        attempt(&store, &id("pending"), 3, NOW).await,
        LoginAttempt::Unknown,
        "an unknown request"
    );
    let expired = sample_pending(NOW - 10_000);
    store
        .insert_pending(expired.clone())
        .await
        .expect("insert_pending");
    assert_eq!(
        attempt(&store, &expired.id_hash, 3, NOW).await,
        LoginAttempt::Unknown,
        "an expired request is unknown"
    );

    // A granted attempt does not stop the request from being taken.
    let p = sample_pending(NOW);
    store
        .insert_pending(p.clone())
        .await
        .expect("insert_pending");
    assert!(matches!(
        attempt(&store, &p.id_hash, 10, NOW).await,
        LoginAttempt::Granted { remaining: 9 }
    ));
    assert_eq!(
        store
            .take_pending(&p.id_hash, NOW)
            .await
            .expect("take_pending"),
        Some(p.clone()),
        "a request with attempts used is still taken whole"
    );

    // Counting and reading in one step.
    let p = sample_pending(NOW);
    store
        .insert_pending(p.clone())
        .await
        .expect("insert_pending");
    let reading = |h: String, now: i64| {
        let s = store.clone();
        async move {
            s.consume_login_attempt_reading(&h, 2, now)
                .await
                .expect("consume_login_attempt_reading")
        }
    };
    for remaining in (0..2).rev() {
        assert_eq!(
            reading(p.id_hash.clone(), NOW).await,
            (LoginAttempt::Granted { remaining }, Some(p.clone())),
            "a granted attempt reads the request as stored"
        );
    }
    assert_eq!(
        reading(p.id_hash.clone(), NOW).await,
        (LoginAttempt::Exhausted, None),
        "past the last attempt: exhausted, nothing read"
    );
    assert_eq!(
        reading(p.id_hash.clone(), NOW).await,
        (LoginAttempt::Unknown, None),
        "a discarded request is unknown"
    );
    assert_eq!(
        reading(expired.id_hash.clone(), NOW).await,
        (LoginAttempt::Unknown, None),
        "an expired request is unknown"
    );

    // A race: exactly `max` attempts are granted.
    let max = 10u32;
    let p = sample_pending(NOW);
    store
        .insert_pending(p.clone())
        .await
        .expect("insert_pending");
    let tasks: Vec<_> = (0..RACERS.max(2 * max as usize))
        .map(|_| {
            let s = store.clone();
            let h = p.id_hash.clone();
            tokio::spawn(async move {
                s.consume_login_attempt(&h, max, NOW)
                    .await
                    .expect("consume_login_attempt")
            })
        })
        .collect();
    let mut remaining = Vec::new();
    for t in tasks {
        if let LoginAttempt::Granted { remaining: r } = t.await.expect("task") {
            remaining.push(r);
        }
    }
    remaining.sort_unstable();
    assert_eq!(
        remaining,
        (0..max).collect::<Vec<_>>(),
        "of concurrent attempts exactly {max} are granted, each with its own count"
    );
    assert_eq!(
        store
            .get_pending(&p.id_hash, NOW)
            .await
            .expect("get_pending"),
        None,
        "the request is discarded once the race exhausted it"
    );
    guarded_login_attempts(&store).await;
}

/// [`AuthorizationStore::consume_login_attempt_unless_backing_off`], on a
/// store that does it in one step: counts and reads like
/// `consume_login_attempt_reading` while the bucket allows a request, and
/// counts nothing (answering the peek's wait) while it backs off.
async fn guarded_login_attempts(store: &Arc<dyn Store>) {
    let rule = GcraRule {
        interval_ms: 60_000,
        burst: 2,
    };
    let now_ms = NOW * 1000;
    let p = sample_pending(NOW);
    store
        .insert_pending(p.clone())
        .await
        .expect("insert_pending");
    // Buckets of this run only (runs on one database may overlap).
    let open = format!("conf-login-open-{}", p.id_hash);
    let closed = format!("conf-login-closed-{}", p.id_hash);
    let guarded = |id_hash: String, bucket: &String, now_ms: i64| {
        let s = store.clone();
        let bucket = bucket.clone();
        async move {
            s.consume_login_attempt_unless_backing_off(&id_hash, 3, NOW, &bucket, rule, now_ms)
                .await
                .expect("consume_login_attempt_unless_backing_off")
        }
    };
    let Some(first) = guarded(p.id_hash.clone(), &open, now_ms).await else {
        // This store peeks and counts in two steps (the default).
        return;
    };
    assert_eq!(
        first,
        GuardedLoginAttempt::Counted(LoginAttempt::Granted { remaining: 2 }, Some(p.clone())),
        "an absent bucket allows: counted and read"
    );
    for _ in 0..2 {
        assert!(
            store
                .rate_limit_hit(&closed, rule, now_ms)
                .await
                .expect("rate_limit_hit")
                .is_allowed()
        );
    }
    let RateDecision::Limited { retry_after_ms } = store
        .rate_limit_peek(&closed, rule, now_ms)
        .await
        .expect("rate_limit_peek")
    else {
        panic!("two hits empty a bucket of two");
    };
    assert_eq!(
        guarded(p.id_hash.clone(), &closed, now_ms).await,
        Some(GuardedLoginAttempt::BackingOff { retry_after_ms }),
        "a bucket backing off: nothing counted, the peek's wait"
    );
    assert_eq!(
        guarded("no-such-request".into(), &closed, now_ms).await,
        Some(GuardedLoginAttempt::BackingOff { retry_after_ms }),
        "the backoff is answered first, whether or not the request exists"
    );
    assert_eq!(
        guarded(p.id_hash.clone(), &open, now_ms).await,
        Some(GuardedLoginAttempt::Counted(
            LoginAttempt::Granted { remaining: 1 },
            Some(p.clone())
        )),
        "the refused attempt was not counted"
    );
    // One interval later the closed bucket allows one request again.
    assert_eq!(
        guarded(p.id_hash.clone(), &closed, now_ms + 60_000).await,
        Some(GuardedLoginAttempt::Counted(
            LoginAttempt::Granted { remaining: 0 },
            Some(p.clone())
        )),
        "a refilled bucket allows (and a guarded count hits nothing)"
    );
    assert_eq!(
        guarded(p.id_hash.clone(), &open, now_ms).await,
        Some(GuardedLoginAttempt::Counted(LoginAttempt::Exhausted, None)),
        "past the last attempt: exhausted, nothing read"
    );
    assert_eq!(
        guarded(p.id_hash.clone(), &open, now_ms).await,
        Some(GuardedLoginAttempt::Counted(LoginAttempt::Unknown, None)),
        "a discarded request is unknown"
    );
}

/// Every limits check but [`purge`], which may run in parallel with others.
pub async fn run_all_but_purge(store: Arc<dyn Store>) {
    rate_limits(store.clone()).await;
    login_attempts(store).await;
}

/// Purging: revoked grants and tombstones live out their retention, retired
/// refresh tokens and idle grants go after theirs, expired clients and full
/// rate-limit buckets go. Purges far ahead in time: run it alone, last.
pub async fn purge(store: Arc<dyn Store>) {
    // Revocations are stamped with the store's own clock (the wall clock).
    let wall = SystemClock.now();
    let keep = Retention::default();
    let past_retention = wall + keep.revoked_grants.max(keep.idle_grants) + 100;

    let revoked = sample_grant(wall);
    store
        .insert_grant(revoked.clone(), None)
        .await
        .expect("insert_grant");
    assert!(
        store
            .revoke_grant(&revoked.grant_id)
            .await
            .expect("revoke_grant")
    );
    let tombstone = id("grant");
    assert!(!store.revoke_grant(&tombstone).await.expect("revoke_grant"));

    let reused = sample_grant(wall);
    let r0 = refresh_for(&reused, wall);
    store
        .insert_grant(reused.clone(), Some(r0.clone()))
        .await
        .expect("insert_grant");
    let r1 = id("rt");
    assert!(matches!(
        store
            .rotate_refresh(&r0.token_hash, &r1, wall + 1, wall + 3600)
            .await
            .expect("rotate_refresh"),
        RotateOutcome::Rotated(_)
    ));
    assert!(matches!(
        store
            .rotate_refresh(&r1, &id("rt"), wall + 2, wall + 3600)
            .await
            .expect("rotate_refresh"),
        RotateOutcome::Rotated(_)
    ));
    assert!(matches!(
        store
            .rotate_refresh(&r0.token_hash, &id("rt"), wall + 3, wall + 3600)
            .await
            .expect("rotate_refresh"),
        RotateOutcome::Reused { .. }
    ));

    // A live grant with a retired token (generation 0 of 2).
    let rotating = sample_grant(wall);
    let mut g0 = refresh_for(&rotating, wall);
    g0.expires_at = wall + 1_000_000;
    store
        .insert_grant(rotating.clone(), Some(g0.clone()))
        .await
        .expect("insert_grant");
    let (g1, g2) = (id("rt"), id("rt"));
    for (from, to, at) in [(&g0.token_hash, &g1, wall + 1), (&g1, &g2, wall + 2)] {
        assert!(matches!(
            store
                .rotate_refresh(from, to, at, wall + 1_000_000)
                .await
                .expect("rotate_refresh"),
            RotateOutcome::Rotated(_)
        ));
    }

    let idle = sample_grant(wall);
    store
        .insert_grant(idle.clone(), None)
        .await
        .expect("insert_grant");

    let mut expiring = sample_client();
    expiring.expires_at = Some(wall + 5);
    let mut forever = sample_client();
    forever.expires_at = None;
    for c in [&expiring, &forever] {
        store.insert_client(c.clone()).await.expect("insert_client");
    }

    let bucket = id("rl-purge");
    let rule = GcraRule {
        interval_ms: 1000,
        burst: 1,
    };
    assert!(
        store
            .rate_limit_hit(&bucket, rule, wall * 1000)
            .await
            .expect("rate_limit_hit")
            .is_allowed()
    );
    assert!(
        !store
            .rate_limit_peek(&bucket, rule, wall * 1000)
            .await
            .expect("rate_limit_peek")
            .is_allowed(),
        "a bucket of one cell is empty after one hit"
    );

    // Shortly after: only what expired goes.
    let report = store.purge(wall + 10, &keep).await.expect("purge");
    assert!(report.clients >= 1, "an expired client goes: {report:?}");
    assert!(
        report.rate_limits >= 1,
        "a refilled bucket goes: {report:?}"
    );
    assert_eq!(
        store
            .get_client(&expiring.client_id)
            .await
            .expect("get_client"),
        None,
        "expired client purged"
    );
    assert!(
        store
            .get_client(&forever.client_id)
            .await
            .expect("get_client")
            .is_some(),
        "a client without expiry stays"
    );
    for (g, what) in [
        (&revoked.grant_id, "a revoked grant"),
        (&reused.grant_id, "a grant revoked by refresh reuse"),
    ] {
        assert!(
            store
                .get_grant(g)
                .await
                .expect("get_grant")
                .is_some_and(|g| g.revoked),
            "{what} stays revoked within its retention"
        );
    }
    assert!(
        store
            .get_grant(&idle.grant_id)
            .await
            .expect("get_grant")
            .is_some(),
        "an idle grant stays within its retention"
    );
    assert_eq!(
        store.get_grant(&tombstone).await.expect("get_grant"),
        None,
        "a tombstone is no grant"
    );
    assert!(
        store
            .get_refresh(&g0.token_hash)
            .await
            .expect("get_refresh")
            .is_some(),
        "a retired refresh token stays within its retention"
    );

    // Retired tokens past a short retention go; the two newest generations stay.
    let short = keep.with_retired_refresh_tokens(50);
    store.purge(wall + 100, &short).await.expect("purge");
    assert_eq!(
        store
            .get_refresh(&g0.token_hash)
            .await
            .expect("get_refresh"),
        None,
        "a retired refresh token past its retention goes"
    );
    for t in [&g1, &g2] {
        assert!(
            store.get_refresh(t).await.expect("get_refresh").is_some(),
            "the current and previous generations stay"
        );
    }

    // Past every retention: revoked, tombstoned and idle grants go; the
    // grant with live refresh tokens stays.
    let report = store.purge(past_retention, &keep).await.expect("purge");
    assert!(
        report.grants >= 4,
        "grants and tombstones purged: {report:?}"
    );
    for (g, what) in [
        (&revoked.grant_id, "a revoked grant"),
        (&reused.grant_id, "a grant revoked by refresh reuse"),
        (&idle.grant_id, "an idle grant"),
    ] {
        assert_eq!(
            store.get_grant(g).await.expect("get_grant"),
            None,
            "{what} goes after its retention"
        );
    }
    store
        .insert_grant(sample_grant_with_id(&tombstone, wall), None)
        .await
        .expect("insert_grant");
    assert!(
        store
            .get_grant(&tombstone)
            .await
            .expect("get_grant")
            .is_some_and(|g| !g.revoked),
        "a tombstone past its retention no longer revokes the grant it stood for"
    );
    assert!(
        store
            .get_grant(&rotating.grant_id)
            .await
            .expect("get_grant")
            .is_some(),
        "a grant with live refresh tokens stays"
    );
    assert_eq!(
        store
            .rate_limit_peek(&bucket, rule, wall * 1000)
            .await
            .expect("rate_limit_peek"),
        RateDecision::Allowed,
        "a purged bucket starts full"
    );
}

async fn attempt(store: &Arc<dyn Store>, id_hash: &str, max: u32, now: i64) -> LoginAttempt {
    store
        .consume_login_attempt(id_hash, max, now)
        .await
        .expect("consume_login_attempt")
}
