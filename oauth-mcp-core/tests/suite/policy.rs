//! User, scope, client and redirect policies through the public API.

use std::sync::Arc;

use oauth_mcp_core::client::RedirectUriAllowlist;
use oauth_mcp_core::http::OAuthHttp;
use oauth_mcp_core::login::new_user;
use oauth_mcp_core::store::UserStore;
use oauth_mcp_core::{AuthServer, PreRegisteredClient, ResourceServer, ServerConfig};

use crate::support::*;

async fn server(b: oauth_mcp_core::config::ServerConfigBuilder) -> OAuthHttp {
    let store = crate::support::store_with_alice().await;
    store
        .put_user(new_user("bob", "pw-bob").unwrap())
        .await
        .unwrap();
    OAuthHttp::new(AuthServer::new(b.build().unwrap(), store).unwrap())
}

#[tokio::test]
async fn users_outside_the_allow_list_are_denied_with_a_redirect() {
    let oauth =
        server(ServerConfig::builder("http://127.0.0.1:8080").allowed_users(["alice"])).await;
    let client = register(&oauth, "").await;
    let (status, loc, _) = login(&oauth, &authorize_uri(&client, ""), "bob", "pw-bob").await;
    assert_eq!(status, 303);
    let loc = loc.unwrap();
    assert_eq!(query_param(&loc, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_param(&loc, "state").as_deref(), Some("st"));
    assert_eq!(
        query_param(&loc, "iss").as_deref(),
        Some("http://127.0.0.1:8080")
    );
    let (status, loc, _) = login(&oauth, &authorize_uri(&client, ""), "alice", "pw-alice").await;
    assert_eq!(status, 303);
    assert!(query_param(&loc.unwrap(), "code").is_some());
}

#[tokio::test]
async fn scopes_are_narrowed_to_what_the_user_may_have() {
    let oauth = server(
        ServerConfig::builder("http://127.0.0.1:8080")
            .scopes_supported(["mcp", "admin"])
            .user_scopes("alice", ["mcp", "admin"])
            .default_user_scopes(["mcp"]),
    )
    .await;
    let client = register(&oauth, "").await;
    for (user, pw, expected) in [("alice", "pw-alice", "admin mcp"), ("bob", "pw-bob", "mcp")] {
        let (_, loc, _) = login(
            &oauth,
            &authorize_uri(&client, "&scope=mcp%20admin"),
            user,
            pw,
        )
        .await;
        let code = query_param(&loc.unwrap(), "code").unwrap();
        let form = format!(
            "grant_type=authorization_code&code={code}&redirect_uri={REDIRECT}&code_verifier={VERIFIER}&client_id={client}"
        );
        let r = oauth
            .handle(req(
                "POST",
                "/token",
                Some("application/x-www-form-urlencoded"),
                form,
            ))
            .await;
        assert_eq!(r.status(), 200);
        let t: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(t["scope"], expected, "{user}");
    }
    // Only `admin` requested, and bob may not have it: access_denied.
    let (_, loc, _) = login(
        &oauth,
        &authorize_uri(&client, "&scope=admin"),
        "bob",
        "pw-bob",
    )
    .await;
    assert_eq!(
        query_param(&loc.unwrap(), "error").as_deref(),
        Some("access_denied")
    );
    // An unknown scope is invalid_scope.
    let (status, loc, _) = login(
        &oauth,
        &authorize_uri(&client, "&scope=root"),
        "alice",
        "pw-alice",
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(
        query_param(&loc.unwrap(), "error").as_deref(),
        Some("invalid_scope")
    );
}

#[tokio::test]
async fn trusted_pre_registered_clients_skip_consent_and_authenticate_with_basic() {
    let secret = "a-secret-of-sufficient-length";
    let oauth = server(
        ServerConfig::builder("http://127.0.0.1:8080").client(
            PreRegisteredClient::confidential("ops-client", secret, vec![REDIRECT.into()])
                .trusted()
                .named("Ops"),
        ),
    )
    .await;
    let r = oauth
        .handle(req("GET", &authorize_uri("ops-client", ""), None, ""))
        .await;
    let html = String::from_utf8_lossy(r.body());
    assert!(
        !html.contains("value=\"deny\""),
        "trusted clients are not asked for consent"
    );
    assert!(html.contains("Ops"));
    let (_, loc, _) = login(
        &oauth,
        &authorize_uri("ops-client", ""),
        "alice",
        "pw-alice",
    )
    .await;
    let code = query_param(&loc.unwrap(), "code").unwrap();
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("ops-client:{secret}"));
    let form = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={REDIRECT}&code_verifier={VERIFIER}"
    );
    let mut r = req(
        "POST",
        "/token",
        Some("application/x-www-form-urlencoded"),
        form,
    );
    // The scheme is case-insensitive (RFC 9110 §11.1): `BASIC` is Basic.
    r.headers_mut()
        .insert("authorization", format!("BASIC {basic}").parse().unwrap());
    let resp = oauth.handle(r).await;
    assert_eq!(
        resp.status(),
        200,
        "{}",
        String::from_utf8_lossy(resp.body())
    );
    assert_eq!(resp.headers()["cache-control"], "no-store");
    // A TokenResponse never shows its tokens in Debug.
    let t: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    let access = t["access_token"].as_str().unwrap();
    let tr = oauth_mcp_core::grant::TokenResponse {
        access_token: access.to_owned(),
        token_type: "Bearer",
        expires_in: 1,
        refresh_token: Some("rt-value".into()),
        scope: "mcp".into(),
    };
    let dbg = format!("{tr:?}");
    assert!(!dbg.contains(access) && !dbg.contains("rt-value"), "{dbg}");
}

