//! Any OpenID provider by issuer URL (Keycloak, Okta, Entra ID, Auth0,
//! Authentik, Google, …), through the `openidconnect` crate: discovery,
//! authorization code with PKCE and `nonce`, ID-token validation (issuer,
//! audience, signature against the provider's JWKS, expiry, nonce), and the
//! UserInfo endpoint for claims a provider keeps out of its ID tokens.
//!
//! The discovered metadata and keys are cached; they are fetched again after
//! [`OidcUpstreamBuilder::metadata_max_age`], and at once (at most every
//! [`OidcUpstreamBuilder::min_refetch_interval`]) when an ID token is signed
//! with a key the cache does not know, so a key rotation at the provider
//! needs no restart.

mod builder;

pub use builder::{ClientAuth, OidcUpstreamBuilder};

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClientAuthMethod,
    CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AccessToken, AdditionalClaims, AuthType, AuthorizationCode, ClaimsVerificationError, ClientId,
    ClientSecret, CsrfToken, DiscoveryError, EmptyExtraTokenFields, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IdToken, IdTokenFields, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, Scope,
    SignatureVerificationError, StandardErrorResponse, StandardTokenResponse, TokenResponse as _,
    UserInfoClaims, UserInfoError,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, RwLock};

use super::error::{IdTokenCheck, UpstreamError, token_request_error};
use super::http::{HttpError, UpstreamHttp};
use super::identity::UpstreamIdentity;
use super::{
    AuthorizationParams, ExchangeParams, SignedIn, UpstreamProvider, UpstreamTokens,
    check_provider_url,
};
use crate::secret::Secret;

/// Claims beyond the standard ones (the groups claim is read from these).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ExtraClaims {
    #[serde(flatten)]
    other: serde_json::Map<String, serde_json::Value>,
}

impl AdditionalClaims for ExtraClaims {}

type OidcIdToken = IdToken<
    ExtraClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type OidcTokenResponse = StandardTokenResponse<
    IdTokenFields<
        ExtraClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;
type OidcClient = openidconnect::Client<
    ExtraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    OidcTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// An OpenID provider as the upstream identity provider. Cheap to clone.
#[derive(Debug, Clone)]
pub struct OidcUpstream {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cfg: OidcUpstreamBuilder,
    id: String,
    display_name: String,
    http: UpstreamHttp,
    cache: RwLock<Option<Arc<Discovered>>>,
    /// When metadata was last fetched (rate limit for refetches).
    refetch: Mutex<Option<Instant>>,
}

#[derive(Debug)]
struct Discovered {
    client: OidcClient,
    fetched: Instant,
}

impl OidcUpstream {
    /// The issuer URL.
    pub fn issuer_url(&self) -> &str {
        &self.inner.cfg.issuer
    }

    fn err_bad(&self, detail: String) -> UpstreamError {
        UpstreamError::BadResponse {
            provider: self.inner.display_name.clone(),
            detail,
        }
    }

    fn err_config(&self, detail: String) -> UpstreamError {
        UpstreamError::Misconfigured {
            provider: self.inner.display_name.clone(),
            detail,
        }
    }

    fn http_err(&self, e: HttpError) -> UpstreamError {
        e.into_upstream(&self.inner.display_name)
    }

    /// The cached client, fetched when missing or stale; with `force`, a
    /// refetch (rate-limited) even when fresh.
    async fn metadata(&self, force: bool) -> Result<Arc<Discovered>, UpstreamError> {
        let max_age = self.inner.cfg.metadata_max_age;
        if !force
            && let Some(d) = self.inner.cache.read().await.as_ref()
            && d.fetched.elapsed() < max_age
        {
            return Ok(d.clone());
        }
        // One fetch at a time; the others wait and reuse its result.
        let mut last = self.inner.refetch.lock().await;
        let cached = self.inner.cache.read().await.clone();
        if let Some(d) = &cached {
            let fresh = d.fetched.elapsed() < max_age;
            // A fetch (or failed attempt) was just made: do not hammer the
            // provider; a stale copy serves meanwhile.
            let recently = last.is_some_and(|t| t.elapsed() < self.inner.cfg.min_refetch_interval);
            if (fresh && !force) || recently {
                return Ok(d.clone());
            }
        }
        *last = Some(Instant::now());
        match self.fetch_metadata().await {
            Ok(fetched) => {
                let fetched = Arc::new(fetched);
                *self.inner.cache.write().await = Some(fetched.clone());
                Ok(fetched)
            }
            // Stale metadata keeps sign-ins working while the provider's
            // discovery is briefly down; a forced refetch (an unknown key)
            // reports the failure instead.
            Err(e) => match cached {
                Some(d) if !force => {
                    tracing::warn!(target: "oauth_mcp::upstream", provider = %self.inner.id, error = %e, "cannot refresh the OpenID provider metadata; using the cached copy");
                    Ok(d)
                }
                _ => Err(e),
            },
        }
    }

