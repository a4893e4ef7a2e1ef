//! Redirect URIs: the registration rules for one URI, matching a requested
//! URI against the registered ones (exact, plus the RFC 8252 loopback-port
//! rule), and operator policies (allowlists).

use std::fmt;
use std::sync::Arc;

use url::Url;

use crate::error::{ErrorCode, OAuthError};
use crate::net::is_loopback;

/// True if `requested` may be used where `registered` was registered.
pub fn redirect_uri_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Ok(reg), Ok(req)) = (Url::parse(registered), Url::parse(requested)) else {
        return false;
    };
    reg.scheme() == "http"
        && req.scheme() == "http"
        && is_loopback(&reg)
        && reg.host_str() == req.host_str()
        && reg.path() == req.path()
        && reg.query() == req.query()
        && reg.username() == req.username()
        && reg.password().is_none()
        && req.password().is_none()
        && req.fragment().is_none()
}

/// True if every redirect URI of the list is on loopback (the consent page
/// then warns that any local program could receive the code).
pub fn all_loopback(uris: &[String]) -> bool {
    !uris.is_empty()
        && uris
            .iter()
            .all(|u| Url::parse(u).is_ok_and(|u| is_loopback(&u)))
}

/// Schemes a redirect URI may never use.
const FORBIDDEN_SCHEMES: &[&str] = &[
    "javascript",
    "data",
    "file",
    "vbscript",
    "about",
    "blob",
    "filesystem",
    "view-source",
    "chrome",
    "ws",
    "wss",
    "ftp",
];

/// Checks one redirect URI against the registration rules: absolute, no
/// fragment; `https` anywhere, `http` only on loopback; private-use schemes
/// (`cursor://…`, `vscode://…`) allowed; script-capable and local schemes refused.
pub fn validate_redirect_uri(uri: &str) -> Result<(), OAuthError> {
    let bad = |why: &str| {
        OAuthError::new(
            ErrorCode::InvalidRedirectUri,
            format!("redirect URI `{uri}` {why}"),
        )
    };
    let url = Url::parse(uri).map_err(|e| bad(&format!("is not an absolute URI ({e})")))?;
    if url.fragment().is_some() {
        return Err(bad("must not contain a fragment (RFC 6749 §3.1.2)"));
    }
    let scheme = url.scheme();
    if FORBIDDEN_SCHEMES.contains(&scheme) {
        return Err(bad(&format!("uses the forbidden scheme `{scheme}:`")));
    }
    match scheme {
        "https" => {
            if url.host_str().is_none_or(str::is_empty) {
                return Err(bad("has no host"));
            }
            Ok(())
        }
        "http" => {
            if is_loopback(&url) {
                Ok(())
            } else {
                Err(bad(
                    "uses http on a non-loopback host; use https, or http://127.0.0.1 / http://[::1] / http://localhost for native apps",
                ))
            }
        }
        _ => Ok(()),
    }
}

/// Decides which redirect URIs are acceptable beyond the built-in rules:
/// enforced at registration and again at authorization.
pub trait RedirectUriPolicy: Send + Sync + fmt::Debug {
    /// `Ok` if `uri` may be used; `Err(reason)` otherwise.
    fn check(&self, uri: &str) -> Result<(), String>;
}

/// An allowlist of redirect-URI patterns. A pattern is either an exact URI or
/// contains `*`, which matches any run of characters except `/`, `?` and `#`
/// (so `https://*.example.com/cb` cannot match `https://evil.test/x.example.com/cb`).
/// Loopback URIs (`http://127.0.0.1`, `[::1]`, `localhost`, any port) are allowed
/// when [`RedirectUriAllowlist::allow_loopback`] is set.
#[derive(Debug, Clone, Default)]
pub struct RedirectUriAllowlist {
    patterns: Vec<String>,
    loopback: bool,
}

impl RedirectUriAllowlist {
    /// An allowlist of the given patterns.
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(patterns: I) -> Self {
        Self {
            patterns: patterns.into_iter().map(Into::into).collect(),
            loopback: false,
        }
    }

    /// Also allow loopback redirect URIs (native apps, MCP Inspector, CLIs).
    pub fn allow_loopback(mut self) -> Self {
        self.loopback = true;
        self
    }

    /// The hosted callbacks of well-known MCP clients (Claude and ChatGPT),
    /// plus loopback.
    pub fn hosted_mcp_clients() -> Self {
        Self::new([
            "https://claude.ai/api/mcp/auth_callback",
            "https://claude.com/api/mcp/auth_callback",
            "https://chatgpt.com/connector_platform_oauth_redirect",
        ])
        .allow_loopback()
    }
}

/// Whether `s` matches `pattern` (see [`RedirectUriAllowlist`]), in
/// O(len(pattern) × len(s)) time whatever the number of `*`: a row of the
/// classic wildcard table per character of `s`, so that a long redirect URI
/// sent by a stranger cannot make a many-star pattern backtrack
/// exponentially.
fn glob_match(pattern: &str, s: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == s;
    }
    let p: Vec<char> = pattern.chars().collect();
    // row[j]: the first j pattern characters match what has been read of `s`.
    let mut row = vec![false; p.len() + 1];
    row[0] = true;
    for j in 1..=p.len() {
        row[j] = row[j - 1] && p[j - 1] == '*';
    }
    for c in s.chars() {
        let delimiter = matches!(c, '/' | '?' | '#');
        let mut next = vec![false; p.len() + 1];
        for j in 1..=p.len() {
            next[j] = if p[j - 1] == '*' {
                // `*` matches nothing more, or also this character.
                next[j - 1] || (row[j] && !delimiter)
            } else {
                row[j - 1] && p[j - 1] == c
            };
        }
        if !next.contains(&true) {
            return false;
        }
        row = next;
    }
    row[p.len()]
}

