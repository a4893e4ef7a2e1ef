//! What the limits are: per endpoint, per client address and per client id
//! ([`RateLimitConfig`]), with the proxies trusted for the address.

use std::collections::HashMap;
use std::time::Duration;

use super::TrustedProxies;
use crate::error::ConfigError;
use crate::store::GcraRule;

/// An endpoint with its own limits.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /register` (RFC 7591).
    Register,
    /// `POST /token`.
    Token,
    /// `GET /authorize`: each one stores a pending request.
    AuthorizeGet,
    /// `POST /authorize`: the login form (each one may check a password).
    AuthorizePost,
    /// `POST /revoke` (RFC 7009).
    Revoke,
    /// `POST /introspect` (RFC 7662).
    Introspect,
}

impl Endpoint {
    /// Every limited endpoint.
    pub const ALL: [Endpoint; 6] = [
        Self::Register,
        Self::Token,
        Self::AuthorizeGet,
        Self::AuthorizePost,
        Self::Revoke,
        Self::Introspect,
    ];

    /// A short name (`register`, `token`, `authorize_get`, …), used in
    /// bucket names and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::Token => "token",
            Self::AuthorizeGet => "authorize_get",
            Self::AuthorizePost => "authorize_post",
            Self::Revoke => "revoke",
            Self::Introspect => "introspect",
        }
    }

    /// How the endpoint is called, for messages (`POST /token`).
    pub fn describe(self) -> &'static str {
        match self {
            Self::Register => "POST /register",
            Self::Token => "POST /token",
            Self::AuthorizeGet => "GET /authorize",
            Self::AuthorizePost => "POST /authorize",
            Self::Revoke => "POST /revoke",
            Self::Introspect => "POST /introspect",
        }
    }
}

/// A limit: `count` requests per `period`, all of which may come at once
/// (then one every `period / count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub(super) count: u32,
    pub(super) period: Duration,
}

impl Limit {
    /// `count` requests per `period`.
    pub fn per_period(count: u32, period: Duration) -> Self {
        Self { count, period }
    }

    /// `count` requests per minute.
    pub fn per_minute(count: u32) -> Self {
        Self::per_period(count, Duration::from_secs(60))
    }

    /// `count` requests per hour.
    pub fn per_hour(count: u32) -> Self {
        Self::per_period(count, Duration::from_secs(3600))
    }

    /// Requests allowed per period.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    pub(super) fn rule(&self) -> GcraRule {
        GcraRule::per_period(self.count, self.period)
    }

    fn validate(&self, what: &str) -> Result<(), ConfigError> {
        let bad = |reason: String| Err(ConfigError::new("rate_limits", reason));
        if self.count == 0 {
            return bad(format!(
                "the {what} limit allows 0 requests; allow at least 1, or disable it with dangerously_disable"
            ));
        }
        if self.period < Duration::from_secs(1) || self.period > Duration::from_secs(24 * 3600) {
            return bad(format!(
                "the {what} limit's period is {:?}; use between 1 second and 24 hours",
                self.period
            ));
        }
        if self.period.as_millis() < u128::from(self.count) {
            return bad(format!(
                "the {what} limit allows more than one request per millisecond; that is no limit, disable it instead"
            ));
        }
        Ok(())
    }
}

/// Who a limit counts requests of.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitScope {
    /// The client's network address (an IPv6 address counts with its /64).
    Address,
    /// The OAuth client id.
    Client,
}

impl LimitScope {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Address => "addr",
            Self::Client => "client",
        }
    }
}

/// Per-endpoint limits, by address and by client id; see
/// [`RateLimitConfig::default`] for the defaults.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitConfig {
    pub(super) limits: HashMap<(Endpoint, LimitScope), Option<Limit>>,
    proxies: TrustedProxies,
    pub(super) max_tracked_keys: usize,
    pub(super) in_store: bool,
}

