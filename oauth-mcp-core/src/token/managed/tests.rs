//! Managed keys on the memory store: sealing, replicas racing, refusals,
//! and a scheduled rotation under a `ManualClock` with its audit trail.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use super::*;
use crate::clock::{Clock, ManualClock};
use crate::store::MemoryStore;
use crate::store::keys::KeyPhase;

fn kek() -> KeyEncryptionKey {
    KeyEncryptionKey::from_base64(KeyEncryptionKey::generate_base64().secret()).unwrap()
}

fn schedule() -> KeySchedule {
    KeySchedule::new(Duration::from_secs(3600))
        .validate()
        .unwrap()
}

fn sign(set: &KeySet) -> String {
    let k = set.active();
    let mut h = jsonwebtoken::Header::new(k.algorithm().jwt_alg());
    h.kid = Some(k.kid().to_owned());
    jsonwebtoken::encode(&h, &serde_json::json!({ "sub": "alice" }), k.encoding()).unwrap()
}

fn verifies(set: &KeySet, token: &str) -> bool {
    let h = jsonwebtoken::decode_header(token).unwrap();
    let Some(k) = h.kid.as_deref().and_then(|kid| set.find(kid)) else {
        return false;
    };
    let mut v = jsonwebtoken::Validation::new(h.alg);
    v.required_spec_claims.clear();
    v.validate_exp = false;
    v.validate_aud = false;
    jsonwebtoken::decode::<serde_json::Value>(token, k.decoding(), &v).is_ok()
}

