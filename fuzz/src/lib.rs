//! What the fuzz targets share: a runtime for the async entry points, one
//! signing key, the authorization server and resource server they talk to,
//! and small helpers to cut an input into fields. Every target is a thin
//! call into the crate that owns the parser; the checks it makes beyond
//! "does not panic" are properties of that parser's public behaviour.

use std::cell::RefCell;
use std::future::Future;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth_mcp_core::http::OAuthHttp;
use oauth_mcp_core::ratelimit::RateLimitConfig;
use oauth_mcp_core::token::SigningAlgorithm;
use oauth_mcp_core::validate::remote::RemoteJwksValidator;
use oauth_mcp_core::validate::{LocalJwtValidator, TokenRejection};
use oauth_mcp_core::{
    AuthContext, AuthServer, Identity, KeySet, MemoryStore, PreRegisteredClient, ResourceServer,
    ResourceUri, ScopeSet, ServerConfig, SigningKey, TokenValidator,
};

/// The embedded authorization server's public URL (its issuer).
pub const ISSUER: &str = "http://127.0.0.1:8080";
/// Its MCP resource.
pub const RESOURCE: &str = "http://127.0.0.1:8080/mcp";
/// A pre-registered public client.
pub const PUBLIC_CLIENT: &str = "fuzz-public";
/// A pre-registered confidential client and its secret.
pub const CONFIDENTIAL_CLIENT: &str = "fuzz-confidential";
/// The confidential client's secret.
pub const CLIENT_SECRET: &str = "fuzz-secret-0123456789";
/// The redirect URIs both clients registered.
pub const REDIRECT_URIS: &[&str] = &[
    "http://127.0.0.1:7777/cb",
    "https://app.example/cb",
    "cursor://anysphere.cursor-retrieval/oauth/callback",
];

/// A current-thread runtime with IO and timers (the remote validator's
/// one start-up fetch needs them).
pub fn block_on<F: Future>(f: F) -> F::Output {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime")
    })
    .block_on(f)
}

/// Cuts `data` at NUL bytes into exactly `n` fields (the last takes the
/// rest; missing fields are empty).
pub fn fields(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out: Vec<&[u8]> = data.splitn(n, |b| *b == 0).collect();
    out.resize(n, &[]);
    out
}

/// Lossy UTF-8: the parsers take `&str`, and the fuzzer should not waste
/// inputs on invalid bytes.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The one ES256 signing key every target uses.
pub fn signing_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate(SigningAlgorithm::Es256).expect("key"))
}

/// Signs `header` and `claims` (any bytes) with [`signing_key`] as a compact
/// JWS, so that fuzzed headers and claims get past the signature check.
pub fn sign(header: &[u8], claims: &[u8]) -> String {
    static ENC: OnceLock<jsonwebtoken::EncodingKey> = OnceLock::new();
    let enc = ENC.get_or_init(|| {
        jsonwebtoken::EncodingKey::from_ec_pem(signing_key().to_pkcs8_pem().as_bytes())
            .expect("encoding key")
    });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let sig = jsonwebtoken::crypto::sign(input.as_bytes(), enc, jsonwebtoken::Algorithm::ES256)
        .expect("sign");
    format!("{input}.{sig}")
}

/// The JWK Set of [`signing_key`].
pub fn jwks() -> serde_json::Value {
    KeySet::new(signing_key().clone()).jwks()
}

/// The local validator for tokens of [`ISSUER`] meant for [`RESOURCE`].
pub fn local_validator() -> &'static LocalJwtValidator {
    static V: OnceLock<LocalJwtValidator> = OnceLock::new();
    V.get_or_init(|| {
        LocalJwtValidator::new(
            Arc::new(KeySet::new(signing_key().clone())),
            ISSUER,
            resource(),
            Arc::new(oauth_mcp_core::clock::SystemClock),
        )
    })
}

/// [`RESOURCE`] as a [`ResourceUri`].
pub fn resource() -> ResourceUri {
    ResourceUri::parse(RESOURCE).expect("resource")
}

