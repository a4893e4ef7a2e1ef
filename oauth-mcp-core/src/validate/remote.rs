//! Validators for tokens from an external authorization server (Keycloak,
//! Auth0, Okta, Entra ID, any OpenID provider): JWTs checked against its
//! JWKS, and opaque tokens through RFC 7662 introspection.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use tokio::sync::{Mutex, RwLock};

use super::{AuthContext, ClaimView, TokenRejection, TokenValidator, check_claims};
use crate::clock::{SharedClock, SystemClock};
use crate::resource::ResourceUri;
use crate::scope::ScopeSet;
use crate::secret::{Secret, hash_secret};
use crate::token::ACCESS_TOKEN_TYP;

/// Why a remote validator could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("remote authorization server: {0}")]
pub struct RemoteError(pub String);

fn http_client(timeout: Duration) -> Result<reqwest::Client, RemoteError> {
    reqwest::Client::builder()
        .timeout(timeout)
        // Following redirects would let a metadata document steer us anywhere.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| RemoteError(format!("cannot build the HTTP client: {e}")))
}

/// The well-known URLs for `issuer`, in the order MCP clients try them:
/// RFC 8414 with path insertion, then OpenID discovery (inserted, then appended).
pub fn discovery_urls(issuer: &str) -> Result<Vec<String>, RemoteError> {
    let url = url::Url::parse(issuer)
        .map_err(|e| RemoteError(format!("issuer `{issuer}` is not a URL: {e}")))?;
    let origin = url.origin().ascii_serialization();
    let path = url.path().trim_end_matches('/');
    Ok(if path.is_empty() {
        vec![
            format!("{origin}/.well-known/oauth-authorization-server"),
            format!("{origin}/.well-known/openid-configuration"),
        ]
    } else {
        vec![
            format!("{origin}/.well-known/oauth-authorization-server{path}"),
            format!("{origin}/.well-known/openid-configuration{path}"),
            format!("{origin}{path}/.well-known/openid-configuration"),
        ]
    })
}

/// Fetches the issuer's metadata (the first discovery URL that answers 200)
/// and checks that its `issuer` is the one configured, byte for byte.
pub async fn discover(
    http: &reqwest::Client,
    issuer: &str,
) -> Result<serde_json::Value, RemoteError> {
    let mut tried = Vec::new();
    for url in discovery_urls(issuer)? {
        match http.get(&url).send().await {
            Ok(r) if r.status().is_success() => {
                let doc: serde_json::Value = r
                    .json()
                    .await
                    .map_err(|e| RemoteError(format!("metadata at {url} is not JSON: {e}")))?;
                if doc.get("issuer").and_then(|v| v.as_str()) != Some(issuer) {
                    return Err(RemoteError(format!(
                        "metadata at {url} names issuer {}, not `{issuer}`; refusing it (RFC 8414 §3.3)",
                        doc.get("issuer")
                            .map(ToString::to_string)
                            .unwrap_or_else(|| "nothing".into())
                    )));
                }
                return Ok(doc);
            }
            Ok(r) => tried.push(format!("{url} -> {}", r.status())),
            Err(e) => tried.push(format!("{url} -> {e}")),
        }
    }
    Err(RemoteError(format!(
        "no authorization server metadata found for `{issuer}`; tried {}",
        tried.join(", ")
    )))
}

/// Where scopes are read from in a provider's tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeClaim {
    /// A space-separated string claim (`scope`, RFC 9068).
    SpaceSeparated(String),
    /// A claim that is a string or an array of strings (`scp`, `roles`, `permissions`).
    List(String),
}

fn scopes_from(claims: &serde_json::Value, sources: &[ScopeClaim]) -> ScopeSet {
    let mut out: Vec<String> = Vec::new();
    for src in sources {
        match src {
            ScopeClaim::SpaceSeparated(name) => {
                if let Some(s) = claims.get(name).and_then(|v| v.as_str()) {
                    out.extend(s.split(' ').filter(|t| !t.is_empty()).map(str::to_owned));
                }
            }
            ScopeClaim::List(name) => match claims.get(name) {
                Some(serde_json::Value::String(s)) => {
                    out.extend(s.split(' ').filter(|t| !t.is_empty()).map(str::to_owned))
                }
                Some(serde_json::Value::Array(a)) => {
                    out.extend(a.iter().filter_map(|v| v.as_str()).map(str::to_owned))
                }
                _ => {}
            },
        }
    }
    ScopeSet::from_scopes(out)
}

