//! What [`super::Cleanup::purge`] removes, and for how long records that are
//! no longer live are still kept because they still mean something.

/// How long records that are no longer live are kept (seconds).
///
/// Everything with an expiry (pending logins, codes, refresh tokens,
/// registered clients with a lifetime, rate-limit buckets) goes once expired;
/// these say how long the rest is remembered.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// A revoked grant (or the tombstone of a grant revoked before it was
    /// stored) is remembered this long after its revocation, so that the
    /// access tokens it issued keep being refused until they expire. Must be
    /// at least the access-token lifetime plus the validation leeway.
    /// Default: 24 hours.
    pub revoked_grants: i64,
    /// A grant with no refresh token left (never issued one, or all expired)
    /// is dropped this long after it was created: by then every access token
    /// it issued has expired. Default: 24 hours.
    pub idle_grants: i64,
    /// A rotated-out refresh token (two or more generations behind) is
    /// remembered for reuse detection at least this long after it was issued;
    /// after that its reuse is refused as an unknown token, without revoking
    /// the grant. Default: 7 days.
    pub retired_refresh_tokens: i64,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            revoked_grants: 24 * 3600,
            idle_grants: 24 * 3600,
            retired_refresh_tokens: 7 * 24 * 3600,
        }
    }
}

impl Retention {
    /// The defaults, raised where needed so that every access token of the
    /// given lifetime (seconds, plus `leeway`) outlives the record that can
    /// revoke it.
    pub fn for_access_token_ttl(access_token_ttl: i64, leeway: i64) -> Self {
        let floor = access_token_ttl.saturating_add(leeway).max(0);
        let d = Self::default();
        Self {
            revoked_grants: d.revoked_grants.max(floor),
            idle_grants: d.idle_grants.max(floor),
            ..d
        }
    }

    /// Sets [`Retention::retired_refresh_tokens`] (seconds).
    pub fn with_retired_refresh_tokens(mut self, secs: i64) -> Self {
        self.retired_refresh_tokens = secs.max(0);
        self
    }
}

/// What one purge removed, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Expired pending authorization requests.
    pub pending: u64,
    /// Expired authorization codes (spent or not).
    pub codes: u64,
    /// Expired single-use markers ([`super::ReplayStore`]).
    pub replay_markers: u64,
    /// Expired refresh tokens and retired ones past their retention.
    pub refresh_tokens: u64,
    /// Revoked grants and tombstones past their retention, and idle grants.
    pub grants: u64,
    /// Registered clients past their expiry.
    pub clients: u64,
    /// Rate-limit buckets that are full again.
    pub rate_limits: u64,
    /// Expired upstream-login records (flows, consents, browser sessions,
    /// token records).
    pub upstream: u64,
}

impl PurgeReport {
    /// Every record removed.
    pub fn total(&self) -> u64 {
        self.pending
            + self.codes
            + self.replay_markers
            + self.refresh_tokens
            + self.grants
            + self.clients
            + self.rate_limits
            + self.upstream
    }
}

/// The outcome of
/// [`super::AuthorizationStore::consume_login_attempt_unless_backing_off`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuardedLoginAttempt {
    /// The username's bucket is backing off: nothing was counted.
    BackingOff {
        /// Milliseconds until the bucket allows an attempt (at least 1).
        retry_after_ms: i64,
    },
    /// Not backing off: the attempt as
    /// [`super::AuthorizationStore::consume_login_attempt_reading`] counts
    /// and reads it.
    Counted(LoginAttempt, Option<super::PendingAuthorization>),
}

/// The outcome of [`super::AuthorizationStore::consume_login_attempt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginAttempt {
    /// The attempt is counted; this many remain after it (0: this is the
    /// last one, and a failure must discard the request).
    Granted {
        /// Attempts left after this one.
        remaining: u32,
    },
    /// Every attempt was used: the request is now discarded.
    Exhausted,
    /// No such pending request (unknown, expired or already completed).
    Unknown,
}
