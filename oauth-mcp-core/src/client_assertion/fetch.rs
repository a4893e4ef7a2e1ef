//! How a client's `jwks_uri` is fetched: through the one SSRF-hardened
//! fetcher ([`crate::fetch::fetch_guarded`]), with limits validated once, at
//! start-up.

use std::time::Duration;

use crate::error::ConfigError;
use crate::fetch_limits::{FetchLimits, at_least_one_second};

/// How `jwks_uri` documents are fetched and cached. Every value is checked
/// when the server (or a [`super::ClientAssertionVerifier`]) is built; a bad
/// one is a start-up error naming the value, never silently adjusted.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct JwksFetchConfig {
    pub(crate) fetch: FetchLimits,
    pub(crate) max_age: i64,
    pub(crate) min_refetch_interval: i64,
    pub(crate) failure_ttl: i64,
    pub(crate) capacity: u64,
}

impl Default for JwksFetchConfig {
    fn default() -> Self {
        Self {
            fetch: FetchLimits::new(64 * 1024),
            max_age: 3600,
            min_refetch_interval: 10,
            failure_ttl: 30,
            capacity: 1000,
        }
    }
}

/// The largest JWK Set size that may be configured.
const MAX_BYTES_LIMIT: usize = 1024 * 1024;

impl JwksFetchConfig {
    /// Development only: accept `http://` JWKS URLs on loopback and fetch
    /// from loopback addresses.
    pub fn dangerously_allow_loopback_http(mut self) -> Self {
        self.fetch.allow_loopback_http = true;
        self
    }

    /// The largest JWK Set accepted (default 64 KiB; 1 KiB to 1 MiB).
    pub fn max_bytes(mut self, n: usize) -> Self {
        self.fetch.max_bytes = n;
        self
    }

    /// The total time a fetch may take (default 5 s; at most 30 s).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.fetch.timeout = d;
        self
    }

    /// Cache lifetimes: keys are refetched after `max_age` (default 1 h);
    /// an unknown `kid` refetches at most every `min_refetch_interval`
    /// (10 s); a failed fetch is remembered for `failure_ttl` (30 s), so a
    /// bad URL cannot be used to hammer a host. Each is at least one second,
    /// and the refetch interval at most `max_age`.
    pub fn cache(
        mut self,
        max_age: Duration,
        min_refetch_interval: Duration,
        failure_ttl: Duration,
    ) -> Self {
        let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        self.max_age = secs(max_age);
        self.min_refetch_interval = secs(min_refetch_interval);
        self.failure_ttl = secs(failure_ttl);
        self
    }

    /// How many JWKS URLs are cached at most (default 1000; at least 1).
    pub fn capacity(mut self, n: u64) -> Self {
        self.capacity = n;
        self
    }

    /// Checks every value; the error names it and says what is allowed.
    pub fn validate(&self) -> Result<(), ConfigError> {
        const FIELD: &str = "client_jwks_fetch";
        let bad = |reason: String| Err(ConfigError::new(FIELD, reason));
        self.fetch.validate(
            FIELD,
            1024..=MAX_BYTES_LIMIT,
            "a JWK Set of a few keys is a few KiB",
        )?;
        at_least_one_second(
            FIELD,
            &[
                ("cache max_age", self.max_age),
                ("cache min_refetch_interval", self.min_refetch_interval),
                ("cache failure_ttl", self.failure_ttl),
            ],
        )?;
        if self.min_refetch_interval > self.max_age {
            return bad(format!(
                "cache min_refetch_interval ({} s) is longer than max_age ({} s); it must not be",
                self.min_refetch_interval, self.max_age
            ));
        }
        if self.capacity == 0 {
            return bad("capacity is 0; use at least 1".into());
        }
        Ok(())
    }
}

/// Fetches the JWK Set at `url` through the SSRF-hardened fetcher; `Err`
/// says why not (for the audit log).
#[cfg(feature = "cimd")]
pub(crate) async fn fetch_jwks(url: &str, cfg: &JwksFetchConfig) -> Result<Vec<u8>, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    crate::fetch::fetch_guarded(&parsed, &cfg.fetch)
        .await
        .map(|f| f.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_limits_are_start_up_errors_not_clamped() {
        assert!(JwksFetchConfig::default().validate().is_ok());
        let cases = [
            (JwksFetchConfig::default().max_bytes(10), "max_bytes is 10"),
            (
                JwksFetchConfig::default().max_bytes(2 * MAX_BYTES_LIMIT),
                "max_bytes is 2097152",
            ),
            (
                JwksFetchConfig::default().timeout(Duration::ZERO),
                "timeout is 0ns",
            ),
            (
                JwksFetchConfig::default().timeout(Duration::from_secs(60)),
                "timeout is 60s",
            ),
            (
                JwksFetchConfig::default().cache(
                    Duration::ZERO,
                    Duration::from_secs(1),
                    Duration::from_secs(1),
                ),
                "cache max_age is 0 s",
            ),
            (
                JwksFetchConfig::default().cache(
                    Duration::from_secs(10),
                    Duration::from_secs(60),
                    Duration::from_secs(1),
                ),
                "min_refetch_interval (60 s) is longer than max_age (10 s)",
            ),
            (JwksFetchConfig::default().capacity(0), "capacity is 0"),
        ];
        for (cfg, says) in cases {
            let e = cfg.validate().unwrap_err();
            assert_eq!(e.field, "client_jwks_fetch");
            assert!(e.reason.contains(says), "{says}: {}", e.reason);
        }
    }
}