/// Builds a [`RemoteJwksValidator`].
#[must_use]
#[derive(Debug, Clone)]
pub struct RemoteJwksBuilder {
    issuer: String,
    audience: ResourceUri,
    jwks_uri: Option<String>,
    algorithms: Vec<Algorithm>,
    accept_plain_jwt: bool,
    scope_claims: Vec<ScopeClaim>,
    max_key_age: Duration,
    min_refetch_interval: Duration,
    timeout: Duration,
    leeway: i64,
    clock: SharedClock,
}

impl RemoteJwksBuilder {
    /// Use this JWKS URL instead of discovering it from the issuer's metadata.
    pub fn jwks_uri(mut self, url: impl Into<String>) -> Self {
        self.jwks_uri = Some(url.into());
        self
    }

    /// The accepted algorithms (default RS256, PS256, ES256, EdDSA). Symmetric
    /// (`HS*`) algorithms are refused at build time: a resource server must
    /// never verify with a secret an attacker could know (the public key).
    pub fn algorithms(mut self, algs: Vec<Algorithm>) -> Self {
        self.algorithms = algs;
        self
    }

    /// Also accept tokens whose `typ` is `JWT` or absent (many providers emit
    /// those instead of RFC 9068's `at+jwt`).
    pub fn accept_plain_jwt_typ(mut self) -> Self {
        self.accept_plain_jwt = true;
        self
    }

    /// Where scopes come from (default: the `scope` claim). Add
    /// `ScopeClaim::List("scp".into())` for Entra ID / Okta, `roles`, … .
    pub fn scope_claims(mut self, claims: Vec<ScopeClaim>) -> Self {
        self.scope_claims = claims;
        self
    }

    /// Refetch keys at least this often (default 10 minutes).
    pub fn max_key_age(mut self, d: Duration) -> Self {
        self.max_key_age = d;
        self
    }

    /// An unknown `kid` triggers a refetch at most this often (default 10 s),
    /// so a flood of bogus key ids cannot hammer the authorization server.
    pub fn min_refetch_interval(mut self, d: Duration) -> Self {
        self.min_refetch_interval = d;
        self
    }

    /// HTTP timeout for metadata and JWKS requests (default 5 s).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    /// Clock-skew allowance for `exp`/`nbf` in seconds (default 30).
    pub fn leeway(mut self, secs: i64) -> Self {
        self.leeway = secs;
        self
    }

    /// The clock (tests).
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Discovers the JWKS URL (unless given), fetches the keys once, and
    /// fails now, at start-up, if any of it does not work.
    pub async fn build(self) -> Result<RemoteJwksValidator, RemoteError> {
        if self.algorithms.is_empty() {
            return Err(RemoteError(
                "at least one algorithm must be accepted".into(),
            ));
        }
        if let Some(a) = self
            .algorithms
            .iter()
            .find(|a| matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
        {
            return Err(RemoteError(format!(
                "{a:?} is symmetric; a resource server must only accept asymmetric algorithms"
            )));
        }
        let http = http_client(self.timeout)?;
        let jwks_uri = match self.jwks_uri.clone() {
            Some(u) => u,
            None => discover(&http, &self.issuer)
                .await?
                .get("jwks_uri")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .ok_or_else(|| {
                    RemoteError(format!("the metadata of `{}` has no jwks_uri", self.issuer))
                })?,
        };
        let v = RemoteJwksValidator {
            inner: Arc::new(Inner {
                http,
                jwks_uri,
                keys: RwLock::new(Keys {
                    by_kid: HashMap::new(),
                    fetched: None,
                }),
                last_attempt: Mutex::new(None),
                cfg: self,
            }),
        };
        v.inner
            .refetch(true)
            .await
            .map_err(|e| RemoteError(format!("cannot load the JWKS: {e}")))?;
        Ok(v)
    }
}

struct Keys {
    by_kid: HashMap<String, (DecodingKey, Vec<Algorithm>)>,
    fetched: Option<Instant>,
}

struct Inner {
    cfg: RemoteJwksBuilder,
    http: reqwest::Client,
    jwks_uri: String,
    keys: RwLock<Keys>,
    last_attempt: Mutex<Option<Instant>>,
}

/// Validates JWT access tokens from an external authorization server against
/// its JWKS: signature (asymmetric algorithms only), `typ`, `iss`, `aud` (this
/// resource), `exp`/`nbf`. Keys are cached; an unknown `kid` causes one
/// rate-limited refetch, which is how key rotation is picked up.
#[derive(Clone)]
pub struct RemoteJwksValidator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RemoteJwksValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteJwksValidator")
            .field("issuer", &self.inner.cfg.issuer)
            .field("jwks_uri", &self.inner.jwks_uri)
            .finish_non_exhaustive()
    }
}

