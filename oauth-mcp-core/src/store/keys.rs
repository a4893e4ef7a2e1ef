//! Signing keys as store records, shared by every replica.
//!
//! The store holds the key set (every key's public JWK, its private key
//! sealed with the operator's key-encryption key, and its lifecycle times)
//! and a **version** that every write compares and bumps. A replica reads a
//! [`KeySetSnapshot`], decides what to change (the rule is
//! [`crate::token::rotation`], the same for every store), and writes the
//! changes with [`KeyStore::write_keys`] only if the version is still the
//! one it read. So of two replicas that decide at the same moment to create
//! the first key, or to activate a successor, exactly one succeeds; the
//! other gets [`KeyWrite::Stale`], reads again and finds the work done.
//! Two replicas therefore never activate different keys.
//!
//! Every operation the key lifecycle needs is such a write: create the
//! first key (an insert written against the version of an empty set),
//! publish a successor (an insert), rotate (activate the successor and
//! retire the old key in one write), retire, remove.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::error::StoreError;
use crate::token::SigningAlgorithm;

/// A signing key's private part as stored.
#[derive(Clone, PartialEq, Eq)]
pub enum StoredPrivateKey {
    /// PKCS#8 DER sealed with the operator's key-encryption key
    /// (AES-256-GCM, see [`crate::crypto`]), bound to the key's `kid` and
    /// algorithm.
    Sealed(Vec<u8>),
    /// PKCS#8 DER in the clear. Only written, and only accepted, when the
    /// operator chose `KeyProtection::dangerously_unencrypted`.
    Unencrypted(Vec<u8>),
}

impl StoredPrivateKey {
    /// The bytes as stored (sealed, or the clear DER).
    pub fn bytes(&self) -> &[u8] {
        match self {
            Self::Sealed(b) | Self::Unencrypted(b) => b,
        }
    }

    /// `aes-256-gcm` or `none`: how the bytes are protected (the SQL stores'
    /// `protection` column).
    pub fn protection_name(&self) -> &'static str {
        match self {
            Self::Sealed(_) => "aes-256-gcm",
            Self::Unencrypted(_) => "none",
        }
    }

    /// Rebuilds the value from [`Self::protection_name`] and the bytes.
    pub fn from_parts(protection: &str, bytes: Vec<u8>) -> Option<Self> {
        match protection {
            "aes-256-gcm" => Some(Self::Sealed(bytes)),
            "none" => Some(Self::Unencrypted(bytes)),
            _ => None,
        }
    }
}

impl std::fmt::Debug for StoredPrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sealed(b) => write!(f, "Sealed({} bytes)", b.len()),
            Self::Unencrypted(_) => f.write_str("Unencrypted([redacted])"),
        }
    }
}

/// Where a key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPhase {
    /// In the JWKS, not signing yet (resource servers fetch it first).
    Published,
    /// Signing new tokens (and in the JWKS).
    Active,
    /// No longer signing; still in the JWKS until `remove_after`, when every
    /// token it signed has expired.
    Retired,
}

impl KeyPhase {
    /// `published`, `active` or `retired`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Published => "published",
            Self::Active => "active",
            Self::Retired => "retired",
        }
    }
}

/// One signing key as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    /// Key id: the RFC 7638 thumbprint of the public key.
    pub kid: String,
    /// The signing algorithm.
    pub algorithm: SigningAlgorithm,
    /// The public JWK (JSON text), as published in the JWKS.
    pub public_jwk: String,
    /// The private key, sealed (or, by an explicit opt-out, in the clear).
    pub private_key: StoredPrivateKey,
    /// Unix time the record was made.
    pub created_at: i64,
    /// Unix time it first appeared in the JWKS.
    pub published_at: i64,
    /// Unix time it started signing.
    pub activated_at: Option<i64>,
    /// Unix time it stopped signing.
    pub retired_at: Option<i64>,
    /// Unix time after which it leaves the JWKS (set when retired).
    pub remove_after: Option<i64>,
}

impl SigningKeyRecord {
    /// The key's phase, from its times.
    pub fn phase(&self) -> KeyPhase {
        match (self.activated_at, self.retired_at) {
            (_, Some(_)) => KeyPhase::Retired,
            (Some(_), None) => KeyPhase::Active,
            (None, None) => KeyPhase::Published,
        }
    }
}

/// The key set as read from the store: its version and every key, oldest
/// published first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeySetSnapshot {
    /// The version [`KeyStore::write_keys`] compares against.
    pub version: u64,
    /// Every key, ordered by (`published_at`, `kid`).
    pub keys: Vec<SigningKeyRecord>,
}

impl KeySetSnapshot {
    /// The key with this `kid`.
    pub fn find(&self, kid: &str) -> Option<&SigningKeyRecord> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// Keys in a phase, oldest published first.
    pub fn in_phase(&self, phase: KeyPhase) -> impl Iterator<Item = &SigningKeyRecord> {
        self.keys.iter().filter(move |k| k.phase() == phase)
    }
}

