//! Signing keys managed in the store: [`KeyProtection`] seals a private key
//! into a [`SigningKeyRecord`] and opens it again; [`ManagedKeys`] applies
//! the lifecycle rule of [`crate::token::rotation`] to a [`KeyStore`] with
//! compare-and-set writes, and writes an audit event ([`crate::events`])
//! for every step it makes.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use oauth_mcp_core::crypto::KeyEncryptionKey;
//! use oauth_mcp_core::store::MemoryStore;
//! use oauth_mcp_core::token::managed::{KeyProtection, ManagedKeys};
//! use oauth_mcp_core::token::rotation::KeySchedule;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let kek = KeyEncryptionKey::from_base64(KeyEncryptionKey::generate_base64().secret())?;
//! let schedule = KeySchedule::new(Duration::from_secs(3600)).validate()?;
//! let keys = ManagedKeys::new(Arc::new(MemoryStore::new()), KeyProtection::encrypted(kek), schedule);
//!
//! let now = 1_800_000_000;
//! let done = keys.maintain(now).await?; // first run: creates the first key
//! let names: Vec<_> = done.events.iter().map(|e| e.kind.as_str()).collect();
//! assert_eq!(names, ["key.created", "key.published", "key.activated"]);
//! let set = keys.key_set(&done.snapshot)?.expect("one active key");
//! assert_eq!(set.active().kid(), done.snapshot.keys[0].kid);
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::crypto::{CryptoError, KeyEncryptionKey};
use crate::error::StoreError;
use crate::store::keys::{
    KeyChange, KeySetSnapshot, KeyStore, KeyWrite, SigningKeyRecord, StoredPrivateKey,
    apply_key_changes, sort_keys,
};
use crate::token::rotation::{
    KeyEvent, KeyPlanRefusal, KeySchedule, KeyStep, changes_for, events_for, plan_maintenance,
    plan_retirement, plan_rotation, signing_key,
};
use crate::token::{KeyError, KeySet, SigningAlgorithm, SigningKey};

/// How private keys are protected in the store: sealed with the
/// operator's key-encryption key, or (by an opt-out named as dangerous)
/// not at all. `Debug` never shows key material.
#[derive(Debug, Clone)]
pub struct KeyProtection {
    kek: Option<KeyEncryptionKey>,
}

/// Why a stored key cannot be used.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyRecordError {
    /// The key is sealed and no key-encryption key was given.
    #[error(
        "signing key {kid} in the store is encrypted, and no key-encryption key was given: give the key-encryption key it was sealed with"
    )]
    NoKeyEncryptionKey {
        /// The key.
        kid: String,
    },
    /// The key is stored in the clear although a key-encryption key was
    /// given: refused, because anyone with write access to the store could
    /// have planted it.
    #[error(
        "signing key {kid} is stored unencrypted, but a key-encryption key was given: refusing it (anyone with write access to the store could have planted it); retire it with `oauth-mcp keys retire {kid} --remove-now`"
    )]
    Unencrypted {
        /// The key.
        kid: String,
    },
    /// Decryption failed: wrong key-encryption key, or altered data.
    #[error("signing key {kid} cannot be decrypted: {source}")]
    Crypto {
        /// The key.
        kid: String,
        /// Why.
        source: CryptoError,
    },
    /// The decrypted bytes are not the key the record names.
    #[error("signing key {kid} in the store is unusable: {reason}")]
    Invalid {
        /// The key.
        kid: String,
        /// Why.
        reason: String,
    },
}

impl KeyProtection {
    /// Seal private keys with `kek` (AES-256-GCM), and accept only sealed keys.
    pub fn encrypted(kek: KeyEncryptionKey) -> Self {
        Self { kek: Some(kek) }
    }

    /// Store private keys in the clear, readable by anyone who can read the
    /// store (its files, its backups, its replicas). Only for throw-away
    /// setups.
    pub fn dangerously_unencrypted() -> Self {
        Self { kek: None }
    }

    /// The key-encryption key, if keys are sealed.
    pub fn key_encryption_key(&self) -> Option<&KeyEncryptionKey> {
        self.kek.as_ref()
    }

    /// A record for `key`, created and published at `now`, not active.
    pub fn seal(&self, key: &SigningKey, now: i64) -> Result<SigningKeyRecord, KeyRecordError> {
        let der = key.encoding().as_bytes();
        let private_key = match &self.kek {
            Some(kek) => StoredPrivateKey::Sealed(
                kek.seal(&aad(key.kid(), key.algorithm()), der)
                    .map_err(|source| KeyRecordError::Crypto {
                        kid: key.kid().to_owned(),
                        source,
                    })?,
            ),
            None => StoredPrivateKey::Unencrypted(der.to_vec()),
        };
        let public_jwk =
            serde_json::to_string(key.public_jwk()).map_err(|e| KeyRecordError::Invalid {
                kid: key.kid().to_owned(),
                reason: format!("cannot encode the public JWK: {e}"),
            })?;
        Ok(SigningKeyRecord {
            kid: key.kid().to_owned(),
            algorithm: key.algorithm(),
            public_jwk,
            private_key,
            created_at: now,
            published_at: now,
            activated_at: None,
            retired_at: None,
            remove_after: None,
        })
    }