impl Default for RateLimitConfig {
    /// Per client address: `/register` 30 per 10 minutes, `/token` 300 per
    /// minute, `GET /authorize` 60 per minute, `POST /authorize` 30 per
    /// minute, `/revoke` 60 per minute, `/introspect` 600 per minute. Per
    /// client id (confidential clients, counted once they authenticated):
    /// `/token` 120 per minute, `/revoke` 60 per minute, `/introspect` 600
    /// per minute. Each allows its whole count at once, then refills evenly
    /// over the period. No proxy trusted; buckets kept in process, at most
    /// 100,000 addresses (or clients) tracked per limit.
    fn default() -> Self {
        use Endpoint::*;
        use LimitScope::*;
        let limits = [
            (
                (Register, Address),
                Limit::per_period(30, Duration::from_secs(600)),
            ),
            ((Token, Address), Limit::per_minute(300)),
            ((AuthorizeGet, Address), Limit::per_minute(60)),
            ((AuthorizePost, Address), Limit::per_minute(30)),
            ((Revoke, Address), Limit::per_minute(60)),
            ((Introspect, Address), Limit::per_minute(600)),
            ((Token, Client), Limit::per_minute(120)),
            ((Revoke, Client), Limit::per_minute(60)),
            ((Introspect, Client), Limit::per_minute(600)),
        ];
        Self {
            limits: limits.into_iter().map(|(k, l)| (k, Some(l))).collect(),
            proxies: TrustedProxies::none(),
            max_tracked_keys: 100_000,
            in_store: false,
        }
    }
}

impl RateLimitConfig {
    /// Sets the per-address limit of `endpoint`.
    pub fn limit(mut self, endpoint: Endpoint, limit: Limit) -> Self {
        self.limits
            .insert((endpoint, LimitScope::Address), Some(limit));
        self
    }

    /// Sets the per-client-id limit of `endpoint`.
    pub fn client_limit(mut self, endpoint: Endpoint, limit: Limit) -> Self {
        self.limits
            .insert((endpoint, LimitScope::Client), Some(limit));
        self
    }

    /// Removes every limit of `endpoint` (by address and by client).
    pub fn dangerously_disable(mut self, endpoint: Endpoint) -> Self {
        for scope in [LimitScope::Address, LimitScope::Client] {
            self.limits.insert((endpoint, scope), None);
        }
        self
    }

    /// Removes every limit.
    pub fn dangerously_disable_all(mut self) -> Self {
        for e in Endpoint::ALL {
            self = self.dangerously_disable(e);
        }
        self
    }

    /// Trusts these proxies' forwarding header for the client address.
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.proxies = proxies;
        self
    }

    /// The most addresses (or client ids) one limit tracks in process
    /// (default 100,000, about 10 MB). Past that, buckets that are full again
    /// are dropped; if all are live, every further request shares one
    /// overflow bucket until some are.
    pub fn max_tracked_keys(mut self, n: usize) -> Self {
        self.max_tracked_keys = n;
        self
    }

    /// Keeps the buckets in the authorization server's store (one atomic
    /// store operation per limited request) instead of in this process, so
    /// that the limits hold across every replica sharing the store: use it
    /// with a PostgreSQL store behind a load balancer.
    pub fn in_store(mut self) -> Self {
        self.in_store = true;
        self
    }

    /// True if the buckets are kept in the store ([`RateLimitConfig::in_store`]).
    pub fn is_in_store(&self) -> bool {
        self.in_store
    }

    /// The proxies trusted for the client address.
    pub fn proxies(&self) -> &TrustedProxies {
        &self.proxies
    }

    /// The limit of `endpoint` for `scope`, if any.
    pub fn get(&self, endpoint: Endpoint, scope: LimitScope) -> Option<Limit> {
        self.limits.get(&(endpoint, scope)).copied().flatten()
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        for ((endpoint, scope), limit) in &self.limits {
            if let Some(l) = limit {
                l.validate(&format!("{} per-{:?}", endpoint.describe(), scope).to_lowercase())?;
            }
        }
        if self.max_tracked_keys == 0 {
            return Err(ConfigError::new(
                "rate_limits",
                "max_tracked_keys is 0; allow at least 1 (the default is 100000)",
            ));
        }
        Ok(())
    }
}
