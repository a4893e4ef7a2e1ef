//! The remote validators through the core API: the JWKS refetch rate limit,
//! and introspection against this library's own authorization server.

// Test helpers panic on failure too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use oauth_mcp_battery::client::{http, session};
use oauth_mcp_core::PreRegisteredClient;
use oauth_mcp_core::clock::{Clock, SystemClock};
use oauth_mcp_core::resource::ResourceUri;
use oauth_mcp_core::scope::ScopeSet;
use oauth_mcp_core::token::{KeySet, MintRequest, SigningAlgorithm, SigningKey, TokenSigner};
use oauth_mcp_core::validate::remote::{IntrospectionValidator, RemoteJwksValidator};
use oauth_mcp_core::validate::{TokenRejection, TokenValidator};

const ISSUER: &str = "https://as.example";
const AUD: &str = "https://mcp.example/mcp";

fn mint(key: SigningKey) -> String {
    let scope = ScopeSet::parse("mcp").unwrap();
    TokenSigner::new(Arc::new(KeySet::new(key)), ISSUER)
        .mint(&MintRequest {
            subject: "s",
            client_id: "c",
            scope: &scope,
            audience: &ResourceUri::parse(AUD).unwrap(),
            grant_id: None,
            now: SystemClock.now(),
            ttl: 600,
        })
        .unwrap()
        .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unknown_key_ids_does_not_hammer_the_jwks_endpoint() {
    let key = SigningKey::generate(SigningAlgorithm::Es256).unwrap();
    let jwks = serde_json::to_value(KeySet::new(key.clone()).jwks()).unwrap();
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let app = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let body = jwks.clone();
            async move { axum::Json(body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let v = RemoteJwksValidator::builder(ISSUER, ResourceUri::parse(AUD).unwrap())
        .jwks_uri(&url)
        .max_key_age(Duration::from_secs(7200))
        .min_refetch_interval(Duration::from_secs(3600))
        .build()
        .await
        .unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "one fetch at start-up");
    assert_eq!(&*v.validate(&mint(key)).await.unwrap().subject, "s");
    for _ in 0..50 {
        let bogus = mint(SigningKey::generate(SigningAlgorithm::Es256).unwrap());
        assert!(matches!(
            v.validate(&bogus).await,
            Err(TokenRejection::UnknownKey(_))
        ));
    }
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "unknown kids within the interval cause no refetch"
    );

    // With the interval elapsed (the shortest allowed, 1 s), one unknown
    // kid causes exactly one refetch.
    let v = RemoteJwksValidator::builder(ISSUER, ResourceUri::parse(AUD).unwrap())
        .jwks_uri(&url)
        .min_refetch_interval(Duration::from_secs(1))
        .build()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = fetches.load(Ordering::SeqCst);
    let bogus = mint(SigningKey::generate(SigningAlgorithm::Es256).unwrap());
    assert!(v.validate(&bogus).await.is_err());
    assert_eq!(fetches.load(Ordering::SeqCst), before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_against_our_own_authorization_server() {
    // Characters that HTTP Basic credentials must form-encode (RFC 6749
    // §2.3.1): a validator that sent them raw would be refused.
    let secret = "rs-secret:with%2Bspecial+chars &0123";
    let running = example_axum_server::start(example_axum_server::Options {
        bind: ([127, 0, 0, 1], 0).into(),
        clients: vec![PreRegisteredClient::confidential(
            "rs",
            secret,
            vec!["https://rs.example/unused".into()],
        )],
        ..Default::default()
    })
    .await
    .unwrap();
    let base = running.public_url.clone();
    let s = session(&base, None).await;
    let audience = ResourceUri::parse(&running.mcp_url).unwrap();
    let v = IntrospectionValidator::discover(&base, "rs", secret, audience.clone())
        .await
        .unwrap();
    let who = v.validate(&s.tokens.access).await.unwrap();
    assert_eq!(&*who.subject, "demo-user");
    assert_eq!(*who.audience, *running.mcp_url);
    assert!(who.scopes.contains("mcp"));
    // Revoked at the authorization server: refused by a validator that has not cached it.
    let r = http()
        .post(format!("{base}/revoke"))
        .form(&[
            ("token", s.tokens.refresh.as_str()),
            ("client_id", s.client.client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let fresh = IntrospectionValidator::discover(&base, "rs", secret, audience.clone())
        .await
        .unwrap();
    assert_eq!(
        fresh.validate(&s.tokens.access).await.unwrap_err(),
        TokenRejection::Revoked
    );
    // A wrong secret is a configuration error the operator sees as 503, not as a user's fault.
    let wrong = IntrospectionValidator::discover(&base, "rs", "wrong-secret-xxxxxxxx", audience)
        .await
        .unwrap();
    assert!(matches!(
        wrong.validate(&s.tokens.access).await,
        Err(TokenRejection::Unavailable(_))
    ));
}
