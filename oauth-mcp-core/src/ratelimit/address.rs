//! Which address a request came from: the peer of the connection, or —
//! only when that peer is a proxy you trust — the address your proxies
//! recorded in `Forwarded` (RFC 7239) or `X-Forwarded-For`.
//!
//! The rule is *rightmost untrusted*: walk the forwarding chain from the
//! right (the hop nearest to this server) and take the first address that
//! is not one of your proxies. Everything to its left was written by the
//! client or by proxies you do not control, so it can be forged; what your
//! own proxies appended cannot.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use http::HeaderMap;

use crate::error::ConfigError;

/// The forwarding header your proxies set. Name exactly the one they write:
/// a header they merely pass through would let clients choose their address.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardedHeader {
    /// `Forwarded: for=…` (RFC 7239).
    Forwarded,
    /// `X-Forwarded-For: client, proxy1, …` (the de-facto standard).
    #[default]
    XForwardedFor,
}

/// An address range in CIDR notation (`10.0.0.0/8`, `fd00::/8`, or a single
/// address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Parses `addr` or `addr/prefix`.
    pub fn parse(s: &str) -> Option<Self> {
        let (a, p) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr = canonical(a.parse().ok()?);
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(Self { addr, prefix })
    }

    /// True if `ip` lies in this range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let full = usize::from(bits / 8);
    if a[..full] != b[..full] {
        return false;
    }
    let rest = bits % 8;
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    (a[full] & mask) == (b[full] & mask)
}

/// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`, as dual-stack sockets
/// report IPv4 peers) are IPv4 addresses.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// The proxies whose forwarding header is believed. By default there are
/// none: the connection's peer is the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    header: ForwardedHeader,
}

/// One hop of a forwarding chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hop {
    Ip(IpAddr),
    /// `unknown`, an obfuscated identifier, or anything unparseable.
    Opaque,
}

impl TrustedProxies {
    /// No proxy is trusted; forwarding headers are ignored.
    pub fn none() -> Self {
        Self::default()
    }

    /// Trusts the proxies in `ranges` (CIDR notation or single addresses)
    /// and reads `header`, which they set.
    ///
    /// ```
    /// use oauth_mcp_core::ratelimit::{ForwardedHeader, TrustedProxies};
    /// let proxies = TrustedProxies::new(ForwardedHeader::XForwardedFor, ["10.0.0.0/8"]).unwrap();
    /// let mut h = http::HeaderMap::new();
    /// h.insert("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.1.2.3".parse().unwrap());
    /// // The load balancer 10.0.0.1 got it from its colleague 10.1.2.3,
    /// // which got it from 198.51.100.7; "6.6.6.6" was written by the client.
    /// assert_eq!(proxies.client_address("10.0.0.1".parse().unwrap(), &h).to_string(), "198.51.100.7");
    /// ```
    pub fn new<I, S>(header: ForwardedHeader, ranges: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut nets = Vec::new();
        for r in ranges {
            let r = r.as_ref();
            nets.push(IpNet::parse(r).ok_or_else(|| {
                ConfigError::new(
                    "trusted_proxies",
                    format!(
                        "`{r}` is not an IP address or CIDR range; write e.g. `10.0.0.0/8`, `192.0.2.7` or `fd00::/8`"
                    ),
                )
            })?);
        }
        Ok(Self { nets, header })
    }

