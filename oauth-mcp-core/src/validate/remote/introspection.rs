//! [`IntrospectionValidator`]: opaque (or any) tokens checked through RFC
//! 7662 introspection at the authorization server, with a bounded cache.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use super::{RemoteError, ScopeClaim, context_from, discover, http_client};
use crate::clock::{SharedClock, SystemClock};
use crate::resource::ResourceUri;
use crate::secret::Secret;
use crate::token_cache::TokenCacheConfig;
use crate::validate::cached::{self, ContextCache};
use crate::validate::jwt::{ClaimView, check_claims};
use crate::validate::{AuthContext, TokenRejection, TokenValidator};

/// Validates opaque (or any) tokens through RFC 7662 introspection at the
/// authorization server, authenticating with client credentials. Answers
/// are kept in a validated-token cache for at most `max_cache` (60 s by
/// default) and never beyond the token's `exp`: a revocation at the
/// authorization server takes effect here within that time.
pub struct IntrospectionValidator {
    http: reqwest::Client,
    endpoint: String,
    client_id: String,
    client_secret: Secret,
    issuer: Option<String>,
    audience: ResourceUri,
    scope_claims: Vec<ScopeClaim>,
    max_cache: i64,
    cache_config: Option<TokenCacheConfig>,
    clock: SharedClock,
    cache: Option<Arc<ContextCache>>,
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
        Ok(Self::with_cache_settings(Self {
            http: http_client(Duration::from_secs(5))?,
            endpoint: endpoint.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            issuer: None,
            audience,
            scope_claims: vec![ScopeClaim::SpaceSeparated("scope".into())],
            max_cache: 60,
            cache_config: Some(TokenCacheConfig::default()),
            clock: Arc::new(SystemClock),
            cache: None,
        }))
    }

    /// Rebuilds the cache after a change of its settings: entries live at
    /// most `max_cache` seconds.
    fn with_cache_settings(mut self) -> Self {
        let max_cache = u64::try_from(self.max_cache).unwrap_or(0);
        self.cache = self
            .cache_config
            .as_ref()
            .filter(|_| max_cache > 0)
            .map(|c| {
                let ttl = c.ttl.min(Duration::from_secs(max_cache));
                cached::new_cache(&c.clone().with_ttl(ttl))
            });
        self
    }

    /// The limits of the validated-token cache (on by default; its TTL is
    /// capped by [`IntrospectionValidator::with_max_cache`]).
    pub fn with_token_cache(mut self, config: TokenCacheConfig) -> Self {
        self.cache_config = Some(config);
        self.with_cache_settings()
    }

    /// Asks the introspection endpoint about every request's token.
    pub fn without_token_cache(mut self) -> Self {
        self.cache_config = None;
        self.with_cache_settings()
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
        self.with_cache_settings()
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
        let now = self.clock.now();
        if let Some(cache) = &self.cache
            && let Some(ctx) = cache.get(token, now)
        {
            return Ok(ctx);
        }
        let ticket = self.cache.as_ref().map(|c| c.ticket());
        let resp = self
            .http
            .post(&self.endpoint)
            // RFC 6749 §2.3.1: each part form-encoded before Basic.
            .basic_auth(
                form_encoded(&self.client_id),
                Some(form_encoded(self.client_secret.secret())),
            )
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
        if let (Some(cache), Some(ticket)) = (&self.cache, ticket) {
            cached::remember(cache, token, &ctx, None, now, ticket);
        }
        Ok(ctx)
    }

    fn validate_now(&self, token: &[u8]) -> Option<AuthContext> {
        let cache = self.cache.as_ref()?;
        cache.get(token, self.clock.now())
    }

    fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    fn audience(&self) -> Option<&ResourceUri> {
        Some(&self.audience)
    }
}

/// `s` in `application/x-www-form-urlencoded` form, as HTTP Basic client
/// credentials need it (RFC 6749 §2.3.1).
fn form_encoded(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
