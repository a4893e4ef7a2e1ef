//! The framework-neutral black-box battery every oauth-mcp adapter example
//! runs: each function drives a running server over real HTTP, knowing only
//! its base URL (and, for expiry tests, a way to move the server's clock).
//!
//! An adapter's test file provides one `async fn(ServerSpec) -> Harness` and
//! invokes [`battery_tests!`] with it, which generates one test per battery
//! function plus the TypeScript SDK interop test ([`interop`]):
//!
//! ```no_run
//! use oauth_mcp_battery::{Harness, ServerSpec};
//!
//! /// Starts the adapter's example server on loopback with `spec` applied.
//! async fn start(spec: ServerSpec) -> Harness {
//!     # let _ = spec;
//!     // … start the server with a manual clock, then:
//!     Harness::new("http://127.0.0.1:40123", |_secs| { /* clock.advance(_secs) */ })
//! }
//!
//! oauth_mcp_battery::battery_tests!(start);
//! # fn main() {}
//! ```
//!
//! Server expectations (those of the example servers): demo user
//! `demo-user` / `demo-password`, scopes `mcp` and `admin` (`admin` implies
//! `mcp`), `admin_echo` needs `admin`, the MCP endpoint at `{base}/mcp`,
//! default token lifetimes (access 3600 s, code 300 s), 30 s validation
//! leeway, a 64 KiB body limit.

// Test-support code: a failed expectation is a failed test, so the battery
// panics (unwrap/expect) on purpose. (clippy.toml's allow-*-in-tests covers
// #[test] functions only, not a library of helpers.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod browser;
pub mod client;
pub mod client_host;
pub mod cookie_browser;
pub mod github;
pub mod interop;
mod macros;
mod node;
pub mod oidc;
pub mod process;
mod profile_flow;
pub mod profiles;
pub mod upstream_e2e;
pub mod upstream_idp;

pub use profile_flow::*;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use oauth_mcp_core::clock::{Clock, SystemClock};
use oauth_mcp_core::scope::ScopeSet;
use oauth_mcp_core::token::{KeySet, MintRequest, SigningAlgorithm, SigningKey, TokenSigner};
use serde_json::{Value, json};

use client::*;

/// A running server under test.
pub struct Harness {
    /// The public URL (issuer), e.g. `http://127.0.0.1:40123`.
    pub base: String,
    /// Moves the server's clock forward by this many seconds.
    pub advance: Box<dyn Fn(i64) + Send + Sync>,
}

impl Harness {
    /// A harness for the server at `base` whose clock `advance` moves.
    pub fn new(base: impl Into<String>, advance: impl Fn(i64) + Send + Sync + 'static) -> Self {
        Self {
            base: base.into(),
            advance: Box::new(advance),
        }
    }

    /// Moves the server's clock forward by `secs` seconds.
    pub fn advance(&self, secs: i64) {
        (self.advance)(secs);
    }

    /// The server's MCP endpoint URL (`{base}/mcp`).
    pub fn mcp(&self) -> String {
        mcp_url(&self.base)
    }
}

/// What a test needs from the server beyond the defaults; the adapter's
/// start function applies it.
#[derive(Debug, Clone, Default)]
pub struct ServerSpec {
    /// Grant the demo user the `admin` scope.
    pub demo_admin: bool,
    /// Sign tokens with the key in this PEM file instead of a generated one.
    pub signing_key: Option<PathBuf>,
    /// Serve under this path: the public URL is `http://<address><path>`.
    pub public_path: Option<&'static str>,
    /// Development flag: accept Client ID Metadata Documents and clients'
    /// JWK Sets (`jwks_uri`) from `http://127.0.0.1` (the client-profile
    /// tests serve real clients' documents from loopback).
    pub loopback_client_documents: bool,
}

/// Deletes a file when dropped (also when start-up panics).
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Starts a server through `start` with a freshly generated ES256 signing
/// key, returning it with the key (the PEM file handed over in
/// [`ServerSpec::signing_key`] is deleted once the server has started).
pub async fn start_with_generated_key<F, Fut>(start: F) -> (Harness, SigningKey)
where
    F: FnOnce(ServerSpec) -> Fut,
    Fut: Future<Output = Harness>,
{
    let key = SigningKey::generate(SigningAlgorithm::Es256).expect("generate a signing key");
    let path = std::env::temp_dir().join(format!(
        "oauth-mcp-e2e-{}-{}.pem",
        std::process::id(),
        key.kid()
    ));
    std::fs::write(&path, key.to_pkcs8_pem()).expect("write the signing key");
    let file = TempFile(path.clone());
    let h = start(ServerSpec {
        signing_key: Some(path),
        ..ServerSpec::default()
    })
    .await;
    // The key is read at start-up.
    drop(file);
    (h, key)
}

