//! Fetching a client's `jwks_uri` with the SSRF protections of client
//! metadata documents: https only, no credentials or fragment in the URL,
//! every resolved address checked against [`forbidden_address`] and the
//! checked one pinned for the connection, no redirects, no proxy, a size cap
//! and a total timeout.
//!
//! This is the one function the JWKS cache calls. It repeats the shape of
//! `CimdResolver`'s fetch (whose rules [`forbidden_address`] shares) because
//! that fetch is not yet reusable on its own; once it is, the body of
//! [`fetch_jwks`] becomes a call to it.

use std::net::SocketAddr;
use std::time::Duration;

use url::Url;

use crate::cimd::forbidden_address;

/// How `jwks_uri` documents are fetched.
#[derive(Debug, Clone)]
pub struct JwksFetchConfig {
    pub(crate) allow_loopback_http: bool,
    pub(crate) max_bytes: usize,
    pub(crate) timeout: Duration,
    pub(crate) max_age: i64,
    pub(crate) min_refetch_interval: i64,
    pub(crate) failure_ttl: i64,
    pub(crate) capacity: u64,
}

impl Default for JwksFetchConfig {
    fn default() -> Self {
        Self {
            allow_loopback_http: false,
            max_bytes: 64 * 1024,
            timeout: Duration::from_secs(5),
            max_age: 3600,
            min_refetch_interval: 10,
            failure_ttl: 30,
            capacity: 1000,
        }
    }
}

impl JwksFetchConfig {
    /// Development only: accept `http://` JWKS URLs on loopback and fetch
    /// from loopback addresses.
    pub fn dangerously_allow_loopback_http(mut self) -> Self {
        self.allow_loopback_http = true;
        self
    }

    /// The largest JWK Set accepted (default 64 KiB).
    pub fn max_bytes(mut self, n: usize) -> Self {
        self.max_bytes = n;
        self
    }

    /// The total time a fetch may take (default 5 s).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    /// Cache lifetimes in seconds: keys are refetched after `max_age`
    /// (default 1 h); an unknown `kid` refetches at most every
    /// `min_refetch_interval` (10 s); a failed fetch is remembered for
    /// `failure_ttl` (30 s), so a bad URL cannot be used to hammer a host.
    pub fn cache(mut self, max_age: i64, min_refetch_interval: i64, failure_ttl: i64) -> Self {
        self.max_age = max_age.max(1);
        self.min_refetch_interval = min_refetch_interval.max(1);
        self.failure_ttl = failure_ttl.max(1);
        self
    }

    /// How many JWKS URLs are cached at most (default 1000).
    pub fn capacity(mut self, n: u64) -> Self {
        self.capacity = n.max(1);
        self
    }
}

/// Fetches the JWK Set at `url`; `Err` says why not (for the audit log).
pub(crate) async fn fetch_jwks(url: &str, cfg: &JwksFetchConfig) -> Result<Vec<u8>, String> {
    let parsed = Url::parse(url).map_err(|e| format!("jwks_uri `{url}` is not a URL: {e}"))?;
    if parsed.fragment().is_some() || !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("a jwks_uri must not have a fragment or credentials".into());
    }
    let loopback_host = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match parsed.scheme() {
        "https" => {}
        "http" if cfg.allow_loopback_http && loopback_host => {}
        _ => return Err("a jwks_uri must use https".into()),
    }
    let host = parsed
        .host_str()
        .ok_or("a jwks_uri needs a host")?
        .to_owned();
    let port = parsed.port_or_known_default().ok_or("no port")?;
    let bare_host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> =
        tokio::time::timeout(cfg.timeout, tokio::net::lookup_host((bare_host, port)))
            .await
            .map_err(|_| "DNS resolution timed out".to_owned())?
            .map_err(|e| format!("DNS resolution failed: {e}"))?
            .collect();
    let mut refused = Vec::new();
    let pinned = addrs
        .iter()
        .find(
            |a| match forbidden_address(a.ip(), cfg.allow_loopback_http) {
                Some(why) => {
                    refused.push(format!("{} ({why})", a.ip()));
                    false
                }
                None => true,
            },
        )
        .copied()
        .ok_or_else(|| {
            format!(
                "the jwks_uri host resolves only to refused addresses: {}",
                refused.join(", ")
            )
        })?;
    // Pin the checked address: a second DNS answer cannot redirect the connection.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(cfg.timeout)
        .no_proxy()
        .resolve(&host, pinned)
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let fetch = async {
        let mut resp = http
            .get(parsed.clone())
            .header("accept", "application/jwk-set+json, application/json")
            .send()
            .await
            .map_err(|e| format!("fetch failed: {e}"))?;
        if resp.status().is_redirection() {
            return Err(format!(
                "the jwks_uri redirects ({}); redirects are not followed",
                resp.status()
            ));
        }
        if !resp.status().is_success() {
            return Err(format!("the jwks_uri answered {}", resp.status()));
        }
        let too_big = || format!("the JWK Set is larger than {} bytes", cfg.max_bytes);
        if resp
            .content_length()
            .is_some_and(|n| n > cfg.max_bytes as u64)
        {
            return Err(too_big());
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| format!("fetch failed: {e}"))?
        {
            if body.len() + chunk.len() > cfg.max_bytes {
                return Err(too_big());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    tokio::time::timeout(cfg.timeout, fetch)
        .await
        .map_err(|_| format!("the fetch took longer than {:?}", cfg.timeout))?
}
