//! Single-use markers: a value (a client assertion's `jti`) may be consumed
//! once until it expires, across every replica sharing the store.

use async_trait::async_trait;

use crate::error::StoreError;

/// Remembers values that may be used only once until they expire, such as
/// the `jti` of an RFC 7523 client assertion.
///
/// Callers pass a fixed-length key (a hash of the client id and the `jti`),
/// never the raw value, and only after the assertion's signature verified,
/// so a stranger cannot fill the store.
#[async_trait]
pub trait ReplayStore: Send + Sync {
    /// Consumes `key` until `expires_at`, atomically: `true` if `key` was not
    /// in use at `now` (this call is its first use), `false` if it was (a
    /// replay). Of many concurrent calls with one key, on any replica,
    /// exactly one gets `true`. A marker whose `expires_at` is at or before
    /// `now` no longer counts: the value may be consumed again (the caller
    /// refuses the expired assertion itself).
    async fn consume_once(&self, key: &str, expires_at: i64, now: i64) -> Result<bool, StoreError>;
}
