//! The Bearer check per request, as the README sets it up
//! (`ResourceServer::for_auth_server`, memory store, revocation lookup on), for a
//! first-seen token and for a repeated token, next to a raw `jsonwebtoken`
//! ES256 verify (of one token again and again, and of a fresh token each
//! time, batched as the first-seen check is); and the validated-token cache
//! on its own.
//!
//! Targets (issue 12): first-seen ≤ 1.1× raw verify (compare it with
//! `raw_jsonwebtoken_es256_verify_fresh`, measured the same way); repeated
//! ≤ 250 ns.
//!
//! `cargo bench -p oauth-mcp-benches --bench bearer`

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use oauth_mcp_benches::glue::{TokenMint, readme_guard};
use oauth_mcp_core::clock::{Clock, SystemClock};
use oauth_mcp_core::token::{KeySet, SigningAlgorithm, SigningKey};
use oauth_mcp_core::token_cache::{TokenCache, TokenCacheConfig};
use serde::Deserialize;

const PUBLIC_URL: &str = "http://127.0.0.1";

/// Polls a future that must not wait (the memory store never does).
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the Bearer check waited on the memory store"),
    }
}

/// An MCP POST's headers as the guard reads them: the token, and the JSON
/// content type (whose charset the guard checks).
fn headers(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        http::header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap_or_else(|e| panic!("{e}")),
    );
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h
}

/// The claims a hand-written verifier would read.
#[derive(Deserialize)]
#[allow(dead_code)]
struct Claims {
    sub: String,
    client_id: String,
    scope: String,
    exp: i64,
}

fn bearer(c: &mut Criterion) {
    let key = SigningKey::generate(SigningAlgorithm::Es256).unwrap_or_else(|e| panic!("{e}"));
    let guard = readme_guard(PUBLIC_URL, key.clone()).unwrap_or_else(|e| panic!("{e}"));
    let mint = TokenMint::new(PUBLIC_URL, key.clone()).unwrap_or_else(|e| panic!("{e}"));
    let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#;

    // A hand-written ES256 verify: the public JWK, issuer, audience, exp.
    let jwk: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(KeySet::new(key).jwks()["keys"][0].clone())
            .unwrap_or_else(|e| panic!("{e}"));
    let raw_key = DecodingKey::from_jwk(&jwk).unwrap_or_else(|e| panic!("{e}"));
    let mut raw = Validation::new(Algorithm::ES256);
    raw.set_issuer(&[PUBLIC_URL]);
    raw.set_audience(&[format!("{PUBLIC_URL}/mcp")]);
    raw.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);

    let token = mint.mint().unwrap_or_else(|e| panic!("{e}"));
    assert!(ready(guard.check(&headers(&token), None, Some(body))).is_ok());
    assert!(decode::<Claims>(&token, &raw_key, &raw).is_ok());

    let mut g = c.benchmark_group("bearer_check");
    g.bench_function("raw_jsonwebtoken_es256_verify", |b| {
        b.iter(|| decode::<Claims>(black_box(&token), &raw_key, &raw).is_ok())
    });
    // The yardstick for `first_seen_token`, measured the same way: a fresh
    // token per iteration, minted in the untimed set-up (which leaves the
    // CPU caches as cold for one as for the other).
    g.bench_function("raw_jsonwebtoken_es256_verify_fresh", |b| {
        b.iter_batched(
            || mint.mint().unwrap_or_else(|e| panic!("{e}")),
            |t| decode::<Claims>(black_box(&t), &raw_key, &raw).is_ok(),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("first_seen_token", |b| {
        b.iter_batched(
            || headers(&mint.mint().unwrap_or_else(|e| panic!("{e}"))),
            |h| ready(guard.check(black_box(&h), None, Some(body))).is_ok(),
            BatchSize::SmallInput,
        )
    });
    let h = headers(&token);
    g.bench_function("repeated_token", |b| {
        b.iter(|| ready(guard.check(black_box(&h), None, Some(body))).is_ok())
    });
    g.finish();
}

fn cache(c: &mut Criterion) {
    let key = SigningKey::generate(SigningAlgorithm::Es256).unwrap_or_else(|e| panic!("{e}"));
    let mint = TokenMint::new(PUBLIC_URL, key).unwrap_or_else(|e| panic!("{e}"));
    let cache: TokenCache<std::sync::Arc<String>> = TokenCache::new(&TokenCacheConfig::default());
    let now = SystemClock.now();
    let tokens: Vec<String> = (0..1000)
        .map(|_| mint.mint().unwrap_or_else(|e| panic!("{e}")))
        .collect();
    for (i, t) in tokens.iter().enumerate() {
        cache.insert(
            t,
            std::sync::Arc::new(format!("subject-{i}")),
            Some("grant"),
            now + 3600,
            now,
            64,
            cache.ticket(),
        );
    }
    let other = mint.mint().unwrap_or_else(|e| panic!("{e}"));
    assert!(cache.get(&tokens[7], now).is_some());
    let mut g = c.benchmark_group("token_cache");
    g.bench_function("hit", |b| {
        b.iter(|| cache.get(black_box(&tokens[7]), now).is_some())
    });
    g.bench_function("miss", |b| {
        b.iter(|| cache.get(black_box(&other), now).is_some())
    });
    g.bench_function("clock_read", |b| b.iter(|| black_box(SystemClock.now())));
    g.finish();

    // What the hit is made of, and another well-kept cache crate for scale.
    let mut g = c.benchmark_group("token_cache_parts");
    let t = tokens[7].as_str();
    let seed = foldhash::fast::RandomState::default();
    g.bench_function("foldhash_of_token", |b| {
        b.iter(|| std::hash::BuildHasher::hash_one(&seed, black_box(t)))
    });
    let moka: moka::sync::Cache<Box<str>, std::sync::Arc<String>, foldhash::fast::RandomState> =
        moka::sync::Cache::builder()
            .max_capacity(10_000)
            .build_with_hasher(foldhash::fast::RandomState::default());
    let quick: quick_cache::sync::Cache<Box<str>, std::sync::Arc<String>> =
        quick_cache::sync::Cache::new(10_000);
    for (i, tok) in tokens.iter().enumerate() {
        moka.insert(
            tok.as_str().into(),
            std::sync::Arc::new(format!("subject-{i}")),
        );
        quick.insert(
            tok.as_str().into(),
            std::sync::Arc::new(format!("subject-{i}")),
        );
    }
    g.bench_function("moka_sync_hit", |b| {
        b.iter(|| moka.get(black_box(t)).is_some())
    });
    g.bench_function("quick_cache_hit", |b| {
        b.iter(|| quick.get(black_box(t)).is_some())
    });
    g.finish();
}

criterion_group!(benches, bearer, cache);
criterion_main!(benches);