#[tokio::test]
async fn first_maintenance_creates_one_sealed_key_that_signs() {
    let store = Arc::new(MemoryStore::new());
    let keys = ManagedKeys::new(store.clone(), KeyProtection::encrypted(kek()), schedule());
    let now = 1_800_000_000;
    let out = keys.maintain(now).await.unwrap();
    assert_eq!(out.snapshot.keys.len(), 1);
    assert_eq!(out.next_due, Some(now + 29 * 24 * 3600));
    let record = &out.snapshot.keys[0];
    assert_eq!(record.phase(), KeyPhase::Active);
    assert_eq!(record.activated_at, Some(now));
    let StoredPrivateKey::Sealed(sealed) = &record.private_key else {
        panic!("the private key must be sealed: {:?}", record.private_key);
    };
    let set = keys.key_set(&out.snapshot).unwrap().unwrap();
    let der = set.active().encoding().as_bytes().to_vec();
    assert!(
        !sealed.windows(der.len()).any(|w| w == der.as_slice()),
        "the clear private key must not appear in the record"
    );
    assert!(record.public_jwk.contains(&record.kid) && !record.public_jwk.contains("\"d\""));
    let token = sign(&set);
    // The store holds what was returned; a second run changes nothing.
    assert_eq!(store.list_keys().await.unwrap(), out.snapshot);
    let again = keys.maintain(now + 60).await.unwrap();
    assert!(again.events.is_empty());
    let reopened = keys.key_set(&again.snapshot).unwrap().unwrap();
    assert!(verifies(&reopened, &token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_racing_on_an_empty_store_create_one_key() {
    let store = Arc::new(MemoryStore::new());
    let kek = kek();
    let now = 1_800_000_000;
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let keys = ManagedKeys::new(
                store.clone(),
                KeyProtection::encrypted(kek.clone()),
                schedule(),
            );
            tokio::spawn(async move { keys.maintain(now).await.unwrap() })
        })
        .collect();
    let mut created = 0;
    let mut active = Vec::new();
    for t in tasks {
        let out = t.await.unwrap();
        created += out
            .events
            .iter()
            .filter(|e| e.kind.as_str() == "key.created")
            .count();
        active.push(signing_key(&out.snapshot.keys).unwrap().kid.clone());
    }
    assert_eq!(created, 1, "exactly one replica creates the first key");
    active.dedup();
    assert_eq!(active.len(), 1, "every replica signs with the same key");
    assert_eq!(store.list_keys().await.unwrap().keys.len(), 1);
}

#[tokio::test]
async fn wrong_missing_and_planted_keys_are_refused() {
    let store = Arc::new(MemoryStore::new());
    let right = ManagedKeys::new(store.clone(), KeyProtection::encrypted(kek()), schedule());
    let snap = right.maintain(1_800_000_000).await.unwrap().snapshot;
    let kid = snap.keys[0].kid.clone();

    let wrong = ManagedKeys::new(store.clone(), KeyProtection::encrypted(kek()), schedule());
    match wrong.key_set(&snap) {
        Err(KeyOpsError::Record(KeyRecordError::Crypto {
            kid: k,
            source: CryptoError::WrongKey { .. },
        })) => assert_eq!(k, kid),
        other => panic!("expected a wrong-key error, got {other:?}"),
    }
    let e = wrong.key_set(&snap).unwrap_err().to_string();
    assert!(
        e.contains(&kid) && e.contains("another key-encryption key"),
        "{e}"
    );

    let none = ManagedKeys::new(
        store.clone(),
        KeyProtection::dangerously_unencrypted(),
        schedule(),
    );
    assert!(matches!(
        none.key_set(&snap),
        Err(KeyOpsError::Record(
            KeyRecordError::NoKeyEncryptionKey { .. }
        ))
    ));

    // A key planted in the clear (as anyone with write access could) is
    // refused when keys are sealed.
    let planted = KeyProtection::dangerously_unencrypted()
        .seal(&SigningKey::generate(SigningAlgorithm::EdDsa).unwrap(), 1)
        .unwrap();
    assert!(matches!(
        right.protection().open(&planted),
        Err(KeyRecordError::Unencrypted { .. })
    ));
    assert!(
        KeyProtection::dangerously_unencrypted()
            .open(&planted)
            .is_ok()
    );

    // A sealed private key moved to another record does not open there.
    let other = right
        .protection()
        .seal(&SigningKey::generate(SigningAlgorithm::Es256).unwrap(), 1)
        .unwrap();
    let mut swapped = other.clone();
    swapped.private_key = snap.keys[0].private_key.clone();
    assert!(matches!(
        right.protection().open(&swapped),
        Err(KeyRecordError::Crypto {
            source: CryptoError::Tampered,
            ..
        })
    ));
    // A record whose kid does not match its private key is refused.
    let mut renamed = snap.keys[0].clone();
    renamed.kid = other.kid.clone();
    assert!(right.protection().open(&renamed).is_err());

    // A replica with the wrong KEK must not add keys the others cannot open.
    let t = 1_800_000_000 + 40 * 24 * 3600;
    for result in [
        wrong.rotate(t, false).await,
        wrong.rotate(t, true).await,
        wrong.maintain(t).await,
    ] {
        assert!(
            matches!(
                result,
                Err(KeyOpsError::Record(KeyRecordError::Crypto { .. }))
            ),
            "{result:?}"
        );
    }
    assert_eq!(
        store.list_keys().await.unwrap(),
        snap,
        "nothing was written"
    );
    // …but an operator who lost the old KEK can replace the key outright.
    let out = wrong.retire(&kid, t, true).await.unwrap();
    assert!(out.snapshot.find(&kid).is_none());
    assert!(wrong.key_set(&out.snapshot).unwrap().is_some());
}

/// Collects the audit events (target `oauth_mcp::audit`) with the thread
/// that emitted them.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<(std::thread::ThreadId, Fieldset)>>>);

/// One event's fields, by name.
type Fieldset = BTreeMap<String, String>;

impl Capture {
    /// The process-wide capture, installed as the global default once. A
    /// subscriber scoped to the test's thread (`set_default`) loses events
    /// now and then: a callsite another test thread registers while the
    /// scoped subscriber is installed may cache "never" (tracing's callsite
    /// interest race). A global subscriber that is always interested cannot
    /// be left out; tests that scope their own subscriber still see theirs.
    fn global() -> Capture {
        static GLOBAL: std::sync::OnceLock<Capture> = std::sync::OnceLock::new();
        GLOBAL
            .get_or_init(|| {
                let capture = Capture::default();
                let _ = tracing::subscriber::set_global_default(capture.clone());
                tracing::callsite::rebuild_interest_cache();
                capture
            })
            .clone()
    }

    /// The captured events of the current thread.
    fn mine(&self) -> Vec<Fieldset> {
        let me = std::thread::current().id();
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _)| *t == me)
            .map(|(_, f)| f.clone())
            .collect()
    }
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if event.metadata().target() == "oauth_mcp::audit" {
            let mut fields = BTreeMap::new();
            event.record(&mut Fields(&mut fields));
            self.0
                .lock()
                .unwrap()
                .push((std::thread::current().id(), fields));
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn scheduled_rotation_under_a_manual_clock_is_audited_step_by_step() {
    let capture = Capture::global();
    let clock = ManualClock::new();
    let schedule = KeySchedule::new(Duration::from_secs(60))
        .rotation_period(Duration::from_secs(600))
        .publish_lead(Duration::from_secs(120))
        .leeway(Duration::from_secs(10))
        .validate()
        .unwrap();
    let keys = ManagedKeys::new(
        Arc::new(MemoryStore::new()),
        KeyProtection::encrypted(kek()),
        schedule,
    );
    let start = clock.now();
    // (token, expiry): every token stays verifiable until it expires.
    let mut tokens: Vec<(String, i64)> = Vec::new();
    while clock.now() < start + 2000 {
        let now = clock.now();
        let out = keys.maintain(now).await.unwrap();
        let set = keys.key_set(&out.snapshot).unwrap().unwrap();
        tokens.retain(|(_, exp)| *exp > now);
        for (t, _) in &tokens {
            assert!(
                verifies(&set, t),
                "a valid token was refused at {}",
                now - start
            );
        }
        tokens.push((sign(&set), now + 60));
        clock.advance(30);
    }
    let log = capture.mine();
    let named: Vec<(String, String)> = log
        .iter()
        .map(|f| (f["event"].clone(), f["kid"].clone()))
        .collect();
    let kids: Vec<String> = {
        let mut v: Vec<String> = named
            .iter()
            .filter(|(e, _)| e == "key.created")
            .map(|(_, k)| k.clone())
            .collect();
        v.dedup();
        v
    };
    assert_eq!(
        kids.len(),
        4,
        "first key plus three rotations in 2000 s: {named:?}"
    );
    for (i, kid) in kids.iter().enumerate() {
        let mine: Vec<&str> = named
            .iter()
            .filter(|(_, k)| k == kid)
            .map(|(e, _)| e.as_str())
            .collect();
        let expected: &[&str] = match i {
            0..=2 => &[
                "key.created",
                "key.published",
                "key.activated",
                "key.retired",
                "key.removed",
            ],
            _ => &["key.created", "key.published", "key.activated"],
        };
        assert_eq!(mine, expected, "events of key {i} ({kid})");
    }
    assert!(
        log.iter()
            .all(|f| f["cause"] == "schedule" && f["at"].parse::<i64>().is_ok())
    );
    assert!(
        log.iter()
            .filter(|f| f["event"] == "key.retired")
            .all(|f| f.contains_key("remove_after"))
    );
}

#[tokio::test]
async fn operator_operations_report_refusals() {
    let keys = ManagedKeys::new(
        Arc::new(MemoryStore::new()),
        KeyProtection::encrypted(kek()),
        schedule(),
    );
    let now = 1_800_000_000;
    // Rotating an empty store creates an active key.
    let out = keys.rotate(now, false).await.unwrap();
    assert_eq!(
        signing_key(&out.snapshot.keys).unwrap().activated_at,
        Some(now)
    );
    let out = keys.rotate(now + 1, false).await.unwrap();
    let successor = out
        .snapshot
        .keys
        .iter()
        .find(|k| k.phase() == KeyPhase::Published)
        .unwrap()
        .kid
        .clone();
    assert_eq!(out.next_due, Some(now + 1 + 24 * 3600));
    assert!(matches!(
        keys.rotate(now + 2, false).await,
        Err(KeyOpsError::Refused(KeyPlanRefusal::SuccessorPending { kid, .. })) if kid == successor
    ));
    let out = keys.rotate(now + 3, true).await.unwrap();
    assert_eq!(signing_key(&out.snapshot.keys).unwrap().kid, successor);
    assert!(matches!(
        keys.retire("no-such-kid", now + 4, false).await,
        Err(KeyOpsError::Refused(KeyPlanRefusal::UnknownKid(_)))
    ));
    let out = keys.retire(&successor, now + 5, true).await.unwrap();
    assert!(out.snapshot.find(&successor).is_none());
    let names: Vec<_> = out.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        names,
        [
            "key.created",
            "key.published",
            "key.activated",
            "key.removed"
        ]
    );
}
