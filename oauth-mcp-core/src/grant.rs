//! The token endpoint (authorization_code and refresh_token grants), client
//! authentication, registration and revocation.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use serde_json::{Value, json};

use crate::client::{Client, RegistrationRequest, TokenEndpointAuthMethod, validate_registration};
use crate::error::{ErrorCode, OAuthError, StoreError};
use crate::params::Params;
use crate::pkce;
use crate::scope::ScopeSet;
use crate::secret::{constant_time_eq, hash_secret, log_tag, random_token};
use crate::server::AuthServer;
use crate::store::{CodeRedemption, Grant, RefreshToken, RotateOutcome};
use crate::token::MintRequest;

const AUDIT: &str = "oauth_mcp::audit";

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenResponse {
    /// The JWT access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The new refresh token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Granted scopes (always sent: clients compare it with what they asked).
    pub scope: String,
}

impl std::fmt::Display for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TokenResponse(scope={}, expires_in={})",
            self.scope, self.expires_in
        )
    }
}

/// Credentials from an `Authorization: Basic` header (RFC 6749 §2.3.1).
fn parse_basic(header: &str) -> Result<(String, String), OAuthError> {
    let bad = || OAuthError::invalid_client("malformed Authorization: Basic header");
    let b64 = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))
        .ok_or_else(bad)?;
    let raw = STANDARD.decode(b64.trim()).map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (id, secret) = raw.split_once(':').ok_or_else(bad)?;
    // Both parts are form-urlencoded before base64 (RFC 6749 §2.3.1).
    let dec = |s: &str| -> String {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok((dec(id), dec(secret)))
}

