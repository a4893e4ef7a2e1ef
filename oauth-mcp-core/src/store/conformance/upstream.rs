//! Conformance checks for [`UpstreamStore`](crate::store::UpstreamStore):
//! single-use in-flight authorizations (also under a race), expiry,
//! consents, browser sessions, and the version check on stored upstream
//! tokens (also under a race). Ids are random, so the checks can share one
//! store and run in parallel. [`super::run_all`] runs them all.

use std::sync::Arc;

use super::{NOW, RACERS, id};
use crate::scope::ScopeSet;
use crate::store::Store;
use crate::store::upstream::{
    BrowserSession, RememberedConsent, UpstreamFlow, UpstreamTokenRecord,
};

/// An in-flight upstream authorization with fresh ids, created at `now`.
pub fn sample_flow(now: i64) -> UpstreamFlow {
    UpstreamFlow {
        state_hash: id("state"),
        provider: "https://idp.example/realms/one".into(),
        pkce_verifier: id("verifier"),
        nonce: Some(id("nonce")),
        pending_id_hash: id("pending"),
        browser_hash: id("browser"),
        consented: true,
        created_at: now,
        expires_at: now + 600,
    }
}

fn sample_session(now: i64) -> BrowserSession {
    BrowserSession {
        id_hash: id("session"),
        subject: id("subject"),
        created_at: now,
        expires_at: now + 86_400,
    }
}

fn sample_consent(now: i64) -> RememberedConsent {
    RememberedConsent {
        subject: id("subject"),
        client_id: id("client"),
        scope: ScopeSet::from_scopes(["mcp", "admin"]),
        granted_at: now,
        expires_at: now + 86_400,
    }
}

/// Ciphertext-like bytes: not UTF-8, with a NUL.
fn sealed_bytes() -> Vec<u8> {
    let mut b = vec![0x00, 0xff, 0x80, 0xc3];
    b.extend(id("sealed").into_bytes());
    b
}

fn sample_tokens(now: i64) -> UpstreamTokenRecord {
    UpstreamTokenRecord {
        subject: id("subject"),
        provider: "github".into(),
        sealed: sealed_bytes(),
        access_expires_at: Some(now + 3600),
        expires_at: Some(now + 86_400),
        version: 0,
        updated_at: now,
    }
}