    /// True if `ip` is one of the trusted proxies.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|n| n.contains(ip))
    }

    /// The client's address: `peer` itself unless it is a trusted proxy;
    /// then the rightmost address in the forwarding header that is not a
    /// trusted proxy. If the chain names no such address, its leftmost
    /// address; if a hop is `unknown` or unreadable, the trusted proxy that
    /// reported it (so such clients share that proxy's limits).
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut addr = canonical(peer);
        if !self.is_trusted(addr) {
            return addr;
        }
        for hop in self.hops(headers).into_iter().rev() {
            match hop {
                Hop::Ip(ip) => {
                    addr = ip;
                    if !self.is_trusted(ip) {
                        return ip;
                    }
                }
                Hop::Opaque => return addr,
            }
        }
        addr
    }

    fn hops(&self, headers: &HeaderMap) -> Vec<Hop> {
        let name = match self.header {
            ForwardedHeader::Forwarded => http::header::FORWARDED.as_str(),
            ForwardedHeader::XForwardedFor => "x-forwarded-for",
        };
        let mut hops = Vec::new();
        // Several header lines form one list, in order (RFC 9110 §5.3).
        for value in headers.get_all(name) {
            let Ok(v) = value.to_str() else {
                hops.push(Hop::Opaque);
                continue;
            };
            match self.header {
                ForwardedHeader::Forwarded => parse_forwarded(v, &mut hops),
                ForwardedHeader::XForwardedFor => {
                    hops.extend(v.split(',').map(|s| parse_node(s.trim())))
                }
            }
        }
        hops
    }
}

/// The `for=` of each element of a `Forwarded` value (RFC 7239 §4);
/// an element without one is opaque.
fn parse_forwarded(v: &str, hops: &mut Vec<Hop>) {
    for element in split_unquoted(v, ',') {
        let mut node = Hop::Opaque;
        for pair in split_unquoted(element, ';') {
            let Some((k, val)) = pair.split_once('=') else {
                continue;
            };
            if k.trim().eq_ignore_ascii_case("for") {
                let val = val.trim();
                let val = val
                    .strip_prefix('"')
                    .and_then(|s| s.strip_suffix('"'))
                    .unwrap_or(val);
                node = parse_node(&val.replace('\\', ""));
            }
        }
        hops.push(node);
    }
}

