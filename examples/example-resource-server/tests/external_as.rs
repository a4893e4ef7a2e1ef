//! The resource server against a real, widely used authorization server
//! (panva's certified `oidc-provider` from npm) started on loopback: JWT
//! access tokens through its JWKS, opaque tokens through introspection, and
//! every forged or misdirected token refused with 401 and the right challenge.

// Test helpers panic on failure too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use example_resource_server::{Options, Running, start_on};
use oauth_mcp_battery::client::{assert_token_refused, initialize_request, mcp_post, whoami};
use oauth_mcp_battery::oidc::{
    INTROSPECTION_CLIENT, OPAQUE_CLIENT, OidcOptions, OidcProvider, decode_jwt,
};
use oauth_mcp_core::clock::{Clock, ManualClock, SystemClock};
use oauth_mcp_core::scope::ScopeSet;
use oauth_mcp_core::token::{KeySet, MintRequest, SigningAlgorithm, SigningKey, TokenSigner};
use serde_json::json;

struct Setup {
    base: String,
    provider: OidcProvider,
    clock: ManualClock,
    _rs: Running,
}

/// Binds the resource server first, starts the provider with this server's
/// resource URL, then starts the resource server trusting the provider.
async fn setup(introspection: bool) -> Setup {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let provider = OidcProvider::start(OidcOptions::for_resource(format!("{base}/mcp"))).await;
    let clock = ManualClock::new();
    let opts = Options {
        bind: listener.local_addr().unwrap(),
        public_url: None,
        issuer: provider.issuer().to_owned(),
        introspection_client_id: introspection.then(|| INTROSPECTION_CLIENT.id.to_owned()),
        introspection_client_secret: introspection.then(|| INTROSPECTION_CLIENT.secret.into()),
        accept_jwt_typ: false,
        jwks_min_refetch_secs: 0,
        jwks_max_age_secs: 600,
        scopes: "mcp admin".into(),
        required_scopes: "mcp".into(),
        tool_scopes: "admin_echo=admin".into(),
        scope_implies: "admin=mcp".into(),
        clock: Some(Arc::new(clock.clone())),
    };
    let rs = start_on(listener, &opts)
        .await
        .unwrap_or_else(|e| panic!("resource server starts: {e}"));
    Setup {
        base,
        provider,
        clock,
        _rs: rs,
    }
}