/// Which algorithms a JWK may verify.
fn algorithms_for(jwk: &jsonwebtoken::jwk::Jwk) -> Vec<Algorithm> {
    if let Some(alg) = jwk
        .common
        .key_algorithm
        .and_then(|a| format!("{a:?}").parse::<Algorithm>().ok())
    {
        return vec![alg];
    }
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => vec![
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ],
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => vec![Algorithm::ES256],
            EllipticCurve::P384 => vec![Algorithm::ES384],
            _ => vec![],
        },
        AlgorithmParameters::OctetKeyPair(_) => vec![Algorithm::EdDSA],
        // Symmetric or unknown keys never verify anything here.
        _ => vec![],
    }
}

impl Inner {
    /// Fetches the JWKS unless a fetch happened within the minimum interval
    /// (`force` skips that check, for start-up).
    async fn refetch(&self, force: bool) -> Result<(), String> {
        {
            let mut last = self.last_attempt.lock().await;
            if !force && last.is_some_and(|t| t.elapsed() < self.cfg.min_refetch_interval) {
                return Ok(());
            }
            *last = Some(Instant::now());
        }
        let resp = self
            .http
            .get(&self.jwks_uri)
            .send()
            .await
            .map_err(|e| format!("{}: {e}", self.jwks_uri))?;
        if !resp.status().is_success() {
            return Err(format!("{} answered {}", self.jwks_uri, resp.status()));
        }
        let set: JwkSet = resp
            .json()
            .await
            .map_err(|e| format!("{} is not a JWKS: {e}", self.jwks_uri))?;
        let mut by_kid = HashMap::new();
        for jwk in &set.keys {
            let algs = algorithms_for(jwk);
            if algs.is_empty() {
                continue;
            }
            if let (Some(kid), Ok(key)) = (jwk.common.key_id.clone(), DecodingKey::from_jwk(jwk)) {
                by_kid.insert(kid, (key, algs));
            }
        }
        tracing::info!(target: "oauth_mcp::audit", event = "jwks.fetched", jwks_uri = %self.jwks_uri, keys = by_kid.len());
        *self.keys.write().await = Keys {
            by_kid,
            fetched: Some(Instant::now()),
        };
        Ok(())
    }

    async fn key(&self, kid: &str) -> Option<(DecodingKey, Vec<Algorithm>)> {
        let stale = self
            .keys
            .read()
            .await
            .fetched
            .is_none_or(|t| t.elapsed() > self.cfg.max_key_age);
        if stale && let Err(e) = self.refetch(false).await {
            tracing::warn!(target: "oauth_mcp::audit", event = "jwks.refresh_failed", reason = %e);
        }
        if let Some(k) = self.keys.read().await.by_kid.get(kid) {
            return Some(k.clone());
        }
        // Unknown kid: perhaps the authorization server rotated its keys.
        if let Err(e) = self.refetch(false).await {
            tracing::warn!(target: "oauth_mcp::audit", event = "jwks.refresh_failed", reason = %e);
        }
        self.keys.read().await.by_kid.get(kid).cloned()
    }
}

#[async_trait]
impl TokenValidator for RemoteJwksValidator {
    async fn validate(&self, token: &str) -> Result<AuthContext, TokenRejection> {
        let cfg = &self.inner.cfg;
        let header = decode_header(token).map_err(|e| TokenRejection::Malformed(e.to_string()))?;
        if !cfg.algorithms.contains(&header.alg) {
            return Err(TokenRejection::Algorithm(format!("{:?}", header.alg)));
        }
        match header.typ.as_deref() {
            Some(t)
                if t.eq_ignore_ascii_case(ACCESS_TOKEN_TYP)
                    || t.eq_ignore_ascii_case("application/at+jwt") => {}
            Some(t) if cfg.accept_plain_jwt && t.eq_ignore_ascii_case("JWT") => {}
            None if cfg.accept_plain_jwt => {}
            other => {
                return Err(TokenRejection::WrongType(
                    other.unwrap_or("(none)").to_owned(),
                ));
            }
        }
        let kid = header
            .kid
            .clone()
            .ok_or(TokenRejection::MissingClaim("kid"))?;
        let (key, algs) = self
            .inner
            .key(&kid)
            .await
            .ok_or_else(|| TokenRejection::UnknownKey(kid.clone()))?;
        if !algs.contains(&header.alg) {
            return Err(TokenRejection::Algorithm(format!(
                "{:?} (key `{kid}` is for {algs:?})",
                header.alg
            )));
        }
        let mut v = Validation::new(header.alg);
        v.validate_exp = false;
        v.validate_nbf = false;
        v.validate_aud = false;
        v.required_spec_claims.clear();
        let data = decode::<serde_json::Value>(token, &key, &v).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => TokenRejection::BadSignature,
            jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => {
                TokenRejection::Algorithm(format!("{:?}", header.alg))
            }
            _ => TokenRejection::Malformed(e.to_string()),
        })?;
        let c = &data.claims;
        check_claims(
            &ClaimView {
                iss: c.get("iss").and_then(|v| v.as_str()),
                aud: c.get("aud"),
                exp: c.get("exp").and_then(|v| v.as_i64()),
                nbf: c.get("nbf").and_then(|v| v.as_i64()),
            },
            &cfg.issuer,
            &cfg.audience,
            cfg.clock.now(),
            cfg.leeway,
        )?;
        Ok(context_from(
            c,
            &cfg.scope_claims,
            &cfg.audience,
            &cfg.issuer,
        ))
    }
}