#[tokio::test]
async fn redirect_policy_applies_at_registration_and_at_authorization() {
    let oauth = server(
        ServerConfig::builder("http://127.0.0.1:8080")
            .redirect_uri_policy(RedirectUriAllowlist::hosted_mcp_clients())
            .client(PreRegisteredClient::public(
                "legacy",
                vec!["https://old.example/cb".into()],
            )),
    )
    .await;
    let body =
        r#"{"redirect_uris":["https://evil.example/cb"],"token_endpoint_auth_method":"none"}"#;
    let r = oauth
        .handle(req("POST", "/register", Some("application/json"), body))
        .await;
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(v["error"], "invalid_redirect_uri");
    // Loopback is allowed by the hosted-clients policy.
    register(&oauth, "").await;
    // A pre-registered client whose URI the policy refuses: error page, no redirect.
    let uri = format!(
        "/authorize?response_type=code&client_id=legacy&redirect_uri=https://old.example/cb&code_challenge={}&code_challenge_method=S256",
        oauth_mcp_core::pkce::s256_challenge(VERIFIER)
    );
    let r = oauth.handle(req("GET", &uri, None, "")).await;
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
}

#[tokio::test]
async fn issuer_with_a_path_moves_endpoints_and_uses_path_insertion() {
    let oauth = server(ServerConfig::builder("https://h.example/tenant")).await;
    let paths = oauth.paths();
    for p in [
        "/.well-known/oauth-authorization-server/tenant",
        "/.well-known/openid-configuration/tenant",
        "/tenant/.well-known/openid-configuration",
        "/tenant/authorize",
        "/tenant/token",
        "/tenant/register",
        "/tenant/jwks.json",
    ] {
        assert!(paths.iter().any(|x| x == p), "{p} not served: {paths:?}");
    }
    let r = oauth
        .handle(req(
            "GET",
            "/.well-known/oauth-authorization-server/tenant",
            None,
            "",
        ))
        .await;
    let v: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(v["issuer"], "https://h.example/tenant");
    assert_eq!(v["token_endpoint"], "https://h.example/tenant/token");
    // The resource server it feeds serves MCP and its metadata under the path.
    let rs = ResourceServer::for_auth_server(oauth.server())
        .build()
        .unwrap();
    assert_eq!(rs.mcp_path(), "/tenant/mcp");
    assert_eq!(
        rs.metadata_url(),
        "https://h.example/.well-known/oauth-protected-resource/tenant/mcp"
    );
    assert_eq!(
        rs.metadata().authorization_servers,
        ["https://h.example/tenant"]
    );
}

#[tokio::test]
async fn registration_can_be_disabled() {
    let oauth = server(ServerConfig::builder("http://127.0.0.1:8080").disable_registration()).await;
    assert!(!oauth.paths().iter().any(|p| p == "/register"));
    let r = oauth
        .handle(req(
            "GET",
            "/.well-known/oauth-authorization-server",
            None,
            "",
        ))
        .await;
    let v: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
    assert!(v.get("registration_endpoint").is_none());
}

