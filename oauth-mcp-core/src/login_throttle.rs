//! Login throttling, as store operations so that it holds across replicas:
//!
//! - **Per pending request**: at most [`LoginThrottleConfig::max_attempts_per_request`]
//!   password checks (10 by default); after the last failed one the request
//!   is discarded and the user must start again from the application.
//! - **Per username**: after a burst of failures (5 by default), one more
//!   attempt per interval (one a minute by default). Only failures count, so
//!   a user who types the password right is never slowed down by their own
//!   logins. The bucket is keyed by a hash of the normalised name, whether or
//!   not such a user exists, and the refusal reads the same either way: it
//!   reveals nothing about which names exist.
//!
//! The caller's sequence for one login form submission:
//!
//! ```
//! use std::sync::Arc;
//! use oauth_mcp_core::login_throttle::{LoginThrottle, LoginThrottleConfig, LoginRefusal};
//! use oauth_mcp_core::store::{MemoryStore, Store};
//! # use oauth_mcp_core::store::{AuthorizationStore, PendingAuthorization};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! # let store = Arc::new(MemoryStore::new());
//! # let p = PendingAuthorization { id_hash: "h".into(), client_id: "c".into(), redirect_uri: "http://127.0.0.1/cb".into(),
//! #   redirect_uri_explicit: false, state: None, code_challenge: "x".into(),
//! #   code_challenge_method: oauth_mcp_core::pkce::CodeChallengeMethod::S256,
//! #   scope: oauth_mcp_core::scope::ScopeSet::empty(), resource: oauth_mcp_core::resource::ResourceUri::parse("https://mcp.example/mcp").unwrap(), created_at: 0, expires_at: i64::MAX };
//! # store.insert_pending(p).await.unwrap();
//! let throttle = LoginThrottle::new(LoginThrottleConfig::default()).unwrap();
//! let store: Arc<dyn Store> = store;
//! let permit = match throttle.begin(store.as_ref(), "h", "alice", 0).await {
//!     Ok(p) => p,
//!     Err(LoginRefusal::UsernameBackoff { .. }) => return, // page: try again later
//!     Err(_) => return,                                    // page: start again
//! };
//! let password_ok = false; // … check the password …
//! if !password_ok {
//!     let failed = throttle.failed(store.as_ref(), &permit, 0).await.unwrap();
//!     assert_eq!(failed.remaining, 9);
//!     assert!(!failed.request_discarded);
//! }
//! # }
//! ```

use std::time::Duration;

use crate::error::{ConfigError, StoreError};
use crate::ratelimit::{Limit, RateClock};
use crate::store::{
    GcraRule, GuardedLoginAttempt, LoginAttempt, PendingAuthorization, RateDecision, Store,
};

/// How logins are throttled.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginThrottleConfig {
    /// Password checks one pending request allows (default 10, at most 100).
    pub max_attempts_per_request: u32,
    /// Failed logins a username may have in a burst, and how fast the
    /// allowance refills (default 5 per 5 minutes: after 5 failures, one
    /// attempt a minute).
    pub username_failures: Limit,
}

impl Default for LoginThrottleConfig {
    fn default() -> Self {
        Self {
            max_attempts_per_request: 10,
            username_failures: Limit::per_period(5, Duration::from_secs(300)),
        }
    }
}

impl LoginThrottleConfig {
    /// Sets [`LoginThrottleConfig::max_attempts_per_request`].
    pub fn max_attempts_per_request(mut self, n: u32) -> Self {
        self.max_attempts_per_request = n;
        self
    }

    /// Sets [`LoginThrottleConfig::username_failures`].
    pub fn username_failures(mut self, limit: Limit) -> Self {
        self.username_failures = limit;
        self
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=100).contains(&self.max_attempts_per_request) {
            return Err(ConfigError::new(
                "login_throttle",
                format!(
                    "max_attempts_per_request is {}; use 1 to 100 (default 10)",
                    self.max_attempts_per_request
                ),
            ));
        }
        let l = self.username_failures;
        if l.count() == 0
            || l.period() < Duration::from_secs(1)
            || l.period() > Duration::from_secs(86_400)
        {
            return Err(ConfigError::new(
                "login_throttle",
                "username_failures must allow at least 1 failure per period of 1 second to 24 hours (default 5 per 5 minutes)",
            ));
        }
        Ok(())
    }
}