fn context_from(
    c: &serde_json::Value,
    scope_claims: &[ScopeClaim],
    audience: &ResourceUri,
    issuer: &str,
) -> AuthContext {
    let s = |k: &str| c.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    AuthContext {
        subject: s("sub").or_else(|| s("client_id")).unwrap_or_default(),
        client_id: s("client_id")
            .or_else(|| s("azp"))
            .or_else(|| s("cid"))
            .unwrap_or_default(),
        scopes: scopes_from(c, scope_claims),
        audience: audience.to_string(),
        issuer: issuer.to_owned(),
        expires_at: c.get("exp").and_then(|v| v.as_i64()).unwrap_or_default(),
        token_id: s("jti"),
    }
}

impl RemoteJwksValidator {
    /// A builder for tokens from `issuer` meant for `audience` (this resource).
    pub fn builder(issuer: impl Into<String>, audience: ResourceUri) -> RemoteJwksBuilder {
        RemoteJwksBuilder {
            issuer: issuer.into(),
            audience,
            jwks_uri: None,
            algorithms: vec![
                Algorithm::RS256,
                Algorithm::PS256,
                Algorithm::ES256,
                Algorithm::EdDSA,
            ],
            accept_plain_jwt: false,
            scope_claims: vec![ScopeClaim::SpaceSeparated("scope".into())],
            max_key_age: Duration::from_secs(600),
            min_refetch_interval: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
            leeway: 30,
            clock: Arc::new(SystemClock),
        }
    }

    /// The JWKS URL in use.
    pub fn jwks_uri(&self) -> &str {
        &self.inner.jwks_uri
    }
}

/// Validates opaque (or any) tokens through RFC 7662 introspection at the
/// authorization server, authenticating with client credentials. Results are
/// cached for at most `max_cache` and never beyond the token's `exp`.
pub struct IntrospectionValidator {
    http: reqwest::Client,
    endpoint: String,
    client_id: String,
    client_secret: Secret,
    issuer: Option<String>,
    audience: ResourceUri,
    scope_claims: Vec<ScopeClaim>,
    max_cache: i64,
    max_entries: usize,
    clock: SharedClock,
    cache: Mutex<HashMap<String, (AuthContext, i64)>>,
}

impl std::fmt::Debug for IntrospectionValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionValidator")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct IntrospectionResponse {
    active: bool,
    #[serde(flatten)]
    rest: serde_json::Value,
}