fn tool_names(list: &Value) -> Vec<String> {
    list["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("tools/list result: {list}"))
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect()
}

// ============================================================ 1. the full sequence

/// Discovery → registration → login → token → MCP → refresh rotation →
/// reuse of a rotated-out refresh token revokes the whole grant.
pub async fn full_flow(h: &Harness) {
    let base = h.base.as_str();

    // Unauthenticated MCP request: bare challenge pointing at the metadata.
    let r = mcp_post(base, None, &initialize_request(1)).await;
    assert_eq!(r.status(), 401, "{}", r.reply.text);
    let ch = r.reply.challenge();
    ch.assert_bearer(base, None);
    assert!(ch.scopes().contains(&"mcp".to_owned()), "{}", ch.raw);
    let prm_location = ch
        .param("resource_metadata")
        .expect("resource_metadata")
        .to_owned();

    // RFC 9728 protected-resource metadata.
    let prm = get_json(&prm_location).await;
    assert_eq!(prm["resource"], h.mcp());
    assert_eq!(prm["authorization_servers"][0], base);
    assert!(
        prm["bearer_methods_supported"]
            .as_array()
            .is_some_and(|m| m.contains(&json!("header")))
    );

    // RFC 8414 authorization-server metadata.
    let asm = get_json(&as_metadata_url(base)).await;
    assert_eq!(asm["issuer"], base);
    assert!(
        asm["code_challenge_methods_supported"]
            .as_array()
            .is_some_and(|m| m.contains(&json!("S256"))),
        "{asm}"
    );
    assert_eq!(asm["authorization_endpoint"], format!("{base}/authorize"));
    assert_eq!(asm["token_endpoint"], format!("{base}/token"));
    assert_eq!(asm["registration_endpoint"], format!("{base}/register"));
    assert_eq!(asm["authorization_response_iss_parameter_supported"], true);

    // RFC 7591 registration of a public client.
    let redirect = callback_uri();
    let reg = register(
        base,
        &json!({
            "redirect_uris": [redirect],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "client_name": "e2e full flow",
        }),
    )
    .await;
    assert_eq!(reg.status, 201, "{}", reg.text);
    assert_eq!(reg.header("cache-control").as_deref(), Some("no-store"));
    let regj = reg.json();
    assert_eq!(regj["token_endpoint_auth_method"], "none");
    assert!(regj.get("client_secret").is_none());
    assert_eq!(regj["redirect_uris"], json!([redirect]));
    let client = Registered {
        client_id: regj["client_id"].as_str().expect("client_id").to_owned(),
        client_secret: None,
        redirect_uri: redirect.clone(),
    };

    // Authorization: login form, approve, redirect with code, state and iss.
    let pkce = Pkce::new();
    let req = AuthRequest::new(&client, &pkce)
        .resource(&h.mcp())
        .scope("mcp");
    let page = authorize_get(base, &req).await;
    let request_id = assert_login_page(&page, 200);
    assert_eq!(page.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(page.header("x-frame-options").as_deref(), Some("DENY"));
    let approved = login_post(base, &request_id, USER, PASSWORD, "approve").await;
    let rd = redirect_of(&approved);
    assert_eq!(rd.target, redirect);
    assert_eq!(rd.param("iss"), asm["issuer"].as_str());
    assert_eq!(rd.param("state"), req.state.as_deref());
    let code = rd.param("code").expect("code").to_owned();

    // Token: an RFC 9068 JWT for the MCP endpoint.
    let tr = exchange(
        base,
        &client.client_id,
        &code,
        &pkce.verifier,
        Some(&redirect),
        Some(&h.mcp()),
    )
    .await;
    let tokens = tokens_of(&tr);
    assert_eq!(tokens.scope, "mcp");
    assert_eq!(tr.json()["expires_in"], 3600);
    let (jh, claims) = jwt_parts(&tokens.access);
    assert_eq!(jh["typ"], "at+jwt");
    assert!(jh["kid"].as_str().is_some_and(|k| !k.is_empty()));
    assert_eq!(claims["aud"], h.mcp());
    assert_eq!(claims["iss"], base);
    assert_eq!(claims["sub"], USER);
    assert_eq!(claims["client_id"], client.client_id.as_str());
    assert_eq!(claims["scope"], "mcp");

    // MCP: initialize, initialized, tools/list, tools/call whoami.
    let init = mcp_post(base, Some(&tokens.access), &initialize_request(1)).await;
    let result = init.result();
    assert!(result["protocolVersion"].is_string(), "{result}");
    assert!(result["capabilities"]["tools"].is_object(), "{result}");
    assert_eq!(
        init.reply.header("access-control-allow-origin").as_deref(),
        Some("*")
    );
    let notif = mcp_post(
        base,
        Some(&tokens.access),
        &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    assert_eq!(notif.status(), 202, "{}", notif.reply.text);
    let list = mcp_post(
        base,
        Some(&tokens.access),
        &rpc(2, "tools/list", &json!({})),
    )
    .await;
    let names = tool_names(&list.result());
    assert!(names.contains(&"whoami".to_owned()), "{names:?}");
    assert!(names.contains(&"admin_echo".to_owned()), "{names:?}");
    let who = whoami(base, &tokens.access).await;
    assert_eq!(who["subject"], USER);
    assert_eq!(who["client_id"], client.client_id.as_str());
    assert_eq!(who["scopes"], json!(["mcp"]));
    assert_eq!(who["audience"], h.mcp());

    // Refresh rotation.
    let first_refresh = tokens.refresh.clone();
    let r1 = tokens_of(&refresh(base, &client.client_id, &first_refresh, None).await);
    assert_ne!(r1.refresh, first_refresh, "refresh tokens rotate");
    assert_eq!(r1.scope, "mcp");
    assert_eq!(whoami(base, &r1.access).await["subject"], USER);
    let r2 = tokens_of(&refresh(base, &client.client_id, &r1.refresh, None).await);
    assert_ne!(r2.refresh, r1.refresh);
    assert_eq!(whoami(base, &r2.access).await["subject"], USER);

    // Reusing the first (rotated-out) refresh token is refused, and is
    // treated as theft: the whole grant is revoked, so the newest refresh
    // token and the newest access token stop working too.
    refresh(base, &client.client_id, &first_refresh, None)
        .await
        .assert_oauth_error(400, "invalid_grant");
    let newest = refresh(base, &client.client_id, &r2.refresh, None).await;
    assert_eq!(
        newest.status, 400,
        "after the reuse of a rotated-out refresh token the grant must be revoked, \
         but the newest refresh token still works: {}",
        newest.text
    );
    newest.assert_oauth_error(400, "invalid_grant");
    let why = assert_token_refused(base, &r2.access).await;
    assert!(why.contains("revoked"), "{why}");
}

/// A server whose public URL has a path (`http://host/base`): everything
/// lives under it — MCP, metadata by path insertion, every OAuth endpoint —
/// and a token for `{base}/mcp` is good nowhere else on the host.
pub async fn path_prefix_confines_everything(h: &Harness) {
    let base = h.base.as_str();
    let url = url::Url::parse(base).expect("base URL");
    let prefix = url.path().trim_end_matches('/');
    assert!(
        !prefix.is_empty(),
        "this test needs a path-prefixed server: {base}"
    );
    let origin = url.origin().ascii_serialization();
    let prm = get_json(&prm_url(base)).await;
    assert_eq!(prm["resource"], h.mcp());
    assert_eq!(
        prm_url(base),
        format!("{origin}/.well-known/oauth-protected-resource{prefix}/mcp")
    );
    let asm = get_json(&as_metadata_url(base)).await;
    assert_eq!(asm["issuer"], base);
    for (member, path) in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("registration_endpoint", "/register"),
        ("jwks_uri", "/jwks.json"),
    ] {
        assert_eq!(asm[member], format!("{base}{path}"), "{member}");
    }
    let s = session(base, None).await;
    let (_, claims) = jwt_parts(&s.tokens.access);
    assert_eq!(claims["aud"], h.mcp());
    assert_eq!(whoami(base, &s.tokens.access).await["audience"], h.mcp());
    // Nothing answers MCP at the origin's /mcp: the endpoint moved, it is not doubled.
    let r = mcp_post_to(
        &format!("{origin}/mcp"),
        Some(&s.tokens.access),
        &tool_call(9, "whoami", &json!({})),
    )
    .await;
    assert_eq!(r.status(), 404, "{}", r.reply.text);
}

// ============================================================ 2. audience binding

/// A client that never sends `resource` still gets a token for the MCP endpoint.
pub async fn omitted_resource_defaults_to_mcp(h: &Harness) {
    let base = h.base.as_str();
    let client = register_public(base).await;
    let pkce = Pkce::new();
    let req = AuthRequest::new(&client, &pkce);
    assert!(req.resource.is_none());
    let code = authorize(base, &req).await;
    let tokens = tokens_of(
        &exchange(
            base,
            &client.client_id,
            &code,
            &pkce.verifier,
            Some(&client.redirect_uri),
            None,
        )
        .await,
    );
    let (_, claims) = jwt_parts(&tokens.access);
    assert_eq!(
        claims["aud"],
        h.mcp(),
        "the default audience is the MCP endpoint"
    );
    assert_ne!(claims["aud"], base, "never the authorization server");
    let who = whoami(base, &tokens.access).await;
    assert_eq!(who["audience"], h.mcp());
    // Refreshing without `resource` keeps the audience.
    let r = tokens_of(&refresh(base, &client.client_id, &tokens.refresh, None).await);
    assert_eq!(jwt_parts(&r.access).1["aud"], h.mcp());
}

/// A correctly signed token whose audience is the authorization server is
/// refused at the MCP endpoint. `key` is the server's signing key.
pub async fn token_for_authorization_server_refused(h: &Harness, key: &SigningKey) {
    let base = h.base.as_str();
    let signer = TokenSigner::new(Arc::new(KeySet::new(key.clone())), base);
    let scope = ScopeSet::parse("mcp").expect("scope");
    let mint = |audience: &str| {
        let audience = oauth_mcp_core::resource::ResourceUri::parse(audience).expect("audience");
        signer
            .mint(&MintRequest {
                subject: USER,
                client_id: "minted-by-the-battery",
                scope: &scope,
                audience: &audience,
                grant_id: None,
                now: SystemClock.now(),
                ttl: 600,
            })
            .expect("mint")
            .0
    };
    // Control: the same key and claims with the right audience are accepted,
    // so the refusal below is about the audience alone.
    let good = mint(&h.mcp());
    assert_eq!(whoami(base, &good).await["subject"], USER);

    let wrong = mint(base);
    let why = assert_token_refused(base, &wrong).await;
    assert!(
        why.contains("audience"),
        "description should name the audience: {why}"
    );
}

// ============================================================ 3. refusals

/// A wrong PKCE verifier: 400 invalid_grant, and the code is not spent:
/// whoever intercepted it cannot burn it for the client that holds the
/// verifier.
pub async fn wrong_pkce_verifier(h: &Harness) {
    let base = h.base.as_str();
    let client = register_public(base).await;
    let pkce = Pkce::new();
    let code = authorize(base, &AuthRequest::new(&client, &pkce)).await;
    let other = Pkce::new();
    let refused = exchange(
        base,
        &client.client_id,
        &code,
        &other.verifier,
        Some(&client.redirect_uri),
        None,
    )
    .await;
    refused.assert_oauth_error(400, "invalid_grant");
    assert!(
        refused.error_description().contains("code_verifier"),
        "the description names the verifier: {}",
        refused.error_description()
    );
    let ok = exchange(
        base,
        &client.client_id,
        &code,
        &pkce.verifier,
        Some(&client.redirect_uri),
        None,
    )
    .await;
    assert_eq!(
        ok.status, 200,
        "the rightful client still redeems the code: {ok:?}"
    );
}

/// A replayed code is refused, and the tokens of its first exchange are revoked.
pub async fn code_replay_revokes_tokens(h: &Harness) {
    let base = h.base.as_str();
    let client = register_public(base).await;
    let pkce = Pkce::new();
    let code = authorize(base, &AuthRequest::new(&client, &pkce)).await;
    let ex = || {
        exchange(
            base,
            &client.client_id,
            &code,
            &pkce.verifier,
            Some(&client.redirect_uri),
            None,
        )
    };
    let tokens = tokens_of(&ex().await);
    assert_eq!(whoami(base, &tokens.access).await["subject"], USER);

    ex().await.assert_oauth_error(400, "invalid_grant");

    let why = assert_token_refused(base, &tokens.access).await;
    assert!(why.contains("revoked"), "{why}");
    refresh(base, &client.client_id, &tokens.refresh, None)
        .await
        .assert_oauth_error(400, "invalid_grant");
}

/// An unregistered redirect URI at /authorize: an error page, never a redirect.
pub async fn redirect_uri_mismatch_at_authorize(h: &Harness) {
    let base = h.base.as_str();
    let client = register_public(base).await;
    let pkce = Pkce::new();
    let other_path = client.redirect_uri.replace("/callback", "/other");
    for bad in [
        other_path.as_str(),
        "https://attacker.example/callback",
        "http://localhost/callback",
    ] {
        let req = AuthRequest::new(&client, &pkce).redirect_uri(bad);
        assert_error_page(&authorize_get(base, &req).await, 400);
    }
}

/// A redirect URI at /token that differs from the one used at /authorize.
pub async fn redirect_uri_mismatch_at_token(h: &Harness) {
    let base = h.base.as_str();
    let client = register_public(base).await;
    let pkce = Pkce::new();
    let code = authorize(base, &AuthRequest::new(&client, &pkce)).await;
    let other = client.redirect_uri.replace("/callback", "/other");
    exchange(
        base,
        &client.client_id,
        &code,
        &pkce.verifier,
        Some(&other),
        None,
    )
    .await
    .assert_oauth_error(400, "invalid_grant");
}

/// RFC 8252 §7.3: a loopback redirect URI may use any port.
pub async fn loopback_redirect_any_port(h: &Harness) {
    let base = h.base.as_str();
    let client = register_public(base).await;
    let u = url::Url::parse(&client.redirect_uri).expect("url");
    let port = u.port().expect("port");
    let other_port = if port == 65_535 { 1024 } else { port + 1 };
    let moved = client
        .redirect_uri
        .replace(&format!(":{port}/"), &format!(":{other_port}/"));
    assert_ne!(moved, client.redirect_uri);
    let pkce = Pkce::new();
    let req = AuthRequest::new(&client, &pkce).redirect_uri(&moved);
    let code = authorize(base, &req).await;
    tokens_of(
        &exchange(
            base,
            &client.client_id,
            &code,
            &pkce.verifier,
            Some(&moved),
            None,
        )
        .await,
    );
}

/// An unknown client_id at /authorize: an error page, no redirect.
pub async fn unknown_client_at_authorize(h: &Harness) {
    let base = h.base.as_str();
    let pkce = Pkce::new();
    let ghost = Registered {
        client_id: unique("no-such-client"),
        client_secret: None,
        redirect_uri: callback_uri(),
    };
    let r = authorize_get(base, &AuthRequest::new(&ghost, &pkce)).await;
    assert_error_page(&r, 400);
}

/// An unknown resource at /authorize is redirected as `invalid_target`.
pub async fn unknown_resource_at_authorize(h: &Harness) {
    let base = h.base.as_str();
    let client = register_public(base).await;
    let pkce = Pkce::new();
    for bad in ["https://elsewhere.example/mcp", base] {
        let req = AuthRequest::new(&client, &pkce).resource(bad);
        let r = authorize_get(base, &req).await;
        assert_error_redirect(&r, base, &client.redirect_uri, &req, "invalid_target");
    }
}

/// An unknown resource at /token: 400 invalid_target.
pub async fn unknown_resource_at_token(h: &Harness) {
    let base = h.base.as_str();
    let client = register_public(base).await;
    for bad in ["https://elsewhere.example/mcp", base] {
        let pkce = Pkce::new();
        let code = authorize(base, &AuthRequest::new(&client, &pkce)).await;
        exchange(
            base,
            &client.client_id,
            &code,
            &pkce.verifier,
            Some(&client.redirect_uri),
            Some(bad),
        )
        .await
        .assert_oauth_error(400, "invalid_target");
    }
}

/// PKCE is mandatory: no challenge → invalid_request redirect.
pub async fn missing_code_challenge(h: &Harness) {
    let base = h.base.as_str();
    let client = register_public(base).await;
    let pkce = Pkce::new();
    let mut req = AuthRequest::new(&client, &pkce);
    req.code_challenge = None;
    req.code_challenge_method = None;
    let r = authorize_get(base, &req).await;
    assert_error_redirect(&r, base, &client.redirect_uri, &req, "invalid_request");
}

/// `plain` PKCE (explicit, or implied by an absent method) is refused.
pub async fn plain_pkce_refused(h: &Harness) {
    let base = h.base.as_str();
    let client = register_public(base).await;
    let pkce = Pkce::new();
    for method in [Some("plain"), None] {
        let mut req = AuthRequest::new(&client, &pkce);
        req.code_challenge = Some(pkce.verifier.clone());
        req.code_challenge_method = method.map(str::to_owned);
        let r = authorize_get(base, &req).await;
        assert_error_redirect(&r, base, &client.redirect_uri, &req, "invalid_request");
    }
}

/// A code older than its 300 s lifetime is refused.
pub async fn expired_code(h: &Harness) {
    let base = h.base.as_str();
    let client = register_public(base).await;
    let pkce = Pkce::new();
    let code = authorize(base, &AuthRequest::new(&client, &pkce)).await;
    h.advance(301);
    let r = exchange(
        base,
        &client.client_id,
        &code,
        &pkce.verifier,
        Some(&client.redirect_uri),
        None,
    )
    .await;
    r.assert_oauth_error(400, "invalid_grant");
    assert!(r.error_description().contains("expired"), "{}", r.text);
}

/// An access token past `exp` + leeway is refused; refreshing recovers.
pub async fn expired_access_token(h: &Harness) {
    let base = h.base.as_str();
    let s = session(base, None).await;
    assert_eq!(whoami(base, &s.tokens.access).await["subject"], USER);
    h.advance(3600 + 31);
    let why = assert_token_refused(base, &s.tokens.access).await;
    assert!(
        why.contains("expired"),
        "description should mention expiry: {why}"
    );
    let fresh = tokens_of(&refresh(base, &s.client.client_id, &s.tokens.refresh, None).await);
    assert_eq!(whoami(base, &fresh.access).await["subject"], USER);
}

/// The demo user (scope `mcp` only) calling `admin_echo`: 403 insufficient_scope.
pub async fn insufficient_scope_for_admin_tool(h: &Harness) {
    let base = h.base.as_str();
    // Asking for admin does not get it: the user policy grants only mcp.
    let s = session(base, Some("mcp admin")).await;
    assert_eq!(s.tokens.scope, "mcp");
    let r = mcp_post(
        base,
        Some(&s.tokens.access),
        &tool_call(3, "admin_echo", &json!({"message": "hi"})),
    )
    .await;
    assert_eq!(r.status(), 403, "{}", r.reply.text);
    let ch = r.reply.challenge();
    ch.assert_bearer(base, Some("insufficient_scope"));
    let scopes = ch.scopes();
    assert!(scopes.contains(&"admin".to_owned()), "{}", ch.raw);
    assert!(
        scopes.contains(&"mcp".to_owned()),
        "keeps the scopes it has: {}",
        ch.raw
    );
    assert_eq!(r.reply.error(), "insufficient_scope");
    assert_eq!(
        r.reply.header("access-control-allow-origin").as_deref(),
        Some("*")
    );
    // Other tools still work with the same token.
    assert_eq!(whoami(base, &s.tokens.access).await["subject"], USER);
}

/// On a server that grants the demo user `admin`, `admin_echo` works.
pub async fn admin_tool_with_admin_scope(h: &Harness) {
    let base = h.base.as_str();
    let s = session(base, Some("mcp admin")).await;
    let granted: Vec<&str> = s.tokens.scope.split(' ').collect();
    assert!(
        granted.contains(&"admin") && granted.contains(&"mcp"),
        "{}",
        s.tokens.scope
    );
    let r = mcp_post(
        base,
        Some(&s.tokens.access),
        &tool_call(4, "admin_echo", &json!({"message": "hello, admin"})),
    )
    .await;
    let result = r.result();
    assert_ne!(result["isError"], json!(true), "{result}");
    assert_eq!(result["content"][0]["text"], "hello, admin");
}

/// A token in the query string is refused with 400 invalid_request.
pub async fn token_in_query_refused(h: &Harness) {
    let base = h.base.as_str();
    let s = session(base, None).await;
    let url = format!("{}?access_token={}", h.mcp(), s.tokens.access);
    let r = mcp_post_to(&url, None, &rpc(5, "tools/list", &json!({}))).await;
    assert_eq!(r.status(), 400, "{}", r.reply.text);
    r.reply
        .challenge()
        .assert_bearer(base, Some("invalid_request"));
    assert_eq!(r.reply.error(), "invalid_request");
    // Even alongside a valid header.
    let r = mcp_post_to(
        &url,
        Some(&s.tokens.access),
        &rpc(6, "tools/list", &json!({})),
    )
    .await;
    assert_eq!(r.status(), 400, "{}", r.reply.text);
    r.reply
        .challenge()
        .assert_bearer(base, Some("invalid_request"));
}

/// Malformed token requests.
pub async fn malformed_token_requests(h: &Harness) {
    let base = h.base.as_str();
    token_raw(
        base,
        "application/json",
        br#"{"grant_type":"authorization_code","code":"x","client_id":"y"}"#.to_vec(),
    )
    .await
    .assert_oauth_error(400, "invalid_request");
    token(
        base,
        &[
            ("grant_type", "password"),
            ("username", USER),
            ("password", PASSWORD),
            ("client_id", "whatever"),
        ],
        None,
    )
    .await
    .assert_oauth_error(400, "unsupported_grant_type");
    token(base, &[("code", "x"), ("client_id", "y")], None)
        .await
        .assert_oauth_error(400, "invalid_request");
    // A repeated parameter (RFC 6749 §3.2).
    token(
        base,
        &[
            ("grant_type", "refresh_token"),
            ("grant_type", "refresh_token"),
        ],
        None,
    )
    .await
    .assert_oauth_error(400, "invalid_request");
}

/// Malformed registrations.
pub async fn malformed_registrations(h: &Harness) {
    let base = h.base.as_str();
    register_raw(base, "application/json", b"this is not json{".to_vec())
        .await
        .assert_oauth_error(400, "invalid_client_metadata");
    register_raw(
        base,
        "text/plain",
        br#"{"redirect_uris":["http://127.0.0.1/cb"]}"#.to_vec(),
    )
    .await
    .assert_oauth_error(400, "invalid_client_metadata");
    for bad in ["javascript:alert(1)", "http://example.com/cb"] {
        register(
            base,
            &json!({"redirect_uris": [bad], "token_endpoint_auth_method": "none"}),
        )
        .await
        .assert_oauth_error(400, "invalid_redirect_uri");
    }
    register(base, &json!({"token_endpoint_auth_method": "none"}))
        .await
        .assert_oauth_error(400, "invalid_redirect_uri");
}

/// Bodies over 64 KiB are refused with 413.
pub async fn oversize_bodies(h: &Harness) {
    let base = h.base.as_str();
    let mut body = b"grant_type=authorization_code&code=x&client_id=y&pad=".to_vec();
    body.resize(body.len() + 70 * 1024, b'a');
    let r = token_raw(base, "application/x-www-form-urlencoded", body).await;
    assert_eq!(r.status, 413, "{}", r.text);
    assert_eq!(r.error(), "invalid_request");

    // The MCP endpoint too (the Bearer layer reads the body for per-tool scopes).
    let s = session(base, None).await;
    let big = tool_call(9, "whoami", &json!({"pad": "a".repeat(70 * 1024)}));
    let r = mcp_post(base, Some(&s.tokens.access), &big).await;
    assert_eq!(r.status(), 413, "{}", r.reply.text);
}

/// Garbage Bearer credentials: 401 invalid_token.
pub async fn garbage_bearer(h: &Harness) {
    let base = h.base.as_str();
    for garbage in ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."] {
        assert_token_refused(base, garbage).await;
    }
}

/// A confidential client with a wrong or missing secret: 401 invalid_client
/// with a `WWW-Authenticate: Basic` challenge; the code survives the failed
/// attempts. Checked for a client that registered `client_secret_post` and
/// for one that registered no method (and so got a secret by default).
pub async fn confidential_client_wrong_secret(h: &Harness) {
    let base = h.base.as_str();
    for method in [Some("client_secret_post"), None] {
        let client = register_confidential(base, method).await;
        let secret = client.client_secret.clone().expect("secret");
        let pkce = Pkce::new();
        let code = authorize(base, &AuthRequest::new(&client, &pkce)).await;
        let with_secret = |secret: Option<&str>| {
            let mut form = vec![
                ("grant_type", "authorization_code".to_owned()),
                ("code", code.clone()),
                ("code_verifier", pkce.verifier.clone()),
                ("redirect_uri", client.redirect_uri.clone()),
                ("client_id", client.client_id.clone()),
            ];
            if let Some(s) = secret {
                form.push(("client_secret", s.to_owned()));
            }
            form
        };
        for wrong in [Some("wrong-secret"), None] {
            let form = with_secret(wrong);
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = token(base, &form, None).await;
            r.assert_oauth_error(401, "invalid_client");
            let www = r.header("www-authenticate").expect("WWW-Authenticate");
            assert!(www.starts_with("Basic"), "{www}");
        }
        // Wrong secret over Basic too.
        let r = token(
            base,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", &pkce.verifier),
                ("redirect_uri", &client.redirect_uri),
            ],
            Some((&client.client_id, "wrong-secret")),
        )
        .await;
        r.assert_oauth_error(401, "invalid_client");
        assert!(
            r.header("www-authenticate")
                .is_some_and(|w| w.starts_with("Basic"))
        );
        // The right secret still redeems the (unspent) code.
        let form = with_secret(Some(&secret));
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        tokens_of(&token(base, &form, None).await);
    }
}

