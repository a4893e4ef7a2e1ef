//! An in-process client for the framework-neutral HTTP layer.

use std::sync::Arc;

use bytes::Bytes;
use oauth_mcp_core::http::OAuthHttp;
use oauth_mcp_core::login::new_user;
use oauth_mcp_core::pkce::s256_challenge;
use oauth_mcp_core::store::{MemoryStore, UserStore};

pub(crate) const REDIRECT: &str = "http://127.0.0.1:7777/cb";
pub(crate) const VERIFIER: &str = "0123456789012345678901234567890123456789abcdefgh";

/// A memory store with one user, `alice`, password `pw-alice`.
pub(crate) async fn store_with_alice() -> Arc<MemoryStore> {
    let store = Arc::new(MemoryStore::new());
    store
        .put_user(new_user("alice", "pw-alice").unwrap())
        .await
        .unwrap();
    store
}

pub(crate) fn req(
    method: &str,
    uri: &str,
    ctype: Option<&str>,
    body: impl Into<Bytes>,
) -> http::Request<Bytes> {
    let mut b = http::Request::builder().method(method).uri(uri);
    if let Some(c) = ctype {
        b = b.header("content-type", c);
    }
    b.body(body.into()).unwrap()
}

pub(crate) async fn register(oauth: &OAuthHttp, extra: &str) -> String {
    let body =
        format!(r#"{{"redirect_uris":["{REDIRECT}"],"token_endpoint_auth_method":"none"{extra}}}"#);
    let r = oauth
        .handle(req("POST", "/register", Some("application/json"), body))
        .await;
    assert_eq!(r.status(), 201, "{}", String::from_utf8_lossy(r.body()));
    let v: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
    v["client_id"].as_str().unwrap().to_owned()
}

pub(crate) fn authorize_uri(client_id: &str, extra: &str) -> String {
    format!(
        "/authorize?response_type=code&client_id={client_id}&redirect_uri={REDIRECT}&code_challenge={}&code_challenge_method=S256&state=st{extra}",
        s256_challenge(VERIFIER)
    )
}

pub(crate) fn hidden(html: &str, name: &str) -> String {
    let m = format!("name=\"{name}\" value=\"");
    let s = html
        .find(&m)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + m.len();
    html[s..s + html[s..].find('"').unwrap()].to_owned()
}

/// GET /authorize then POST the login form; returns (status, location, body).
pub(crate) async fn login(
    oauth: &OAuthHttp,
    uri: &str,
    user: &str,
    pw: &str,
) -> (u16, Option<String>, String) {
    let r = oauth.handle(req("GET", uri, None, "")).await;
    let html = String::from_utf8_lossy(r.body()).into_owned();
    if r.status() != 200 {
        let loc = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        return (r.status().as_u16(), loc, html);
    }
    let rid = hidden(&html, "request_id");
    let form = format!("request_id={rid}&username={user}&password={pw}&action=approve");
    let r = oauth
        .handle(req(
            "POST",
            "/authorize",
            Some("application/x-www-form-urlencoded"),
            form,
        ))
        .await;
    let loc = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        r.status().as_u16(),
        loc,
        String::from_utf8_lossy(r.body()).into_owned(),
    )
}

pub(crate) fn query_param(url: &str, name: &str) -> Option<String> {
    let u = url::Url::parse(url).unwrap();
    u.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The form of a code exchange for the public `client` (PKCE with [`VERIFIER`]).
pub(crate) fn code_exchange_form(client: &str, code: &str) -> String {
    format!(
        "grant_type=authorization_code&code={code}&redirect_uri={REDIRECT}&code_verifier={VERIFIER}&client_id={client}"
    )
}

/// POST /token with `form`; asserts 200 and returns the JSON answer.
pub(crate) async fn token_ok(oauth: &OAuthHttp, form: String) -> serde_json::Value {
    let r = oauth
        .handle(req(
            "POST",
            "/token",
            Some("application/x-www-form-urlencoded"),
            form,
        ))
        .await;
    assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(r.body()));
    serde_json::from_slice(r.body()).unwrap()
}
