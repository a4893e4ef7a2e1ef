//! The authorization server's endpoints as a client reaches them
//! (`OAuthHttp::handle`): `/token`, `/revoke`, `/introspect` (form bodies and
//! client authentication, `Authorization: Basic`), `/register` (JSON),
//! `/authorize` GET (the query) and POST (the login form).
//!
//! Input: selector byte, then NUL-separated Authorization header,
//! Content-Type choice, body (the query for GET `/authorize`).
//!
//! Checked: never a 5xx; JSON endpoints answer errors as RFC 6749 JSON with
//! an `error` code; token answers are `no-store`; a redirect from
//! `/authorize` only ever goes to a registered redirect URI (no open
//! redirect), with the `state` sent (none when it was over-long and refused).
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use oauth_mcp_core::client::redirect_uri_matches;
use oauth_mcp_fuzz::{REDIRECT_URIS, block_on, fields, with_oauth};
use url::Url;

const CONTENT_TYPES: &[&str] = &[
    "application/x-www-form-urlencoded",
    "application/json",
    "application/x-www-form-urlencoded; charset=UTF-8",
    "text/plain",
    "",
];

/// Percent-encodes what a request target cannot carry.
fn query_safe(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len());
    for &c in b {
        if c.is_ascii_graphic() && c != b'#' {
            s.push(c as char);
        } else {
            s.push_str(&format!("%{c:02X}"));
        }
    }
    s
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let f = fields(rest, 3);
    let (authz, ctype, body) = (f[0], f[1], f[2]);
    let (method, path) = match sel % 6 {
        0 => ("POST", "/token"),
        1 => ("POST", "/revoke"),
        2 => ("POST", "/introspect"),
        3 => ("POST", "/register"),
        4 => ("GET", "/authorize"),
        _ => ("POST", "/authorize"),
    };
    let uri = if method == "GET" {
        format!("{path}?{}", query_safe(body))
    } else {
        path.to_owned()
    };
    let mut b = http::Request::builder().method(method).uri(&uri);
    if let Ok(v) = http::HeaderValue::from_bytes(authz)
        && !authz.is_empty()
    {
        b = b.header(http::header::AUTHORIZATION, v);
    }
    let ct = CONTENT_TYPES[ctype.first().copied().unwrap_or(0) as usize % CONTENT_TYPES.len()];
    if !ct.is_empty() {
        b = b.header(http::header::CONTENT_TYPE, ct);
    }
    let body = if method == "GET" {
        Bytes::new()
    } else {
        Bytes::copy_from_slice(body)
    };
    let Ok(req) = b.body(body) else {
        return;
    };
    let state = (method == "GET")
        .then(|| {
            req.uri().query().and_then(|q| {
                oauth_mcp_core::params::Params::parse(q.as_bytes())
                    .single("state")
                    .ok()
                    .flatten()
                    .map(str::to_owned)
            })
        })
        .flatten();
    let (resp, max_state) = with_oauth(|oauth| {
        let max_state = oauth.server().config().abuse_limits().max_state_bytes;
        (block_on(oauth.handle(req)), max_state)
    });
    // An over-long state is refused, and not echoed (issue 11).
    let state = state.filter(|s| s.len() <= max_state);
    let status = resp.status().as_u16();
    assert!(status < 500, "{method} {path}: {status}");
    if path != "/authorize" && status >= 400 {
        let v: serde_json::Value =
            serde_json::from_slice(resp.body()).expect("an error body is JSON");
        assert!(v["error"].is_string(), "{v}");
    }
    if path == "/token" {
        assert_eq!(
            resp.headers()
                .get(http::header::CACHE_CONTROL)
                .map(|v| v.as_bytes()),
            Some(&b"no-store"[..])
        );
    }
    if let Some(loc) = resp.headers().get(http::header::LOCATION) {
        let loc = Url::parse(loc.to_str().expect("ASCII location")).expect("absolute location");
        let mut target = loc.clone();
        target.set_query(None);
        assert!(
            REDIRECT_URIS
                .iter()
                .any(|r| redirect_uri_matches(r, target.as_str())),
            "redirect to an unregistered URI: {loc}"
        );
        let sent = loc
            .query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned());
        assert_eq!(sent, state, "state is returned as sent");
    }
});