    async fn fetch_metadata(&self) -> Result<Discovered, UpstreamError> {
        let cfg = &self.inner.cfg;
        let issuer = IssuerUrl::new(cfg.issuer.clone())
            .map_err(|e| self.err_config(format!("issuer `{}`: {e}", cfg.issuer)))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.inner.http)
            .await
            .map_err(|e| self.discovery_error(e))?;
        for (what, url) in [
            (
                "authorization_endpoint",
                Some(metadata.authorization_endpoint().as_str()),
            ),
            (
                "token_endpoint",
                metadata.token_endpoint().map(|u| u.as_str()),
            ),
            ("jwks_uri", Some(metadata.jwks_uri().as_str())),
            (
                "userinfo_endpoint",
                metadata.userinfo_endpoint().map(|u| u.as_str()),
            ),
        ] {
            if let Some(url) = url {
                check_provider_url(&self.inner.display_name, what, url)?;
            }
        }
        if metadata.token_endpoint().is_none() {
            return Err(self.err_config(
                "the provider's metadata has no token_endpoint, so a code cannot be redeemed"
                    .into(),
            ));
        }
        let auth_type = match cfg.client_auth {
            ClientAuth::Basic => AuthType::BasicAuth,
            ClientAuth::Post => AuthType::RequestBody,
            ClientAuth::Auto => {
                let methods = metadata.token_endpoint_auth_methods_supported();
                let basic =
                    methods.is_none_or(|m| m.contains(&CoreClientAuthMethod::ClientSecretBasic));
                let post =
                    methods.is_some_and(|m| m.contains(&CoreClientAuthMethod::ClientSecretPost));
                if !basic && post {
                    AuthType::RequestBody
                } else {
                    AuthType::BasicAuth
                }
            }
        };
        let client = OidcClient::from_provider_metadata(
            metadata,
            ClientId::new(cfg.client_id.clone()),
            cfg.client_secret
                .as_ref()
                .map(|s| ClientSecret::new(s.secret().to_owned())),
        )
        .set_auth_type(auth_type);
        tracing::debug!(target: "oauth_mcp::upstream", provider = %self.inner.id, "fetched OpenID provider metadata and keys");
        Ok(Discovered {
            client,
            fetched: Instant::now(),
        })
    }

    fn discovery_error(&self, e: DiscoveryError<HttpError>) -> UpstreamError {
        let issuer = &self.inner.cfg.issuer;
        match e {
            DiscoveryError::Request(h) => self.http_err(h),
            DiscoveryError::Response(_, _, msg) => self.err_config(format!(
                "discovery for `{issuer}` failed: {msg}; check the issuer URL"
            )),
            DiscoveryError::Validation(msg) => self.err_config(format!(
                "discovery for `{issuer}`: {msg}; the issuer URL must be exactly the provider's `issuer`"
            )),
            DiscoveryError::Parse(p) => self.err_bad(format!(
                "the metadata or keys of `{issuer}` do not parse: {p}"
            )),
            other => self.err_bad(format!("discovery for `{issuer}`: {other}")),
        }
    }

    /// Verifies an ID token from this provider as the sign-in with `nonce`
    /// would: signature against the provider's keys, `iss`, `aud` (this
    /// client only), `exp`, and `nonce`. Returns the identity it states
    /// (without UserInfo claims).
    pub async fn verify_id_token(
        &self,
        id_token: &str,
        nonce: &str,
    ) -> Result<UpstreamIdentity, UpstreamError> {
        let token: OidcIdToken = id_token
            .parse()
            .map_err(|e| UpstreamError::InvalidIdToken {
                provider: self.inner.display_name.clone(),
                check: IdTokenCheck::Other,
                reason: format!("not a JWT: {e}"),
            })?;
        self.verified_identity(&token, &Nonce::new(nonce.to_owned()))
            .await
    }

    async fn verified_identity(
        &self,
        token: &OidcIdToken,
        nonce: &Nonce,
    ) -> Result<UpstreamIdentity, UpstreamError> {
        let d = self.metadata(false).await?;
        let first = self.check_id_token(&d.client, token, nonce);
        let result = match first {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                // Perhaps the provider rotated its keys: fetch them again.
                let d = self.metadata(true).await?;
                self.check_id_token(&d.client, token, nonce)
            }
            other => other,
        };
        result.map_err(|e| self.id_token_error(e))
    }

    fn check_id_token(
        &self,
        client: &OidcClient,
        token: &OidcIdToken,
        nonce: &Nonce,
    ) -> Result<UpstreamIdentity, ClaimsVerificationError> {
        let clock = self.inner.cfg.clock.clone();
        let leeway = self.inner.cfg.leeway;
        // The verifier rejects `exp <= now`; moving its "now" back by the
        // leeway allows that much clock skew.
        let verifier = client.id_token_verifier().set_time_fn(move || {
            chrono::DateTime::from_timestamp(clock.now() - leeway, 0).unwrap_or_default()
        });
        let claims = token.claims(&verifier, nonce)?;
        let mut id = UpstreamIdentity::new(
            self.inner.id.clone(),
            self.inner.cfg.issuer.clone(),
            claims.subject().as_str(),
        );
        id.login = claims.preferred_username().map(|u| u.as_str().to_owned());
        id.email = claims.email().map(|e| e.as_str().to_owned());
        id.email_verified = claims.email_verified().unwrap_or(false);
        id.name = claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_owned());
        id.groups = self.groups(&claims.additional_claims().other);
        Ok(id)
    }

    fn groups(&self, claims: &serde_json::Map<String, serde_json::Value>) -> Vec<String> {
        match claims.get(&self.inner.cfg.groups_claim) {
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Some(serde_json::Value::String(s)) => s
                .split(' ')
                .filter(|g| !g.is_empty())
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        }
    }

    fn id_token_error(&self, e: ClaimsVerificationError) -> UpstreamError {
        use ClaimsVerificationError as E;
        let (check, reason) = match e {
            E::InvalidIssuer(m) => (IdTokenCheck::Issuer, m),
            E::InvalidAudience(m) => (IdTokenCheck::Audience, m),
            E::InvalidNonce(m) => (IdTokenCheck::Nonce, m),
            E::Expired(m) => (IdTokenCheck::Expired, m),
            E::SignatureVerification(s) => (IdTokenCheck::Signature, s.to_string()),
            E::InvalidSubject(m) | E::Unsupported(m) | E::Other(m) => (IdTokenCheck::Other, m),
            other => (IdTokenCheck::Other, other.to_string()),
        };
        tracing::warn!(target: "oauth_mcp::upstream", provider = %self.inner.id, check = check.as_str(), reason = %reason, "ID token refused");
        UpstreamError::InvalidIdToken {
            provider: self.inner.display_name.clone(),
            check,
            reason,
        }
    }

    fn token_error(
        &self,
        e: RequestTokenError<HttpError, StandardErrorResponse<CoreErrorResponseType>>,
    ) -> UpstreamError {
        token_request_error(&self.inner.display_name, e)
    }

    /// Adds the UserInfo claims the ID token lacked.
    async fn merge_userinfo(
        &self,
        client: &OidcClient,
        id: &mut UpstreamIdentity,
        access_token: &str,
    ) -> Result<(), UpstreamError> {
        let Ok(req) = client.user_info(
            AccessToken::new(access_token.to_owned()),
            Some(openidconnect::SubjectIdentifier::new(id.subject.clone())),
        ) else {
            return Ok(()); // no UserInfo endpoint
        };
        let info: UserInfoClaims<ExtraClaims, CoreGenderClaim> = req
            .request_async(&self.inner.http)
            .await
            .map_err(|e| match e {
                UserInfoError::Request(h) => self.http_err(h),
                UserInfoError::ClaimsVerification(c) => self.err_bad(format!(
                    "the UserInfo answer is not about the signed-in user: {c}"
                )),
                other => self.err_bad(format!("UserInfo: {other}")),
            })?;
        let std = info.standard_claims();
        if id.login.is_none() {
            id.login = std.preferred_username().map(|u| u.as_str().to_owned());
        }
        if id.email.is_none() {
            id.email = std.email().map(|e| e.as_str().to_owned());
            id.email_verified = std.email_verified().unwrap_or(false);
        }
        if id.name.is_none() {
            id.name = std
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().to_owned());
        }
        if id.groups.is_empty() {
            id.groups = self.groups(&info.additional_claims().other);
        }
        Ok(())
    }
}

