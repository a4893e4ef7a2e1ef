//! Client ID Metadata Documents (the 2026-07-28 MCP registration model):
//! a `client_id` that is an https URL names a JSON document describing the
//! client. This module holds the trust policy, the configuration and the
//! resolver with its bounded cache (failures are cached briefly so a bad URL
//! cannot be used to hammer a host); the document rules are in `document`,
//! the SSRF-hardened fetch in `crate::fetch`.

mod document;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;
use moka::ops::compute::{CompResult, Op};
use serde_json::Value;
use url::Url;

use crate::client::Client;
use crate::error::ConfigError;
use crate::fetch::{FetchLimits, fetch_guarded};
use crate::fetch_limits::at_least_one_second;

pub use crate::fetch::forbidden_address;
pub use document::client_from_document;

/// Decides which client-id URLs (and documents) this server trusts.
pub trait CimdTrustPolicy: Send + Sync + fmt::Debug {
    /// `Ok` if documents at `url` may be used; `Err(reason)` otherwise.
    fn check(&self, url: &Url, document: Option<&Value>) -> Result<(), String>;
}

/// A per-document decision: `Ok` to trust, `Err(reason)` to refuse.
pub type DocumentCheck = Arc<dyn Fn(&Url, &Value) -> Result<(), String> + Send + Sync>;

/// Built-in trust policies.
#[non_exhaustive]
#[derive(Clone)]
pub enum CimdPolicy {
    /// Any https client id (the specification's default).
    AnyHttps,
    /// Only client ids on these hosts (exact, case-insensitive).
    Hosts(Vec<String>),
    /// Your own decision, with the fetched document.
    Callback(DocumentCheck),
}

impl fmt::Debug for CimdPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AnyHttps => f.write_str("AnyHttps"),
            Self::Hosts(h) => f.debug_tuple("Hosts").field(h).finish(),
            Self::Callback(_) => f.write_str("Callback(..)"),
        }
    }
}

impl CimdTrustPolicy for CimdPolicy {
    fn check(&self, url: &Url, document: Option<&Value>) -> Result<(), String> {
        match self {
            Self::AnyHttps => Ok(()),
            Self::Hosts(hosts) => {
                let host = url.host_str().unwrap_or("");
                if hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
                    Ok(())
                } else {
                    Err(format!(
                        "client id host `{host}` is not on this server's list of trusted client hosts"
                    ))
                }
            }
            Self::Callback(f) => match document {
                Some(d) => f(url, d),
                None => Ok(()),
            },
        }
    }
}

/// How client id metadata documents are fetched and trusted.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct CimdConfig {
    pub(crate) policy: Arc<dyn CimdTrustPolicy>,
    pub(crate) fetch: FetchLimits,
    pub(crate) min_cache: i64,
    pub(crate) max_cache: i64,
    pub(crate) failure_cache: i64,
    pub(crate) capacity: u64,
}

impl Default for CimdConfig {
    fn default() -> Self {
        Self {
            policy: Arc::new(CimdPolicy::AnyHttps),
            fetch: FetchLimits::new(5 * 1024),
            min_cache: 60,
            max_cache: 24 * 3600,
            failure_cache: 30,
            capacity: 10_000,
        }
    }
}

/// The largest document size that may be configured.
const MAX_BYTES_LIMIT: usize = 256 * 1024;

impl CimdConfig {
    /// Which client ids to trust (default: any https URL).
    pub fn policy(mut self, policy: impl CimdTrustPolicy + 'static) -> Self {
        self.policy = Arc::new(policy);
        self
    }

    /// Development only: accept `http://` client ids on loopback and fetch
    /// from loopback addresses.
    pub fn dangerously_allow_loopback_http(mut self) -> Self {
        self.fetch.allow_loopback_http = true;
        self
    }

    /// The largest document accepted (default 5 KiB; 1 KiB to 256 KiB).
    pub fn max_bytes(mut self, n: usize) -> Self {
        self.fetch.max_bytes = n;
        self
    }

    /// The total time a fetch may take, DNS included (default 5 s; at most 30 s).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.fetch.timeout = d;
        self
    }

    /// Cache bounds in seconds: a document is kept for its `max-age` clamped
    /// to `[min, max]` (defaults 60 s and 24 h); a failure for `failure` (30 s).
    /// Each is at least 1 s, and `min` at most `max`.
    pub fn cache_bounds(mut self, min: i64, max: i64, failure: i64) -> Self {
        self.min_cache = min;
        self.max_cache = max;
        self.failure_cache = failure;
        self
    }

    /// How many client ids (documents and remembered failures) are cached
    /// at most (default 10,000; at least 1). The least useful go first.
    pub fn capacity(mut self, n: u64) -> Self {
        self.capacity = n;
        self
    }

    /// Checks every value; the error names it and says what is allowed.
    /// [`crate::ServerConfigBuilder::build`] calls it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        const FIELD: &str = "client_id_metadata_documents";
        let bad = |reason: String| Err(ConfigError::new(FIELD, reason));
        self.fetch.validate(
            FIELD,
            1024..=MAX_BYTES_LIMIT,
            "a client metadata document is a few hundred bytes",
        )?;
        at_least_one_second(
            FIELD,
            &[
                ("cache_bounds min", self.min_cache),
                ("cache_bounds max", self.max_cache),
                ("cache_bounds failure", self.failure_cache),
            ],
        )?;
        if self.min_cache > self.max_cache {
            return bad(format!(
                "cache_bounds min ({} s) is longer than max ({} s); it must not be",
                self.min_cache, self.max_cache
            ));
        }
        if self.capacity == 0 {
            return bad("capacity is 0; use at least 1".into());
        }
        Ok(())
    }
}

