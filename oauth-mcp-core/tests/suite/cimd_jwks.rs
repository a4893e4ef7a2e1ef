//! A Client ID Metadata Document client authenticating with
//! `private_key_jwt` against the keys at its `jwks_uri` (ChatGPT's shape),
//! both served from loopback; and a `jwks_uri` the SSRF rules refuse.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use oauth_mcp_core::ServerConfig;
use oauth_mcp_core::cimd::CimdConfig;
use oauth_mcp_core::client_assertion::{AssertionAlgorithm, JwksFetchConfig};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::audit::capture;
use crate::private_key_jwt::{ISSUER, Key, Server, assert_refused, assertion_form, claims};
use crate::support::{REDIRECT, VERIFIER};

/// A loopback server answering GET `<path>` with a fixed JSON body.
struct Documents {
    base: String,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    total: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Documents {
    async fn start(make: impl FnOnce(&str) -> Vec<(&'static str, Value)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let docs: HashMap<String, String> = make(&base)
            .into_iter()
            .map(|(p, v)| (p.to_owned(), v.to_string()))
            .collect();
        let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let total = Arc::new(AtomicUsize::new(0));
        let (h, t) = (hits.clone(), total.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                t.fetch_add(1, Ordering::SeqCst);
                let mut buf = vec![0u8; 4096];
                let n =
                    tokio::time::timeout(std::time::Duration::from_secs(2), sock.read(&mut buf))
                        .await
                        .ok()
                        .and_then(Result::ok)
                        .unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                let path = head.split(' ').nth(1).unwrap_or("").to_owned();
                *h.lock().unwrap().entry(path.clone()).or_default() += 1;
                let resp = match docs.get(&path) {
                    Some(body) => format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncache-control: max-age=600\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    ),
                    None => {
                        "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                            .to_owned()
                    }
                };
                let _ = sock.write_all(resp.as_bytes()).await;
            }
        });
        Self {
            base,
            hits,
            total,
            task,
        }
    }

    fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

impl Drop for Documents {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// ChatGPT's published document (fixtures/clients/chatgpt-cimd.json),
/// re-homed on loopback with the test key's JWK Set beside it.
async fn chatgpt(key: &Key) -> Documents {
    let jwk = key.jwk();
    Documents::start(|base| {
        vec![
            (
                "/oauth/client.json",
                json!({
                    "client_id": format!("{base}/oauth/client.json"),
                    "client_uri": "https://chatgpt.com/",
                    "redirect_uris": [REDIRECT],
                    "token_endpoint_auth_method": "private_key_jwt",
                    "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                    "client_name": "ChatGPT",
                    "token_endpoint_auth_signing_alg": "RS256",
                    "jwks_uri": format!("{base}/oauth/jwks.json"),
                }),
            ),
            ("/oauth/jwks.json", json!({"keys": [jwk]})),
        ]
    })
    .await
}

fn code_form(code: &str) -> Vec<(&str, &str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ]
}

#[tokio::test]
async fn a_document_client_authenticates_with_the_keys_at_its_jwks_uri() {
    let (audit, _guard) = capture();
    let key = Key::new(AssertionAlgorithm::Rs256, "cimd-test");
    let docs = chatgpt(&key).await;
    let id = format!("{}/oauth/client.json", docs.base);
    let s = Server::start(
        ServerConfig::builder(ISSUER)
            .client_id_metadata_documents(CimdConfig::default().dangerously_allow_loopback_http())
            .client_jwks_fetch(JwksFetchConfig::default().dangerously_allow_loopback_http()),
    )
    .await;
    let code = s.code(&id).await;
    let a = key.sign("cimd-test", &claims(&id, s.now()));
    let mut form = code_form(&code);
    form.extend(assertion_form(&a, Some(&id)));
    let (status, tokens) = s.post("/token", &form).await;
    assert_eq!(status, 200, "{tokens}");
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let a = key.sign("cimd-test", &claims(&id, s.now()));
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", &refresh)];
    form.extend(assertion_form(&a, Some(&id)));
    let (status, refreshed) = s.post("/token", &form).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(docs.hits("/oauth/jwks.json"), 1, "the JWK Set is cached");
    audit.one("client_jwks.fetched");
    assert_eq!(audit.named("client_auth.assertion_accepted").len(), 2);

    // The document lists `none` too (SEP-3149): a public exchange works.
    let code = s.code(&id).await;
    let mut form = code_form(&code);
    form.push(("client_id", &id));
    let (status, tokens) = s.post("/token", &form).await;
    assert_eq!(status, 200, "{tokens}");
    // An RS256-registered client cannot switch algorithm.
    let es = Key::new(AssertionAlgorithm::Es256, "cimd-test");
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", "x")];
    let a = es.sign("cimd-test", &claims(&id, s.now()));
    form.extend(assertion_form(&a, Some(&id)));
    let reply = s.post_reply("/token", &form).await;
    assert_refused(
        &audit,
        &reply,
        (
            401,
            "invalid_client",
            "the client assertion is signed with ES256, but the client registered token_endpoint_auth_signing_alg RS256",
        ),
        "token",
        "algorithm_not_registered",
    );
}

#[tokio::test]
async fn a_jwks_uri_refused_by_the_ssrf_rules_is_never_fetched() {
    let (audit, _guard) = capture();
    let key = Key::new(AssertionAlgorithm::Rs256, "cimd-test");
    let docs = chatgpt(&key).await;
    let id = format!("{}/oauth/client.json", docs.base);
    // Documents may come from loopback (development), client keys may not.
    let s = Server::start(
        ServerConfig::builder(ISSUER)
            .client_id_metadata_documents(CimdConfig::default().dangerously_allow_loopback_http()),
    )
    .await;
    let a = key.sign("cimd-test", &claims(&id, s.now()));
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", "x")];
    form.extend(assertion_form(&a, Some(&id)));
    let reply = s.post_reply("/token", &form).await;
    let jwks_uri = format!("{}/oauth/jwks.json", docs.base);
    assert_refused(
        &audit,
        &reply,
        (
            401,
            "invalid_client",
            &format!("the client's keys are unavailable: {jwks_uri}: the URL must use https"),
        ),
        "token",
        "keys_unavailable",
    );
    let refused = audit.one("client_jwks.refused");
    assert_eq!(refused["jwks_uri"], jwks_uri);
    assert_eq!(refused["reason"], "the URL must use https");
    assert_eq!(docs.hits("/oauth/jwks.json"), 0);
    assert_eq!(
        docs.total.load(Ordering::SeqCst),
        1,
        "only the document was fetched"
    );
}