#[async_trait]
impl UpstreamProvider for OidcUpstream {
    fn id(&self) -> &str {
        &self.inner.id
    }

    fn display_name(&self) -> &str {
        &self.inner.display_name
    }

    fn issuer(&self) -> &str {
        &self.inner.cfg.issuer
    }

    fn uses_nonce(&self) -> bool {
        true
    }

    async fn authorization_url(
        &self,
        params: &AuthorizationParams,
    ) -> Result<String, UpstreamError> {
        let d = self.metadata(false).await?;
        let redirect = RedirectUrl::new(params.redirect_uri.clone())
            .map_err(|e| self.err_config(format!("callback URL: {e}")))?;
        let state = params.state.secret().to_owned();
        let nonce = params
            .nonce
            .as_ref()
            .map(|n| n.secret().to_owned())
            .ok_or_else(|| self.err_config("an OpenID sign-in needs a nonce".into()))?;
        let client = d.client.clone().set_redirect_uri(redirect);
        let mut req = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .set_pkce_challenge(PkceCodeChallenge::from_code_verifier_sha256(
                &PkceCodeVerifier::new(params.pkce_verifier.secret().to_owned()),
            ));
        for s in &self.inner.cfg.scopes {
            if s != "openid" {
                req = req.add_scope(Scope::new(s.clone()));
            }
        }
        for (k, v) in &self.inner.cfg.extra_params {
            req = req.add_extra_param(k.clone(), v.clone());
        }
        let (url, _, _) = req.url();
        Ok(url.to_string())
    }