impl RedirectUriPolicy for RedirectUriAllowlist {
    fn check(&self, uri: &str) -> Result<(), String> {
        if self.loopback && Url::parse(uri).is_ok_and(|u| u.scheme() == "http" && is_loopback(&u)) {
            return Ok(());
        }
        if self.patterns.iter().any(|p| glob_match(p, uri)) {
            return Ok(());
        }
        Err(format!(
            "redirect URI `{uri}` is not on this server's allowlist"
        ))
    }
}

/// A shared redirect-URI policy.
pub type SharedRedirectPolicy = Arc<dyn RedirectUriPolicy>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Client;
    use crate::client::registration::{RegistrationRequest, validate_registration};

    fn client(uris: &[&str]) -> Client {
        let req = RegistrationRequest {
            redirect_uris: uris.iter().map(|s| (*s).to_owned()).collect(),
            ..Default::default()
        };
        validate_registration(&req, None, 0).unwrap()
    }

    #[test]
    fn redirect_uri_rules() {
        for ok in [
            "https://claude.ai/api/mcp/auth_callback",
            "http://127.0.0.1:33418/callback",
            "http://[::1]/cb",
            "http://localhost:6274/oauth/callback",
            "cursor://anysphere.cursor-mcp/oauth/callback",
            "vscode://vscode.github-authentication/did-authenticate",
            "com.example.app:/oauth2redirect",
        ] {
            validate_redirect_uri(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "javascript:alert(1)",
            "data:text/html,hi",
            "file:///etc/passwd",
            "http://example.com/cb",
            "https://example.com/cb#frag",
            "/relative",
            "vbscript:x",
        ] {
            let e = validate_redirect_uri(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRedirectUri, "{bad}");
        }
    }

    #[test]
    fn exact_match_plus_loopback_port_rule() {
        let c = client(&[
            "http://127.0.0.1:1234/cb",
            "https://app.example/cb",
            "http://localhost/cb",
        ]);
        assert!(c.match_redirect_uri("http://127.0.0.1:1234/cb").is_some());
        assert!(c.match_redirect_uri("http://127.0.0.1:9999/cb").is_some());
        assert!(c.match_redirect_uri("http://127.0.0.1/cb").is_some());
        assert!(c.match_redirect_uri("http://localhost:5555/cb").is_some());
        // Same host literal required: 127.0.0.1 vs localhost vs ::1 are different.
        assert!(c.match_redirect_uri("http://[::1]:1234/cb").is_none());
        assert!(
            c.match_redirect_uri("http://127.0.0.1:1234/other")
                .is_none()
        );
        assert!(
            c.match_redirect_uri("http://127.0.0.1:1234/cb?x=1")
                .is_none()
        );
        assert!(c.match_redirect_uri("https://app.example/cb/").is_none());
        assert!(c.match_redirect_uri("https://app.example:444/cb").is_none());
        assert!(c.match_redirect_uri("https://APP.example/cb").is_none());
    }

    #[test]
    fn allowlist_globs_do_not_cross_path_boundaries() {
        let p = RedirectUriAllowlist::new(["https://*.example.com/cb"]).allow_loopback();
        assert!(p.check("https://a.example.com/cb").is_ok());
        assert!(p.check("https://evil.test/x.example.com/cb").is_err());
        assert!(p.check("https://a.example.com/cb/extra").is_err());
        assert!(p.check("http://127.0.0.1:8000/anything").is_ok());
        let hosted = RedirectUriAllowlist::hosted_mcp_clients();
        assert!(
            hosted
                .check("https://claude.ai/api/mcp/auth_callback")
                .is_ok()
        );
        assert!(
            hosted
                .check("https://claude.ai.evil.com/api/mcp/auth_callback")
                .is_err()
        );
    }

    #[test]
    fn allowlist_globs_with_several_stars() {
        let p = RedirectUriAllowlist::new(["https://*.*.example.com/cb/*", "app*://x*"]);
        assert!(p.check("https://a.b.example.com/cb/1").is_ok());
        assert!(p.check("https://..example.com/cb/").is_ok());
        assert!(p.check("https://a.example.com/cb/1").is_err());
        assert!(p.check("https://a.b.example.com/cb/1/2").is_err());
        assert!(p.check("app.test://x").is_ok());
        assert!(p.check("app/test://x").is_err());
        // A many-star pattern against a long URI that almost matches: a
        // backtracking matcher would try ~10^20 splits here and never end.
        let many = RedirectUriAllowlist::new(["https://*a*a*a*a*a*a*a*a*b.example.com/cb"]);
        let long = format!("https://{}.example.com/cb", "a".repeat(3000));
        assert!(many.check(&long).is_err());
        let ok = format!("https://{}b.example.com/cb", "a".repeat(3000));
        assert!(many.check(&ok).is_ok());
    }

    #[test]
    fn all_loopback_detection() {
        assert!(all_loopback(&[
            "http://127.0.0.1:1/cb".into(),
            "http://localhost/cb".into()
        ]));
        assert!(!all_loopback(&[
            "http://127.0.0.1:1/cb".into(),
            "https://x/cb".into()
        ]));
        assert!(!all_loopback(&[]));
    }
}
