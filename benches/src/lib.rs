//! Shared set-up for the criterion benches and the `loadtest` harness: an
//! in-process authorization server with a fixed-cost authenticator, a client
//! that walks the code flow through the framework-neutral HTTP layer, and
//! [`glue`], the one place that builds a resource server the way the README
//! shows (so porting to a new core API touches one small module).

pub mod glue;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use oauth_mcp_core::http::OAuthHttp;
use oauth_mcp_core::login::Authenticator;
use oauth_mcp_core::pkce::s256_challenge;
use oauth_mcp_core::secret::Secret;
use oauth_mcp_core::store::{MemoryStore, Store};
use oauth_mcp_core::{AuthServer, ServerConfig, StoreError};

/// Accepts one fixed user without hashing, so the flow bench measures the
/// protocol, not argon2 (which the `argon2_login` bench measures on its own).
#[derive(Debug)]
pub struct FixedUser;

#[async_trait]
impl Authenticator for FixedUser {
    async fn authenticate(
        &self,
        username: &str,
        password: &Secret,
    ) -> Result<Option<String>, StoreError> {
        Ok((username == "u" && password.secret() == "p").then(|| "u".to_owned()))
    }
}

/// An in-process server on the memory store.
pub fn server() -> OAuthHttp {
    server_on(Arc::new(MemoryStore::new()))
}

/// An in-process server on `store`.
pub fn server_on<S: Store + 'static>(store: Arc<S>) -> OAuthHttp {
    let cfg = ServerConfig::builder("http://127.0.0.1:8080")
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    OAuthHttp::new(AuthServer::with_authenticator(
        cfg,
        store,
        Arc::new(FixedUser),
    ))
}

fn req(method: &str, uri: &str, ctype: Option<&str>, body: String) -> http::Request<Bytes> {
    let mut b = http::Request::builder().method(method).uri(uri);
    if let Some(c) = ctype {
        b = b.header("content-type", c);
    }
    b.body(Bytes::from(body)).unwrap_or_else(|e| panic!("{e}"))
}

/// The `value` of the hidden form field `name` in an HTML page.
pub fn field<'a>(html: &'a str, name: &str) -> &'a str {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .map(|i| i + marker.len())
        .unwrap_or_else(|| panic!("no {name}"));
    let end = html[start..]
        .find('"')
        .unwrap_or_else(|| panic!("unterminated {name}"));
    &html[start..start + end]
}

/// register → GET /authorize → POST /authorize → POST /token; returns the access token.
pub async fn code_flow(oauth: &OAuthHttp) -> String {
    let redirect = "http://127.0.0.1:9999/cb";
    let r = oauth
        .handle(req(
            "POST",
            "/register",
            Some("application/json"),
            format!(r#"{{"redirect_uris":["{redirect}"],"token_endpoint_auth_method":"none"}}"#),
        ))
        .await;
    assert_eq!(r.status(), 201);
    let reg: serde_json::Value = serde_json::from_slice(r.body()).unwrap_or_default();
    let client_id = reg["client_id"].as_str().unwrap_or_default().to_owned();
    let verifier = "v".repeat(64);
    let challenge = s256_challenge(&verifier);
    let q = format!(
        "/authorize?response_type=code&client_id={client_id}&redirect_uri={redirect}&code_challenge={challenge}&code_challenge_method=S256&state=s"
    );
    let r = oauth.handle(req("GET", &q, None, String::new())).await;
    assert_eq!(r.status(), 200);
    let html = String::from_utf8_lossy(r.body()).into_owned();
    let rid = field(&html, "request_id");
    let r = oauth
        .handle(req(
            "POST",
            "/authorize",
            Some("application/x-www-form-urlencoded"),
            format!("request_id={rid}&username=u&password=p&action=approve"),
        ))
        .await;
    assert_eq!(r.status(), 303);
    let loc = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let code = loc
        .split("code=")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .unwrap_or_default()
        .to_owned();
    let r = oauth
        .handle(req(
            "POST",
            "/token",
            Some("application/x-www-form-urlencoded"),
            format!(
                "grant_type=authorization_code&code={code}&redirect_uri={redirect}&code_verifier={verifier}&client_id={client_id}"
            ),
        ))
        .await;
    assert_eq!(r.status(), 200);
    let t: serde_json::Value = serde_json::from_slice(r.body()).unwrap_or_default();
    t["access_token"].as_str().unwrap_or_default().to_owned()
}