/// A confidential client that registered no auth method may use Basic or POST.
pub async fn confidential_client_basic_and_post(h: &Harness) {
    let base = h.base.as_str();
    let client = register_confidential(base, None).await;
    let secret = client.client_secret.clone().expect("secret");
    let id = client.client_id.as_str();

    // Code via Basic, refresh via POST.
    let pkce = Pkce::new();
    let code = authorize(base, &AuthRequest::new(&client, &pkce)).await;
    let t = tokens_of(
        &token(
            base,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", &pkce.verifier),
                ("redirect_uri", &client.redirect_uri),
            ],
            Some((id, &secret)),
        )
        .await,
    );
    let t = tokens_of(
        &token(
            base,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &t.refresh),
                ("client_id", id),
                ("client_secret", &secret),
            ],
            None,
        )
        .await,
    );
    assert_eq!(whoami(base, &t.access).await["client_id"], id);

    // Code via POST, refresh via Basic.
    let pkce = Pkce::new();
    let code = authorize(base, &AuthRequest::new(&client, &pkce)).await;
    let t = tokens_of(
        &token(
            base,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", &pkce.verifier),
                ("redirect_uri", &client.redirect_uri),
                ("client_id", id),
                ("client_secret", &secret),
            ],
            None,
        )
        .await,
    );
    tokens_of(
        &token(
            base,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &t.refresh),
            ],
            Some((id, &secret)),
        )
        .await,
    );

    // Without any secret it is refused.
    let r = token(
        base,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &t.refresh),
            ("client_id", id),
        ],
        None,
    )
    .await;
    r.assert_oauth_error(401, "invalid_client");
    assert!(
        r.header("www-authenticate")
            .is_some_and(|w| w.starts_with("Basic"))
    );
}

