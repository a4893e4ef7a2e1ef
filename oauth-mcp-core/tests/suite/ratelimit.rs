//! Rate limits answered by the HTTP layer, in process: the exact 429 (status,
//! `error`, `Retry-After`, CORS) on the JSON endpoints, the HTML page on
//! `/authorize`, the address from trusted proxies only, per-client limits
//! for authenticated clients only, and no address limit without a peer.
//! (Over real HTTP on both adapters: the abuse battery in examples/abuse.)

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use oauth_mcp_core::http::{OAuthHttp, PeerAddr};
use oauth_mcp_core::ratelimit::{
    Endpoint, ForwardedHeader, Limit, RateLimitConfig, TrustedProxies,
};
use oauth_mcp_core::store::MemoryStore;
use oauth_mcp_core::{AuthServer, ServerConfig};
use serde_json::Value;

use crate::support::{REDIRECT, authorize_uri, register, req};

const FORM: &str = "application/x-www-form-urlencoded";

fn oauth(limits: RateLimitConfig) -> OAuthHttp {
    let cfg = ServerConfig::builder("http://127.0.0.1:8080")
        .rate_limits(limits)
        .build()
        .unwrap();
    OAuthHttp::new(AuthServer::new(cfg, Arc::new(MemoryStore::new())).unwrap())
}

fn from(mut r: http::Request<Bytes>, peer: &str) -> http::Request<Bytes> {
    r.extensions_mut().insert(PeerAddr(peer.parse().unwrap()));
    r
}

fn token_req(peer: &str) -> http::Request<Bytes> {
    from(
        req(
            "POST",
            "/token",
            Some(FORM),
            "grant_type=authorization_code&code=nope&code_verifier=x&client_id=nobody",
        ),
        peer,
    )
}

fn header<'a>(r: &'a http::Response<Bytes>, name: &str) -> Option<&'a str> {
    r.headers().get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn token_flood_gets_429_json_with_retry_after() {
    let oauth = oauth(RateLimitConfig::default().limit(Endpoint::Token, Limit::per_minute(3)));
    for i in 0..3 {
        let r = oauth.handle(token_req("203.0.113.9:5000")).await;
        assert_eq!(
            r.status(),
            401,
            "request {i} is answered (unknown client), not limited"
        );
    }
    let r = oauth.handle(token_req("203.0.113.9:5001")).await;
    assert_eq!(r.status(), 429);
    assert_eq!(
        header(&r, "retry-after"),
        Some("20"),
        "one request per 20 s refills"
    );
    assert_eq!(header(&r, "content-type"), Some("application/json"));
    assert_eq!(header(&r, "cache-control"), Some("no-store"));
    assert_eq!(header(&r, "access-control-allow-origin"), Some("*"));
    let v: Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(v["error"], "too_many_requests");
    let d = v["error_description"].as_str().unwrap();
    assert!(
        d.contains("POST /token") && d.contains("retry after 20 s"),
        "{d}"
    );
    // Another address has its own allowance.
    assert_eq!(
        oauth.handle(token_req("198.51.100.1:5000")).await.status(),
        401
    );
    // An IPv6 client counts with its /64.
    let oauth6 =
        self::oauth(RateLimitConfig::default().limit(Endpoint::Token, Limit::per_minute(1)));
    assert_eq!(
        oauth6.handle(token_req("[2001:db8::1]:1")).await.status(),
        401
    );
    assert_eq!(
        oauth6.handle(token_req("[2001:db8::2]:1")).await.status(),
        429
    );
}

#[tokio::test]
async fn authorize_flood_gets_an_html_page_with_retry_after() {
    let oauth = oauth(
        RateLimitConfig::default()
            .limit(Endpoint::AuthorizeGet, Limit::per_minute(2))
            .limit(Endpoint::AuthorizePost, Limit::per_minute(1)),
    );
    let client = register(&oauth, "").await;
    let get = || {
        from(
            req("GET", &authorize_uri(&client, ""), None, ""),
            "192.0.2.4:1",
        )
    };
    assert_eq!(oauth.handle(get()).await.status(), 200);
    assert_eq!(oauth.handle(get()).await.status(), 200);
    let r = oauth.handle(get()).await;
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "retry-after"), Some("30"));
    assert!(header(&r, "content-type").unwrap().starts_with("text/html"));
    assert!(header(&r, "content-security-policy").is_some());
    assert_eq!(header(&r, "x-frame-options"), Some("DENY"));
    assert!(header(&r, "location").is_none(), "never a redirect");
    let page = String::from_utf8_lossy(r.body());
    assert!(page.contains("Wait a moment"), "{page}");
    assert!(page.contains("too_many_requests"), "{page}");
    let post = || {
        from(
            req(
                "POST",
                "/authorize",
                Some(FORM),
                "request_id=x&username=u&password=p",
            ),
            "192.0.2.4:1",
        )
    };
    assert_eq!(oauth.handle(post()).await.status(), 400, "unknown request");
    let r = oauth.handle(post()).await;
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "retry-after"), Some("60"));
    assert!(header(&r, "content-type").unwrap().starts_with("text/html"));
}

