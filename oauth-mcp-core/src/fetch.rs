//! The SSRF-hardened fetcher: GET a URL a stranger chose (a client id
//! metadata document, a client's `jwks_uri`) without letting it reach what
//! only this server can reach. https only (http on loopback when allowed for
//! development); no credentials or fragment in the URL; every resolved
//! address checked against private, loopback, link-local, carrier-grade-NAT,
//! cloud-metadata and reserved ranges (IPv4-mapped and other IPv6 forms
//! included) and the checked address pinned for the connection; no redirects,
//! no proxy; a size cap and a total timeout.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use url::Url;

use crate::net::is_loopback;
use crate::validate::remote::cache_max_age;

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

pub(crate) use crate::fetch_limits::FetchLimits;

/// A fetched document.
#[derive(Debug, Clone)]
pub(crate) struct Fetched {
    /// The body (at most `max_bytes`).
    pub(crate) body: Vec<u8>,
    /// From `Cache-Control`: `Some(Some(secs))` for `max-age`, `Some(None)`
    /// for `no-store`/`no-cache`, `None` when absent.
    pub(crate) max_age: Option<Option<i64>>,
}

/// GETs `url` as JSON under `limits`; the error says why, for the audit log.
pub(crate) async fn fetch_guarded(url: &Url, limits: &FetchLimits) -> Result<Fetched, String> {
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err("the URL must not have a fragment or credentials".into());
    }
    let host = url.host_str().ok_or("the URL needs a host")?.to_owned();
    match url.scheme() {
        "https" => {}
        "http" if limits.allow_loopback_http && is_loopback(url) => {}
        _ => return Err("the URL must use https".into()),
    }
    let port = url.port_or_known_default().ok_or("no port")?;
    // One deadline for the whole fetch, DNS included: `timeout` is the
    // total time a stranger's URL may hold the request that triggered it.
    let deadline = tokio::time::Instant::now() + limits.timeout;
    // An IPv6 literal is bracketed in the URL, not in a lookup.
    let bare_host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> =
        tokio::time::timeout_at(deadline, tokio::net::lookup_host((bare_host, port)))
            .await
            .map_err(|_| "DNS resolution timed out".to_owned())?
            .map_err(|e| format!("DNS resolution failed: {e}"))?
            .collect();
    let mut refused = Vec::new();
    let pinned = addrs
        .iter()
        .find(
            |a| match forbidden_address(a.ip(), limits.allow_loopback_http) {
                Some(why) => {
                    refused.push(format!("{} ({why})", a.ip()));
                    false
                }
                None => true,
            },
        )
        .copied();
    let Some(pinned) = pinned else {
        return Err(format!(
            "the host resolves only to refused addresses: {}",
            refused.join(", ")
        ));
    };
    // Pin the checked address: a second DNS answer cannot redirect the connection.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(limits.timeout)
        .no_proxy()
        .resolve(&host, pinned)
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let describe = |e: &reqwest::Error| {
        if e.is_timeout() {
            format!("the fetch took longer than {:?}", limits.timeout)
        } else {
            format!("fetch failed: {e}")
        }
    };
    let too_large = || format!("the document is larger than {} bytes", limits.max_bytes);
    let fetch = async {
        let mut resp = http
            .get(url.clone())
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| describe(&e))?;
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
            .is_some_and(|n| n as usize > limits.max_bytes)
        {
            return Err(too_large());
        }
        let max_age = resp
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .map(cache_max_age);
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| describe(&e))? {
            if body.len() + chunk.len() > limits.max_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched { body, max_age })
    };
    tokio::time::timeout_at(deadline, fetch)
        .await
        .map_err(|_| format!("the fetch took longer than {:?}", limits.timeout))?
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
    fn cache_headers() {
        assert_eq!(cache_max_age("public, max-age=600"), Some(600));
        assert_eq!(cache_max_age("no-store"), None);
        assert_eq!(cache_max_age("public"), Some(300));
    }
}