/// A client that registered `client_secret_post` may not use Basic.
pub async fn explicit_post_client_refuses_basic(h: &Harness) {
    let base = h.base.as_str();
    let client = register_confidential(base, Some("client_secret_post")).await;
    let secret = client.client_secret.clone().expect("secret");
    let id = client.client_id.as_str();
    let pkce = Pkce::new();
    let code = authorize(base, &AuthRequest::new(&client, &pkce)).await;
    let r = token(
        base,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &pkce.verifier),
            ("redirect_uri", &client.redirect_uri),
        ],
        Some((id, &secret)),
    )
    .await;
    r.assert_oauth_error(401, "invalid_client");
    assert!(
        r.header("www-authenticate")
            .is_some_and(|w| w.starts_with("Basic"))
    );
    // The registered method works (the refused attempt did not spend the code).
    tokens_of(
        &token(
            base,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", &pkce.verifier),
                ("redirect_uri", &client.redirect_uri),
                ("client_id", id),
                ("client_secret", &secret),
            ],
            None,
        )
        .await,
    );
}

/// A refresh may not widen the grant's scopes.
pub async fn refresh_broader_scope_refused(h: &Harness) {
    let base = h.base.as_str();
    let s = session(base, None).await;
    assert_eq!(s.tokens.scope, "mcp");
    refresh(
        base,
        &s.client.client_id,
        &s.tokens.refresh,
        Some("mcp admin"),
    )
    .await
    .assert_oauth_error(400, "invalid_scope");
    // The refused attempt did not spend the refresh token.
    tokens_of(&refresh(base, &s.client.client_id, &s.tokens.refresh, None).await);
}