    /// The signing key of `record`. Its `kid` is derived again from the
    /// private key and must match the record's.
    pub fn open(&self, record: &SigningKeyRecord) -> Result<SigningKey, KeyRecordError> {
        let kid = || record.kid.clone();
        let der = match (&record.private_key, &self.kek) {
            (StoredPrivateKey::Sealed(sealed), Some(kek)) => kek
                .open(&aad(&record.kid, record.algorithm), sealed)
                .map_err(|source| KeyRecordError::Crypto { kid: kid(), source })?,
            (StoredPrivateKey::Sealed(_), None) => {
                return Err(KeyRecordError::NoKeyEncryptionKey { kid: kid() });
            }
            (StoredPrivateKey::Unencrypted(der), None) => der.clone(),
            (StoredPrivateKey::Unencrypted(_), Some(_)) => {
                return Err(KeyRecordError::Unencrypted { kid: kid() });
            }
        };
        let key = SigningKey::from_pkcs8_der(record.algorithm, &der).map_err(|e| {
            KeyRecordError::Invalid {
                kid: kid(),
                reason: e.to_string(),
            }
        })?;
        if key.kid() != record.kid {
            return Err(KeyRecordError::Invalid {
                kid: kid(),
                reason: format!("its private key has kid {}", key.kid()),
            });
        }
        Ok(key)
    }
}

/// The associated data a sealed private key is bound to.
fn aad(kid: &str, alg: SigningAlgorithm) -> Vec<u8> {
    format!("oauth-mcp signing key\0{kid}\0{}", alg.as_str()).into_bytes()
}

/// Why a key operation failed.
#[non_exhaustive]
#[derive(Debug, Clone, thiserror::Error)]
pub enum KeyOpsError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored key cannot be used.
    #[error(transparent)]
    Record(#[from] KeyRecordError),
    /// A new key could not be generated.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The operator's request does not fit the key set.
    #[error(transparent)]
    Refused(#[from] KeyPlanRefusal),
    /// Other writers kept changing the key set; try again.
    #[error("the key set kept changing under {attempts} attempts to write it; try again")]
    Contention {
        /// Attempts made.
        attempts: u32,
    },
    /// The store's key set has no active key after maintenance.
    #[error(
        "the store's key set has no active signing key; run `oauth-mcp keys rotate --immediate`"
    )]
    NoActiveKey,
    /// The server signs with the operator's keys, not the store's.
    #[error(
        "this server signs with the operator's keys (a key file, `signing_keys`): rotate by replacing them, or drop them to use the store's keys"
    )]
    OperatorKeys,
}

/// What an operation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOutcome {
    /// The key set afterwards.
    pub snapshot: KeySetSnapshot,
    /// The lifecycle steps written, in order (each also went to the audit log).
    pub events: Vec<KeyEvent>,
    /// When maintenance is next due, if nothing else changes.
    pub next_due: Option<i64>,
}

/// How often a write is retried after another writer got in first.
const ATTEMPTS: u32 = 8;

/// The key lifecycle on a [`KeyStore`]: scheduled maintenance, operator
/// rotation and retirement, and the [`KeySet`] to sign with. Cheap to clone.
#[derive(Clone)]
pub struct ManagedKeys {
    store: Arc<dyn KeyStore>,
    protection: KeyProtection,
    schedule: KeySchedule,
    algorithm: SigningAlgorithm,
}

