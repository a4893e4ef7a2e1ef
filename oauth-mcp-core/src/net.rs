//! Host classification shared by every rule that treats loopback specially
//! (public URLs, redirect URIs, client id documents).

use url::{Host, Url};

/// True if `url`'s host is a loopback address (`127.0.0.0/8`, `::1`) or
/// `localhost` (any case).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for yes in [
            "http://127.0.0.1/",
            "http://127.9.9.9:8/",
            "http://[::1]/",
            "http://LocalHost/",
        ] {
            assert!(is_loopback(&Url::parse(yes).unwrap()), "{yes}");
        }
        for no in [
            "http://10.0.0.1/",
            "https://example.com/",
            "http://localhost.example/",
        ] {
            assert!(!is_loopback(&Url::parse(no).unwrap()), "{no}");
        }
    }
}
