//! RFC 7591 registration over the HTTP layer: what this server does not
//! implement is dropped and the response says what was registered; a
//! registration is refused only when what remains cannot work.

use std::sync::Arc;

use oauth_mcp_core::http::OAuthHttp;
use oauth_mcp_core::store::MemoryStore;
use oauth_mcp_core::{AuthServer, ServerConfig};
use serde_json::{Value, json};

use crate::audit::capture;
use crate::support::req;

fn server() -> OAuthHttp {
    let config = ServerConfig::builder("http://127.0.0.1:8080")
        .build()
        .unwrap();
    OAuthHttp::new(AuthServer::new(config, Arc::new(MemoryStore::new())).unwrap())
}

async fn register(oauth: &OAuthHttp, body: &Value) -> (u16, Value) {
    let r = oauth
        .handle(req(
            "POST",
            "/register",
            Some("application/json"),
            body.to_string(),
        ))
        .await;
    let status = r.status().as_u16();
    (status, serde_json::from_slice(r.body()).unwrap())
}

#[tokio::test]
async fn unimplemented_grant_types_are_dropped_and_the_response_reports_the_registered_ones() {
    let (audit, _guard) = capture();
    let oauth = server();
    // VS Code's body when the AS metadata names no grant types.
    let (status, body) = register(
        &oauth,
        &json!({
            "client_name": "Visual Studio Code",
            "client_uri": "https://code.visualstudio.com",
            "grant_types": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"],
            "response_types": ["code", "token"],
            "redirect_uris": ["https://vscode.dev/redirect", "http://127.0.0.1/", "http://127.0.0.1:33418/"],
            "token_endpoint_auth_method": "none",
            "application_type": "native"
        }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(body["response_types"], json!(["code"]));
    assert_eq!(body["token_endpoint_auth_method"], "none");
    assert_eq!(body["application_type"], "native");
    assert!(body["client_id"].is_string());
    let adjusted = audit.one("register.adjusted");
    assert_eq!(
        adjusted["dropped_grant_types"],
        r#"["urn:ietf:params:oauth:grant-type:device_code"]"#
    );
    assert_eq!(adjusted["dropped_response_types"], r#"["token"]"#);
    assert!(adjusted["reason"].contains("RFC 7591"));
    audit.one("register.ok");
}

/// Registers `body`, expects a 400 `invalid_client_metadata` with
/// `description`, and a `register.refused` audit event with that reason.
async fn refused(body: Value, description: &str) {
    let (audit, _guard) = capture();
    let (status, reply) = register(&server(), &body).await;
    assert_eq!(status, 400, "{reply}");
    assert_eq!(reply["error"], "invalid_client_metadata");
    assert_eq!(reply["error_description"], description);
    let event = audit.one("register.refused");
    assert_eq!(event["error"], "invalid_client_metadata");
    assert_eq!(event["reason"], description);
    assert!(audit.named("register.ok").is_empty());
}

#[tokio::test]
async fn a_registration_without_a_usable_grant_is_refused_with_the_reason() {
    refused(
        json!({
            "redirect_uris": ["http://127.0.0.1/cb"],
            "token_endpoint_auth_method": "none",
            "grant_types": ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"]
        }),
        "grant_types must include authorization_code (set aside as not implemented here: \
         `urn:ietf:params:oauth:grant-type:device_code`); this server supports authorization_code and refresh_token",
    )
    .await;
}

#[tokio::test]
async fn a_registration_without_the_code_response_type_is_refused() {
    refused(
        json!({
            "redirect_uris": ["http://127.0.0.1/cb"],
            "token_endpoint_auth_method": "none",
            "response_types": ["token"]
        }),
        "response_types must include `code` (the authorization code flow); not supported: `token`",
    )
    .await;
}