/// True if `client_id` has the shape of a client id metadata document URL
/// (the caller then resolves it instead of looking it up in storage).
pub fn is_document_client_id(client_id: &str) -> bool {
    crate::client::is_url_client_id(client_id)
}

/// A resolved client id (or why not), and until when it may be used.
#[derive(Debug)]
struct Cached {
    result: Result<Client, String>,
    until: i64,
}

/// Resolves document client ids, with a cache (moka) bounded in entries;
/// concurrent lookups of one client id share one fetch.
#[derive(Debug)]
pub struct CimdResolver {
    cfg: Arc<CimdConfig>,
    cache: Cache<String, Arc<Cached>>,
}

/// A refused client id document: the reason goes to the audit log; the user
/// sees a generic message.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("client id metadata document `{url}` refused: {reason}")]
pub struct CimdError {
    /// The client id URL.
    pub url: String,
    /// Why it was refused.
    pub reason: String,
}

impl CimdResolver {
    /// A resolver with `cfg` (validated by [`CimdConfig::validate`] when
    /// the server is built).
    pub fn new(cfg: CimdConfig) -> Self {
        Self {
            cache: Cache::builder().max_capacity(cfg.capacity).build(),
            cfg: Arc::new(cfg),
        }
    }

    /// The client a document client id describes (cached), or why not.
    /// Of concurrent calls for one client id, one fetches and the others
    /// wait for its answer.
    pub async fn resolve(&self, client_id: &str, now: i64) -> Result<Client, CimdError> {
        let err = |reason: String| CimdError {
            url: client_id.to_owned(),
            reason,
        };
        let outcome = self
            .cache
            .entry(client_id.to_owned())
            .and_compute_with(|cached| async move {
                if cached.is_some_and(|e| e.value().until > now) {
                    return Op::Nop;
                }
                let (result, ttl) = match self.fetch(client_id, now).await {
                    Ok((client, ttl)) => (Ok(client), ttl),
                    Err(reason) => (Err(reason), self.cfg.failure_cache),
                };
                Op::Put(Arc::new(Cached {
                    result,
                    until: now.saturating_add(ttl),
                }))
            })
            .await;
        let (entry, fresh) = match outcome {
            CompResult::Inserted(e) | CompResult::ReplacedWith(e) => (e.into_value(), true),
            CompResult::Unchanged(e) => (e.into_value(), false),
            CompResult::StillNone(_) | CompResult::Removed(_) => {
                return Err(err("no document cached".into()));
            }
        };
        match &entry.result {
            Ok(c) => Ok(c.clone()),
            Err(r) if fresh => Err(err(r.clone())),
            Err(r) => Err(err(format!("{r} (cached failure)"))),
        }
    }

    async fn fetch(&self, client_id: &str, now: i64) -> Result<(Client, i64), String> {
        let url = Url::parse(client_id).map_err(|e| format!("not a URL: {e}"))?;
        if url.path() == "/" || url.path().is_empty() {
            return Err("a client id URL must have a path".into());
        }
        if !matches!(url.scheme(), "https" | "http") {
            return Err("client id URLs must use https".into());
        }
        self.cfg.policy.check(&url, None)?;
        let fetched = fetch_guarded(&url, &self.cfg.fetch).await?;
        let doc: Value = serde_json::from_slice(&fetched.body)
            .map_err(|e| format!("the document is not JSON: {e}"))?;
        let client = client_from_document(client_id, &doc, now)?;
        self.cfg.policy.check(&url, Some(&doc))?;
        let ttl = match fetched.max_age {
            Some(Some(age)) => age.clamp(self.cfg.min_cache, self.cfg.max_cache),
            // no-store / no-cache: as short as allowed.
            Some(None) => self.cfg.min_cache,
            None => self.cfg.min_cache.max(300).min(self.cfg.max_cache),
        };
        Ok((client, ttl))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies() {
        let u = Url::parse("https://app.example/c.json").unwrap();
        assert!(CimdPolicy::AnyHttps.check(&u, None).is_ok());
        assert!(
            CimdPolicy::Hosts(vec!["APP.example".into()])
                .check(&u, None)
                .is_ok()
        );
        assert!(
            CimdPolicy::Hosts(vec!["other.example".into()])
                .check(&u, None)
                .is_err()
        );
        let cb = CimdPolicy::Callback(Arc::new(|_, d: &Value| {
            if d["client_name"] == "Evil" {
                Err("no".into())
            } else {
                Ok(())
            }
        }));
        assert!(
            cb.check(&u, Some(&serde_json::json!({"client_name": "Evil"})))
                .is_err()
        );
        assert!(
            cb.check(&u, Some(&serde_json::json!({"client_name": "Fine"})))
                .is_ok()
        );
    }
}