/// Why a login attempt may not go ahead.
#[non_exhaustive]
#[derive(Debug, Clone, thiserror::Error)]
pub enum LoginRefusal {
    /// The pending request is unknown, expired or already completed.
    #[error("this sign-in request is unknown or has expired; start again from the application")]
    RequestGone,
    /// The request used up its attempts and is now discarded.
    #[error("too many failed sign-in attempts on this request; start again from the application")]
    RequestExhausted,
    /// Too many recent failures for this username (whether or not it exists).
    #[error("too many failed sign-ins for this username; try again in {} s", retry_after_secs(*.retry_after))]
    UsernameBackoff {
        /// How long until one more attempt is allowed.
        retry_after: Duration,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn retry_after_secs(d: Duration) -> u64 {
    u64::try_from(d.as_millis().div_ceil(1000))
        .unwrap_or(u64::MAX)
        .max(1)
}

impl LoginRefusal {
    /// `Retry-After` seconds, for a username backoff.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::UsernameBackoff { retry_after } => Some(retry_after_secs(*retry_after)),
            _ => None,
        }
    }
}

/// An attempt that may go ahead: check the password, and on failure report
/// it with [`LoginThrottle::failed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptPermit {
    id_hash: String,
    bucket: String,
    /// Attempts the request has left after this one.
    pub remaining: u32,
}

/// What a reported failure did.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailedLogin {
    /// Attempts the request has left.
    pub remaining: u32,
    /// True if that was the last attempt: the request is gone.
    pub request_discarded: bool,
}

/// Applies a [`LoginThrottleConfig`] through the store.
#[derive(Debug, Clone)]
pub struct LoginThrottle {
    cfg: LoginThrottleConfig,
    rule: GcraRule,
    clock: RateClock,
}

impl LoginThrottle {
    /// A throttle with `cfg`, on the system clock.
    pub fn new(cfg: LoginThrottleConfig) -> Result<Self, ConfigError> {
        Self::with_clock(cfg, RateClock::system())
    }

    /// A throttle on `clock` (tests: [`RateClock::manual`]).
    pub fn with_clock(cfg: LoginThrottleConfig, clock: RateClock) -> Result<Self, ConfigError> {
        cfg.validate()?;
        Ok(Self::validated(cfg, clock))
    }

