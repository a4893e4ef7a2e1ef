//! `offline_access` (issue 10, item 3): listed in the authorization
//! server's metadata because refresh tokens are issued, never in the PRM;
//! honoured with a refresh token, never refused; never a scope of an access
//! token at the resource server.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth_mcp_core::http::OAuthHttp;
use oauth_mcp_core::{AuthServer, ResourceServer, ServerConfig};
use serde_json::Value;

use crate::support::*;

async fn server() -> (OAuthHttp, ResourceServer) {
    let store = crate::support::store_with_alice().await;
    let cfg = ServerConfig::builder("http://127.0.0.1:8080")
        .scopes_supported(["mcp", "admin"])
        .default_scopes(["mcp"])
        .build()
        .unwrap();
    let server = AuthServer::new(cfg, store).unwrap();
    let rs = ResourceServer::for_auth_server(&server)
        .required_scopes(["mcp"])
        .build()
        .unwrap();
    (OAuthHttp::new(server), rs)
}

async fn post(oauth: &OAuthHttp, path: &str, form: &str) -> (u16, Value) {
    let r = oauth
        .handle(req(
            "POST",
            path,
            Some("application/x-www-form-urlencoded"),
            form.to_owned(),
        ))
        .await;
    (
        r.status().as_u16(),
        serde_json::from_slice(r.body()).unwrap(),
    )
}

async fn get(oauth: &OAuthHttp, path: &str) -> Value {
    let r = oauth.handle(req("GET", path, None, "")).await;
    serde_json::from_slice(r.body()).unwrap()
}

/// Authorizes with `scope` (URL-encoded) and redeems the code.
async fn tokens(oauth: &OAuthHttp, client: &str, scope: &str) -> Value {
    let uri = authorize_uri(client, &format!("&scope={scope}"));
    let (status, loc, body) = login(oauth, &uri, "alice", "pw-alice").await;
    assert_eq!(status, 303, "{scope}: {body}");
    let loc = loc.unwrap();
    let code = query_param(&loc, "code").unwrap_or_else(|| panic!("{scope}: {loc}"));
    let (status, t) = post(
        oauth,
        "/token",
        &format!(
            "grant_type=authorization_code&code={code}&redirect_uri={REDIRECT}&code_verifier={VERIFIER}&client_id={client}"
        ),
    )
    .await;
    assert_eq!(status, 200, "{scope}: {t}");
    t
}

fn jwt_scope(access_token: &str) -> String {
    let payload = access_token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["scope"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn offline_access_is_advertised_by_the_authorization_server_only() {
    let (oauth, rs) = server().await;
    let md = get(&oauth, "/.well-known/oauth-authorization-server").await;
    assert_eq!(
        md["scopes_supported"],
        serde_json::json!(["admin", "mcp", "offline_access"])
    );
    assert_eq!(rs.metadata().scopes_supported, ["admin", "mcp"]);
}

#[tokio::test]
async fn offline_access_is_honoured_with_a_refresh_token_and_never_reaches_the_access_token() {
    let (oauth, rs) = server().await;
    let client = register(&oauth, "").await;
    // Claude adds it to the discovered scopes; Codex may send it with others.
    for (scope, granted) in [
        ("mcp%20offline_access", "mcp"),
        ("offline_access%20admin%20mcp", "admin mcp"),
        // Alone, it asks for nothing but a refresh token: the default scopes.
        ("offline_access", "mcp"),
    ] {
        let t = tokens(&oauth, &client, scope).await;
        assert!(t["refresh_token"].is_string(), "{scope}: {t}");
        assert_eq!(t["scope"], granted, "{scope}");
        let access = t["access_token"].as_str().unwrap();
        assert_eq!(jwt_scope(access), granted, "{scope}");
        let mut headers = http::HeaderMap::new();
        headers.insert("authorization", format!("Bearer {access}").parse().unwrap());
        let ctx = rs.check(&headers, None, None).await.unwrap();
        assert!(!ctx.scopes.contains("offline_access"), "{scope}");

        // A refresh that names it again is not refused either.
        let refresh = t["refresh_token"].as_str().unwrap();
        let (status, r) = post(
            &oauth,
            "/token",
            &format!(
                "grant_type=refresh_token&refresh_token={refresh}&client_id={client}&scope={scope}"
            ),
        )
        .await;
        assert_eq!(status, 200, "{scope}: {r}");
        assert_eq!(r["scope"], granted, "{scope}");
        assert_eq!(jwt_scope(r["access_token"].as_str().unwrap()), granted);
    }
    // Unknown scopes beside it are still refused, naming them.
    let uri = authorize_uri(&client, "&scope=mcp%20offline_access%20nope");
    let (status, loc, _) = login(&oauth, &uri, "alice", "pw-alice").await;
    assert_eq!(status, 303);
    let loc = loc.unwrap();
    assert_eq!(query_param(&loc, "error").as_deref(), Some("invalid_scope"));
    assert_eq!(
        query_param(&loc, "error_description").as_deref(),
        Some("unknown scope(s) nope; this server supports: admin mcp")
    );
}
