//! Conformance checks of [`KeyStore`]: records read back exactly, writes
//! are all-or-nothing and compare-and-set on the key-set version, and of
//! many concurrent writers (tasks, pools, processes) exactly one wins.
//!
//! Unlike the other checks these manage the store's one key set: they
//! start by removing every signing key. Do not run them on a store a server
//! is using, nor two of them at once on one store.

use std::time::Duration;

use crate::crypto::KeyEncryptionKey;
use crate::store::keys::{KeyPhase, StoredPrivateKey};
use crate::token::SigningAlgorithm;
use crate::token::managed::{KeyProtection, ManagedKeys};
use crate::token::rotation::{KeySchedule, signing_key};

use super::*;

fn sample_key(published_at: i64) -> SigningKeyRecord {
    SigningKeyRecord {
        kid: id("kid"),
        algorithm: SigningAlgorithm::Es256,
        public_jwk: r#"{"kty":"EC","crv":"P-256","x":"AA","y":"AA","use":"sig"}"#.into(),
        // Every byte value, to catch text or encoding mistakes.
        private_key: StoredPrivateKey::Sealed((0..=255u8).rev().chain(0..=255).collect()),
        created_at: published_at - 1,
        published_at,
        activated_at: None,
        retired_at: None,
        remove_after: None,
    }
}

/// Removes every signing key; returns the key set's version afterwards.
pub async fn clear_keys(store: &dyn Store) -> u64 {
    for _ in 0..RACERS {
        let snap = store.list_keys().await.expect("list_keys");
        if snap.keys.is_empty() {
            return snap.version;
        }
        let changes: Vec<_> = snap
            .keys
            .iter()
            .map(|k| KeyChange::Remove { kid: k.kid.clone() })
            .collect();
        if let KeyWrite::Written { version } = store
            .write_keys(snap.version, &changes)
            .await
            .expect("write_keys")
        {
            return version;
        }
    }
    panic!("could not clear the key set: other writers kept changing it");
}

async fn expect_keys(store: &dyn Store, version: u64, keys: &[&SigningKeyRecord], what: &str) {
    let snap = store.list_keys().await.expect("list_keys");
    assert_eq!(snap.version, version, "{what}: key-set version");
    let want: Vec<SigningKeyRecord> = keys.iter().map(|k| (*k).clone()).collect();
    assert_eq!(
        snap.keys, want,
        "{what}: keys (ordered by published_at, kid)"
    );
}

/// Records read back exactly; a write applies all of its changes or none;
/// a write against an old version is [`KeyWrite::Stale`].
pub async fn key_set_contract(store: Arc<dyn Store>) {
    let v0 = clear_keys(&*store).await;
    let mut a = sample_key(NOW);
    a.activated_at = Some(NOW);
    let mut b = sample_key(NOW - 10);
    b.algorithm = SigningAlgorithm::EdDsa;
    b.private_key = StoredPrivateKey::Unencrypted(vec![0x30, 0x00, 0xff, 0x7f]);
    let written = store
        .write_keys(
            v0,
            &[KeyChange::Insert(a.clone()), KeyChange::Insert(b.clone())],
        )
        .await
        .expect("write_keys");
    assert_eq!(
        written,
        KeyWrite::Written { version: v0 + 1 },
        "a write bumps the version by one"
    );
    expect_keys(&*store, v0 + 1, &[&b, &a], "after inserting two keys").await;

    assert_eq!(
        store
            .write_keys(v0, &[KeyChange::Remove { kid: a.kid.clone() }])
            .await
            .expect("write_keys"),
        KeyWrite::Stale,
        "a write against an old version is Stale"
    );
    expect_keys(&*store, v0 + 1, &[&b, &a], "a stale write changes nothing").await;

    a.retired_at = Some(NOW + 100);
    a.remove_after = Some(NOW + 4000);
    b.activated_at = Some(NOW + 100);
    let lifecycle = |k: &SigningKeyRecord| KeyChange::SetLifecycle {
        kid: k.kid.clone(),
        activated_at: k.activated_at,
        retired_at: k.retired_at,
        remove_after: k.remove_after,
    };
    assert_eq!(
        store
            .write_keys(v0 + 1, &[lifecycle(&a), lifecycle(&b)])
            .await
            .expect("write_keys"),
        KeyWrite::Written { version: v0 + 2 }
    );
    expect_keys(&*store, v0 + 2, &[&b, &a], "lifecycle times are stored").await;
    assert_eq!(a.phase(), KeyPhase::Retired);

    let c = sample_key(NOW + 200);
    let ghost = SigningKeyRecord {
        kid: id("ghost"),
        ..c.clone()
    };
    assert!(
        matches!(
            store
                .write_keys(v0 + 2, &[KeyChange::Insert(c.clone()), lifecycle(&ghost)])
                .await,
            Err(StoreError::Other(_))
        ),
        "a change to an unknown kid fails the write with StoreError::Other"
    );
    expect_keys(&*store, v0 + 2, &[&b, &a], "a failed write applies nothing").await;
    assert!(
        matches!(
            store
                .write_keys(
                    v0 + 2,
                    &[KeyChange::Insert(c.clone()), KeyChange::Insert(a.clone())]
                )
                .await,
            Err(StoreError::Duplicate(_))
        ),
        "inserting an existing kid fails the write with StoreError::Duplicate"
    );
    expect_keys(
        &*store,
        v0 + 2,
        &[&b, &a],
        "a duplicate insert applies nothing",
    )
    .await;
    assert!(
        matches!(
            store
                .write_keys(
                    v0 + 2,
                    &[KeyChange::Remove {
                        kid: ghost.kid.clone()
                    }]
                )
                .await,
            Err(StoreError::Other(_))
        ),
        "removing an unknown kid fails the write"
    );

    assert_eq!(
        store
            .write_keys(
                v0 + 2,
                &[
                    KeyChange::Remove { kid: a.kid.clone() },
                    KeyChange::Insert(c.clone())
                ]
            )
            .await
            .expect("write_keys"),
        KeyWrite::Written { version: v0 + 3 }
    );
    expect_keys(&*store, v0 + 3, &[&b, &c], "removed keys are gone").await;
    clear_keys(&*store).await;
}