fn b64(v: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_names_the_external_issuer_and_no_as_endpoint_is_mounted() {
    let s = setup(false).await;
    let prm: serde_json::Value = reqwest::get(format!(
        "{}/.well-known/oauth-protected-resource/mcp",
        s.base
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(prm["resource"], format!("{}/mcp", s.base));
    assert_eq!(prm["authorization_servers"], json!([s.provider.issuer()]));
    for path in [
        "/authorize",
        "/token",
        "/register",
        "/.well-known/oauth-authorization-server",
        "/jwks.json",
    ] {
        let status = reqwest::get(format!("{}{path}", s.base))
            .await
            .unwrap()
            .status();
        assert_eq!(
            status, 404,
            "{path} must not be served by a resource-only server"
        );
    }
    // Unauthenticated: a bare challenge pointing at the metadata.
    let r = mcp_post(&s.base, None, &initialize_request(1)).await;
    assert_eq!(r.status(), 401);
    r.reply.challenge().assert_bearer(&s.base, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_for_this_resource_is_accepted_and_others_are_refused() {
    let s = setup(false).await;
    let resource = format!("{}/mcp", s.base);

    let good = s
        .provider
        .client_credentials_token(Some(&resource), "mcp")
        .await;
    let who = whoami(&s.base, &good).await;
    assert_eq!(who["audience"], resource);
    assert_eq!(who["client_id"], "mcp-rs");
    assert_eq!(who["scopes"], json!(["mcp"]));

    // A token for another resource.
    let other = s
        .provider
        .client_credentials_token(Some(s.provider.resource_other()), "mcp")
        .await;
    let why = assert_token_refused(&s.base, &other).await;
    assert!(why.contains("audience"), "{why}");

    // An opaque token is not a JWT.
    let opaque = s.provider.opaque_token(Some(&resource), "mcp").await;
    assert_token_refused(&s.base, &opaque).await;

    // Expired: move the resource server's clock past exp + leeway.
    s.clock.advance(3600 + 31);
    let why = assert_token_refused(&s.base, &good).await;
    assert!(why.contains("expired"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_tokens_are_refused() {
    let s = setup(false).await;
    let resource = format!("{}/mcp", s.base);
    let good = s
        .provider
        .client_credentials_token(Some(&resource), "mcp")
        .await;
    let (header, claims) = decode_jwt(&good);
    let real_kid = header["kid"].as_str().unwrap().to_owned();

    // Signed by a key that is not in the JWKS (with its own kid, and with the provider's kid).
    let rogue = SigningKey::generate(SigningAlgorithm::Es256).unwrap();
    let signer = TokenSigner::new(Arc::new(KeySet::new(rogue)), s.provider.issuer());
    let scope = ScopeSet::parse("mcp").unwrap();
    let (forged, _) = signer
        .mint(&MintRequest {
            subject: "mallory",
            client_id: "mcp-rs",
            scope: &scope,
            audience: &oauth_mcp_core::resource::ResourceUri::parse(&resource).unwrap(),
            grant_id: None,
            now: SystemClock.now(),
            ttl: 600,
        })
        .unwrap();
    let why = assert_token_refused(&s.base, &forged).await;
    assert!(why.contains("unknown key"), "{why}");
    let mut parts: Vec<String> = forged.split('.').map(str::to_owned).collect();
    let (mut h, _) = decode_jwt(&forged);
    h["kid"] = json!(real_kid);
    parts[0] = b64(&h);
    let why = assert_token_refused(&s.base, &parts.join(".")).await;
    assert!(why.contains("signature"), "{why}");

    // alg=none.
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "at+jwt", "kid": real_kid})),
        b64(&claims)
    );
    assert_token_refused(&s.base, &none).await;

    // HS256 "signed" with the provider's public key as the HMAC secret.
    let jwks = s.provider.jwks().await;
    let public = serde_json::to_vec(&jwks["keys"][0]).unwrap();
    let mut hs_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs_header.typ = Some("at+jwt".into());
    hs_header.kid = Some(real_kid.clone());
    let hs = jsonwebtoken::encode(
        &hs_header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&public),
    )
    .unwrap();
    let why = assert_token_refused(&s.base, &hs).await;
    assert!(why.contains("algorithm"), "{why}");

    // Tampered claims under the real signature.
    let mut tampered = claims.clone();
    tampered["scope"] = json!("mcp admin");
    let mut parts: Vec<&str> = good.split('.').collect();
    let body = b64(&tampered);
    parts[1] = &body;
    let why = assert_token_refused(&s.base, &parts.join(".")).await;
    assert!(why.contains("signature"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_from_another_issuer_is_refused() {
    let s = setup(false).await;
    let resource = format!("{}/mcp", s.base);
    // Same signing key id (so the same key and kid), different issuer.
    let other = OidcProvider::start(OidcOptions::for_resource(resource.clone())).await;
    assert_ne!(other.issuer(), s.provider.issuer());
    let token = other.client_credentials_token(Some(&resource), "mcp").await;
    let why = assert_token_refused(&s.base, &token).await;
    assert!(why.contains("issued by"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_is_picked_up_without_restart() {
    let mut s = setup(false).await;
    let resource = format!("{}/mcp", s.base);
    let before = s
        .provider
        .client_credentials_token(Some(&resource), "mcp")
        .await;
    whoami(&s.base, &before).await;
    s.provider.restart_with_key("rotated-key").await;
    let after = s
        .provider
        .client_credentials_token(Some(&resource), "mcp")
        .await;
    assert_ne!(decode_jwt(&before).0["kid"], decode_jwt(&after).0["kid"]);
    let who = whoami(&s.base, &after).await;
    assert_eq!(who["audience"], resource);
    // The old key is no longer published: its tokens are refused after the refetch.
    let why = assert_token_refused(&s.base, &before).await;
    assert!(why.contains("unknown key"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opaque_tokens_through_introspection() {
    let s = setup(true).await;
    let resource = format!("{}/mcp", s.base);
    let token = s.provider.opaque_token(Some(&resource), "mcp").await;
    let who = whoami(&s.base, &token).await;
    assert_eq!(who["client_id"], OPAQUE_CLIENT.id);
    assert_eq!(who["audience"], resource);
    // A token without audience, and one for another resource, are refused.
    let no_aud = s.provider.opaque_token(None, "mcp").await;
    assert_token_refused(&s.base, &no_aud).await;
    let other = s
        .provider
        .opaque_token(Some(s.provider.resource_other()), "mcp")
        .await;
    assert_token_refused(&s.base, &other).await;
    // A revoked token (never seen, so never cached) is refused.
    let revoked = s.provider.opaque_token(Some(&resource), "mcp").await;
    s.provider.revoke(OPAQUE_CLIENT, &revoked).await;
    let why = assert_token_refused(&s.base, &revoked).await;
    assert!(why.contains("revoked"), "{why}");
    // The cache never outlives exp.
    s.clock.advance(3600 + 31);
    assert_token_refused(&s.base, &token).await;
}
