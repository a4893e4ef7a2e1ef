//! Redirect URIs: the registration rule (`validate_redirect_uri`), the
//! authorization-time match (`redirect_uri_matches`, exact plus the RFC 8252
//! loopback-port rule, via `Client::match_redirect_uri`), the allowlist
//! policy's globs, `all_loopback`, and the CLI's redirect recognition.
//!
//! Input: NUL-separated: registered URI, requested URI, an allowlist
//! pattern.
//!
//! Checked: a URI matches itself; a match that is not string equality is
//! an `http` loopback URI differing at most in port, the registered one
//! being valid; `https` URIs, and any URI that is not loopback `http`, only
//! ever match exactly; a valid URI has no fragment and no forbidden scheme;
//! a glob (of at most three `*`, as an operator writes them) without `*` is string equality and `*` never spans `/`, `?`, `#`;
//! the CLI sees a redirect where the core sees a port-only difference.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_mcp_cli::fuzzing::{is_loopback, redirect};
use oauth_mcp_core::client::{
    Client, RedirectUriAllowlist, RedirectUriPolicy, TokenEndpointAuthMethod, all_loopback,
    redirect_uri_matches, validate_redirect_uri,
};
use oauth_mcp_fuzz::{fields, text};
use url::Url;

fn client(uris: Vec<String>) -> Client {
    Client {
        client_id: "c".into(),
        secret_hash: None,
        redirect_uris: uris,
        auth_method: TokenEndpointAuthMethod::None,
        auth_method_explicit: true,
        client_name: None,
        scope: None,
        grant_types: vec!["authorization_code".into()],
        trusted: false,
        active: true,
        created_at: 0,
        expires_at: None,
        awaiting_first_token: false,
        metadata: Default::default(),
    }
}

fuzz_target!(|data: &[u8]| {
    let f = fields(data, 3);
    let (reg, req, pattern) = (text(f[0]), text(f[1]), text(f[2]));

    for u in [&reg, &req] {
        assert!(redirect_uri_matches(u, u));
        if validate_redirect_uri(u).is_ok() {
            let url = Url::parse(u).expect("a valid redirect URI parses");
            assert!(url.fragment().is_none());
            assert!(!matches!(
                url.scheme(),
                "javascript" | "data" | "file" | "ws" | "wss"
            ));
            if url.scheme() == "http" {
                assert!(is_loopback(&url), "{u}");
            }
        }
    }
    let m = redirect_uri_matches(&reg, &req);
    let c = client(vec![reg.clone()]);
    assert_eq!(c.match_redirect_uri(&req).is_some(), m);
    if m && reg != req {
        let (r, q) = (
            Url::parse(&reg).expect("reg"),
            Url::parse(&req).expect("req"),
        );
        assert_eq!((r.scheme(), q.scheme()), ("http", "http"));
        assert!(is_loopback(&r) && is_loopback(&q));
        assert_eq!(r.host_str(), q.host_str());
        assert_eq!((r.path(), r.query()), (q.path(), q.query()));
        assert!(q.fragment().is_none() && q.password().is_none());
        let (is_redirect, _, _) = redirect(&q, &r);
        assert!(is_redirect || r.port_or_known_default() != q.port_or_known_default());
    }
    assert_eq!(
        all_loopback(&[reg.clone(), req.clone()]),
        [&reg, &req]
            .iter()
            .all(|u| Url::parse(u).is_ok_and(|u| is_loopback(&u)))
    );

    // Patterns are written by the operator: a few `*` at most.
    if pattern.matches('*').count() > 3 {
        return;
    }
    let policy = RedirectUriAllowlist::new([pattern.clone()]);
    let allowed = policy.check(&req).is_ok();
    if !pattern.contains('*') {
        assert_eq!(allowed, pattern == req, "{pattern} vs {req}");
    } else if allowed {
        // The literal text around each `*` is kept, and a `*` never eats a delimiter.
        let parts: Vec<&str> = pattern.split('*').collect();
        assert!(req.starts_with(parts[0]) && req.ends_with(parts[parts.len() - 1]));
        let delims = |s: &str| s.chars().filter(|c| matches!(c, '/' | '?' | '#')).count();
        assert_eq!(delims(&pattern), delims(&req), "{pattern} vs {req}");
    }
    let with_loopback = RedirectUriAllowlist::new([pattern]).allow_loopback();
    if with_loopback.check(&req).is_ok() && !allowed {
        let u = Url::parse(&req).expect("loopback URI parses");
        assert!(u.scheme() == "http" && is_loopback(&u));
    }
});