/// The remote JWKS validator, loaded once from a loopback server that
/// serves [`jwks`]; its cache never expires and it never refetches, so the
/// fuzz loop makes no network calls.
pub fn remote_validator() -> &'static RemoteJwksValidator {
    static V: OnceLock<RemoteJwksValidator> = OnceLock::new();
    V.get_or_init(|| {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let body = jwks().to_string();
        std::thread::spawn(move || {
            for mut conn in listener.incoming().flatten() {
                let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf);
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        let day = Duration::from_secs(86_400);
        block_on(
            RemoteJwksValidator::builder(ISSUER, resource())
                .jwks_uri(format!("http://{addr}/jwks.json"))
                .max_key_age(day)
                .min_refetch_interval(day)
                .build(),
        )
        .expect("remote validator")
    })
}

fn auth_server() -> OAuthHttp {
    let mut b = ServerConfig::builder(ISSUER)
        .scopes_supported(["mcp", "admin", "offline_access"])
        .signing_keys(KeySet::new(signing_key().clone()))
        .client(PreRegisteredClient::public(
            PUBLIC_CLIENT,
            REDIRECT_URIS.iter().map(|s| (*s).to_owned()).collect(),
        ))
        .client(PreRegisteredClient::confidential(
            CONFIDENTIAL_CLIENT,
            CLIENT_SECRET,
            REDIRECT_URIS.iter().map(|s| (*s).to_owned()).collect(),
        ));
    // The fuzzer is one client sending thousands of requests a second:
    // rate limits and the pending-request cap would turn later inputs into
    // 429s and 503s and hide the parsers behind them (and make a run depend
    // on its history).
    b = b
        .max_body_bytes(64 * 1024)
        .rate_limits(RateLimitConfig::default().dangerously_disable_all())
        // A server lives for 4,096 inputs: room for every pending request.
        .max_pending(8192, 8192);
    let cfg = b.build().expect("config");
    OAuthHttp::new(AuthServer::new(cfg, Arc::new(MemoryStore::new())).expect("server"))
}

/// Runs `f` with the embedded authorization server. The server (and its
/// memory store, which keeps pending requests and registrations) is
/// replaced every few thousand uses so that a long run stays flat.
pub fn with_oauth<R>(f: impl FnOnce(&OAuthHttp) -> R) -> R {
    thread_local! {
        static S: RefCell<Option<(OAuthHttp, u32)>> = const { RefCell::new(None) };
    }
    S.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|(_, n)| *n >= 4096) {
            *slot = Some((auth_server(), 0));
        }
        let (oauth, n) = slot.as_mut().expect("server");
        *n += 1;
        f(oauth)
    })
}

/// Tokens the fixed validator knows, with their scopes.
pub const TOKENS: &[(&str, &str)] = &[
    ("tok-mcp", "mcp"),
    ("tok-admin", "mcp admin"),
    ("tok-none", ""),
];

/// A validator with a fixed table of tokens (the resource-server targets
/// fuzz what surrounds validation, not a signature); `tok-down` is an
/// outage.
#[derive(Debug)]
pub struct FixedValidator;

/// The external authorization server of the resource-server targets.
pub const RS_ISSUER: &str = "https://as.example";
/// Their resource.
pub const RS_RESOURCE: &str = "https://mcp.example/mcp";

#[async_trait]
impl TokenValidator for FixedValidator {
    async fn validate(&self, token: &str) -> Result<AuthContext, TokenRejection> {
        if token == "tok-down" {
            return Err(TokenRejection::Unavailable("store down".into()));
        }
        let (_, scopes) = TOKENS
            .iter()
            .find(|(t, _)| *t == token)
            .ok_or(TokenRejection::BadSignature)?;
        Ok(AuthContext::new(Identity {
            subject: "alice".into(),
            client_id: "c".into(),
            scopes: ScopeSet::parse(scopes).expect("scopes"),
            audience: RS_RESOURCE.into(),
            issuer: RS_ISSUER.into(),
            expires_at: i64::MAX,
            token_id: None,
        }))
    }

    fn issuer(&self) -> Option<&str> {
        Some(RS_ISSUER)
    }
}

/// The resource server of the resource-server targets: `mcp` required;
/// the tool `admin_echo`, the resources `file:///secret/{name}` (template)
/// and `secret://exact`, and the prompt `admin_prompt` need `admin`.
pub fn resource_server() -> &'static ResourceServer {
    static RS: OnceLock<ResourceServer> = OnceLock::new();
    RS.get_or_init(|| {
        ResourceServer::builder(RS_RESOURCE)
            .authorization_server(RS_ISSUER)
            .validator(FixedValidator)
            .scopes_supported(["mcp", "admin"])
            .required_scopes(["mcp"])
            .tool_scopes("admin_echo", ["admin"])
            .resource_scopes("file:///secret/{name}", ["admin"])
            .resource_scopes("secret://exact", ["admin"])
            .prompt_scopes("admin_prompt", ["admin"])
            .build()
            .expect("resource server")
    })
}