/// Splits on `sep` outside double quotes.
fn split_unquoted(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// A node: `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]`, `[2001:db8::1]:4711`
/// or a bare IPv6 address; anything else (`unknown`, `_hidden`) is opaque.
fn parse_node(s: &str) -> Hop {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Hop::Ip(canonical(ip));
    }
    if let Some(rest) = s.strip_prefix('[') {
        let inner = rest.split(']').next().unwrap_or("");
        return inner
            .parse::<Ipv6Addr>()
            .map(|ip| Hop::Ip(canonical(IpAddr::V6(ip))))
            .unwrap_or(Hop::Opaque);
    }
    if let Some((host, port)) = s.rsplit_once(':')
        && port.bytes().all(|b| b.is_ascii_digit())
        && let Ok(ip) = host.parse::<Ipv4Addr>()
    {
        return Hop::Ip(IpAddr::V4(ip));
    }
    Hop::Opaque
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(name: &str, values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn cidr_ranges() {
        let n = IpNet::parse("10.0.0.0/8").unwrap();
        assert!(n.contains(ip("10.255.0.1")));
        assert!(!n.contains(ip("11.0.0.1")));
        assert!(n.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped is IPv4");
        let n = IpNet::parse("2001:db8::/33").unwrap();
        assert!(n.contains(ip("2001:db8:7fff::1")));
        assert!(!n.contains(ip("2001:db8:8000::1")));
        assert!(!n.contains(ip("10.0.0.1")));
        assert!(IpNet::parse("192.0.2.7").unwrap().contains(ip("192.0.2.7")));
        assert!(!IpNet::parse("192.0.2.7").unwrap().contains(ip("192.0.2.8")));
        assert!(IpNet::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "example.com",
            "10.0.0/8",
            "",
            "1.2.3.4/x",
        ] {
            assert_eq!(IpNet::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn untrusted_peer_is_the_client_whatever_the_headers_say() {
        let p = TrustedProxies::new(ForwardedHeader::XForwardedFor, ["10.0.0.0/8"]).unwrap();
        let h = headers("x-forwarded-for", &["1.1.1.1"]);
        assert_eq!(p.client_address(ip("203.0.113.9"), &h), ip("203.0.113.9"));
        assert_eq!(
            TrustedProxies::none().client_address(ip("10.0.0.1"), &h),
            ip("10.0.0.1"),
            "no trusted proxies: headers are ignored"
        );
        assert_eq!(
            TrustedProxies::none().client_address(ip("::ffff:192.0.2.1"), &h),
            ip("192.0.2.1")
        );
    }

    #[test]
    fn x_forwarded_for_rightmost_untrusted() {
        let p = TrustedProxies::new(ForwardedHeader::XForwardedFor, ["10.0.0.0/8", "fd00::/8"])
            .unwrap();
        let peer = ip("10.0.0.1");
        let cases: &[(&[&str], &str)] = &[
            (&["198.51.100.7"], "198.51.100.7"),
            (&["6.6.6.6, 198.51.100.7"], "198.51.100.7"),
            (&["6.6.6.6, 198.51.100.7, 10.9.9.9"], "198.51.100.7"),
            // Several header lines are one list.
            (&["6.6.6.6", "198.51.100.7, 10.9.9.9"], "198.51.100.7"),
            (&["2001:db8::5, fd00::1"], "2001:db8::5"),
            (&["[2001:db8::5]:4711"], "2001:db8::5"),
            (&["198.51.100.7:5000"], "198.51.100.7"),
            // All trusted: the leftmost.
            (&["10.3.3.3, 10.2.2.2"], "10.3.3.3"),
            // A forged "unknown" or garbage stops the walk at the proxy that reported it.
            (&["6.6.6.6, garbage"], "10.0.0.1"),
            (&["6.6.6.6, unknown, 10.2.2.2"], "10.2.2.2"),
            // No header: the proxy itself.
            (&[], "10.0.0.1"),
        ];
        for (values, want) in cases {
            assert_eq!(
                p.client_address(peer, &headers("x-forwarded-for", values)),
                ip(want),
                "{values:?}"
            );
        }
        // The other header is not read.
        assert_eq!(
            p.client_address(peer, &headers("forwarded", &["for=6.6.6.6"])),
            peer
        );
    }

    #[test]
    fn forwarded_rightmost_untrusted() {
        let p = TrustedProxies::new(ForwardedHeader::Forwarded, ["10.0.0.0/8"]).unwrap();
        let peer = ip("10.0.0.1");
        let cases: &[(&[&str], &str)] = &[
            (&["for=198.51.100.7"], "198.51.100.7"),
            (&["For=\"198.51.100.7:4711\";proto=https"], "198.51.100.7"),
            (
                &["for=6.6.6.6, for=\"[2001:db8:cafe::17]:4711\";by=10.0.0.1"],
                "2001:db8:cafe::17",
            ),
            (&["for=6.6.6.6;proto=http, for=10.2.2.2"], "6.6.6.6"),
            (&["for=6.6.6.6", "for=198.51.100.7"], "198.51.100.7"),
            (&["for=\"a,b\", for=198.51.100.7"], "198.51.100.7"),
            (&["for=6.6.6.6, for=unknown"], "10.0.0.1"),
            (&["for=6.6.6.6, for=_hidden, for=10.5.5.5"], "10.5.5.5"),
            (&["proto=https"], "10.0.0.1"),
        ];
        for (values, want) in cases {
            assert_eq!(
                p.client_address(peer, &headers("forwarded", values)),
                ip(want),
                "{values:?}"
            );
        }
        assert_eq!(
            p.client_address(peer, &headers("x-forwarded-for", &["6.6.6.6"])),
            peer,
            "X-Forwarded-For is not read when Forwarded is configured"
        );
    }

    #[test]
    fn bad_ranges_name_the_value() {
        let e = TrustedProxies::new(ForwardedHeader::Forwarded, ["10.0.0.0/8", "lb.internal"])
            .unwrap_err();
        assert_eq!(e.field, "trusted_proxies");
        assert!(e.reason.contains("`lb.internal`"), "{}", e.reason);
    }
}
