//! Client ID Metadata Documents (the 2026-07-28 MCP registration model):
//! a `client_id` that is an https URL names a JSON document describing the
//! client. Fetching a URL a stranger chose is an SSRF risk, so the fetch is
//! hardened: https only, no private/loopback/link-local/metadata addresses
//! after DNS resolution (the checked address is pinned for the connection),
//! no redirects, a small size cap, a total timeout, bounded caching, and
//! failures cached briefly so a bad URL cannot be used to hammer a host.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Mutex;
use url::Url;

use crate::client::{
    Client, SUPPORTED_GRANT_TYPES, TokenEndpointAuthMethod, validate_redirect_uri,
};
use crate::scope::ScopeSet;

/// Why an address may not be fetched, or `None` if it may.
pub fn forbidden_address(ip: IpAddr, allow_loopback: bool) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4, allow_loopback),
        IpAddr::V6(v6) => {
            // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d),
            // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address.
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4, allow_loopback);
            }
            let s = v6.segments();
            if s[..6] == [0, 0, 0, 0, 0, 0] && !v6.is_unspecified() && !v6.is_loopback() {
                return forbidden_v4(
                    Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8),
                    allow_loopback,
                );
            }
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return forbidden_v4(
                    Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8),
                    allow_loopback,
                );
            }
            if s[0] == 0x2002 {
                return forbidden_v4(
                    Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8),
                    allow_loopback,
                );
            }
            if v6.is_loopback() {
                return (!allow_loopback).then_some("loopback address");
            }
            if v6.is_unspecified() {
                return Some("unspecified address");
            }
            if v6.is_multicast() {
                return Some("multicast address");
            }
            if (s[0] & 0xffc0) == 0xfe80 {
                return Some("link-local address");
            }
            if (s[0] & 0xfe00) == 0xfc00 {
                return Some("unique-local (private) address");
            }
            if (s[0] & 0xffc0) == 0xfec0 {
                return Some("site-local address");
            }
            if s[0] == 0x2001 && s[1] == 0x0db8 {
                return Some("documentation address");
            }
            None
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr, allow_loopback: bool) -> Option<&'static str> {
    let o = ip.octets();
    if ip.is_loopback() {
        return (!allow_loopback).then_some("loopback address");
    }
    if o == [169, 254, 169, 254] {
        return Some("cloud metadata service address");
    }
    if ip.is_link_local() {
        return Some("link-local address");
    }
    if ip.is_private() {
        return Some("private address");
    }
    if o[0] == 100 && (o[1] & 0xc0) == 64 {
        return Some("carrier-grade NAT address");
    }
    if ip.is_unspecified() || o[0] == 0 {
        return Some("unspecified address");
    }
    if ip.is_broadcast() || ip.is_multicast() || o[0] >= 240 {
        return Some("broadcast, multicast or reserved address");
    }
    if ip.is_documentation()
        || (o[0] == 198 && (o[1] & 0xfe) == 18)
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
    {
        return Some("reserved address");
    }
    None
}

/// Decides which client-id URLs (and documents) this server trusts.
pub trait CimdTrustPolicy: Send + Sync + fmt::Debug {
    /// `Ok` if documents at `url` may be used; `Err(reason)` otherwise.
    fn check(&self, url: &Url, document: Option<&Value>) -> Result<(), String>;
}

/// A per-document decision: `Ok` to trust, `Err(reason)` to refuse.
pub type DocumentCheck = Arc<dyn Fn(&Url, &Value) -> Result<(), String> + Send + Sync>;

/// Built-in trust policies.
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
#[derive(Debug, Clone)]
pub struct CimdConfig {
    pub(crate) policy: Arc<dyn CimdTrustPolicy>,
    pub(crate) allow_loopback_http: bool,
    pub(crate) max_bytes: usize,
    pub(crate) timeout: Duration,
    pub(crate) min_cache: i64,
    pub(crate) max_cache: i64,
    pub(crate) failure_cache: i64,
}

impl Default for CimdConfig {
    fn default() -> Self {
        Self {
            policy: Arc::new(CimdPolicy::AnyHttps),
            allow_loopback_http: false,
            max_bytes: 5 * 1024,
            timeout: Duration::from_secs(5),
            min_cache: 60,
            max_cache: 24 * 3600,
            failure_cache: 30,
        }
    }
}

