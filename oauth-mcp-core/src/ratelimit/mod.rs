//! Rate limits for the authorization server's public endpoints,
//! framework-neutral: the caller says which endpoint was called, from which
//! address (see [`TrustedProxies::client_address`]) and, where known, by
//! which client; [`RateLimiter::check`] counts the request or refuses it with
//! a [`RateLimited`] that says when to retry.
//!
//! Limits are on by default ([`RateLimitConfig::default`]). Buckets live in
//! the process (`governor`'s GCRA, bounded in the number of addresses it
//! tracks) unless the limiter is [`RateLimiter::shared`]: then every request
//! is one atomic store operation ([`RateLimitStore`]), so the limits hold
//! across every replica sharing the store.
//!
//! ```
//! use std::time::Duration;
//! use oauth_mcp_core::ratelimit::{Endpoint, Limit, RateKey, RateLimitConfig, RateLimiter};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let limiter = RateLimiter::new(
//!     RateLimitConfig::default().limit(Endpoint::Register, Limit::per_period(2, Duration::from_secs(60))),
//! )
//! .unwrap();
//! let from = RateKey::address("203.0.113.9".parse().unwrap());
//! assert!(limiter.check(Endpoint::Register, &from).await.is_ok());
//! assert!(limiter.check(Endpoint::Register, &from).await.is_ok());
//! let refused = limiter.check(Endpoint::Register, &from).await.unwrap_err();
//! assert_eq!(refused.limited().unwrap().retry_after_secs(), 30);
//! # }
//! ```

mod address;
mod config;
mod local;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

pub use address::{ForwardedHeader, IpNet, TrustedProxies, canonical};
pub use config::{Endpoint, Limit, LimitScope, RateLimitConfig};
pub use local::RateClock;
use local::{BucketKey, LocalBuckets};

use crate::error::{ConfigError, StoreError};
use crate::store::{RateDecision, RateLimitStore};

/// Who sent a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateKey<'a> {
    /// The client's address (after [`TrustedProxies::client_address`]).
    pub address: IpAddr,
    /// The client id, where known.
    pub client_id: Option<&'a str>,
}

impl<'a> RateKey<'a> {
    /// A request from `address`, client unknown.
    pub fn address(address: IpAddr) -> Self {
        Self {
            address,
            client_id: None,
        }
    }

    /// Adds the client id.
    pub fn with_client(mut self, client_id: &'a str) -> Self {
        self.client_id = Some(client_id);
        self
    }
}

/// A refused request: which limit, and when to retry.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimited {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// Whether the address or the client id is over its limit.
    pub scope: LimitScope,
    /// How long until one request would be allowed again.
    pub retry_after: Duration,
    /// The limit.
    pub limit: Limit,
}

impl RateLimited {
    /// `Retry-After` in whole seconds (rounded up, at least 1).
    pub fn retry_after_secs(&self) -> u64 {
        let ms = self.retry_after.as_millis();
        u64::try_from(ms.div_ceil(1000)).unwrap_or(u64::MAX).max(1)
    }

    /// An `error_description` for the client.
    pub fn description(&self) -> String {
        let who = match self.scope {
            LimitScope::Address => "from this address",
            LimitScope::Client => "by this client",
        };
        format!(
            "too many requests to {} {who} (limit {} per {} s); retry after {} s",
            self.endpoint.describe(),
            self.limit.count,
            self.limit.period.as_secs(),
            self.retry_after_secs()
        )
    }
}

/// Why [`RateLimiter::check`] refused.
#[non_exhaustive]
#[derive(Debug, Clone, thiserror::Error)]
pub enum RateLimitError {
    /// Over a limit.
    #[error("{}", .0.description())]
    Limited(RateLimited),
    /// The shared store failed (answer 503, as for any store outage).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl RateLimitError {
    /// The refusal, if the request was over a limit.
    pub fn limited(&self) -> Option<&RateLimited> {
        match self {
            Self::Limited(l) => Some(l),
            Self::Store(_) => None,
        }
    }
}

/// The one mapping of a refusal to the protocol's error: over a limit is
/// `too_many_requests` (429) with its `Retry-After`; a store failure is
/// answered as any store failure (503 or 500).
impl From<RateLimitError> for crate::error::OAuthError {
    fn from(e: RateLimitError) -> Self {
        match e {
            RateLimitError::Limited(l) => crate::error::OAuthError::new(
                crate::error::ErrorCode::TooManyRequests,
                l.description(),
            )
            .with_retry_after(l.retry_after_secs()),
            RateLimitError::Store(s) => s.into(),
        }
    }
}

/// Counts requests against the configured limits.
pub struct RateLimiter {
    cfg: RateLimitConfig,
    clock: RateClock,
    backend: Backend,
}

enum Backend {
    Local(HashMap<(Endpoint, LimitScope), LocalBuckets>),
    Shared(Arc<dyn RateLimitStore>),
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("config", &self.cfg)
            .field(
                "backend",
                &match &self.backend {
                    Backend::Local(b) => format!("in process ({} buckets)", b.len()),
                    Backend::Shared(_) => "shared store".to_owned(),
                },
            )
            .finish()
    }
}

impl RateLimiter {
    /// A limiter keeping its buckets in this process (`governor`).
    pub fn new(cfg: RateLimitConfig) -> Result<Self, ConfigError> {
        Self::with_clock(cfg, None, RateClock::system())
    }

