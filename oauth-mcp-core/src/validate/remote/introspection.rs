//! [`IntrospectionValidator`]: opaque (or any) tokens checked through RFC
//! 7662 introspection at the authorization server, with a bounded cache.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use tokio::sync::Mutex;

use super::{RemoteError, ScopeClaim, context_from, discover, http_client};
use crate::clock::{SharedClock, SystemClock};
use crate::resource::ResourceUri;
use crate::secret::{Secret, hash_secret};
use crate::validate::jwt::{ClaimView, check_claims};
use crate::validate::{AuthContext, TokenRejection, TokenValidator};

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
