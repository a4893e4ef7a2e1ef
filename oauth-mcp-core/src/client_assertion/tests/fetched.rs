//! `jwks_uri`: the SSRF rules, caching, and the rate-limited refetch.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Mutex;

use super::*;

/// A loopback server answering every request with the current body.
struct JwksServer {
    url: String,
    body: Arc<Mutex<String>>,
    hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl JwksServer {
    async fn start(body: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let body = Arc::new(Mutex::new(body));
        let hits = Arc::new(AtomicUsize::new(0));
        let (b, h) = (body.clone(), hits.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                h.fetch_add(1, Ordering::SeqCst);
                let mut buf = [0u8; 4096];
                let _ =
                    tokio::time::timeout(std::time::Duration::from_secs(2), sock.read(&mut buf))
                        .await;
                let text = b.lock().await.clone();
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                    text.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            }
        });
        Self {
            url,
            body,
            hits,
            task,
        }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn loopback() -> JwksFetchConfig {
    JwksFetchConfig::default().dangerously_allow_loopback_http()
}

#[tokio::test]
async fn keys_are_fetched_once_and_an_unknown_kid_refetches_at_most_once_per_interval() {
    let k1 = test_key(Algorithm::RS256, "k1");
    let k2 = test_key(Algorithm::RS256, "k2");
    let server = JwksServer::start(jwks(&[&k1]).to_string()).await;
    let store = MemoryStore::new();
    let verifier = ClientAssertionVerifier::new(policy(), loopback()).unwrap();
    let src = KeySource::Uri(&server.url);
    for _ in 0..3 {
        verifier
            .verify(&k1.sign(Some("k1"), &claims()), CLIENT, src, &store, NOW)
            .await
            .unwrap();
    }
    assert_eq!(server.hits(), 1, "cached after the first fetch");
    // The client rotates to k2, but the interval since the fetch has not passed.
    *server.body.lock().await = jwks(&[&k1, &k2]).to_string();
    for _ in 0..3 {
        let e = verifier
            .verify(
                &k2.sign(Some("k2"), &claims()),
                CLIENT,
                src,
                &store,
                NOW + 5,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(e, AssertionError::UnknownKey(ref k) if k == "k2"),
            "{e:?}"
        );
    }
    assert_eq!(server.hits(), 1, "no refetch within the interval");
    // After it, one refetch picks up the new key.
    for _ in 0..3 {
        verifier
            .verify(
                &k2.sign(Some("k2"), &claims()),
                CLIENT,
                src,
                &store,
                NOW + 11,
            )
            .await
            .unwrap();
    }
    assert_eq!(server.hits(), 2, "one refetch for the unknown kid");
    // An unknown kid that is still unknown after its refetch is refused.
    let stranger = test_key(Algorithm::RS256, "k9");
    let e = verifier
        .verify(
            &stranger.sign(Some("k9"), &claims()),
            CLIENT,
            src,
            &store,
            NOW + 30,
        )
        .await
        .unwrap_err();
    assert_eq!(
        answered(e).description,
        "the client's JWK Set has no key `k9` (the assertion's kid)"
    );
    assert_eq!(server.hits(), 3);
    // Keys are refetched after their maximum age.
    verifier
        .verify(
            &k1.sign(Some("k1"), &claims_at(NOW + 3700)),
            CLIENT,
            src,
            &store,
            NOW + 3700,
        )
        .await
        .unwrap();
    assert_eq!(server.hits(), 4);
}

#[tokio::test]
async fn concurrent_lookups_share_one_fetch() {
    let k1 = test_key(Algorithm::ES256, "k1");
    let server = JwksServer::start(jwks(&[&k1]).to_string()).await;
    let cache = ClientJwksCache::new(loopback());
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (cache, url) = (cache.clone(), server.url.clone());
            tokio::spawn(async move { cache.keys(&url, Some("k1"), NOW).await.is_ok() })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap());
    }
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn a_failed_fetch_is_remembered_briefly() {
    let server = JwksServer::start("not json".into()).await;
    let cache = ClientJwksCache::new(loopback());
    for now in [NOW, NOW + 10, NOW + 29] {
        let e = cache.keys(&server.url, None, now).await.unwrap_err();
        assert!(e.to_string().contains("the JWK Set is not JSON"), "{e}");
    }
    assert_eq!(server.hits(), 1);
    cache.keys(&server.url, None, NOW + 30).await.unwrap_err();
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn fetches_refused_by_the_ssrf_rules() {
    let key = test_key(Algorithm::ES256, "k1");
    let server = JwksServer::start(jwks(&[&key]).to_string()).await;
    let strict = ClientAssertionVerifier::new(policy(), JwksFetchConfig::default()).unwrap();
    let store = MemoryStore::new();
    let https_loopback = server.url.replacen("http://", "https://", 1);
    let cases = [
        (server.url.as_str(), "the URL must use https"),
        (
            https_loopback.as_str(),
            "the host resolves only to refused addresses: 127.0.0.1 (loopback address)",
        ),
        (
            "https://10.0.0.7/jwks.json",
            "the host resolves only to refused addresses: 10.0.0.7 (private address)",
        ),
        (
            "https://169.254.169.254/latest/meta-data",
            "the host resolves only to refused addresses: 169.254.169.254 (cloud metadata service address)",
        ),
        (
            "https://[::ffff:192.168.1.1]/jwks.json",
            "the host resolves only to refused addresses: ::ffff:192.168.1.1 (private address)",
        ),
        (
            "https://user:pw@client.example/jwks.json",
            "the URL must not have a fragment or credentials",
        ),
        ("file:///etc/passwd", "the URL needs a host"),
    ];
    for (uri, why) in cases {
        let e = strict
            .verify(
                &key.sign(Some("k1"), &claims()),
                CLIENT,
                KeySource::Uri(uri),
                &store,
                NOW,
            )
            .await
            .unwrap_err();
        assert_eq!(e.reason_code(), "keys_unavailable", "{uri}");
        assert_eq!(
            answered(e).description,
            format!("the client's keys are unavailable: {uri}: {why}"),
        );
    }
    assert_eq!(server.hits(), 0, "nothing reached the loopback server");
}