#[tokio::test]
async fn instances_sharing_a_key_file_accept_each_others_tokens() {
    use oauth_mcp_core::token::{KeySet, SigningAlgorithm, SigningKey};
    let dir = std::env::temp_dir().join(format!("oauth-mcp-key-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("key.pem");
    std::fs::write(
        &path,
        SigningKey::generate(SigningAlgorithm::Es256)
            .unwrap()
            .to_pkcs8_pem(),
    )
    .unwrap();
    let keys = || KeySet::new(SigningKey::from_file(&path).unwrap());
    let a = server(ServerConfig::builder("http://127.0.0.1:8080").signing_keys(keys())).await;
    let b = server(ServerConfig::builder("http://127.0.0.1:8080").signing_keys(keys())).await;
    let client = register(&a, "").await;
    let (_, loc, _) = login(&a, &authorize_uri(&client, ""), "alice", "pw-alice").await;
    let code = query_param(&loc.unwrap(), "code").unwrap();
    let form = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={REDIRECT}&code_verifier={VERIFIER}&client_id={client}"
    );
    let r = a
        .handle(req(
            "POST",
            "/token",
            Some("application/x-www-form-urlencoded"),
            form,
        ))
        .await;
    let t: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
    let token = t["access_token"].as_str().unwrap();
    let mut headers = http::HeaderMap::new();
    headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
    let who = ResourceServer::for_auth_server(b.server())
        .build()
        .unwrap()
        .check(&headers, None, None)
        .await
        .unwrap();
    assert_eq!(&*who.subject, "alice");
    // A third instance with its own fresh key refuses it.
    let c = server(ServerConfig::builder("http://127.0.0.1:8080")).await;
    let refusal = ResourceServer::for_auth_server(c.server())
        .build()
        .unwrap()
        .check(&headers, None, None)
        .await
        .unwrap_err();
    assert_eq!(refusal.status, 401);
    assert!(
        refusal.challenge.contains("error=\"invalid_token\""),
        "{}",
        refusal.challenge
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn introspection_answers_confidential_clients_only() {
    let secret = "resource-server-secret-123";
    let oauth = server(ServerConfig::builder("http://127.0.0.1:8080").client(
        PreRegisteredClient::confidential("rs", secret, vec!["https://rs.example/unused".into()]),
    ))
    .await;
    let client = register(&oauth, "").await;
    let (_, loc, _) = login(&oauth, &authorize_uri(&client, ""), "alice", "pw-alice").await;
    let code = query_param(&loc.unwrap(), "code").unwrap();
    let form = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={REDIRECT}&code_verifier={VERIFIER}&client_id={client}"
    );
    let r = oauth
        .handle(req(
            "POST",
            "/token",
            Some("application/x-www-form-urlencoded"),
            form,
        ))
        .await;
    let t: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
    let (access, refresh) = (
        t["access_token"].as_str().unwrap(),
        t["refresh_token"].as_str().unwrap(),
    );
    let introspect = |token: String, auth: String| {
        let oauth = &oauth;
        async move {
            let r = oauth
                .handle(req(
                    "POST",
                    "/introspect",
                    Some("application/x-www-form-urlencoded"),
                    format!("token={token}&{auth}"),
                ))
                .await;
            let status = r.status().as_u16();
            (
                status,
                serde_json::from_slice::<serde_json::Value>(r.body()).unwrap(),
            )
        }
    };
    let rs = format!("client_id=rs&client_secret={secret}");
    let (s, v) = introspect(access.into(), rs.clone()).await;
    assert_eq!(s, 200);
    assert_eq!(v["active"], true);
    assert_eq!(v["sub"], "alice");
    assert_eq!(v["aud"], "http://127.0.0.1:8080/mcp");
    assert_eq!(v["client_id"], client.as_str());
    let (_, v) = introspect(refresh.into(), rs.clone()).await;
    assert_eq!(v["active"], true);
    assert_eq!(v["token_type"], "refresh_token");
    let (_, v) = introspect("garbage".into(), rs.clone()).await;
    assert_eq!(v, serde_json::json!({"active": false}));
    // A public client may not introspect.
    let (s, v) = introspect(access.into(), format!("client_id={client}")).await;
    assert_eq!(s, 401);
    assert_eq!(v["error"], "invalid_client");
    // After revocation both tokens are inactive.
    let r = oauth
        .handle(req(
            "POST",
            "/revoke",
            Some("application/x-www-form-urlencoded"),
            format!("token={refresh}&client_id={client}"),
        ))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        introspect(access.into(), rs.clone()).await.1["active"],
        false
    );
    assert_eq!(introspect(refresh.into(), rs).await.1["active"], false);
}

/// A client that registered itself (RFC 7591) may introspect only the
/// tokens issued to it: someone else's token is `{"active": false}`, as
/// for an unknown token, while the operator's resource server sees both.
#[tokio::test]
async fn registered_clients_introspect_only_their_own_tokens() {
    let secret = "resource-server-secret-123";
    let oauth = server(ServerConfig::builder("http://127.0.0.1:8080").client(
        PreRegisteredClient::confidential("rs", secret, vec!["https://rs.example/unused".into()]),
    ))
    .await;
    // A stranger registers a confidential client of its own.
    let body = format!(
        r#"{{"redirect_uris":["{REDIRECT}"],"token_endpoint_auth_method":"client_secret_post"}}"#
    );
    let r = oauth
        .handle(req("POST", "/register", Some("application/json"), body))
        .await;
    assert_eq!(r.status(), 201);
    let reg: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
    let stranger = reg["client_id"].as_str().unwrap().to_owned();
    let stranger_auth = format!(
        "client_id={stranger}&client_secret={}",
        reg["client_secret"].as_str().unwrap()
    );
    let tokens_of = |client: String, auth: String| {
        let oauth = &oauth;
        async move {
            let (_, loc, _) = login(oauth, &authorize_uri(&client, ""), "alice", "pw-alice").await;
            let code = query_param(&loc.unwrap(), "code").unwrap();
            let form = format!(
                "grant_type=authorization_code&code={code}&redirect_uri={REDIRECT}&code_verifier={VERIFIER}&{auth}"
            );
            token_ok(oauth, form).await
        }
    };
    let victim = register(&oauth, "").await;
    let theirs = tokens_of(victim.clone(), format!("client_id={victim}")).await;
    let own = tokens_of(stranger.clone(), stranger_auth.clone()).await;
    let introspect = |token: String, auth: String| {
        let oauth = &oauth;
        async move {
            let r = oauth
                .handle(req(
                    "POST",
                    "/introspect",
                    Some("application/x-www-form-urlencoded"),
                    format!("token={token}&{auth}"),
                ))
                .await;
            assert_eq!(r.status(), 200);
            serde_json::from_slice::<serde_json::Value>(r.body()).unwrap()
        }
    };
    let access = |t: &serde_json::Value| t["access_token"].as_str().unwrap().to_owned();
    let refresh = |t: &serde_json::Value| t["refresh_token"].as_str().unwrap().to_owned();
    let inactive = serde_json::json!({"active": false});
    assert_eq!(
        introspect(access(&theirs), stranger_auth.clone()).await,
        inactive
    );
    assert_eq!(
        introspect(refresh(&theirs), stranger_auth.clone()).await,
        inactive
    );
    let v = introspect(access(&own), stranger_auth.clone()).await;
    assert_eq!(v["active"], true);
    assert_eq!(v["client_id"], stranger.as_str());
    assert_eq!(
        introspect(refresh(&own), stranger_auth).await["active"],
        true
    );
    let rs = format!("client_id=rs&client_secret={secret}");
    let v = introspect(access(&theirs), rs.clone()).await;
    assert_eq!(v["active"], true);
    assert_eq!(v["client_id"], victim.as_str());
    assert_eq!(introspect(refresh(&theirs), rs).await["active"], true);
}

#[tokio::test]
async fn registration_token_and_client_lifetime() {
    use oauth_mcp_core::clock::ManualClock;
    let clock = ManualClock::new();
    let oauth = server(
        ServerConfig::builder("http://127.0.0.1:8080")
            .registration_access_token("an-initial-access-token")
            .registered_client_ttl(std::time::Duration::from_secs(3600))
            .clock(Arc::new(clock.clone())),
    )
    .await;
    let body = format!(r#"{{"redirect_uris":["{REDIRECT}"],"token_endpoint_auth_method":"none"}}"#);
    // Without, or with a wrong, initial access token: 401 invalid_token.
    for auth in [None, Some("Bearer wrong-token-wrong-token")] {
        let mut r = req("POST", "/register", Some("application/json"), body.clone());
        if let Some(a) = auth {
            r.headers_mut().insert("authorization", a.parse().unwrap());
        }
        let resp = oauth.handle(r).await;
        assert_eq!(resp.status(), 401);
        assert_eq!(
            resp.headers()["www-authenticate"],
            "Bearer error=\"invalid_token\""
        );
        let v: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
        assert_eq!(v["error"], "invalid_token");
    }
    let mut r = req("POST", "/register", Some("application/json"), body);
    r.headers_mut().insert(
        "authorization",
        "Bearer an-initial-access-token".parse().unwrap(),
    );
    let resp = oauth.handle(r).await;
    assert_eq!(resp.status(), 201);
    let v: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    let client = v["client_id"].as_str().unwrap().to_owned();
    // The client works now, and is unknown once its lifetime has passed.
    let r = oauth
        .handle(req("GET", &authorize_uri(&client, ""), None, ""))
        .await;
    assert_eq!(r.status(), 200);
    clock.advance(3601);
    let r = oauth
        .handle(req("GET", &authorize_uri(&client, ""), None, ""))
        .await;
    assert_eq!(r.status(), 400);
    assert!(String::from_utf8_lossy(r.body()).contains("unknown client_id"));
    // A too-short token is a start-up error.
    let e = ServerConfig::builder("http://127.0.0.1:8080")
        .registration_access_token("short")
        .build()
        .unwrap_err();
    assert_eq!(e.field, "registration_access_token");
}