impl std::fmt::Debug for ManagedKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagedKeys")
            .field("protection", &self.protection)
            .field("schedule", &self.schedule)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl ManagedKeys {
    /// Keys in `store`, protected by `protection`, rotated on `schedule`
    /// (validate it first); new keys are ES256.
    pub fn new(store: Arc<dyn KeyStore>, protection: KeyProtection, schedule: KeySchedule) -> Self {
        Self {
            store,
            protection,
            schedule,
            algorithm: SigningAlgorithm::Es256,
        }
    }

    /// The algorithm of new keys (default ES256).
    #[must_use]
    pub fn with_algorithm(mut self, algorithm: SigningAlgorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// The schedule.
    pub fn schedule(&self) -> &KeySchedule {
        &self.schedule
    }

    /// The protection.
    pub fn protection(&self) -> &KeyProtection {
        &self.protection
    }

    /// Reads the key set.
    pub async fn snapshot(&self) -> Result<KeySetSnapshot, KeyOpsError> {
        Ok(self.store.list_keys().await?)
    }

    /// The keys to sign and verify with: the active key, plus every other
    /// published or retired key for verification. `None` if no key is
    /// active. Fails if any key cannot be opened (wrong key-encryption key).
    pub fn key_set(&self, snapshot: &KeySetSnapshot) -> Result<Option<KeySet>, KeyOpsError> {
        let Some(active) = signing_key(&snapshot.keys) else {
            return Ok(None);
        };
        let mut set = KeySet::new(self.protection.open(active)?);
        for record in snapshot.keys.iter().filter(|k| k.kid != active.kid) {
            set = set.with_previous(self.protection.open(record)?);
        }
        Ok(Some(set))
    }

    /// Makes every scheduled step due at `now` (creating the first key of
    /// an empty store, publishing, activating, retiring, removing), until
    /// nothing more is due. Safe to run from every replica at once: each
    /// step is written by exactly one of them.
    pub async fn maintain(&self, now: i64) -> Result<KeyOutcome, KeyOpsError> {
        let mut snapshot = self.store.list_keys().await?;
        let mut events = Vec::new();
        for _ in 0..ATTEMPTS {
            let plan = plan_maintenance(&snapshot.keys, now, &self.schedule);
            if plan.steps.is_empty() {
                return Ok(KeyOutcome {
                    snapshot,
                    events,
                    next_due: plan.next_due,
                });
            }
            match self.write(&snapshot, &plan.steps, now, "schedule").await? {
                Some((after, mut done)) => {
                    snapshot = after;
                    events.append(&mut done);
                }
                None => snapshot = self.store.list_keys().await?,
            }
        }
        Err(KeyOpsError::Contention { attempts: ATTEMPTS })
    }

    /// An operator's rotation at `now` (see
    /// [`crate::token::rotation::plan_rotation`]): publish a successor, or
    /// with `immediate` switch to it at once.
    pub async fn rotate(&self, now: i64, immediate: bool) -> Result<KeyOutcome, KeyOpsError> {
        self.operate(now, "rotate", |keys| {
            plan_rotation(keys, now, &self.schedule, immediate)
        })
        .await
    }

    /// An operator's retirement of `kid` at `now` (see
    /// [`crate::token::rotation::plan_retirement`]).
    pub async fn retire(
        &self,
        kid: &str,
        now: i64,
        remove_now: bool,
    ) -> Result<KeyOutcome, KeyOpsError> {
        self.operate(now, "retire", |keys| {
            plan_retirement(keys, kid, now, &self.schedule, remove_now)
        })
        .await
    }

    async fn operate(
        &self,
        now: i64,
        cause: &str,
        plan: impl Fn(&[SigningKeyRecord]) -> Result<Vec<KeyStep>, KeyPlanRefusal>,
    ) -> Result<KeyOutcome, KeyOpsError> {
        for _ in 0..ATTEMPTS {
            let snapshot = self.store.list_keys().await?;
            let steps = plan(&snapshot.keys)?;
            if steps.is_empty() {
                return Ok(self.outcome(snapshot, Vec::new(), now));
            }
            if let Some((after, events)) = self.write(&snapshot, &steps, now, cause).await? {
                return Ok(self.outcome(after, events, now));
            }
        }
        Err(KeyOpsError::Contention { attempts: ATTEMPTS })
    }

    fn outcome(&self, snapshot: KeySetSnapshot, events: Vec<KeyEvent>, now: i64) -> KeyOutcome {
        let next_due = plan_maintenance(&snapshot.keys, now, &self.schedule).next_due;
        KeyOutcome {
            snapshot,
            events,
            next_due,
        }
    }

    /// Writes `steps` against `before`'s version. `None`: another writer
    /// got in first (nothing written). Otherwise the key set after the
    /// write, and its events, which are logged here.
    async fn write(
        &self,
        before: &KeySetSnapshot,
        steps: &[KeyStep],
        now: i64,
        cause: &str,
    ) -> Result<Option<(KeySetSnapshot, Vec<KeyEvent>)>, KeyOpsError> {
        let changes = changes_for(steps, &before.keys, now, || {
            let key = SigningKey::generate(self.algorithm)?;
            Ok::<_, KeyOpsError>(self.protection.seal(&key, now)?)
        })?;
        if changes.iter().any(|c| matches!(c, KeyChange::Insert(_))) {
            // A key sealed with a key-encryption key the other keys' holders
            // do not have would break every replica: only add keys next to
            // keys this protection opens (keys this write removes aside).
            for record in &before.keys {
                let removed = changes
                    .iter()
                    .any(|c| matches!(c, KeyChange::Remove { kid } if *kid == record.kid));
                if !removed {
                    self.protection.open(record)?;
                }
            }
        }
        let KeyWrite::Written { version } = self.store.write_keys(before.version, &changes).await?
        else {
            return Ok(None);
        };
        let events = events_for(&changes, &before.keys, now);
        for e in &events {
            e.audit(cause).emit();
        }
        let mut keys: BTreeMap<String, SigningKeyRecord> = before
            .keys
            .iter()
            .map(|k| (k.kid.clone(), k.clone()))
            .collect();
        apply_key_changes(&mut keys, &changes)?;
        let mut keys: Vec<_> = keys.into_values().collect();
        sort_keys(&mut keys);
        Ok(Some((KeySetSnapshot { version, keys }, events)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
