//! The resource server fits an authorization server whose scope names are
//! not ours (`mcp:tools`, `mcp:admin`), from flags alone: supported,
//! required and per-tool scopes and what implies what. The issuer here is a
//! loopback stand-in serving RFC 8414 metadata and a JWKS; its tokens are
//! minted with the core's signer.

// Test helpers panic on failure too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use example_resource_server::{Options, Running, start_on};
use oauth_mcp_battery::client::{get_json, mcp_post, tool_call};
use oauth_mcp_core::clock::{Clock, SystemClock};
use oauth_mcp_core::resource::ResourceUri;
use oauth_mcp_core::scope::ScopeSet;
use oauth_mcp_core::token::{KeySet, MintRequest, SigningAlgorithm, SigningKey, TokenSigner};
use serde_json::json;

struct Issuer {
    url: String,
    keys: Arc<KeySet>,
}

impl Issuer {
    async fn start() -> Self {
        let keys = Arc::new(KeySet::new(
            SigningKey::generate(SigningAlgorithm::Es256).unwrap(),
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let metadata = json!({
            "issuer": url,
            "jwks_uri": format!("{url}/jwks"),
            "authorization_endpoint": format!("{url}/authorize"),
            "token_endpoint": format!("{url}/token"),
            "response_types_supported": ["code"],
        });
        let jwks = serde_json::to_value(keys.jwks()).unwrap();
        let app = axum::Router::new()
            .route(
                "/.well-known/oauth-authorization-server",
                axum::routing::get(move || {
                    let m = metadata.clone();
                    async move { axum::Json(m) }
                }),
            )
            .route(
                "/jwks",
                axum::routing::get(move || {
                    let j = jwks.clone();
                    async move { axum::Json(j) }
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, keys }
    }

    fn token(&self, audience: &str, scope: &str) -> String {
        TokenSigner::new(self.keys.clone(), &self.url)
            .mint(&MintRequest {
                subject: "alice",
                client_id: "some-client",
                scope: &ScopeSet::parse(scope).unwrap(),
                audience: &ResourceUri::parse(audience).unwrap(),
                grant_id: None,
                now: SystemClock.now(),
                ttl: 600,
            })
            .unwrap()
            .0
    }
}

fn options(issuer: &str, listener: &tokio::net::TcpListener) -> Options {
    Options {
        bind: listener.local_addr().unwrap(),
        public_url: None,
        issuer: issuer.to_owned(),
        introspection_client_id: None,
        introspection_client_secret: None,
        accept_jwt_typ: false,
        jwks_min_refetch_secs: 10,
        jwks_max_age_secs: 600,
        scopes: "mcp:tools, mcp:admin".into(),
        required_scopes: "mcp:tools".into(),
        tool_scopes: "admin_echo=mcp:admin".into(),
        scope_implies: "mcp:admin=mcp:tools".into(),
        clock: None,
    }
}

async fn start(opts: Options, listener: tokio::net::TcpListener) -> Result<Running, String> {
    start_on(listener, &opts).await.map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_scope_names_come_from_flags_alone() {
    let issuer = Issuer::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let opts = options(&issuer.url, &listener);
    let running = start(opts, listener).await.unwrap();
    let base = running.mcp_url.trim_end_matches("/mcp").to_owned();

    // The 401 challenge names the required scope without any extra call.
    let r = mcp_post(&base, None, &tool_call(1, "whoami", &json!({}))).await;
    assert_eq!(r.status(), 401, "{}", r.reply.text);
    let ch = r.reply.challenge();
    assert_eq!(ch.scopes(), ["mcp:tools"], "{}", ch.raw);
    let prm = get_json(ch.param("resource_metadata").unwrap()).await;
    assert_eq!(prm["scopes_supported"], json!(["mcp:admin", "mcp:tools"]));
    assert_eq!(prm["authorization_servers"], json!([issuer.url]));

    // mcp:tools reaches whoami but not admin_echo, whose 403 names mcp:admin.
    let tools = issuer.token(&running.mcp_url, "mcp:tools");
    let r = mcp_post(&base, Some(&tools), &tool_call(2, "whoami", &json!({}))).await;
    assert_eq!(r.status(), 200, "{}", r.reply.text);
    let echo = tool_call(3, "admin_echo", &json!({"message": "hi"}));
    let r = mcp_post(&base, Some(&tools), &echo).await;
    assert_eq!(r.status(), 403, "{}", r.reply.text);
    let ch = r.reply.challenge();
    assert_eq!(ch.param("error"), Some("insufficient_scope"));
    assert!(ch.scopes().contains(&"mcp:admin".to_owned()), "{}", ch.raw);

    // mcp:admin implies mcp:tools: it alone passes the required scope too.
    let admin = issuer.token(&running.mcp_url, "mcp:admin");
    let r = mcp_post(&base, Some(&admin), &echo).await;
    assert_eq!(r.status(), 200, "{}", r.reply.text);
    assert_eq!(r.result()["content"][0]["text"], "hi");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_scope_flags_refuse_to_start_naming_the_flag() {
    let issuer = Issuer::start().await;
    for (change, says) in [
        (
            (|o: &mut Options| o.tool_scopes = "admin_echo=admin".into()) as fn(&mut Options),
            "tool_scopes",
        ),
        (
            |o: &mut Options| o.required_scopes = "mcp".into(),
            "required_scopes",
        ),
        (
            |o: &mut Options| o.tool_scopes = "admin_echo".into(),
            "--tool-scopes: `admin_echo` is not `name=scope [scope…]`",
        ),
        (
            |o: &mut Options| o.scope_implies = "=mcp:tools".into(),
            "--scope-implies: `=mcp:tools` is not `name=scope [scope…]`",
        ),
    ] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut opts = options(&issuer.url, &listener);
        change(&mut opts);
        let e = start(opts, listener).await.unwrap_err();
        assert!(e.contains(says), "{says}: {e}");
    }
}