/// A refresh may narrow the scopes (needs a server that grants `admin`).
pub async fn refresh_narrowing_scope(h: &Harness) {
    let base = h.base.as_str();
    let s = session(base, Some("mcp admin")).await;
    let narrowed =
        tokens_of(&refresh(base, &s.client.client_id, &s.tokens.refresh, Some("mcp")).await);
    assert_eq!(narrowed.scope, "mcp");
    assert_eq!(jwt_parts(&narrowed.access).1["scope"], "mcp");
    assert_eq!(
        whoami(base, &narrowed.access).await["scopes"],
        json!(["mcp"])
    );
    let r = mcp_post(
        base,
        Some(&narrowed.access),
        &tool_call(10, "admin_echo", &json!({"message": "x"})),
    )
    .await;
    assert_eq!(r.status(), 403, "{}", r.reply.text);
    // Omitting scope later returns to the scopes originally granted (RFC 6749 §6).
    let back = tokens_of(&refresh(base, &s.client.client_id, &narrowed.refresh, None).await);
    let mut got: Vec<&str> = back.scope.split(' ').collect();
    got.sort_unstable();
    assert_eq!(got, ["admin", "mcp"]);
}

/// The user denies consent: redirect with access_denied, state and iss; the
/// request is then gone.
pub async fn user_denies_consent(h: &Harness) {
    let base = h.base.as_str();
    let client = register_public(base).await;
    let pkce = Pkce::new();
    let req = AuthRequest::new(&client, &pkce);
    let id = assert_login_page(&authorize_get(base, &req).await, 200);
    let r = login_post(base, &id, "", "", "deny").await;
    assert_error_redirect(&r, base, &client.redirect_uri, &req, "access_denied");
    let again = login_post(base, &id, USER, PASSWORD, "approve").await;
    assert_error_page(&again, 400);
}

