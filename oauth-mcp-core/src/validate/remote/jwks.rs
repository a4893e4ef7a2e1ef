//! [`RemoteJwksValidator`]: JWT access tokens of an external authorization
//! server, verified against its JWKS (discovered; cached as long as its
//! `Cache-Control: max-age` allows, at most the configured maximum age, on
//! the validator's clock; refetched on an unknown `kid` at a bounded rate).
//! Validated tokens are cached; a refetch that drops a key drops the cache,
//! so tokens of a withdrawn key are refused at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::CACHE_CONTROL;

use async_trait::async_trait;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::{Mutex, RwLock};

use super::{RemoteError, ScopeClaim, cache_max_age, context_from, discover, http_client};
use crate::clock::{SharedClock, SystemClock};
use crate::events::AuditEvent;
use crate::resource::ResourceUri;
use crate::token_cache::TokenCacheConfig;
use crate::validate::cached::{self, ContextCache};
use crate::validate::jwt::{self, AsymmetricAlgorithm};
use crate::validate::{AuthContext, TokenRejection, TokenValidator};

/// Builds a [`RemoteJwksValidator`].
#[must_use]
#[derive(Debug, Clone)]
pub struct RemoteJwksBuilder {
    issuer: String,
    audience: ResourceUri,
    jwks_uri: Option<String>,
    algorithms: Vec<AsymmetricAlgorithm>,
    accept_plain_jwt: bool,
    scope_claims: Vec<ScopeClaim>,
    max_key_age: Duration,
    min_refetch_interval: Duration,
    timeout: Duration,
    leeway: i64,
    clock: SharedClock,
    token_cache: Option<TokenCacheConfig>,
}

impl RemoteJwksBuilder {
    /// The limits of the validated-token cache (on by default with
    /// [`TokenCacheConfig::default`]: a token seen again within its TTL and
    /// before its `exp` costs no signature check).
    pub fn token_cache(mut self, config: TokenCacheConfig) -> Self {
        self.token_cache = Some(config);
        self
    }

    /// Verifies every token's signature every time.
    pub fn without_token_cache(mut self) -> Self {
        self.token_cache = None;
        self
    }

    /// Use this JWKS URL instead of discovering it from the issuer's metadata.
    pub fn jwks_uri(mut self, url: impl Into<String>) -> Self {
        self.jwks_uri = Some(url.into());
        self
    }

    /// The accepted algorithms (default RS256, PS256, ES256, EdDSA). Only
    /// asymmetric algorithms can be named (see [`AsymmetricAlgorithm`]).
    pub fn algorithms(mut self, algs: Vec<AsymmetricAlgorithm>) -> Self {
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

    /// Refetch keys at least this often (default 10 minutes); sooner if the
    /// JWKS response's `Cache-Control: max-age` says so (the authorization
    /// server fits it to its key rotation schedule).
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

    /// HTTP timeout for metadata and JWKS requests (default 5 s; at most 30 s).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    /// Clock-skew allowance for `exp`/`nbf` in seconds (default 30; 0 to 300).
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
        self.validate()?;
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
                    fresh_until: i64::MIN,
                }),
                last_attempt: Mutex::new(None),
                cache: self.token_cache.as_ref().map(cached::new_cache),
                cfg: self,
            }),
        };
        v.inner
            .refetch(Fetch::Start)
            .await
            .map_err(|e| RemoteError(format!("cannot load the JWKS: {e}")))?;
        Ok(v)
    }
}

impl RemoteJwksBuilder {
    /// Checks every setting before anything is fetched; the error names the
    /// setting and what is allowed.
    fn validate(&self) -> Result<(), RemoteError> {
        let bad = |m: String| Err(RemoteError(m));
        if self.algorithms.is_empty() {
            return bad("algorithms: at least one algorithm must be accepted".into());
        }
        if self.scope_claims.is_empty() {
            return bad(
                "scope_claims: name at least one claim scopes come from (usually `scope`)".into(),
            );
        }
        if !(0..=300).contains(&self.leeway) {
            return bad(format!(
                "leeway is {} s; use 0 to 300 s (clock skew between servers is seconds, not minutes)",
                self.leeway
            ));
        }
        if self.timeout.is_zero() || self.timeout > Duration::from_secs(30) {
            return bad(format!(
                "timeout is {:?}; use more than zero and at most 30 s (a slow authorization server holds MCP requests open)",
                self.timeout
            ));
        }
        if self.max_key_age < Duration::from_secs(1) {
            return bad(format!(
                "max_key_age is {:?}; use at least 1 s",
                self.max_key_age
            ));
        }
        // Zero (refetch on every unknown key id) is allowed for tests and
        // trusted networks; longer than the keys' own lifetime makes no sense.
        if self.min_refetch_interval > self.max_key_age {
            return bad(format!(
                "min_refetch_interval is {:?}; use at most max_key_age ({:?}) (the default, 10 s, keeps bogus key ids from making this server hammer the JWKS)",
                self.min_refetch_interval, self.max_key_age
            ));
        }
        Ok(())
    }
}

struct Keys {
    by_kid: HashMap<String, (DecodingKey, Vec<Algorithm>)>,
    /// Until when (the validator's clock) the keys may be used unrefreshed.
    fresh_until: i64,
}

/// Why the JWKS is fetched (the `reason` of the `jwks.fetched` event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fetch {
    /// At start-up; not rate-limited.
    Start,
    /// The keys are older than their max-age.
    Expired,
    /// A token named a key not in the cached set.
    UnknownKid,
}

impl Fetch {
    fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Expired => "expired",
            Self::UnknownKid => "unknown_kid",
        }
    }
}