    /// A limiter keeping its buckets in `store`, so that the limits hold
    /// across every process sharing it. Costs one store operation per
    /// limited request.
    pub fn shared(
        cfg: RateLimitConfig,
        store: Arc<dyn RateLimitStore>,
    ) -> Result<Self, ConfigError> {
        Self::with_clock(cfg, Some(store), RateClock::system())
    }

    /// Either of the above with a given clock (tests: [`RateClock::manual`]).
    pub fn with_clock(
        cfg: RateLimitConfig,
        store: Option<Arc<dyn RateLimitStore>>,
        clock: RateClock,
    ) -> Result<Self, ConfigError> {
        cfg.validate()?;
        Ok(Self::validated(cfg, store, clock))
    }

    /// The limiter of an authorization server whose configuration was
    /// validated when it was built: in `store` if the configuration says
    /// [`RateLimitConfig::in_store`], else in process.
    pub(crate) fn for_server(cfg: RateLimitConfig, store: Arc<dyn RateLimitStore>) -> Self {
        let store = cfg.in_store.then_some(store);
        Self::validated(cfg, store, RateClock::system())
    }

    fn validated(
        cfg: RateLimitConfig,
        store: Option<Arc<dyn RateLimitStore>>,
        clock: RateClock,
    ) -> Self {
        let backend = match store {
            Some(s) => Backend::Shared(s),
            None => Backend::Local(
                cfg.limits
                    .iter()
                    .filter_map(|(k, l)| {
                        l.map(|l| {
                            (
                                *k,
                                LocalBuckets::new(l.rule(), clock.clone(), cfg.max_tracked_keys),
                            )
                        })
                    })
                    .collect(),
            ),
        };
        Self {
            cfg,
            clock,
            backend,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RateLimitConfig {
        &self.cfg
    }

    /// Counts a request to `endpoint` from `key` against the address limit
    /// and, if `key` names a client, the client limit. A request refused by
    /// the address limit is not counted against the client.
    pub async fn check(&self, endpoint: Endpoint, key: &RateKey<'_>) -> Result<(), RateLimitError> {
        self.check_scope(endpoint, LimitScope::Address, key).await?;
        if key.client_id.is_some() {
            self.check_scope(endpoint, LimitScope::Client, key).await?;
        }
        Ok(())
    }

    /// Counts a request to `endpoint` by `client_id` against the client
    /// limit only (the address was counted before, or is unknown).
    pub async fn check_client(
        &self,
        endpoint: Endpoint,
        client_id: &str,
    ) -> Result<(), RateLimitError> {
        let key = RateKey {
            address: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            client_id: Some(client_id),
        };
        self.check_scope(endpoint, LimitScope::Client, &key).await
    }

    async fn check_scope(
        &self,
        endpoint: Endpoint,
        scope: LimitScope,
        key: &RateKey<'_>,
    ) -> Result<(), RateLimitError> {
        let Some(limit) = self.cfg.get(endpoint, scope) else {
            return Ok(());
        };
        let bucket = match (scope, key.client_id) {
            (LimitScope::Client, Some(id)) => BucketKey::Client(sha256(id.as_bytes())),
            _ => BucketKey::Addr(address_bucket(key.address)),
        };
        let refused = |retry_after| {
            RateLimitError::Limited(RateLimited {
                endpoint,
                scope,
                retry_after,
                limit,
            })
        };
        match &self.backend {
            Backend::Local(buckets) => match buckets.get(&(endpoint, scope)) {
                Some(b) => b.hit(bucket).map_err(refused),
                None => Ok(()),
            },
            Backend::Shared(store) => {
                let name = bucket_name(endpoint, scope, &bucket);
                match store
                    .rate_limit_hit(&name, limit.rule(), self.clock.unix_ms())
                    .await?
                {
                    RateDecision::Allowed => Ok(()),
                    RateDecision::Limited { retry_after_ms } => Err(refused(
                        Duration::from_millis(u64::try_from(retry_after_ms).unwrap_or(1)),
                    )),
                }
            }
        }
    }

    /// Addresses and clients tracked in process now (0 for a shared limiter).
    pub fn tracked_keys(&self) -> usize {
        match &self.backend {
            Backend::Local(b) => b.values().map(LocalBuckets::len).sum(),
            Backend::Shared(_) => 0,
        }
    }
}

/// SHA-256 of `bytes` (keys of client ids and user names, so that their
/// size does not depend on what a stranger sent).
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// IPv6 clients usually own a whole /64: count them by it.
fn address_bucket(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => {
            let mut o = v6.octets();
            o[8..].fill(0);
            IpAddr::V6(Ipv6Addr::from(o))
        }
        v4 => v4,
    }
}

/// The store bucket's name: `rl:<endpoint>:<scope>:<address or hash>`.
fn bucket_name(endpoint: Endpoint, scope: LimitScope, key: &BucketKey) -> String {
    let id = match key {
        BucketKey::Addr(ip) => ip.to_string(),
        BucketKey::Client(h) => h[..16].iter().map(|b| format!("{b:02x}")).collect(),
        BucketKey::Overflow => "overflow".to_owned(),
    };
    format!("rl:{}:{}:{id}", endpoint.as_str(), scope.as_str())
}

#[cfg(test)]
mod tests;
