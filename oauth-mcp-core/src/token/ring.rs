//! [`KeyRing`]: the signing keys a server uses right now, shared by its
//! token signer, its JWKS endpoint and its local validator.
//!
//! Fixed keys (an operator's key file, or a key made for one process) never
//! change. Keys kept in the store are followed: at most every
//! [`crate::config::KeyRotation::refresh_interval`] (measured on the
//! server's clock), the next request that needs the keys makes the
//! scheduled steps that are due ([`ManagedKeys::maintain`], coordinated with
//! every other replica through the store) and re-reads the key set; and a
//! token naming a key this process does not hold yet re-reads it at once
//! (at most once a second, so invented key ids cannot hammer the store).
//! No background task: nothing runs when nobody asks, and a test moving a
//! [`crate::clock::ManualClock`] sees each step on its next request.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::clock::SharedClock;
use crate::events::AuditEvent;
use crate::store::keys::KeySetSnapshot;
use crate::token::KeySet;
use crate::token::managed::{KeyOpsError, KeyOutcome, ManagedKeys};

/// How often a token with an unknown `kid` may re-read the store's key set.
const UNKNOWN_KID_RELOAD_EVERY: Duration = Duration::from_secs(1);

/// The signing keys in use, swapped as a whole when the store's key set
/// changes. Cheap to clone; clones share the keys.
#[derive(Clone)]
pub struct KeyRing {
    inner: Arc<Inner>,
}

struct Inner {
    current: RwLock<Loaded>,
    cache_control: String,
    store: Option<StoreKeys>,
}

#[derive(Clone)]
struct Loaded {
    keys: Arc<KeySet>,
    /// The store's key-set version these keys came from.
    version: Option<u64>,
}

struct StoreKeys {
    managed: ManagedKeys,
    clock: SharedClock,
    refresh_every: i64,
    /// Clock time from which the next request refreshes.
    refresh_at: AtomicI64,
    /// One refresh or reload at a time.
    busy: tokio::sync::Mutex<()>,
    last_unknown_kid_reload: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let current = self.current();
        f.debug_struct("KeyRing")
            .field("active_kid", &current.active().kid())
            .field("from_store", &self.inner.store.is_some())
            .finish_non_exhaustive()
    }
}

impl From<KeySet> for KeyRing {
    fn from(keys: KeySet) -> Self {
        Self::fixed(keys)
    }
}

impl From<Arc<KeySet>> for KeyRing {
    fn from(keys: Arc<KeySet>) -> Self {
        Self::fixed_shared(keys, String::from("public, max-age=300"))
    }
}

impl KeyRing {
    /// Keys that never change (the JWKS is served with `max-age=300`).
    pub fn fixed(keys: KeySet) -> Self {
        Arc::new(keys).into()
    }

    pub(crate) fn fixed_shared(keys: Arc<KeySet>, cache_control: String) -> Self {
        Self {
            inner: Arc::new(Inner {
                current: RwLock::new(Loaded {
                    keys,
                    version: None,
                }),
                cache_control,
                store: None,
            }),
        }
    }

    /// The store's key set, followed as described in the module docs: makes
    /// the steps due now (the first start creates the first key) and opens
    /// every key, or fails (wrong or missing key-encryption key, store
    /// down). `refresh_every` is in seconds of `clock`.
    pub async fn from_store(
        managed: ManagedKeys,
        clock: SharedClock,
        refresh_every: i64,
    ) -> Result<Self, KeyOpsError> {
        let now = clock.now();
        let outcome = managed.maintain(now).await?;
        let keys = managed
            .key_set(&outcome.snapshot)?
            .ok_or(KeyOpsError::NoActiveKey)?;
        loaded_event(&outcome.snapshot, &keys);
        let refresh_at = next_refresh(now, refresh_every, &outcome);
        let cache_control = managed.schedule().jwks_cache_control();
        Ok(Self {
            inner: Arc::new(Inner {
                current: RwLock::new(Loaded {
                    keys: Arc::new(keys),
                    version: Some(outcome.snapshot.version),
                }),
                cache_control,
                store: Some(StoreKeys {
                    managed,
                    clock,
                    refresh_every,
                    refresh_at: AtomicI64::new(refresh_at),
                    busy: tokio::sync::Mutex::new(()),
                    last_unknown_kid_reload: Mutex::new(None),
                }),
            }),
        })
    }

    /// The keys now: the active key signs, every key verifies.
    pub fn current(&self) -> Arc<KeySet> {
        match self.inner.current.read() {
            Ok(g) => g.keys.clone(),
            Err(poisoned) => poisoned.into_inner().keys.clone(),
        }
    }

    /// The public JWKS document of the keys now.
    pub fn jwks(&self) -> serde_json::Value {
        self.current().jwks()
    }

    /// The JWKS response's `Cache-Control`, fitted to the rotation schedule
    /// ([`crate::token::rotation::KeySchedule::jwks_max_age`]).
    pub fn cache_control(&self) -> &str {
        &self.inner.cache_control
    }

    /// The store's keys, if these keys come from the store.
    pub fn managed(&self) -> Option<&ManagedKeys> {
        self.inner.store.as_ref().map(|s| &s.managed)
    }

