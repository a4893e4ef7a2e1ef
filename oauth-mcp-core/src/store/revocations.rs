//! The revocation feed: how a store tells resource servers sharing it which
//! grants were revoked since they last asked, so that their validated-token
//! caches drop those grants' tokens without a store round trip per request
//! (see [`TokenStore::revocations_since`](super::TokenStore::revocations_since)).

/// Where a reader of the feed stands. Opaque to callers: pass back the
/// [`RevocationFeed::next`] of the previous answer. Each store defines its
/// fields' meaning (a sequence number, the store's clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RevocationCursor {
    /// The highest revocation sequence number seen.
    pub seq: i64,
    /// The store's clock when the answer was made (milliseconds), if it
    /// keeps one; stores whose sequence may commit out of order re-send
    /// what was recorded shortly before this.
    pub at_ms: i64,
}

/// Grants revoked since a [`RevocationCursor`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RevocationFeed {
    /// `(sequence number, grant id)` of each revocation recorded after the
    /// cursor. May repeat revocations a previous answer already had (the
    /// reader skips sequence numbers it applied).
    pub revoked: Vec<(i64, String)>,
    /// Pass this to the next call.
    pub next: RevocationCursor,
    /// False when the store can no longer tell everything since the cursor
    /// (its log was purged past it): the reader must then drop every cached
    /// token.
    pub complete: bool,
}