impl IntrospectionValidator {
    /// A validator calling `endpoint` as `client_id`/`client_secret`, for
    /// tokens meant for `audience`.
    pub fn new(
        endpoint: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
        audience: ResourceUri,
    ) -> Result<Self, RemoteError> {
        Ok(Self {
            http: http_client(Duration::from_secs(5))?,
            endpoint: endpoint.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            issuer: None,
            audience,
            scope_claims: vec![ScopeClaim::SpaceSeparated("scope".into())],
            max_cache: 60,
            max_entries: 10_000,
            clock: Arc::new(SystemClock),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Discovers the introspection endpoint from the issuer's metadata, and
    /// requires introspection answers to name that issuer.
    pub async fn discover(
        issuer: &str,
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
        audience: ResourceUri,
    ) -> Result<Self, RemoteError> {
        let http = http_client(Duration::from_secs(5))?;
        let md = discover(&http, issuer).await?;
        let endpoint = md
            .get("introspection_endpoint")
            .and_then(|v| v.as_str())
            .ok_or_else(|| {
                RemoteError(format!(
                    "the metadata of `{issuer}` has no introspection_endpoint"
                ))
            })?;
        let mut v = Self::new(endpoint, client_id, client_secret, audience)?;
        v.issuer = Some(issuer.to_owned());
        Ok(v)
    }

    /// Requires `iss` in introspection answers to be `issuer`.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Longest time an answer is reused, in seconds (default 60; 0 disables the cache).
    pub fn with_max_cache(mut self, secs: i64) -> Self {
        self.max_cache = secs;
        self
    }

    /// Where scopes come from (default: `scope`).
    pub fn with_scope_claims(mut self, claims: Vec<ScopeClaim>) -> Self {
        self.scope_claims = claims;
        self
    }

    /// The clock (tests).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }
}

#[async_trait]
impl TokenValidator for IntrospectionValidator {
    async fn validate(&self, token: &str) -> Result<AuthContext, TokenRejection> {
        let key = hash_secret(token);
        let now = self.clock.now();
        if let Some((ctx, until)) = self.cache.lock().await.get(&key)
            && *until > now
        {
            return Ok(ctx.clone());
        }
        let resp = self
            .http
            .post(&self.endpoint)
            .basic_auth(&self.client_id, Some(self.client_secret.secret()))
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .map_err(|e| {
                TokenRejection::Unavailable(format!(
                    "introspection at {} failed: {e}",
                    self.endpoint
                ))
            })?;
        if !resp.status().is_success() {
            return Err(TokenRejection::Unavailable(format!(
                "introspection at {} answered {}",
                self.endpoint,
                resp.status()
            )));
        }
        let r: IntrospectionResponse = resp.json().await.map_err(|e| {
            TokenRejection::Unavailable(format!("introspection answer is not JSON: {e}"))
        })?;
        if !r.active {
            return Err(TokenRejection::Revoked);
        }
        let c = &r.rest;
        let issuer = self.issuer.clone().unwrap_or_else(|| {
            c.get("iss")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_owned()
        });
        check_claims(
            &ClaimView {
                iss: c
                    .get("iss")
                    .and_then(|v| v.as_str())
                    .or(if self.issuer.is_none() {
                        Some(issuer.as_str())
                    } else {
                        None
                    }),
                aud: c.get("aud"),
                exp: c.get("exp").and_then(|v| v.as_i64()),
                nbf: c.get("nbf").and_then(|v| v.as_i64()),
            },
            &issuer,
            &self.audience,
            now,
            30,
        )?;
        let ctx = context_from(c, &self.scope_claims, &self.audience, &issuer);
        if self.max_cache > 0 {
            let until = (now + self.max_cache).min(ctx.expires_at);
            let mut cache = self.cache.lock().await;
            if cache.len() >= self.max_entries {
                cache.retain(|_, (_, u)| *u > now);
                if cache.len() >= self.max_entries {
                    cache.clear();
                }
            }
            cache.insert(key, (ctx.clone(), until));
        }
        Ok(ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_order_follows_the_spec() {
        assert_eq!(
            discovery_urls("https://as.example").unwrap(),
            vec![
                "https://as.example/.well-known/oauth-authorization-server",
                "https://as.example/.well-known/openid-configuration"
            ]
        );
        assert_eq!(
            discovery_urls("https://as.example/tenant1").unwrap(),
            vec![
                "https://as.example/.well-known/oauth-authorization-server/tenant1",
                "https://as.example/.well-known/openid-configuration/tenant1",
                "https://as.example/tenant1/.well-known/openid-configuration"
            ]
        );
    }

    #[test]
    fn scopes_from_provider_claims() {
        let c = serde_json::json!({"scope": "a b", "scp": ["c"], "roles": "d e"});
        let all = [
            ScopeClaim::SpaceSeparated("scope".into()),
            ScopeClaim::List("scp".into()),
            ScopeClaim::List("roles".into()),
        ];
        assert_eq!(scopes_from(&c, &all).to_string(), "a b c d e");
        assert_eq!(scopes_from(&c, &all[..1]).to_string(), "a b");
    }

    #[tokio::test]
    async fn symmetric_algorithms_are_refused_at_build_time() {
        let aud = ResourceUri::parse("https://mcp.example/mcp").unwrap();
        let e = RemoteJwksValidator::builder("https://as.example", aud)
            .algorithms(vec![Algorithm::RS256, Algorithm::HS256])
            .build()
            .await
            .unwrap_err();
        assert!(e.0.contains("symmetric"), "{e}");
    }
}