/// Runs `f(i, store)` for `RACERS` tasks spread over `stores`, at once.
async fn race<F, Fut, T>(stores: &[Arc<dyn Store>], f: F) -> Vec<T>
where
    F: Fn(usize, Arc<dyn Store>) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| tokio::spawn(f(i, stores[i % stores.len()].clone())))
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("task"));
    }
    out
}

/// The record of the one write of a race that was written.
fn sole_winner(results: &[(KeyWrite, SigningKeyRecord)], what: &str) -> SigningKeyRecord {
    let winners: Vec<_> = results
        .iter()
        .filter(|(w, _)| matches!(w, KeyWrite::Written { .. }))
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "of concurrent writes of {what} against one version exactly one is written: {:?}",
        results.iter().map(|(w, _)| w).collect::<Vec<_>>()
    );
    winners[0].1.clone()
}

/// Concurrent writers over one or more stores sharing one database (give
/// several pools to race across them, as replicas would): of writers with
/// one expected version exactly one wins, for the first key and for a
/// rotation; replicas running the key maintenance at once create, publish
/// and activate each key exactly once and agree on the signing key.
pub async fn key_races(stores: Vec<Arc<dyn Store>>) {
    assert!(!stores.is_empty());
    let v0 = clear_keys(&*stores[0]).await;

    // Replicas race to create the first key.
    let first = race(&stores, |_, s| async move {
        let mut k = sample_key(NOW);
        k.activated_at = Some(NOW);
        let w = s
            .write_keys(v0, &[KeyChange::Insert(k.clone())])
            .await
            .expect("write_keys");
        (w, k)
    })
    .await;
    let current = sole_winner(&first, "the first key");
    expect_keys(&*stores[0], v0 + 1, &[&current], "after the first-key race").await;

    // Replicas race to rotate: each activates its own successor and retires
    // the current key in one write.
    let rotations = race(&stores, |_, s| {
        let current = current.clone();
        async move {
            let mut k = sample_key(NOW + 50);
            k.activated_at = Some(NOW + 60);
            let w = s
                .write_keys(
                    v0 + 1,
                    &[
                        KeyChange::Insert(k.clone()),
                        KeyChange::SetLifecycle {
                            kid: current.kid.clone(),
                            activated_at: current.activated_at,
                            retired_at: Some(NOW + 60),
                            remove_after: Some(NOW + 4000),
                        },
                    ],
                )
                .await
                .expect("write_keys");
            (w, k)
        }
    })
    .await;
    let successor = sole_winner(&rotations, "a rotation");
    let snap = stores[0].list_keys().await.expect("list_keys");
    let active: Vec<_> = snap.in_phase(KeyPhase::Active).collect();
    assert_eq!(active.len(), 1, "one active key after racing rotations");
    assert_eq!(active[0].kid, successor.kid, "the winner's key is active");
    assert_eq!(snap.keys.len(), 2, "the losers' keys were not stored");

    // The real thing: replicas run the key maintenance at once.
    clear_keys(&*stores[0]).await;
    let kek =
        KeyEncryptionKey::from_base64(KeyEncryptionKey::generate_base64().secret()).expect("kek");
    let schedule = KeySchedule::new(Duration::from_secs(3600))
        .validate()
        .expect("schedule");
    let period = schedule.rotation_period_secs().expect("period");
    let lead = schedule.publish_lead_secs();
    for (at, step) in [
        (NOW, "key.created"),
        (NOW + period - lead, "key.published"),
        (NOW + period, "key.activated"),
    ] {
        let outs = race(&stores, |_, s| {
            let keys = ManagedKeys::new(s, KeyProtection::encrypted(kek.clone()), schedule);
            async move { keys.maintain(at).await.expect("maintain") }
        })
        .await;
        let count = outs
            .iter()
            .flat_map(|o| &o.events)
            .filter(|e| e.kind.as_str() == step)
            .count();
        // The first run also activates; a rotation also retires.
        assert_eq!(count, 1, "{step} is written by exactly one replica");
        let mut signers: Vec<_> = outs
            .iter()
            .map(|o| {
                signing_key(&o.snapshot.keys)
                    .expect("a signing key")
                    .kid
                    .clone()
            })
            .collect();
        signers.dedup();
        assert_eq!(signers.len(), 1, "every replica signs with the same key");
        let keys = ManagedKeys::new(
            stores[0].clone(),
            KeyProtection::encrypted(kek.clone()),
            schedule,
        );
        let snap = keys.snapshot().await.expect("snapshot");
        let set = keys.key_set(&snap).expect("open").expect("active");
        assert_eq!(set.active().kid(), signers[0], "the store agrees");
    }
    clear_keys(&*stores[0]).await;
}

/// [`key_set_contract`] then [`key_races`] on one store.
pub async fn keys(store: Arc<dyn Store>) {
    key_set_contract(store.clone()).await;
    key_races(vec![store]).await;
}