struct Inner {
    cfg: RemoteJwksBuilder,
    http: reqwest::Client,
    jwks_uri: String,
    keys: RwLock<Keys>,
    last_attempt: Mutex<Option<Instant>>,
    cache: Option<Arc<ContextCache>>,
}

/// Validates JWT access tokens from an external authorization server against
/// its JWKS: signature (asymmetric algorithms only), `typ`, `iss`, `aud` (this
/// resource), `exp`/`nbf`. Keys are cached for the response's
/// `Cache-Control: max-age` (at most [`RemoteJwksBuilder::max_key_age`]),
/// so a successor the authorization server publishes ahead of its use is
/// known before its first token arrives; an unknown `kid` also causes one
/// rate-limited refetch (an immediate rotation).
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
    /// (not checked at start-up).
    async fn refetch(&self, why: Fetch) -> Result<(), String> {
        {
            let mut last = self.last_attempt.lock().await;
            if why != Fetch::Start
                && last.is_some_and(|t| t.elapsed() < self.cfg.min_refetch_interval)
            {
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
        let max_key_age = i64::try_from(self.cfg.max_key_age.as_secs()).unwrap_or(i64::MAX);
        let fresh_for = match resp
            .headers()
            .get(CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
        {
            None => max_key_age,
            // `no-store`/`no-cache`: refetch whenever the rate limit allows.
            Some(h) => cache_max_age(h).unwrap_or(0).clamp(0, max_key_age),
        };
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
        AuditEvent::JwksFetched {
            jwks_uri: &self.jwks_uri,
            keys: by_kid.len(),
            reason: why.as_str(),
            fresh_for,
        }
        .emit();
        let mut keys = self.keys.write().await;
        // A key the authorization server no longer publishes: the tokens it
        // signed are refused from now on, cached or not.
        if let Some(cache) = &self.cache
            && keys.by_kid.keys().any(|kid| !by_kid.contains_key(kid))
        {
            cache.invalidate_all();
        }
        *keys = Keys {
            by_kid,
            fresh_until: self.cfg.clock.now().saturating_add(fresh_for),
        };
        Ok(())
    }

    async fn key(&self, kid: &str) -> Option<(DecodingKey, Vec<Algorithm>)> {
        let stale = self.cfg.clock.now() >= self.keys.read().await.fresh_until;
        if stale && let Err(e) = self.refetch(Fetch::Expired).await {
            AuditEvent::JwksRefreshFailed { reason: &e }.emit();
        }
        if let Some(k) = self.keys.read().await.by_kid.get(kid) {
            return Some(k.clone());
        }
        // Unknown kid: perhaps the authorization server rotated its keys.
        if let Err(e) = self.refetch(Fetch::UnknownKid).await {
            AuditEvent::JwksRefreshFailed { reason: &e }.emit();
        }
        self.keys.read().await.by_kid.get(kid).cloned()
    }
}

#[async_trait]
impl TokenValidator for RemoteJwksValidator {
    async fn validate(&self, token: &str) -> Result<AuthContext, TokenRejection> {
        let Some(cache) = &self.inner.cache else {
            return self.validate_uncached(token).await;
        };
        let now = self.inner.cfg.clock.now();
        if let Some(ctx) = cache.get(token, now) {
            return Ok(ctx);
        }
        let ticket = cache.ticket();
        let ctx = self.validate_uncached(token).await?;
        cached::remember(cache, token, &ctx, None, now, ticket);
        Ok(ctx)
    }

    fn validate_now(&self, token: &[u8]) -> Option<AuthContext> {
        let cache = self.inner.cache.as_ref()?;
        cache.get(token, self.inner.cfg.clock.now())
    }

    fn issuer(&self) -> Option<&str> {
        Some(&self.inner.cfg.issuer)
    }

    fn audience(&self) -> Option<&ResourceUri> {
        Some(&self.inner.cfg.audience)
    }
}

impl RemoteJwksValidator {
    async fn validate_uncached(&self, token: &str) -> Result<AuthContext, TokenRejection> {
        let cfg = &self.inner.cfg;
        let header = jwt::header(token)?;
        if !cfg.algorithms.iter().any(|a| a.jwt_alg() == header.alg) {
            return Err(TokenRejection::Algorithm(format!("{:?}", header.alg)));
        }
        jwt::check_typ(header.typ.as_deref(), cfg.accept_plain_jwt)?;
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
        let claims: serde_json::Value = jwt::verified_claims(token, &key, header.alg)?;
        let c = &claims;
        jwt::check_claims(
            &jwt::ClaimView {
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

impl RemoteJwksValidator {
    /// A builder for tokens from `issuer` meant for `audience` (this resource).
    pub fn builder(issuer: impl Into<String>, audience: ResourceUri) -> RemoteJwksBuilder {
        RemoteJwksBuilder {
            issuer: issuer.into(),
            audience,
            jwks_uri: None,
            algorithms: vec![
                AsymmetricAlgorithm::Rs256,
                AsymmetricAlgorithm::Ps256,
                AsymmetricAlgorithm::Es256,
                AsymmetricAlgorithm::EdDsa,
            ],
            accept_plain_jwt: false,
            scope_claims: vec![ScopeClaim::SpaceSeparated("scope".into())],
            max_key_age: Duration::from_secs(600),
            min_refetch_interval: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
            leeway: 30,
            clock: Arc::new(SystemClock),
            token_cache: Some(TokenCacheConfig::default()),
        }
    }

    /// The JWKS URL in use.
    pub fn jwks_uri(&self) -> &str {
        &self.inner.jwks_uri
    }
}