    async fn exchange(
        &self,
        code: &str,
        params: &ExchangeParams,
    ) -> Result<SignedIn, UpstreamError> {
        let d = self.metadata(false).await?;
        let redirect = RedirectUrl::new(params.redirect_uri.clone())
            .map_err(|e| self.err_config(format!("callback URL: {e}")))?;
        let client = d.client.clone().set_redirect_uri(redirect);
        let resp = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| self.err_config(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(
                params.pkce_verifier.secret().to_owned(),
            ))
            .request_async(&self.inner.http)
            .await
            .map_err(|e| self.token_error(e))?;
        let nonce = params
            .nonce
            .as_ref()
            .ok_or_else(|| self.err_config("an OpenID sign-in needs a nonce".into()))?;
        let id_token = resp
            .id_token()
            .ok_or_else(|| UpstreamError::InvalidIdToken {
                provider: self.inner.display_name.clone(),
                check: IdTokenCheck::Missing,
                reason: "the token response has no id_token (is `openid` among the scopes?)".into(),
            })?;
        let mut identity = self
            .verified_identity(id_token, &Nonce::new(nonce.secret().to_owned()))
            .await?;
        let tokens = UpstreamTokens::from_response(&resp, self.inner.cfg.clock.now(), None);
        if self.inner.cfg.userinfo {
            self.merge_userinfo(&d.client, &mut identity, tokens.access_token.secret())
                .await?;
        }
        Ok(SignedIn { identity, tokens })
    }

    async fn refresh(&self, refresh_token: &Secret) -> Result<UpstreamTokens, UpstreamError> {
        let d = self.metadata(false).await?;
        let token = RefreshToken::new(refresh_token.secret().to_owned());
        let resp = d
            .client
            .exchange_refresh_token(&token)
            .map_err(|e| self.err_config(e.to_string()))?
            .request_async(&self.inner.http)
            .await
            .map_err(|e| self.token_error(e))?;
        Ok(UpstreamTokens::from_response(
            &resp,
            self.inner.cfg.clock.now(),
            Some(refresh_token),
        ))
    }
}