    /// If the refresh interval has passed (or a scheduled step is due),
    /// makes the due steps and re-reads the key set. Never fails: a store
    /// error is logged (`keys.refresh_failed`) and the keys in use stay
    /// until the next interval. Returns at once if another request is
    /// refreshing.
    pub async fn refresh_if_due(&self) {
        let Some(store) = &self.inner.store else {
            return;
        };
        let now = store.clock.now();
        if now < store.refresh_at.load(Ordering::Acquire) {
            return;
        }
        let Ok(_busy) = store.busy.try_lock() else {
            return;
        };
        if now < store.refresh_at.load(Ordering::Acquire) {
            return;
        }
        if let Err(e) = self.maintain_locked(store, now).await {
            store
                .refresh_at
                .store(now.saturating_add(store.refresh_every), Ordering::Release);
            AuditEvent::KeysRefreshFailed {
                reason: &e.to_string(),
            }
            .emit();
        }
    }

    /// Makes the due steps and re-reads the key set now.
    pub async fn refresh(&self) -> Result<(), KeyOpsError> {
        let Some(store) = &self.inner.store else {
            return Ok(());
        };
        let _busy = store.busy.lock().await;
        self.maintain_locked(store, store.clock.now()).await
    }

    async fn maintain_locked(&self, store: &StoreKeys, now: i64) -> Result<(), KeyOpsError> {
        let outcome = store.managed.maintain(now).await?;
        self.install(&outcome.snapshot)?;
        store.refresh_at.store(
            next_refresh(now, store.refresh_every, &outcome),
            Ordering::Release,
        );
        Ok(())
    }

    /// Called with a `kid` the keys in use lack: re-reads the store's key
    /// set (at most once a second) and says whether the key is known now.
    pub async fn reload_for_kid(&self, kid: &str) -> bool {
        let Some(store) = &self.inner.store else {
            return false;
        };
        let _busy = store.busy.lock().await;
        // Another request may have loaded it while this one waited.
        if self.current().find(kid).is_some() {
            return true;
        }
        {
            let Ok(mut last) = store.last_unknown_kid_reload.lock() else {
                return false;
            };
            if last.is_some_and(|t| t.elapsed() < UNKNOWN_KID_RELOAD_EVERY) {
                return false;
            }
            *last = Some(Instant::now());
        }
        let reloaded = match store.managed.snapshot().await {
            Ok(snapshot) => self.install(&snapshot),
            Err(e) => Err(e),
        };
        if let Err(e) = reloaded {
            AuditEvent::KeysRefreshFailed {
                reason: &e.to_string(),
            }
            .emit();
        }
        self.current().find(kid).is_some()
    }

    /// An operator's rotation now (see [`ManagedKeys::rotate`]), then the
    /// new key set is used here at once; other replicas follow within
    /// their refresh interval.
    pub async fn rotate(&self, immediate: bool) -> Result<KeyOutcome, KeyOpsError> {
        let store = self.store_or_refuse()?;
        let _busy = store.busy.lock().await;
        let out = store.managed.rotate(store.clock.now(), immediate).await?;
        self.install(&out.snapshot)?;
        Ok(out)
    }

    /// An operator's retirement of `kid` now (see [`ManagedKeys::retire`]).
    pub async fn retire(&self, kid: &str, remove_now: bool) -> Result<KeyOutcome, KeyOpsError> {
        let store = self.store_or_refuse()?;
        let _busy = store.busy.lock().await;
        let out = store
            .managed
            .retire(kid, store.clock.now(), remove_now)
            .await?;
        self.install(&out.snapshot)?;
        Ok(out)
    }

    fn store_or_refuse(&self) -> Result<&StoreKeys, KeyOpsError> {
        self.inner.store.as_ref().ok_or(KeyOpsError::OperatorKeys)
    }

    /// Uses `snapshot`'s keys from now on, unless they are the ones in use.
    fn install(&self, snapshot: &KeySetSnapshot) -> Result<(), KeyOpsError> {
        if self.loaded_version() == Some(snapshot.version) {
            return Ok(());
        }
        let Some(store) = &self.inner.store else {
            return Ok(());
        };
        // A snapshot without an active key (written by hand, or read
        // between two writes) leaves the keys in use alone.
        let Some(keys) = store.managed.key_set(snapshot)? else {
            return Ok(());
        };
        loaded_event(snapshot, &keys);
        let next = Loaded {
            keys: Arc::new(keys),
            version: Some(snapshot.version),
        };
        match self.inner.current.write() {
            Ok(mut g) => {
                // Never go back to an older key set read concurrently.
                if g.version.is_none_or(|v| v < snapshot.version) {
                    *g = next;
                }
            }
            Err(poisoned) => *poisoned.into_inner() = next,
        }
        Ok(())
    }

    fn loaded_version(&self) -> Option<u64> {
        match self.inner.current.read() {
            Ok(g) => g.version,
            Err(poisoned) => poisoned.into_inner().version,
        }
    }
}

fn loaded_event(snapshot: &KeySetSnapshot, keys: &KeySet) {
    AuditEvent::KeysLoaded {
        version: snapshot.version,
        active_kid: keys.active().kid(),
        keys: snapshot.keys.len(),
    }
    .emit();
}

/// The next refresh: after the interval, or when the next scheduled step
/// is due if sooner (but never in the past).
fn next_refresh(now: i64, every: i64, outcome: &KeyOutcome) -> i64 {
    let interval = now.saturating_add(every);
    outcome
        .next_due
        .map_or(interval, |due| due.min(interval))
        .max(now.saturating_add(1))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