/// A wrong password shows the form again (401) and the request stays usable.
pub async fn wrong_password_then_retry(h: &Harness) {
    let base = h.base.as_str();
    let client = register_public(base).await;
    let pkce = Pkce::new();
    let req = AuthRequest::new(&client, &pkce);
    let id = assert_login_page(&authorize_get(base, &req).await, 200);
    let bad = login_post(base, &id, USER, "not-the-password", "approve").await;
    let id_again = assert_login_page(&bad, 401);
    assert_eq!(id_again, id, "the pending request is kept");
    assert!(
        bad.text.contains("Wrong username or password"),
        "{}",
        bad.text
    );
    let unknown_user = login_post(base, &id, "nobody", PASSWORD, "approve").await;
    assert_login_page(&unknown_user, 401);
    let ok = login_post(base, &id, USER, PASSWORD, "approve").await;
    let rd = redirect_of(&ok);
    assert_eq!(rd.param("state"), req.state.as_deref());
    assert_eq!(rd.param("iss"), Some(base));
    let code = rd.param("code").expect("code");
    tokens_of(
        &exchange(
            base,
            &client.client_id,
            code,
            &pkce.verifier,
            Some(&client.redirect_uri),
            None,
        )
        .await,
    );
}

// ============================================================ 4. CORS