#[tokio::test]
async fn register_revoke_introspect_are_limited() {
    let oauth = oauth(
        RateLimitConfig::default()
            .limit(Endpoint::Register, Limit::per_hour(1))
            .limit(Endpoint::Revoke, Limit::per_minute(1))
            .limit(Endpoint::Introspect, Limit::per_minute(1)),
    );
    let body = format!(r#"{{"redirect_uris":["{REDIRECT}"],"token_endpoint_auth_method":"none"}}"#);
    let reg = || {
        from(
            req("POST", "/register", Some("application/json"), body.clone()),
            "192.0.2.5:1",
        )
    };
    assert_eq!(oauth.handle(reg()).await.status(), 201);
    let r = oauth.handle(reg()).await;
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "retry-after"), Some("3600"));
    for path in ["/revoke", "/introspect"] {
        let call = || from(req("POST", path, Some(FORM), "token=x"), "192.0.2.5:1");
        assert_ne!(oauth.handle(call()).await.status(), 429, "{path}");
        let r = oauth.handle(call()).await;
        assert_eq!(r.status(), 429, "{path}");
        let v: Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(v["error"], "too_many_requests", "{path}");
        assert_eq!(header(&r, "retry-after"), Some("60"), "{path}");
    }
    // Metadata and JWKS are never limited.
    for _ in 0..5 {
        let r = oauth
            .handle(from(
                req("GET", "/.well-known/oauth-authorization-server", None, ""),
                "192.0.2.5:1",
            ))
            .await;
        assert_eq!(r.status(), 200);
    }
}

#[tokio::test]
async fn forwarding_header_only_from_trusted_proxies() {
    let proxies = TrustedProxies::new(ForwardedHeader::XForwardedFor, ["10.0.0.0/8"]).unwrap();
    let oauth = oauth(
        RateLimitConfig::default()
            .limit(Endpoint::Token, Limit::per_minute(1))
            .trusted_proxies(proxies),
    );
    let via = |peer: &str, xff: &str| {
        let mut r = token_req(peer);
        r.headers_mut()
            .insert("x-forwarded-for", xff.parse().unwrap());
        r
    };
    // Through the proxy, two clients have an allowance each.
    assert_eq!(
        oauth
            .handle(via("10.0.0.1:1", "198.51.100.7"))
            .await
            .status(),
        401
    );
    assert_eq!(
        oauth
            .handle(via("10.0.0.1:1", "198.51.100.8"))
            .await
            .status(),
        401
    );
    assert_eq!(
        oauth
            .handle(via("10.0.0.2:1", "198.51.100.7"))
            .await
            .status(),
        429
    );
    // A forged header on a direct connection changes nothing.
    assert_eq!(
        oauth
            .handle(via("203.0.113.50:1", "1.1.1.1"))
            .await
            .status(),
        401
    );
    assert_eq!(
        oauth
            .handle(via("203.0.113.50:1", "2.2.2.2"))
            .await
            .status(),
        429
    );
}

#[tokio::test]
async fn without_a_peer_address_only_clients_are_limited() {
    let oauth = oauth(RateLimitConfig::default().limit(Endpoint::Token, Limit::per_minute(1)));
    for _ in 0..5 {
        let r = oauth
            .handle(req(
                "POST",
                "/token",
                Some(FORM),
                "grant_type=authorization_code&code=x&client_id=c",
            ))
            .await;
        assert_eq!(r.status(), 401);
    }
}

/// Registers a confidential client; returns its `Authorization: Basic` value.
async fn confidential(oauth: &OAuthHttp) -> String {
    let body = format!(
        r#"{{"redirect_uris":["{REDIRECT}"],"token_endpoint_auth_method":"client_secret_basic"}}"#
    );
    let r = oauth
        .handle(req("POST", "/register", Some("application/json"), body))
        .await;
    assert_eq!(r.status(), 201);
    let v: Value = serde_json::from_slice(r.body()).unwrap();
    let (id, secret) = (
        v["client_id"].as_str().unwrap(),
        v["client_secret"].as_str().unwrap(),
    );
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

#[tokio::test]
async fn authenticated_clients_have_their_own_limit_strangers_cannot_spend() {
    let oauth = oauth(RateLimitConfig::default().client_limit(
        Endpoint::Introspect,
        Limit::per_period(2, Duration::from_secs(60)),
    ));
    let basic = confidential(&oauth).await;
    let introspect = |peer: &str, auth: &str| {
        let mut r = from(req("POST", "/introspect", Some(FORM), "token=x"), peer);
        r.headers_mut()
            .insert("authorization", auth.parse().unwrap());
        r
    };
    // Wrong secrets with the client's id do not count against it.
    let id = {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(basic.trim_start_matches("Basic "))
            .unwrap();
        String::from_utf8(raw)
            .unwrap()
            .split(':')
            .next()
            .unwrap()
            .to_owned()
    };
    let forged = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:wrong"))
    );
    for i in 0..5 {
        let r = oauth
            .handle(introspect(&format!("198.51.100.{i}:1"), &forged))
            .await;
        assert_eq!(r.status(), 401);
    }
    // From any address, the client's own two, then 429.
    assert_eq!(
        oauth
            .handle(introspect("192.0.2.1:1", &basic))
            .await
            .status(),
        200
    );
    assert_eq!(
        oauth
            .handle(introspect("192.0.2.2:1", &basic))
            .await
            .status(),
        200
    );
    let r = oauth.handle(introspect("192.0.2.3:1", &basic)).await;
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "retry-after"), Some("30"));
    let v: Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(v["error"], "too_many_requests");
    assert!(
        v["error_description"]
            .as_str()
            .unwrap()
            .contains("by this client"),
        "{v}"
    );
}

#[test]
fn bad_limits_fail_at_build_naming_the_value() {
    let e = ServerConfig::builder("http://127.0.0.1:8080")
        .rate_limits(RateLimitConfig::default().limit(Endpoint::Token, Limit::per_minute(0)))
        .build()
        .unwrap_err();
    assert_eq!(e.field, "rate_limits");
    assert!(e.reason.contains("post /token"), "{}", e.reason);
}