/// One change to the key set; [`KeyStore::write_keys`] applies a list of
/// them all or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyChange {
    /// Adds a key ([`StoreError::Duplicate`] if the `kid` exists).
    Insert(SigningKeyRecord),
    /// Sets a key's lifecycle times (the others never change).
    SetLifecycle {
        /// The key.
        kid: String,
        /// New `activated_at`.
        activated_at: Option<i64>,
        /// New `retired_at`.
        retired_at: Option<i64>,
        /// New `remove_after`.
        remove_after: Option<i64>,
    },
    /// Deletes a key (it leaves the JWKS).
    Remove {
        /// The key.
        kid: String,
    },
}

impl KeyChange {
    /// The key this change is about.
    pub fn kid(&self) -> &str {
        match self {
            Self::Insert(r) => &r.kid,
            Self::SetLifecycle { kid, .. } | Self::Remove { kid } => kid,
        }
    }
}

/// What a compare-and-set write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyWrite {
    /// Applied; the key set now has this version.
    Written {
        /// The new version.
        version: u64,
    },
    /// Nothing applied: the key set changed since it was read. Read again
    /// and decide again.
    Stale,
}

/// Signing keys shared by every replica.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// The key set and its version, read consistently (the version is never
    /// newer than the keys).
    async fn list_keys(&self) -> Result<KeySetSnapshot, StoreError>;

    /// Applies `changes` atomically if the key set's version is still
    /// `expected_version`, and bumps the version by one; otherwise changes
    /// nothing and returns [`KeyWrite::Stale`]. Of concurrent writes with
    /// one expected version (from any number of processes), exactly one is
    /// written. A change to an unknown `kid` fails the whole write with
    /// [`StoreError::Other`], an insert of an existing `kid` with
    /// [`StoreError::Duplicate`]; nothing is applied then.
    async fn write_keys(
        &self,
        expected_version: u64,
        changes: &[KeyChange],
    ) -> Result<KeyWrite, StoreError>;

    /// Whether keys written here outlive this process or reach other
    /// processes (files, backups, replicas): then private keys must be
    /// sealed with the operator's key-encryption key. `true` unless the
    /// store lives only in this process's memory.
    fn persists_keys(&self) -> bool {
        true
    }
}

/// Applies `changes` to `keys` (by `kid`), all or nothing, with the error
/// contract of [`KeyStore::write_keys`]. The in-memory store uses it, and so
/// can any store that keeps the key set as one document.
pub fn apply_key_changes(
    keys: &mut BTreeMap<String, SigningKeyRecord>,
    changes: &[KeyChange],
) -> Result<(), StoreError> {
    let mut next = keys.clone();
    for change in changes {
        match change {
            KeyChange::Insert(record) => {
                if next.contains_key(&record.kid) {
                    return Err(StoreError::Duplicate(format!("signing key {}", record.kid)));
                }
                next.insert(record.kid.clone(), record.clone());
            }
            KeyChange::SetLifecycle {
                kid,
                activated_at,
                retired_at,
                remove_after,
            } => {
                let record = next.get_mut(kid).ok_or_else(|| unknown_kid(kid))?;
                record.activated_at = *activated_at;
                record.retired_at = *retired_at;
                record.remove_after = *remove_after;
            }
            KeyChange::Remove { kid } => {
                next.remove(kid).ok_or_else(|| unknown_kid(kid))?;
            }
        }
    }
    *keys = next;
    Ok(())
}

/// The error for a change to a key the store does not hold.
pub fn unknown_kid(kid: &str) -> StoreError {
    StoreError::Other(format!("no signing key with kid {kid} in the store"))
}

/// Orders keys as [`KeySetSnapshot::keys`] promises.
pub fn sort_keys(keys: &mut [SigningKeyRecord]) {
    keys.sort_by(|a, b| {
        a.published_at
            .cmp(&b.published_at)
            .then_with(|| a.kid.cmp(&b.kid))
    });
}

/// The in-memory key set of [`super::MemoryStore`].
#[derive(Debug, Default)]
pub(crate) struct MemoryKeys {
    inner: Mutex<MemoryKeySet>,
}

#[derive(Debug, Default)]
struct MemoryKeySet {
    version: u64,
    keys: BTreeMap<String, SigningKeyRecord>,
}

impl MemoryKeys {
    fn lock(&self) -> Result<MutexGuard<'_, MemoryKeySet>, StoreError> {
        self.inner
            .lock()
            .map_err(|_| StoreError::Other("memory key store lock poisoned".into()))
    }
}

#[async_trait]
impl KeyStore for super::MemoryStore {
    async fn list_keys(&self) -> Result<KeySetSnapshot, StoreError> {
        let g = self.keys.lock()?;
        let mut keys: Vec<_> = g.keys.values().cloned().collect();
        sort_keys(&mut keys);
        Ok(KeySetSnapshot {
            version: g.version,
            keys,
        })
    }

    async fn write_keys(
        &self,
        expected_version: u64,
        changes: &[KeyChange],
    ) -> Result<KeyWrite, StoreError> {
        let mut g = self.keys.lock()?;
        if g.version != expected_version {
            return Ok(KeyWrite::Stale);
        }
        apply_key_changes(&mut g.keys, changes)?;
        g.version += 1;
        Ok(KeyWrite::Written { version: g.version })
    }

    /// Its keys die with the process and reach no other.
    fn persists_keys(&self) -> bool {
        false
    }
}