async fn preflight(url: &str) -> Reply {
    let r = http()
        .request(reqwest::Method::OPTIONS, url)
        .header("Origin", "https://inspector.example")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type, mcp-protocol-version",
        )
        .send()
        .await
        .expect("OPTIONS");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.expect("body");
    Reply {
        status,
        headers,
        text,
    }
}

/// Preflights on /token and /mcp, and readable challenges on 401s.
pub async fn cors(h: &Harness) {
    let base = h.base.as_str();
    for url in [format!("{base}/token"), h.mcp(), format!("{base}/register")] {
        let r = preflight(&url).await;
        assert_eq!(r.status, 204, "preflight {url}: {}", r.text);
        assert_eq!(
            r.header("access-control-allow-origin").as_deref(),
            Some("*")
        );
        let allow = r
            .header("access-control-allow-headers")
            .expect("Allow-Headers");
        assert!(list_contains(&allow, "Authorization"), "{allow}");
        assert!(list_contains(&allow, "MCP-Protocol-Version"), "{allow}");
        assert!(list_contains(&allow, "Content-Type"), "{allow}");
        let methods = r
            .header("access-control-allow-methods")
            .expect("Allow-Methods");
        assert!(list_contains(&methods, "POST"), "{methods}");
    }

    let r = mcp_post(base, None, &initialize_request(1)).await;
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.reply.header("access-control-allow-origin").as_deref(),
        Some("*")
    );
    let expose = r
        .reply
        .header("access-control-expose-headers")
        .expect("Expose-Headers on 401");
    assert!(list_contains(&expose, "WWW-Authenticate"), "{expose}");

    // Token endpoint errors are readable cross-origin too.
    let r = token(base, &[("grant_type", "password")], None).await;
    assert_eq!(
        r.header("access-control-allow-origin").as_deref(),
        Some("*")
    );
}

