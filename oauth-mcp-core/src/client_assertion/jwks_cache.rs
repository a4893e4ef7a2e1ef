//! A cache of clients' JWK Sets by `jwks_uri` (moka): bounded in entries,
//! refetched after a maximum age, refetched early when an assertion names an
//! unknown `kid` (at most once per interval per URL), failures remembered
//! briefly. Concurrent lookups of one URL share one fetch.

use std::sync::Arc;

use moka::future::Cache;
use moka::ops::compute::{CompResult, Op};

use super::AssertionError;
use super::fetch::{JwksFetchConfig, fetch_jwks};
use super::keys::ClientKeys;
use crate::events::AuditEvent;

#[derive(Debug)]
struct Fetched {
    keys: Result<Arc<ClientKeys>, String>,
    fetched_at: i64,
}

/// Clients' JWK Sets, by URL.
#[derive(Debug, Clone)]
pub(crate) struct ClientJwksCache {
    cfg: Arc<JwksFetchConfig>,
    cache: Cache<String, Arc<Fetched>>,
}

impl ClientJwksCache {
    /// An empty cache fetching with `cfg` (validated by the caller).
    pub(crate) fn new(cfg: JwksFetchConfig) -> Self {
        Self {
            cache: Cache::builder().max_capacity(cfg.capacity).build(),
            cfg: Arc::new(cfg),
        }
    }

    /// The keys at `url` at `now`, fetching when nothing usable is cached:
    /// never fetched, older than the maximum age, a failure older than its
    /// TTL, or (when `kid` is named and missing) older than the minimum
    /// refetch interval.
    pub(crate) async fn keys(
        &self,
        url: &str,
        kid: Option<&str>,
        now: i64,
    ) -> Result<Arc<ClientKeys>, AssertionError> {
        let cfg = self.cfg.clone();
        let result = self
            .cache
            .entry(url.to_owned())
            .and_compute_with(|cached| {
                let cfg = cfg.clone();
                let url = url.to_owned();
                let kid = kid.map(str::to_owned);
                async move {
                    if let Some(entry) = cached {
                        let f = entry.into_value();
                        let age = now.saturating_sub(f.fetched_at);
                        let keep = match &f.keys {
                            Err(_) => age < cfg.failure_ttl,
                            Ok(keys) => {
                                age < cfg.max_age
                                    && (kid.as_deref().is_none_or(|k| keys.has_kid(k))
                                        || age < cfg.min_refetch_interval)
                            }
                        };
                        if keep {
                            return Op::Nop;
                        }
                    }
                    let keys = fetch_jwks(&url, &cfg)
                        .await
                        .and_then(|body| ClientKeys::from_slice(&body))
                        .map(Arc::new);
                    match &keys {
                        Ok(k) => AuditEvent::ClientJwksFetched {
                            jwks_uri: &url,
                            keys: k.len(),
                        }
                        .emit(),
                        Err(reason) => AuditEvent::ClientJwksRefused {
                            jwks_uri: &url,
                            reason,
                        }
                        .emit(),
                    }
                    Op::Put(Arc::new(Fetched {
                        keys,
                        fetched_at: now,
                    }))
                }
            })
            .await;
        let fetched = match result {
            CompResult::Inserted(e) | CompResult::ReplacedWith(e) | CompResult::Unchanged(e) => {
                e.into_value()
            }
            CompResult::StillNone(_) | CompResult::Removed(_) => {
                return Err(AssertionError::Keys(format!("no JWK Set cached for {url}")));
            }
        };
        let keys = fetched
            .keys
            .clone()
            .map_err(|reason| AssertionError::Keys(format!("{url}: {reason}")))?;
        if let Some(k) = kid
            && !keys.has_kid(k)
        {
            return Err(AssertionError::UnknownKey(k.to_owned()));
        }
        Ok(keys)
    }
}
