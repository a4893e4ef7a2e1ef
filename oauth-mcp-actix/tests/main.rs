//! The actix adapter in process: resource-server-only mode (metadata naming
//! an external authorization server, no AS endpoint) and the Bearer middleware.

// Test helpers panic on failure too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use actix_web::{App, test};
use async_trait::async_trait;
use oauth_mcp_actix::{Authenticated, configure_mcp};
use oauth_mcp_core::ResourceServer;
use oauth_mcp_core::scope::ScopeSet;
use oauth_mcp_core::validate::{AuthContext, Identity, TokenRejection, TokenValidator};

/// Accepts the token "good" only.
struct Fixed;

#[async_trait]
impl TokenValidator for Fixed {
    async fn validate(&self, token: &str) -> Result<AuthContext, TokenRejection> {
        if token != "good" {
            return Err(TokenRejection::Malformed("not good".into()));
        }
        Ok(AuthContext::new(Identity {
            subject: "alice".into(),
            client_id: "c".into(),
            scopes: ScopeSet::parse("mcp").unwrap(),
            audience: "http://127.0.0.1:9/mcp".into(),
            issuer: "https://idp.example".into(),
            expires_at: i64::MAX,
            token_id: None,
        }))
    }
}

async fn mcp(Authenticated(who): Authenticated) -> String {
    who.subject.to_string()
}

#[actix_web::test]
async fn resource_only_mode_serves_metadata_and_guards_the_endpoint() {
    let rs = ResourceServer::builder("http://127.0.0.1:9/mcp")
        .authorization_server("https://idp.example")
        .validator(Fixed)
        .required_scopes(["mcp"])
        .resource_name("t")
        .build()
        .unwrap();
    let app = test::init_service(App::new().configure(configure_mcp(rs, mcp))).await;

    let resp = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/.well-known/oauth-protected-resource/mcp")
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = test::read_body_json(resp).await;
    assert_eq!(
        body["authorization_servers"],
        serde_json::json!(["https://idp.example"])
    );
    assert_eq!(body["resource"], "http://127.0.0.1:9/mcp");
    for path in [
        "/token",
        "/authorize",
        "/register",
        "/.well-known/oauth-authorization-server",
    ] {
        let resp = test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
        assert_eq!(resp.status(), 404, "{path}");
    }

    let resp = test::call_service(&app, test::TestRequest::post().uri("/mcp").to_request()).await;
    assert_eq!(resp.status(), 401);
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        challenge,
        "Bearer resource_metadata=\"http://127.0.0.1:9/.well-known/oauth-protected-resource/mcp\", scope=\"mcp\""
    );

    let resp = test::call_service(
        &app,
        test::TestRequest::post()
            .uri("/mcp")
            .insert_header(("authorization", "Bearer bad"))
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), 401);
    assert!(
        resp.headers()
            .get("www-authenticate")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );

    let resp = test::call_service(
        &app,
        test::TestRequest::post()
            .uri("/mcp")
            .insert_header(("authorization", "Bearer good"))
            .insert_header(("content-type", "application/json"))
            .set_payload(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers().get("access-control-allow-origin").unwrap(),
        "*"
    );
    assert_eq!(test::read_body(resp).await, "alice");
}
