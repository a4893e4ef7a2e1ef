//! Criterion benches: Bearer validation per algorithm, PKCE verification, a
//! full in-process code flow on the memory store, and argon2 login.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use oauth_mcp_benches::{code_flow, server, server_on};
use oauth_mcp_core::clock::SystemClock;
use oauth_mcp_core::login::{Authenticator, StoreAuthenticator, new_user};
use oauth_mcp_core::pkce::{CodeChallengeMethod, s256_challenge, verify};
use oauth_mcp_core::resource::ResourceUri;
use oauth_mcp_core::scope::ScopeSet;
use oauth_mcp_core::store::{MemoryStore, UserStore};
use oauth_mcp_core::token::{KeySet, MintRequest, SigningAlgorithm, SigningKey, TokenSigner};
use oauth_mcp_core::validate::LocalJwtValidator;
use oauth_mcp_sqlx::SqlStore;
use oauth_mcp_sqlx::testing::postgres_for_tests;

fn bearer_validation(c: &mut Criterion) {
    let mut g = c.benchmark_group("bearer_validation");
    for alg in [SigningAlgorithm::Es256, SigningAlgorithm::EdDsa] {
        let keys = Arc::new(KeySet::new(
            SigningKey::generate(alg).unwrap_or_else(|e| panic!("{e}")),
        ));
        let iss = "https://as.example";
        let aud = ResourceUri::parse("https://mcp.example/mcp").unwrap_or_else(|e| panic!("{e}"));
        let signer = TokenSigner::new(keys.clone(), iss);
        let scope = ScopeSet::parse("mcp admin").unwrap_or_default();
        let now = oauth_mcp_core::clock::Clock::now(&SystemClock);
        let (token, _) = signer
            .mint(&MintRequest {
                subject: "alice",
                client_id: "c",
                scope: &scope,
                audience: &aud,
                grant_id: None,
                now,
                ttl: 3600,
            })
            .unwrap_or_else(|e| panic!("{e}"));
        let v = LocalJwtValidator::new(keys, iss, aud, Arc::new(SystemClock));
        g.bench_function(alg.as_str(), |b| {
            b.iter(|| v.validate_sync(black_box(&token)).is_ok())
        });
    }
    g.finish();
}

fn pkce(c: &mut Criterion) {
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = s256_challenge(verifier);
    c.bench_function("pkce_s256_verify", |b| {
        b.iter(|| {
            verify(
                CodeChallengeMethod::S256,
                black_box(&challenge),
                black_box(verifier),
            )
            .is_ok()
        })
    });
}

/// register → authorize (GET + POST) → token, on each store.
fn flow(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut g = c.benchmark_group("code_flow");
    let oauth = server();
    g.bench_function("memory", |b| b.iter(|| rt.block_on(code_flow(&oauth))));

    let dir = std::env::temp_dir().join(format!("oauth-mcp-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let url = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
    let sqlite = rt
        .block_on(SqlStore::connect(&url))
        .unwrap_or_else(|e| panic!("{e}"));
    let oauth = server_on(Arc::new(sqlite));
    g.bench_function("sqlite", |b| b.iter(|| rt.block_on(code_flow(&oauth))));

    // PostgreSQL from OAUTH_MCP_TEST_POSTGRES_URL, or a private server.
    let db = rt.block_on(postgres_for_tests());
    let pg = rt
        .block_on(SqlStore::connect(db.url()))
        .unwrap_or_else(|e| panic!("{e}"));
    let oauth = server_on(Arc::new(pg));
    g.bench_function("postgres", |b| b.iter(|| rt.block_on(code_flow(&oauth))));
    g.finish();
    drop(db);
    std::fs::remove_dir_all(&dir).ok();
}

fn argon2_login(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let store = Arc::new(MemoryStore::new());
    let auth = rt.block_on(async {
        store
            .put_user(new_user("alice", "correct horse").unwrap_or_else(|e| panic!("{e}")))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        StoreAuthenticator::new(store.clone()).unwrap_or_else(|e| panic!("{e}"))
    });
    let mut g = c.benchmark_group("login");
    g.sample_size(10);
    g.bench_function("argon2_login", |b| {
        b.iter(|| {
            rt.block_on(auth.authenticate("alice", &"correct horse".into()))
                .is_ok()
        })
    });
    g.finish();
}

criterion_group!(benches, bearer_validation, pkce, flow, argon2_login);
criterion_main!(benches);