    /// A throttle for a configuration already validated (a built
    /// [`crate::ServerConfig`]'s).
    pub(crate) fn validated(cfg: LoginThrottleConfig, clock: RateClock) -> Self {
        let l = cfg.username_failures;
        Self {
            cfg,
            rule: GcraRule::per_period(l.count(), l.period()),
            clock,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &LoginThrottleConfig {
        &self.cfg
    }

    /// Before checking a password for `username` on the pending request
    /// `id_hash`: refuses if the username is backing off (counting nothing),
    /// else counts one attempt on the request. `now` is Unix seconds (the
    /// request's expiry clock).
    pub async fn begin(
        &self,
        store: &dyn Store,
        id_hash: &str,
        username: &str,
        now: i64,
    ) -> Result<AttemptPermit, LoginRefusal> {
        let bucket = self.username_open(store, username).await?;
        let attempt = store
            .consume_login_attempt(id_hash, self.cfg.max_attempts_per_request, now)
            .await?;
        Self::permit(attempt, id_hash, bucket)
    }

    /// [`LoginThrottle::begin`], also reading the pending request with the
    /// counted attempt (one store step on a database, see
    /// [`crate::store::AuthorizationStore::consume_login_attempt_reading`]).
    pub(crate) async fn begin_reading(
        &self,
        store: &dyn Store,
        id_hash: &str,
        username: &str,
        now: i64,
    ) -> Result<(AttemptPermit, PendingAuthorization), LoginRefusal> {
        let max = self.cfg.max_attempts_per_request;
        let bucket = username_bucket(username);
        let guarded = store
            .consume_login_attempt_unless_backing_off(
                id_hash,
                max,
                now,
                &bucket,
                self.rule,
                self.clock.unix_ms(),
            )
            .await?;
        let (attempt, pending) = match guarded {
            Some(GuardedLoginAttempt::BackingOff { retry_after_ms }) => {
                return Err(backoff(retry_after_ms));
            }
            Some(GuardedLoginAttempt::Counted(attempt, pending)) => (attempt, pending),
            // Two steps on a store that cannot do both in one.
            None => {
                self.username_open(store, username).await?;
                store
                    .consume_login_attempt_reading(id_hash, max, now)
                    .await?
            }
        };
        let permit = Self::permit(attempt, id_hash, bucket)?;
        // Counted, then gone (taken or expired in between): gone.
        let pending = pending.ok_or(LoginRefusal::RequestGone)?;
        Ok((permit, pending))
    }

    /// The username's bucket, unless it is backing off.
    async fn username_open(
        &self,
        store: &dyn Store,
        username: &str,
    ) -> Result<String, LoginRefusal> {
        let bucket = username_bucket(username);
        if let RateDecision::Limited { retry_after_ms } = store
            .rate_limit_peek(&bucket, self.rule, self.clock.unix_ms())
            .await?
        {
            return Err(backoff(retry_after_ms));
        }
        Ok(bucket)
    }

    fn permit(
        attempt: LoginAttempt,
        id_hash: &str,
        bucket: String,
    ) -> Result<AttemptPermit, LoginRefusal> {
        match attempt {
            LoginAttempt::Granted { remaining } => Ok(AttemptPermit {
                id_hash: id_hash.to_owned(),
                bucket,
                remaining,
            }),
            LoginAttempt::Exhausted => Err(LoginRefusal::RequestExhausted),
            LoginAttempt::Unknown => Err(LoginRefusal::RequestGone),
        }
    }

    /// After a wrong password (or unknown user): counts a failure for the
    /// username and, if that was the request's last attempt, discards it.
    pub async fn failed(
        &self,
        store: &dyn Store,
        permit: &AttemptPermit,
        now: i64,
    ) -> Result<FailedLogin, StoreError> {
        // A refused hit means the bucket is already empty: nothing to add.
        store
            .rate_limit_hit(&permit.bucket, self.rule, self.clock.unix_ms())
            .await?;
        let request_discarded = permit.remaining == 0;
        if request_discarded {
            store.take_pending(&permit.id_hash, now).await?;
        }
        Ok(FailedLogin {
            remaining: permit.remaining,
            request_discarded,
        })
    }
}

/// The refusal of a username backing off for `retry_after_ms`.
fn backoff(retry_after_ms: i64) -> LoginRefusal {
    LoginRefusal::UsernameBackoff {
        retry_after: Duration::from_millis(u64::try_from(retry_after_ms).unwrap_or(1)),
    }
}

/// The username's bucket: a hash of the trimmed, lower-cased name, so that
/// neither the name nor its length is stored and `Alice` is `alice`.
fn username_bucket(username: &str) -> String {
    let h = crate::ratelimit::sha256(username.trim().to_lowercase().as_bytes());
    let hex: String = h[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("login:user:{hex}")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::pkce::CodeChallengeMethod;
    use crate::scope::ScopeSet;
    use crate::store::{AuthorizationStore, MemoryStore, PendingAuthorization};

    const NOW: i64 = 1_800_000_000;

    async fn pending(store: &MemoryStore, id: &str) {
        store
            .insert_pending(PendingAuthorization {
                id_hash: id.into(),
                client_id: "c".into(),
                redirect_uri: "http://127.0.0.1/cb".into(),
                redirect_uri_explicit: false,
                state: None,
                code_challenge: "x".into(),
                code_challenge_method: CodeChallengeMethod::S256,
                scope: ScopeSet::empty(),
                resource: crate::resource::ResourceUri::parse("https://mcp.example/mcp").unwrap(),
                created_at: NOW,
                expires_at: NOW + 600,
            })
            .await
            .unwrap();
    }

    fn throttle(cfg: LoginThrottleConfig) -> (LoginThrottle, RateClock) {
        let clock = RateClock::manual(NOW * 1000);
        (
            LoginThrottle::with_clock(cfg, clock.clone()).unwrap(),
            clock,
        )
    }

    #[tokio::test]
    async fn ten_attempts_per_request_then_it_is_discarded() {
        let store = Arc::new(MemoryStore::new());
        pending(&store, "req").await;
        // Generous username allowance: only the request limit applies.
        let (t, _) =
            throttle(LoginThrottleConfig::default().username_failures(Limit::per_minute(1000)));
        for i in 1..=10u32 {
            let p = t
                .begin(store.as_ref(), "req", &format!("user{i}"), NOW)
                .await
                .unwrap();
            let f = t.failed(store.as_ref(), &p, NOW).await.unwrap();
            assert_eq!(f.remaining, 10 - i);
            assert_eq!(f.request_discarded, i == 10);
        }
        assert!(matches!(
            t.begin(store.as_ref(), "req", "user11", NOW).await,
            Err(LoginRefusal::RequestGone)
        ));
        assert_eq!(store.get_pending("req", NOW).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_request_left_with_no_attempts_is_exhausted() {
        let store = Arc::new(MemoryStore::new());
        pending(&store, "req").await;
        let (t, _) = throttle(
            LoginThrottleConfig::default()
                .max_attempts_per_request(2)
                .username_failures(Limit::per_minute(1000)),
        );
        // Two attempts begun (e.g. concurrently), neither reported yet.
        t.begin(store.as_ref(), "req", "a", NOW).await.unwrap();
        t.begin(store.as_ref(), "req", "b", NOW).await.unwrap();
        let e = t.begin(store.as_ref(), "req", "c", NOW).await.unwrap_err();
        assert!(matches!(e, LoginRefusal::RequestExhausted), "{e:?}");
        assert!(e.to_string().contains("start again"));
    }

    #[tokio::test]
    async fn username_backoff_after_five_failures_same_for_any_name() {
        let store = Arc::new(MemoryStore::new());
        let (t, clock) = throttle(LoginThrottleConfig::default());
        for name in ["alice", "no-such-user"] {
            for i in 0..5 {
                let id = format!("{name}-{i}");
                pending(&store, &id).await;
                let p = t.begin(store.as_ref(), &id, name, NOW).await.unwrap();
                t.failed(store.as_ref(), &p, NOW).await.unwrap();
            }
            pending(&store, &format!("{name}-6")).await;
            let e = t
                .begin(
                    store.as_ref(),
                    &format!("{name}-6"),
                    &format!(" {} ", name.to_uppercase()),
                    NOW,
                )
                .await
                .unwrap_err();
            assert_eq!(e.retry_after_secs(), Some(60), "{name}: {e}");
            assert_eq!(
                e.to_string(),
                "too many failed sign-ins for this username; try again in 60 s",
                "the same words whether or not the user exists"
            );
            // The refusal did not spend the request's attempts.
            assert_eq!(
                store
                    .consume_login_attempt(&format!("{name}-6"), 10, NOW)
                    .await
                    .unwrap(),
                LoginAttempt::Granted { remaining: 9 }
            );
        }
        // Other names are unaffected; a minute later one more attempt.
        pending(&store, "bob").await;
        assert!(t.begin(store.as_ref(), "bob", "bob", NOW).await.is_ok());
        clock.advance(Duration::from_secs(60));
        pending(&store, "later").await;
        let p = t
            .begin(store.as_ref(), "later", "alice", NOW)
            .await
            .unwrap();
        t.failed(store.as_ref(), &p, NOW).await.unwrap();
        pending(&store, "later2").await;
        assert!(matches!(
            t.begin(store.as_ref(), "later2", "alice", NOW).await,
            Err(LoginRefusal::UsernameBackoff { .. })
        ));
    }

    #[test]
    fn config_is_validated() {
        for cfg in [
            LoginThrottleConfig::default().max_attempts_per_request(0),
            LoginThrottleConfig::default().max_attempts_per_request(101),
            LoginThrottleConfig::default().username_failures(Limit::per_minute(0)),
            LoginThrottleConfig::default()
                .username_failures(Limit::per_period(5, Duration::from_millis(5))),
        ] {
            assert_eq!(LoginThrottle::new(cfg).unwrap_err().field, "login_throttle");
        }
        assert_ne!(username_bucket("alice"), username_bucket("alicf"));
        assert_eq!(username_bucket("Alice "), username_bucket("alice"));
        assert!(!username_bucket("alice").contains("alice"));
    }
}