// ============================================================ 5. concurrency

/// Eight concurrent refreshes with the current refresh token never strand the
/// user: afterwards at least one returned refresh token still works.
pub async fn concurrent_refresh(h: &Harness) {
    let base = h.base.clone();
    let s = session(&base, None).await;
    // Rotate once so the token raced with is a "current" one, not the first.
    let current = tokens_of(&refresh(&base, &s.client.client_id, &s.tokens.refresh, None).await);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let base = base.clone();
        let id = s.client.client_id.clone();
        let rt = current.refresh.clone();
        set.spawn(async move { refresh(&base, &id, &rt, None).await });
    }
    let mut winners = Vec::new();
    while let Some(r) = set.join_next().await {
        let r = r.expect("task");
        if r.status == 200 {
            winners.push(tokens_of(&r));
        } else {
            r.assert_oauth_error(400, "invalid_grant");
        }
    }
    assert!(
        !winners.is_empty(),
        "at least one concurrent refresh succeeds"
    );
    let mut survivor = None;
    for w in &winners {
        let r = refresh(&base, &s.client.client_id, &w.refresh, None).await;
        if r.status == 200 {
            survivor = Some(tokens_of(&r));
            break;
        }
    }
    let survivor = survivor.expect("some refresh token from the race still refreshes");
    assert_eq!(whoami(&base, &survivor.access).await["subject"], USER);
}

/// Eight concurrent redemptions of one code: exactly one succeeds.
pub async fn concurrent_code_redemption(h: &Harness) {
    let base = h.base.clone();
    let client = register_public(&base).await;
    let pkce = Pkce::new();
    let code = authorize(&base, &AuthRequest::new(&client, &pkce)).await;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (base, client, code, verifier) = (
            base.clone(),
            client.clone(),
            code.clone(),
            pkce.verifier.clone(),
        );
        set.spawn(async move {
            exchange(
                &base,
                &client.client_id,
                &code,
                &verifier,
                Some(&client.redirect_uri),
                None,
            )
            .await
        });
    }
    let mut ok = 0;
    while let Some(r) = set.join_next().await {
        let r = r.expect("task");
        if r.status == 200 {
            ok += 1;
        } else {
            r.assert_oauth_error(400, "invalid_grant");
        }
    }
    assert_eq!(ok, 1, "exactly one redemption of a code succeeds");
}