impl AuthServer {
    /// Authenticates the client of a token or revocation request.
    pub async fn authenticate_client(
        &self,
        form: &Params,
        authorization: Option<&str>,
    ) -> Result<Client, OAuthError> {
        let basic = match authorization {
            Some(h) if h.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("basic ")) => {
                Some(parse_basic(h)?)
            }
            _ => None,
        };
        let body_secret = form.single("client_secret")?;
        let body_id = form.single("client_id")?;
        if basic.is_some() && body_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use one client authentication method: client_secret_basic or client_secret_post, not both",
            ));
        }
        let (client_id, secret, method) = match &basic {
            Some((id, s)) => {
                if body_id.is_some_and(|b| b != id) {
                    return Err(OAuthError::invalid_request(
                        "client_id in the body differs from the Basic credentials",
                    ));
                }
                (
                    id.as_str(),
                    Some(s.as_str()),
                    TokenEndpointAuthMethod::ClientSecretBasic,
                )
            }
            None => {
                let id = body_id.ok_or_else(|| {
                    OAuthError::invalid_client("no client authentication: send client_id (public clients) or client credentials")
                })?;
                match body_secret {
                    Some(s) => (id, Some(s), TokenEndpointAuthMethod::ClientSecretPost),
                    None => (id, None, TokenEndpointAuthMethod::None),
                }
            }
        };
        let client = self
            .find_client(client_id)
            .await?
            .ok_or_else(|| Self::unknown_client(client_id))?;
        match (&client.secret_hash, secret) {
            (None, None) => Ok(client),
            (None, Some("")) => Ok(client),
            (None, Some(_)) => Err(OAuthError::invalid_client(format!(
                "client `{client_id}` is public (token_endpoint_auth_method=none) and has no secret; do not send one"
            ))),
            (Some(_), None) => Err(OAuthError::invalid_client(format!(
                "client `{client_id}` is confidential; authenticate with {}",
                if client.auth_method_explicit {
                    client.auth_method.as_str()
                } else {
                    "client_secret_basic or client_secret_post"
                }
            ))),
            (Some(hash), Some(s)) => {
                if client.auth_method_explicit && client.auth_method != method {
                    return Err(OAuthError::invalid_client(format!(
                        "client `{client_id}` registered token_endpoint_auth_method={}, but authenticated with {}",
                        client.auth_method.as_str(),
                        method.as_str()
                    )));
                }
                if constant_time_eq(&hash_secret(s), hash) {
                    Ok(client)
                } else {
                    Err(OAuthError::invalid_client(format!(
                        "wrong client secret for client `{client_id}`"
                    )))
                }
            }
        }
    }

    /// POST /token: the form body and the `Authorization` header, if any.
    pub async fn token(
        &self,
        body: &[u8],
        authorization: Option<&str>,
    ) -> Result<TokenResponse, OAuthError> {
        let form = Params::parse(body);
        let grant_type = form.single("grant_type").unwrap_or(None);
        let result = self.token_inner(&form, authorization).await;
        match &result {
            Ok(r) => {
                tracing::info!(target: AUDIT, event = "token.issued", grant_type = grant_type.unwrap_or(""),
                client_id = form.single("client_id").ok().flatten(), scopes = %r.scope, outcome = "ok")
            }
            Err(e) => {
                tracing::warn!(target: AUDIT, event = "token.refused", grant_type = grant_type.unwrap_or(""),
                client_id = form.single("client_id").ok().flatten(), error = e.code.as_str(), reason = %e.description)
            }
        }
        result
    }

    async fn token_inner(
        &self,
        form: &Params,
        authorization: Option<&str>,
    ) -> Result<TokenResponse, OAuthError> {
        let grant_type = form.required("grant_type")?;
        if !matches!(grant_type, "authorization_code" | "refresh_token") {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                format!(
                    "grant_type `{grant_type}` is not supported; use authorization_code or refresh_token"
                ),
            ));
        }
        let client = self.authenticate_client(form, authorization).await?;
        if !client.allows_grant(grant_type) {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                format!(
                    "client `{}` did not register the {grant_type} grant",
                    client.client_id
                ),
            ));
        }
        match grant_type {
            "authorization_code" => self.code_grant(form, &client).await,
            _ => self.refresh_grant(form, &client).await,
        }
    }

    fn check_resource_param(&self, form: &Params, bound: &str) -> Result<(), OAuthError> {
        let requested = form.all("resource");
        if requested.is_empty() {
            return Ok(());
        }
        let resolved = self.cfg.resources().resolve(&requested)?;
        if resolved.as_str() != bound {
            return Err(OAuthError::invalid_target(format!(
                "resource `{resolved}` differs from `{bound}`, the resource this grant was authorized for"
            )));
        }
        Ok(())
    }

    async fn code_grant(
        &self,
        form: &Params,
        client: &Client,
    ) -> Result<TokenResponse, OAuthError> {
        let code = form.required("code")?;
        let verifier = form.single("code_verifier")?.ok_or_else(|| {
            OAuthError::invalid_request("missing code_verifier: PKCE is required")
        })?;
        let now = self.now();
        let c = match self.store.redeem_code(&hash_secret(code)).await? {
            CodeRedemption::NotFound => {
                return Err(OAuthError::invalid_grant(
                    "the authorization code is unknown to this server",
                ));
            }
            CodeRedemption::Replayed { grant_id } => {
                let revoked = self.store.revoke_grant(&grant_id).await?;
                tracing::warn!(target: AUDIT, event = "token.code_replayed", client_id = %client.client_id,
                    code = %log_tag(code), grant_revoked = revoked);
                return Err(OAuthError::invalid_grant(
                    "the authorization code was already used; every token it issued has been revoked",
                ));
            }
            CodeRedemption::Redeemed(c) => c,
        };
        if c.expires_at <= now {
            return Err(OAuthError::invalid_grant(format!(
                "the authorization code expired {} seconds ago (codes live {} seconds); start the authorization again",
                now - c.expires_at,
                self.cfg.code_ttl
            )));
        }
        if c.client_id != client.client_id {
            return Err(OAuthError::invalid_grant(format!(
                "the authorization code was issued to another client, not `{}`",
                client.client_id
            )));
        }
        match form.single("redirect_uri")? {
            Some(r) if r != c.redirect_uri => {
                return Err(OAuthError::invalid_grant(format!(
                    "redirect_uri `{r}` differs from `{}`, the one used at /authorize",
                    c.redirect_uri
                )));
            }
            None if c.redirect_uri_explicit => {
                return Err(OAuthError::invalid_request(
                    "redirect_uri is required because the authorization request included it",
                ));
            }
            _ => {}
        }
        pkce::verify(c.code_challenge_method, &c.code_challenge, verifier)?;
        self.check_resource_param(form, &c.resource)?;

        let refresh = random_token();
        let grant = Grant {
            grant_id: c.grant_id.clone(),
            client_id: c.client_id.clone(),
            subject: c.subject.clone(),
            scope: c.scope.clone(),
            resource: c.resource.clone(),
            created_at: now,
            refresh_generation: 0,
            revoked: false,
        };
        let issue_refresh = client.allows_grant("refresh_token");
        let refresh_record = issue_refresh.then(|| RefreshToken {
            token_hash: hash_secret(&refresh),
            grant_id: grant.grant_id.clone(),
            generation: 0,
            issued_at: now,
            expires_at: now + self.cfg.refresh_token_ttl,
        });
        self.store.insert_grant(grant.clone(), refresh_record).await.map_err(|e| match e {
            StoreError::Duplicate(_) => OAuthError::invalid_grant(
                "the authorization code was replayed while it was being redeemed; the grant is revoked",
            ),
            other => other.into(),
        })?;
        self.issue(&grant, &grant.scope, issue_refresh.then_some(refresh))
    }

    async fn refresh_grant(
        &self,
        form: &Params,
        client: &Client,
    ) -> Result<TokenResponse, OAuthError> {
        let presented = form.required("refresh_token")?;
        let presented_hash = hash_secret(presented);
        let now = self.now();
        let invalid = || {
            OAuthError::invalid_grant(
                "the refresh token is unknown, expired or revoked; authorize again",
            )
        };
        let record = self
            .store
            .get_refresh(&presented_hash)
            .await?
            .ok_or_else(invalid)?;
        let grant = self
            .store
            .get_grant(&record.grant_id)
            .await?
            .ok_or_else(invalid)?;
        if grant.client_id != client.client_id {
            return Err(OAuthError::invalid_grant(
                "the refresh token was issued to another client",
            ));
        }
        let scope = match form.single("scope")? {
            Some(s) => {
                let requested = ScopeSet::parse(s)?;
                if !requested.is_subset(&grant.scope) {
                    return Err(OAuthError::invalid_scope(format!(
                        "a refresh may only narrow the grant's scopes ({}); `{requested}` asks for more",
                        grant.scope
                    )));
                }
                requested
            }
            None => grant.scope.clone(),
        };
        self.check_resource_param(form, &grant.resource)?;
        let new_refresh = random_token();
        let outcome = self
            .store
            .rotate_refresh(
                &presented_hash,
                &hash_secret(&new_refresh),
                now,
                now + self.cfg.refresh_token_ttl,
            )
            .await?;
        match outcome {
            RotateOutcome::Rotated(grant) => self.issue(&grant, &scope, Some(new_refresh)),
            RotateOutcome::Reused { grant_id } => {
                tracing::warn!(target: AUDIT, event = "token.refresh_reused", client_id = %client.client_id,
                    grant = %log_tag(&grant_id), refresh_token = %log_tag(presented));
                Err(OAuthError::invalid_grant(
                    "this refresh token was already rotated; reusing it revoked the whole grant (possible token theft). Authorize again",
                ))
            }
            RotateOutcome::Invalid => Err(invalid()),
        }
    }

    fn issue(
        &self,
        grant: &Grant,
        scope: &ScopeSet,
        refresh: Option<String>,
    ) -> Result<TokenResponse, OAuthError> {
        let (jwt, claims) = self.signer.mint(&MintRequest {
            subject: &grant.subject,
            client_id: &grant.client_id,
            scope,
            audience: &grant.resource,
            grant_id: Some(&grant.grant_id),
            now: self.now(),
            ttl: self.cfg.access_token_ttl,
        })?;
        tracing::info!(target: AUDIT, event = "token.minted", client_id = %grant.client_id, subject = %grant.subject,
            audience = %claims.aud, scopes = %scope, jti = %log_tag(&claims.jti), expires_at = claims.exp);
        Ok(TokenResponse {
            access_token: jwt,
            token_type: "Bearer",
            expires_in: self.cfg.access_token_ttl,
            refresh_token: refresh,
            scope: scope.to_string(),
        })
    }

    /// POST /register (RFC 7591) with a JSON body. Returns the 201 body.
    pub async fn register(
        &self,
        body: &[u8],
        authorization: Option<&str>,
    ) -> Result<Value, OAuthError> {
        if !self.cfg.registration_enabled() {
            return Err(OAuthError::invalid_request(
                "dynamic client registration is disabled on this server",
            ));
        }
        if let Some(expected) = &self.cfg.registration_token_hash {
            let presented = authorization
                .and_then(|h| {
                    h.strip_prefix("Bearer ")
                        .or_else(|| h.strip_prefix("bearer "))
                })
                .map(str::trim);
            if !presented.is_some_and(|t| constant_time_eq(&hash_secret(t), expected)) {
                return Err(OAuthError::new(
                    ErrorCode::InvalidToken,
                    "this server requires an initial access token for registration (Authorization: Bearer <token>, RFC 7591 §3)",
                ));
            }
        }
        let req: RegistrationRequest = serde_json::from_slice(body).map_err(|e| {
            OAuthError::new(
                ErrorCode::InvalidClientMetadata,
                format!("the registration body is not valid client metadata JSON: {e}"),
            )
        })?;
        let now = self.now();
        let result = validate_registration(&req, self.cfg.redirect_policy(), now);
        let mut client = match result {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(target: AUDIT, event = "register.refused", redirect_uris = ?req.redirect_uris,
                    client_name = req.client_name.as_deref(), error = e.code.as_str(), reason = %e.description);
                return Err(e);
            }
        };
        client.client_id = random_token();
        client.expires_at = self.cfg.registered_client_ttl.map(|ttl| now + ttl);
        let secret = client.is_confidential().then(random_token);
        client.secret_hash = secret.as_deref().map(hash_secret);
        self.store
            .insert_client(client.clone())
            .await
            .map_err(|e| match e {
                StoreError::Duplicate(_) => OAuthError::server_error("client id collision; retry"),
                other => other.into(),
            })?;
        tracing::info!(target: AUDIT, event = "register.ok", client_id = %client.client_id,
            redirect_uris = ?client.redirect_uris, auth_method = client.auth_method.as_str(),
            client_name = client.client_name.as_deref());
        let mut out = Value::Object(client.metadata.clone());
        out["client_id"] = json!(client.client_id);
        out["client_id_issued_at"] = json!(now);
        if let Some(s) = secret {
            out["client_secret"] = json!(s);
            out["client_secret_expires_at"] = json!(client.expires_at.unwrap_or(0));
        }
        out["redirect_uris"] = json!(client.redirect_uris);
        out["token_endpoint_auth_method"] = json!(client.auth_method.as_str());
        out["grant_types"] = json!(client.grant_types);
        out["response_types"] = json!(["code"]);
        if let Some(n) = &client.client_name {
            out["client_name"] = json!(n);
        }
        if let Some(s) = &client.scope {
            out["scope"] = json!(s.to_string());
        }
        Ok(out)
    }

    /// POST /introspect (RFC 7662): whether a token is active, and its claims.
    /// Only confidential clients (a resource server registered by the
    /// operator) may introspect; unknown, expired or revoked tokens answer
    /// `{"active": false}`.
    pub async fn introspect(
        &self,
        body: &[u8],
        authorization: Option<&str>,
    ) -> Result<Value, OAuthError> {
        let form = Params::parse(body);
        let client = self.authenticate_client(&form, authorization).await?;
        if !client.is_confidential() {
            return Err(OAuthError::invalid_client(format!(
                "client `{}` is public; introspection needs a confidential client (a resource server with a secret)",
                client.client_id
            )));
        }
        let token = form.required("token")?;
        let now = self.now();
        let inactive = json!({"active": false});
        if let Some(r) = self.store.get_refresh(&hash_secret(token)).await? {
            let Some(g) = self.store.get_grant(&r.grant_id).await? else {
                return Ok(inactive);
            };
            if g.revoked || r.expires_at <= now {
                return Ok(inactive);
            }
            return Ok(json!({
                "active": true, "token_type": "refresh_token", "client_id": g.client_id, "sub": g.subject,
                "scope": g.scope.to_string(), "aud": g.resource, "iss": self.cfg.issuer(),
                "exp": r.expires_at, "iat": r.issued_at,
            }));
        }
        for resource in self.cfg.resources().known() {
            let v = crate::validate::LocalJwtValidator::new(
                self.cfg.keys().clone(),
                self.cfg.issuer(),
                resource.clone(),
                self.cfg.clock().clone(),
            )
            .with_leeway(0);
            if let Ok((ctx, gid)) = v.validate_sync(token) {
                if let Some(gid) = gid
                    && self.store.get_grant(&gid).await?.is_some_and(|g| g.revoked)
                {
                    return Ok(inactive);
                }
                tracing::info!(target: AUDIT, event = "token.introspected", client_id = %client.client_id, subject = %ctx.subject, audience = %ctx.audience);
                return Ok(json!({
                    "active": true, "token_type": "Bearer", "client_id": ctx.client_id, "sub": ctx.subject,
                    "scope": ctx.scopes.to_string(), "aud": ctx.audience, "iss": ctx.issuer,
                    "exp": ctx.expires_at, "jti": ctx.token_id,
                }));
            }
        }
        Ok(inactive)
    }

    /// POST /revoke (RFC 7009): revokes the grant behind a refresh or access
    /// token of the authenticated client. Unknown tokens succeed silently.
    pub async fn revoke(&self, body: &[u8], authorization: Option<&str>) -> Result<(), OAuthError> {
        let form = Params::parse(body);
        let client = self.authenticate_client(&form, authorization).await?;
        let token = form.required("token")?;
        let grant_id = match self.store.get_refresh(&hash_secret(token)).await? {
            Some(r) => Some(r.grant_id),
            None => self
                .local_validator()
                .validate_sync(token)
                .ok()
                .and_then(|(_, gid)| gid),
        };
        if let Some(gid) = grant_id
            && let Some(g) = self.store.get_grant(&gid).await?
            && g.client_id == client.client_id
        {
            self.store.revoke_grant(&gid).await?;
            tracing::info!(target: AUDIT, event = "token.revoked", client_id = %client.client_id, grant = %log_tag(&gid));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn non_ascii_authorization_does_not_panic() {
        let cfg = crate::config::ServerConfig::builder("http://127.0.0.1:8080")
            .build()
            .unwrap();
        let server =
            AuthServer::new(cfg, std::sync::Arc::new(crate::store::MemoryStore::new())).unwrap();
        let form = Params::parse(b"client_id=x");
        for h in [
            "\u{e9}\u{e9}\u{e9}\u{e9}",
            "Bas\u{e9}c abc",
            "Basic \u{1F600}",
        ] {
            let e = server
                .authenticate_client(&form, Some(h))
                .await
                .unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidClient, "{h}");
        }
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let h = format!("Basic {}", STANDARD.encode("my%20id:s%3Ac"));
        assert_eq!(parse_basic(&h).unwrap(), ("my id".into(), "s:c".into()));
        assert_eq!(
            parse_basic("Basic !!!").unwrap_err().code,
            ErrorCode::InvalidClient
        );
        assert_eq!(
            parse_basic(&format!("Basic {}", STANDARD.encode("nocolon")))
                .unwrap_err()
                .code,
            ErrorCode::InvalidClient
        );
    }
}