impl CimdConfig {
    /// Which client ids to trust (default: any https URL).
    pub fn policy(mut self, policy: impl CimdTrustPolicy + 'static) -> Self {
        self.policy = Arc::new(policy);
        self
    }

    /// Development only: accept `http://` client ids on loopback and fetch
    /// from loopback addresses.
    pub fn dangerously_allow_loopback_http(mut self) -> Self {
        self.allow_loopback_http = true;
        self
    }

    /// The largest document accepted (default 5 KiB).
    pub fn max_bytes(mut self, n: usize) -> Self {
        self.max_bytes = n;
        self
    }

    /// The total time a fetch may take (default 5 s).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    /// Cache bounds in seconds: a document is kept for its `max-age` clamped
    /// to `[min, max]` (defaults 60 s and 24 h); a failure for `failure` (30 s).
    pub fn cache_bounds(mut self, min: i64, max: i64, failure: i64) -> Self {
        self.min_cache = min;
        self.max_cache = max;
        self.failure_cache = failure;
        self
    }
}

/// True if `client_id` has the shape of a client id metadata document URL
/// (the caller then resolves it instead of looking it up in storage).
pub fn is_document_client_id(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

#[derive(Debug, Clone)]
enum Cached {
    Ok(Box<Client>),
    Failed(String),
}

/// Resolves document client ids, with a cache.
#[derive(Debug)]
pub struct CimdResolver {
    cfg: CimdConfig,
    cache: Mutex<HashMap<String, (Cached, i64)>>,
}

/// A refused client id document: the reason goes to the audit log; the user
/// sees a generic message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("client id metadata document `{url}` refused: {reason}")]
pub struct CimdError {
    /// The client id URL.
    pub url: String,
    /// Why it was refused.
    pub reason: String,
}

impl CimdResolver {
    /// A resolver with `cfg`.
    pub fn new(cfg: CimdConfig) -> Self {
        Self {
            cfg,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The client a document client id describes (cached), or why not.
    pub async fn resolve(&self, client_id: &str, now: i64) -> Result<Client, CimdError> {
        let err = |reason: String| CimdError {
            url: client_id.to_owned(),
            reason,
        };
        if let Some((entry, until)) = self.cache.lock().await.get(client_id)
            && *until > now
        {
            return match entry {
                Cached::Ok(c) => Ok((**c).clone()),
                Cached::Failed(r) => Err(err(format!("{r} (cached failure)"))),
            };
        }
        let (result, ttl) = match self.fetch(client_id, now).await {
            Ok((client, ttl)) => (Ok(client), ttl),
            Err(reason) => (Err(reason), self.cfg.failure_cache),
        };
        let mut cache = self.cache.lock().await;
        if cache.len() > 10_000 {
            cache.retain(|_, (_, until)| *until > now);
        }
        let entry = match &result {
            Ok(c) => Cached::Ok(Box::new(c.clone())),
            Err(r) => Cached::Failed(r.clone()),
        };
        cache.insert(client_id.to_owned(), (entry, now + ttl));
        result.map_err(err)
    }

    async fn fetch(&self, client_id: &str, now: i64) -> Result<(Client, i64), String> {
        let url = Url::parse(client_id).map_err(|e| format!("not a URL: {e}"))?;
        if url.fragment().is_some() || url.username() != "" || url.password().is_some() {
            return Err("a client id URL must not have a fragment or credentials".into());
        }
        if url.path() == "/" || url.path().is_empty() {
            return Err("a client id URL must have a path".into());
        }
        let host = url
            .host_str()
            .ok_or("a client id URL needs a host")?
            .to_owned();
        let loopback_host = matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
            || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
            || host.eq_ignore_ascii_case("localhost");
        match url.scheme() {
            "https" => {}
            "http" if self.cfg.allow_loopback_http && loopback_host => {}
            _ => return Err("client id URLs must use https".into()),
        }
        self.cfg.policy.check(&url, None)?;
        let port = url.port_or_known_default().ok_or("no port")?;
        let addrs: Vec<SocketAddr> = tokio::time::timeout(
            self.cfg.timeout,
            tokio::net::lookup_host((host.as_str(), port)),
        )
        .await
        .map_err(|_| "DNS resolution timed out".to_owned())?
        .map_err(|e| format!("DNS resolution failed: {e}"))?
        .collect();
        let mut refused = Vec::new();
        let pinned =
            addrs.iter().find(
                |a| match forbidden_address(a.ip(), self.cfg.allow_loopback_http) {
                    Some(why) => {
                        refused.push(format!("{} ({why})", a.ip()));
                        false
                    }
                    None => true,
                },
            );
        let Some(pinned) = pinned.copied() else {
            return Err(format!(
                "the host resolves only to refused addresses: {}",
                refused.join(", ")
            ));
        };
        // Pin the checked address: a second DNS answer cannot redirect the connection.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.cfg.timeout)
            .no_proxy()
            .resolve(&host, pinned)
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        let fetch = async {
            let mut resp = http
                .get(url.clone())
                .header("accept", "application/json")
                .send()
                .await
                .map_err(|e| self.describe(&e))?;
            if resp.status().is_redirection() {
                return Err(format!(
                    "the document URL redirects ({}); redirects are not followed",
                    resp.status()
                ));
            }
            if !resp.status().is_success() {
                return Err(format!("the document URL answered {}", resp.status()));
            }
            if resp
                .content_length()
                .is_some_and(|n| n as usize > self.cfg.max_bytes)
            {
                return Err(format!(
                    "the document is larger than {} bytes",
                    self.cfg.max_bytes
                ));
            }
            let max_age = resp
                .headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok())
                .map(cache_max_age);
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(|e| self.describe(&e))? {
                if body.len() + chunk.len() > self.cfg.max_bytes {
                    return Err(format!(
                        "the document is larger than {} bytes",
                        self.cfg.max_bytes
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            Ok((body, max_age))
        };
        let (body, max_age) = tokio::time::timeout(self.cfg.timeout, fetch)
            .await
            .map_err(|_| format!("the fetch took longer than {:?}", self.cfg.timeout))??;
        let doc: Value =
            serde_json::from_slice(&body).map_err(|e| format!("the document is not JSON: {e}"))?;
        let client = client_from_document(client_id, &doc, now)?;
        self.cfg.policy.check(&url, Some(&doc))?;
        let ttl = match max_age {
            Some(Some(age)) => age.clamp(self.cfg.min_cache, self.cfg.max_cache),
            // no-store / no-cache: as short as allowed.
            Some(None) => self.cfg.min_cache,
            None => self.cfg.min_cache.max(300).min(self.cfg.max_cache),
        };
        Ok((client, ttl))
    }
}

impl CimdResolver {
    fn describe(&self, e: &reqwest::Error) -> String {
        if e.is_timeout() {
            format!("the fetch took longer than {:?}", self.cfg.timeout)
        } else {
            format!("fetch failed: {e}")
        }
    }
}

/// `Some(Some(secs))` for `max-age`, `Some(None)` for `no-store`/`no-cache`.
fn cache_max_age(header: &str) -> Option<i64> {
    let mut age = None;
    for part in header.split(',').map(str::trim) {
        let lower = part.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return None;
        }
        if let Some(v) = lower.strip_prefix("max-age=") {
            age = v.trim_matches('"').parse::<i64>().ok();
        }
    }
    age.or(Some(300))
}

/// Validates a fetched document and turns it into a public [`Client`].
pub fn client_from_document(client_id: &str, doc: &Value, now: i64) -> Result<Client, String> {
    let obj = doc.as_object().ok_or("the document is not a JSON object")?;
    match obj.get("client_id").and_then(Value::as_str) {
        Some(id) if id == client_id => {}
        Some(id) => {
            return Err(format!(
                "the document's client_id `{id}` is not its URL `{client_id}`"
            ));
        }
        None => return Err("the document has no client_id".into()),
    }
    let name = obj
        .get("client_name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .ok_or("the document has no client_name")?;
    let redirect_uris: Vec<String> = obj
        .get("redirect_uris")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .filter(|v: &Vec<String>| !v.is_empty())
        .ok_or("the document has no redirect_uris")?;
    for u in &redirect_uris {
        validate_redirect_uri(u).map_err(|e| e.description)?;
    }
    for secret in ["client_secret", "client_secret_expires_at"] {
        if obj.contains_key(secret) {
            return Err(format!(
                "the document contains `{secret}`; a public document must never hold a secret"
            ));
        }
    }
    if let Some(keys) = obj
        .get("jwks")
        .and_then(|j| j.get("keys"))
        .and_then(Value::as_array)
        && keys.iter().any(|k| {
            ["d", "p", "q", "dp", "dq", "qi", "k"]
                .iter()
                .any(|m| k.get(*m).is_some())
        })
    {
        return Err("the document's jwks contains private key material".into());
    }
    match obj
        .get("token_endpoint_auth_method")
        .and_then(Value::as_str)
    {
        None | Some("none") => {}
        Some(m) => {
            return Err(format!(
                "token_endpoint_auth_method `{m}` is not supported for metadata documents; use none"
            ));
        }
    }
    let grant_types: Vec<String> = match obj.get("grant_types").and_then(Value::as_array) {
        Some(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        None => SUPPORTED_GRANT_TYPES
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
    };
    if !grant_types.iter().any(|g| g == "authorization_code") {
        return Err("grant_types must include authorization_code".into());
    }
    let scope = obj
        .get("scope")
        .and_then(Value::as_str)
        .and_then(|s| ScopeSet::parse(s).ok());
    Ok(Client {
        client_id: client_id.to_owned(),
        secret_hash: None,
        redirect_uris,
        auth_method: TokenEndpointAuthMethod::None,
        auth_method_explicit: true,
        client_name: Some(name.to_owned()),
        scope,
        grant_types: grant_types
            .into_iter()
            .filter(|g| SUPPORTED_GRANT_TYPES.contains(&g.as_str()))
            .collect(),
        trusted: false,
        active: true,
        created_at: now,
        expires_at: None,
        metadata: obj.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn address_filter() {
        for bad in [
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.1.1",
            "127.0.0.1",
            "127.8.9.10",
            "169.254.169.254",
            "169.254.1.1",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:192.168.0.1",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "2002:c0a8:101::1",
        ] {
            assert!(
                forbidden_address(ip(bad), false).is_some(),
                "{bad} must be refused"
            );
        }
        for good in [
            "93.184.216.34",
            "172.32.0.1",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "1.1.1.1",
        ] {
            assert_eq!(
                forbidden_address(ip(good), false),
                None,
                "{good} must be allowed"
            );
        }
        // The development flag opens loopback only.
        assert_eq!(forbidden_address(ip("127.0.0.1"), true), None);
        assert_eq!(forbidden_address(ip("::1"), true), None);
        assert!(forbidden_address(ip("10.0.0.1"), true).is_some());
        assert!(forbidden_address(ip("169.254.169.254"), true).is_some());
    }

    #[test]
    fn documents_are_validated() {
        let id = "https://app.example/client.json";
        let good = serde_json::json!({"client_id": id, "client_name": "App", "redirect_uris": ["https://app.example/cb"]});
        let c = client_from_document(id, &good, 0).unwrap();
        assert_eq!(c.auth_method, TokenEndpointAuthMethod::None);
        let mut bad = good.clone();
        bad["client_id"] = "https://other.example/client.json".into();
        assert!(
            client_from_document(id, &bad, 0)
                .unwrap_err()
                .contains("not its URL")
        );
        for missing in ["client_name", "redirect_uris"] {
            let mut d = good.clone();
            d.as_object_mut().unwrap().remove(missing);
            assert!(client_from_document(id, &d, 0).is_err(), "{missing}");
        }
        let mut d = good.clone();
        d["client_secret"] = "s".into();
        assert!(
            client_from_document(id, &d, 0)
                .unwrap_err()
                .contains("secret")
        );
        let mut d = good.clone();
        d["jwks"] = serde_json::json!({"keys": [{"kty": "EC", "d": "x"}]});
        assert!(
            client_from_document(id, &d, 0)
                .unwrap_err()
                .contains("private key")
        );
        let mut d = good.clone();
        d["token_endpoint_auth_method"] = "client_secret_basic".into();
        assert!(client_from_document(id, &d, 0).is_err());
        let mut d = good;
        d["redirect_uris"] = serde_json::json!(["javascript:alert(1)"]);
        assert!(client_from_document(id, &d, 0).is_err());
    }

    #[test]
    fn cache_headers() {
        assert_eq!(cache_max_age("public, max-age=600"), Some(600));
        assert_eq!(cache_max_age("no-store"), None);
        assert_eq!(cache_max_age("public"), Some(300));
    }

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