/// In-flight authorizations: read back once, never twice, not after expiry,
/// duplicate keys refused, exactly one winner of a race.
pub async fn flows(store: Arc<dyn Store>) {
    let f = sample_flow(NOW);
    store
        .insert_upstream_flow(f.clone())
        .await
        .expect("insert_upstream_flow");
    assert!(
        store.insert_upstream_flow(f.clone()).await.is_err(),
        "a second flow with the same state hash is refused"
    );
    assert_eq!(
        store
            .take_upstream_flow(&f.state_hash, NOW)
            .await
            .expect("take_upstream_flow"),
        Some(f.clone()),
        "a flow reads back whole"
    );
    assert_eq!(
        store
            .take_upstream_flow(&f.state_hash, NOW)
            .await
            .expect("take_upstream_flow"),
        None,
        "a taken flow is gone (a replayed state finds nothing)"
    );

    let no_nonce = UpstreamFlow {
        nonce: None,
        consented: false,
        ..sample_flow(NOW)
    };
    store
        .insert_upstream_flow(no_nonce.clone())
        .await
        .expect("insert_upstream_flow");
    assert_eq!(
        store
            .take_upstream_flow(&no_nonce.state_hash, NOW)
            .await
            .expect("take_upstream_flow"),
        Some(no_nonce),
        "a flow without a nonce, not consented in the flow, reads back"
    );

    let old = sample_flow(NOW);
    store
        .insert_upstream_flow(old.clone())
        .await
        .expect("insert_upstream_flow");
    assert_eq!(
        store
            .take_upstream_flow(&old.state_hash, old.expires_at)
            .await
            .expect("take_upstream_flow"),
        None,
        "an expired flow cannot be taken"
    );
    assert_eq!(
        store
            .take_upstream_flow(&old.state_hash, NOW)
            .await
            .expect("take_upstream_flow"),
        None,
        "taking an expired flow removes it"
    );
    assert_eq!(
        store
            .take_upstream_flow(&id("unknown"), NOW)
            .await
            .expect("take_upstream_flow"),
        None,
        "an unknown state finds nothing"
    );

    let raced = sample_flow(NOW);
    store
        .insert_upstream_flow(raced.clone())
        .await
        .expect("insert_upstream_flow");
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let s = store.clone();
            let h = raced.state_hash.clone();
            tokio::spawn(async move {
                s.take_upstream_flow(&h, NOW)
                    .await
                    .expect("take_upstream_flow")
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        if let Some(got) = t.await.expect("task") {
            assert_eq!(got, raced);
            won += 1;
        }
    }
    assert_eq!(
        won, 1,
        "exactly one of {RACERS} concurrent take_upstream_flow calls gets the flow"
    );
}

/// Consents: one per subject and client, replaced, expiring, revocable.
pub async fn consents(store: Arc<dyn Store>) {
    let c = sample_consent(NOW);
    assert_eq!(
        store
            .get_consent(&c.subject, &c.client_id, NOW)
            .await
            .expect("get_consent"),
        None
    );
    store.put_consent(c.clone()).await.expect("put_consent");
    assert_eq!(
        store
            .get_consent(&c.subject, &c.client_id, NOW)
            .await
            .expect("get_consent"),
        Some(c.clone()),
        "a consent reads back"
    );
    let other_client = RememberedConsent {
        client_id: id("client"),
        scope: ScopeSet::from_scopes(["mcp"]),
        ..c.clone()
    };
    store
        .put_consent(other_client.clone())
        .await
        .expect("put_consent");
    let wider = RememberedConsent {
        scope: ScopeSet::from_scopes(["mcp", "admin", "files"]),
        granted_at: NOW + 10,
        ..c.clone()
    };
    store.put_consent(wider.clone()).await.expect("put_consent");
    assert_eq!(
        store
            .get_consent(&c.subject, &c.client_id, NOW + 10)
            .await
            .expect("get_consent"),
        Some(wider.clone()),
        "a second consent for the same subject and client replaces the first"
    );
    assert_eq!(
        store
            .get_consent(&c.subject, &other_client.client_id, NOW)
            .await
            .expect("get_consent"),
        Some(other_client.clone()),
        "consents are per client"
    );
    assert_eq!(
        store
            .get_consent(&c.subject, &c.client_id, wider.expires_at)
            .await
            .expect("get_consent"),
        None,
        "an expired consent is not returned"
    );
    assert!(
        store
            .revoke_consent(&c.subject, &c.client_id)
            .await
            .expect("revoke_consent"),
        "revoking an existing consent reports it"
    );
    assert!(
        !store
            .revoke_consent(&c.subject, &c.client_id)
            .await
            .expect("revoke_consent"),
        "revoking it again finds nothing"
    );
    assert_eq!(
        store
            .get_consent(&c.subject, &c.client_id, NOW)
            .await
            .expect("get_consent"),
        None
    );
    assert_eq!(
        store
            .get_consent(&c.subject, &other_client.client_id, NOW)
            .await
            .expect("get_consent"),
        Some(other_client),
        "revoking one client's consent keeps the others"
    );
}

/// Browser sessions: read back, expire, end; duplicate ids refused.
pub async fn sessions(store: Arc<dyn Store>) {
    let b = sample_session(NOW);
    store
        .insert_browser_session(b.clone())
        .await
        .expect("insert_browser_session");
    assert!(
        store.insert_browser_session(b.clone()).await.is_err(),
        "a second session with the same id is refused"
    );
    assert_eq!(
        store
            .get_browser_session(&b.id_hash, NOW)
            .await
            .expect("get_browser_session"),
        Some(b.clone()),
        "a session reads back"
    );
    assert_eq!(
        store
            .get_browser_session(&b.id_hash, b.expires_at)
            .await
            .expect("get_browser_session"),
        None,
        "an expired session is not returned"
    );
    assert!(
        store
            .delete_browser_session(&b.id_hash)
            .await
            .expect("delete_browser_session")
    );
    assert!(
        !store
            .delete_browser_session(&b.id_hash)
            .await
            .expect("delete_browser_session")
    );
    assert_eq!(
        store
            .get_browser_session(&b.id_hash, NOW)
            .await
            .expect("get_browser_session"),
        None,
        "an ended session is gone"
    );
}

/// Upstream tokens: put replaces, replace checks the version (exactly one
/// winner of a race), delete.
pub async fn tokens(store: Arc<dyn Store>) {
    let t = sample_tokens(NOW);
    assert_eq!(
        store
            .get_upstream_tokens(&t.subject, &t.provider)
            .await
            .expect("get_upstream_tokens"),
        None
    );
    store
        .put_upstream_tokens(t.clone())
        .await
        .expect("put_upstream_tokens");
    assert_eq!(
        store
            .get_upstream_tokens(&t.subject, &t.provider)
            .await
            .expect("get_upstream_tokens"),
        Some(t.clone()),
        "tokens read back"
    );
    let other_provider = UpstreamTokenRecord {
        provider: "google".into(),
        access_expires_at: None,
        expires_at: None,
        ..t.clone()
    };
    store
        .put_upstream_tokens(other_provider.clone())
        .await
        .expect("put_upstream_tokens");

    let v1 = UpstreamTokenRecord {
        sealed: sealed_bytes(),
        version: 1,
        updated_at: NOW + 5,
        ..t.clone()
    };
    assert!(
        !store
            .replace_upstream_tokens(v1.clone(), 7)
            .await
            .expect("replace_upstream_tokens"),
        "a replacement with a stale version is refused"
    );
    assert_eq!(
        store
            .get_upstream_tokens(&t.subject, &t.provider)
            .await
            .expect("get_upstream_tokens"),
        Some(t.clone()),
        "a refused replacement writes nothing"
    );
    assert!(
        store
            .replace_upstream_tokens(v1.clone(), 0)
            .await
            .expect("replace_upstream_tokens"),
        "a replacement with the current version succeeds"
    );
    assert_eq!(
        store
            .get_upstream_tokens(&t.subject, &t.provider)
            .await
            .expect("get_upstream_tokens"),
        Some(v1.clone())
    );

    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let s = store.clone();
            let next = UpstreamTokenRecord {
                sealed: format!("racer-{i}").into_bytes(),
                version: 2,
                updated_at: NOW + 6,
                ..v1.clone()
            };
            tokio::spawn(async move {
                s.replace_upstream_tokens(next, 1)
                    .await
                    .expect("replace_upstream_tokens")
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        if t.await.expect("task") {
            won += 1;
        }
    }
    assert_eq!(
        won, 1,
        "exactly one of {RACERS} concurrent replace_upstream_tokens calls with the same version wins"
    );
    let after = store
        .get_upstream_tokens(&t.subject, &t.provider)
        .await
        .expect("get_upstream_tokens")
        .expect("tokens still there");
    assert_eq!(after.version, 2);
    assert!(after.sealed.starts_with(b"racer-"));

    let missing = sample_tokens(NOW);
    assert!(
        !store
            .replace_upstream_tokens(missing.clone(), 0)
            .await
            .expect("replace_upstream_tokens"),
        "replacing tokens that were never stored does nothing"
    );
    assert_eq!(
        store
            .get_upstream_tokens(&missing.subject, &missing.provider)
            .await
            .expect("get_upstream_tokens"),
        None
    );

    assert!(
        store
            .delete_upstream_tokens(&t.subject, &t.provider)
            .await
            .expect("delete_upstream_tokens")
    );
    assert!(
        !store
            .delete_upstream_tokens(&t.subject, &t.provider)
            .await
            .expect("delete_upstream_tokens")
    );
    assert_eq!(
        store
            .get_upstream_tokens(&t.subject, &other_provider.provider)
            .await
            .expect("get_upstream_tokens"),
        Some(other_provider),
        "deleting one provider's tokens keeps the others"
    );
}

/// `purge_expired` removes expired flows, consents, sessions and token
/// records and keeps live ones (token records without an expiry stay).
pub async fn cleanup(store: Arc<dyn Store>) {
    // Far in the future relative to the other checks' records.
    let later = NOW + 10_000_000;
    let old_flow = sample_flow(NOW);
    let live_flow = sample_flow(later);
    let old_consent = sample_consent(NOW);
    let live_consent = sample_consent(later);
    let old_tokens = sample_tokens(NOW);
    let forever_tokens = UpstreamTokenRecord {
        expires_at: None,
        ..sample_tokens(NOW)
    };
    let old_session = sample_session(NOW);
    let live_session = sample_session(later);
    for b in [&old_session, &live_session] {
        store
            .insert_browser_session(b.clone())
            .await
            .expect("insert_browser_session");
    }
    for f in [&old_flow, &live_flow] {
        store
            .insert_upstream_flow(f.clone())
            .await
            .expect("insert_upstream_flow");
    }
    for c in [&old_consent, &live_consent] {
        store.put_consent(c.clone()).await.expect("put_consent");
    }
    for t in [&old_tokens, &forever_tokens] {
        store
            .put_upstream_tokens(t.clone())
            .await
            .expect("put_upstream_tokens");
    }
    let purged = store.purge_expired(later).await.expect("purge_expired");
    assert!(
        purged >= 4,
        "purge_expired counts the upstream records it removed (got {purged})"
    );
    assert_eq!(
        store
            .get_browser_session(&old_session.id_hash, NOW)
            .await
            .expect("get_browser_session"),
        None,
        "expired sessions go"
    );
    assert_eq!(
        store
            .get_browser_session(&live_session.id_hash, later)
            .await
            .expect("get_browser_session"),
        Some(live_session),
        "live sessions stay"
    );
    assert_eq!(
        store
            .get_consent(&old_consent.subject, &old_consent.client_id, NOW)
            .await
            .expect("get_consent"),
        None,
        "expired consents go"
    );
    assert_eq!(
        store
            .get_upstream_tokens(&old_tokens.subject, &old_tokens.provider)
            .await
            .expect("get_upstream_tokens"),
        None,
        "expired token records go"
    );
    assert_eq!(
        store
            .get_upstream_tokens(&forever_tokens.subject, &forever_tokens.provider)
            .await
            .expect("get_upstream_tokens"),
        Some(forever_tokens),
        "token records without an expiry stay"
    );
    assert_eq!(
        store
            .get_consent(&live_consent.subject, &live_consent.client_id, later)
            .await
            .expect("get_consent"),
        Some(live_consent),
        "live consents stay"
    );
    assert_eq!(
        store
            .take_upstream_flow(&old_flow.state_hash, NOW)
            .await
            .expect("take_upstream_flow"),
        None,
        "expired flows go"
    );
    assert_eq!(
        store
            .take_upstream_flow(&live_flow.state_hash, later)
            .await
            .expect("take_upstream_flow"),
        Some(live_flow),
        "live flows stay"
    );
}

/// Every check but [`cleanup`] (whose far-future purge would delete the
/// records of checks running in parallel on the same database).
pub async fn run_all_but_cleanup(store: Arc<dyn Store>) {
    flows(store.clone()).await;
    consents(store.clone()).await;
    sessions(store.clone()).await;
    tokens(store).await;
}
