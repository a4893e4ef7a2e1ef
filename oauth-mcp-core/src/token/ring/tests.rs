//! The key ring on a store that counts its reads: refreshes follow the
//! clock, and tokens naming unknown keys re-read the store at a bounded rate.

use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use async_trait::async_trait;

use super::*;
use crate::clock::{Clock, ManualClock};
use crate::crypto::KeyEncryptionKey;
use crate::error::StoreError;
use crate::resource::ResourceUri;
use crate::scope::ScopeSet;
use crate::store::MemoryStore;
use crate::store::keys::{KeyChange, KeyStore, KeyWrite};
use crate::token::managed::KeyProtection;
use crate::token::rotation::KeySchedule;
use crate::token::{MintRequest, SigningAlgorithm, SigningKey, TokenSigner};
use crate::validate::{LocalJwtValidator, TokenRejection, TokenValidator};

/// A memory key store that counts `list_keys` calls.
#[derive(Default)]
struct Counting {
    inner: MemoryStore,
    reads: AtomicUsize,
}

#[async_trait]
impl KeyStore for Counting {
    async fn list_keys(&self) -> Result<KeySetSnapshot, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.list_keys().await
    }

    async fn write_keys(
        &self,
        expected: u64,
        changes: &[KeyChange],
    ) -> Result<KeyWrite, StoreError> {
        self.inner.write_keys(expected, changes).await
    }
}

const ISS: &str = "https://as.example";
const AUD: &str = "https://as.example/mcp";

fn managed(store: Arc<Counting>) -> ManagedKeys {
    let kek = KeyEncryptionKey::from_base64(KeyEncryptionKey::generate_base64().secret()).unwrap();
    let schedule = KeySchedule::new(Duration::from_secs(3600))
        .validate()
        .unwrap();
    ManagedKeys::new(store, KeyProtection::encrypted(kek), schedule)
}

fn token(keys: impl Into<KeyRing>, now: i64) -> String {
    TokenSigner::new(keys, ISS)
        .mint(&MintRequest {
            subject: "alice",
            client_id: "c",
            scope: &ScopeSet::parse("mcp").unwrap(),
            audience: &ResourceUri::parse(AUD).unwrap(),
            grant_id: None,
            now,
            ttl: 600,
        })
        .unwrap()
        .0
}

#[tokio::test]
async fn invented_key_ids_read_the_store_at_most_once_a_second() {
    let store = Arc::new(Counting::default());
    let clock = ManualClock::new();
    let ring = KeyRing::from_store(managed(store.clone()), Arc::new(clock.clone()), 30)
        .await
        .unwrap();
    let validator = LocalJwtValidator::new(
        ring.clone(),
        ISS,
        ResourceUri::parse(AUD).unwrap(),
        Arc::new(clock.clone()),
    );
    assert!(
        validator
            .validate(&token(ring.clone(), clock.now()))
            .await
            .is_ok()
    );
    let before = store.reads.load(Ordering::SeqCst);
    for _ in 0..50 {
        let stranger = SigningKey::generate(SigningAlgorithm::Es256).unwrap();
        let forged = token(KeySet::new(stranger), clock.now());
        assert!(matches!(
            validator.validate(&forged).await,
            Err(TokenRejection::UnknownKey(_))
        ));
    }
    let reads = store.reads.load(Ordering::SeqCst) - before;
    assert!(
        (1..=2).contains(&reads),
        "50 unknown key ids in well under a second read the store {reads} times"
    );
}

#[tokio::test]
async fn the_store_is_reread_when_the_interval_has_passed_on_the_clock() {
    let store = Arc::new(Counting::default());
    let clock = ManualClock::new();
    let ring = KeyRing::from_store(managed(store.clone()), Arc::new(clock.clone()), 30)
        .await
        .unwrap();
    let reads = || store.reads.load(Ordering::SeqCst);
    let start = reads();
    ring.refresh_if_due().await;
    clock.advance(29);
    ring.refresh_if_due().await;
    assert_eq!(reads(), start, "within the interval nothing is read");
    clock.advance(1);
    ring.refresh_if_due().await;
    assert_eq!(reads(), start + 1, "after it, one read");
    ring.refresh_if_due().await;
    assert_eq!(reads(), start + 1);
}

#[tokio::test]
async fn another_writers_rotation_is_followed_and_fixed_keys_cannot_rotate() {
    let store = Arc::new(Counting::default());
    let clock = ManualClock::new();
    let keys = managed(store.clone());
    let a = KeyRing::from_store(keys.clone(), Arc::new(clock.clone()), 30)
        .await
        .unwrap();
    let b = KeyRing::from_store(keys, Arc::new(clock.clone()), 30)
        .await
        .unwrap();
    let first = a.current().active().kid().to_owned();
    assert_eq!(b.current().active().kid(), first, "one key set");
    let out = a.rotate(true).await.unwrap();
    let second = a.current().active().kid().to_owned();
    assert_ne!(second, first);
    assert_eq!(out.snapshot.keys.len(), 2);
    // B still signs with the first key (now retired, still published) until
    // its interval passes; its JWKS then lists both.
    assert_eq!(b.current().active().kid(), first);
    clock.advance(30);
    b.refresh_if_due().await;
    assert_eq!(b.current().active().kid(), second);
    assert_eq!(b.jwks()["keys"].as_array().unwrap().len(), 2);
    assert_eq!(b.cache_control(), "public, max-age=3600");

    let fixed = KeyRing::fixed(KeySet::new(
        SigningKey::generate(SigningAlgorithm::Es256).unwrap(),
    ));
    assert!(matches!(
        fixed.rotate(true).await,
        Err(KeyOpsError::OperatorKeys)
    ));
    assert!(!fixed.reload_for_kid("nope").await);
}
