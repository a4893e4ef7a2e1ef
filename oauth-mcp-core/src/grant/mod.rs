//! The token endpoint: the `authorization_code` and `refresh_token` grants.
//! Client authentication, registration, introspection and revocation live in
//! the submodules, one idea each.

mod client_auth;
mod introspect;
mod register;
mod revoke;

pub use client_auth::{AuthenticatedClient, ClientAuthEndpoint};

use serde::Serialize;

use crate::client::Client;
use crate::error::{ErrorCode, OAuthError};
use crate::events::AuditEvent;
use crate::params::Params;
use crate::pkce;
use crate::resource::ResourceUri;
use crate::scope::{OFFLINE_ACCESS, ScopeSet};
use crate::secret::{hash_secret, random_token};
use crate::server::AuthServer;
use crate::store::{
    CodeExchange, CodeRedemption, FirstToken, Grant, RefreshExchange, RefreshSeed, RotateOutcome,
    grant_from_code,
};
use crate::token::MintRequest;

/// A successful token response (RFC 6749 §5.1). `Debug` and `Display` never
/// show the tokens.
#[derive(Clone, PartialEq, Eq, Serialize)]
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

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"[redacted]")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("scope", &self.scope)
            .finish()
    }
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

impl AuthServer {
    /// POST /token: the form body and the `Authorization` header, if any.
    pub async fn token(
        &self,
        body: &[u8],
        authorization: Option<&str>,
    ) -> Result<TokenResponse, OAuthError> {
        let form = Params::parse(body);
        let grant_type = form.single("grant_type").unwrap_or(None);
        // Sign with the store's current key (scheduled steps made if due).
        self.keys.refresh_if_due().await;
        let result = self.token_inner(&form, authorization).await;
        let grant_type = grant_type.unwrap_or("");
        let client_id = form.single("client_id").ok().flatten();
        match &result {
            Ok(r) => AuditEvent::TokenIssued {
                grant_type,
                client_id,
                scopes: &r.scope,
            }
            .emit(),
            Err(e) => AuditEvent::TokenRefused {
                grant_type,
                client_id,
                error: e.code,
                reason: &e.description,
            }
            .emit(),
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
        let client = self
            .authenticate_client(ClientAuthEndpoint::Token, form, authorization)
            .await?
            .client;
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
            "authorization_code" => {
                let (tokens, recorded) = self.code_grant(form, &client).await?;
                if client.awaiting_first_token {
                    if !recorded {
                        self.first_token(&client.client_id).await;
                    }
                    // Its stored record changed (with the redemption, or
                    // just above): the cached copy is outdated.
                    self.forget_client(&client.client_id);
                }
                Ok(tokens)
            }
            _ => self.refresh_grant(form, &client).await,
        }
    }

    /// A registration's first token, for a store that does not record it
    /// with the redemption (the built-in stores do, changing only the flag
    /// and the expiry): from now on it has the registration lifetime, not
    /// the unused-registration expiry. Failing to record it only leaves the
    /// early expiry, so the tokens are sent regardless.
    ///
    /// The record is read again from the store, not taken from the request:
    /// the request's copy may come from the client cache, up to a second
    /// old, and writing it back whole would undo a change made in that
    /// second (an operator deactivating the client or editing its redirect
    /// URIs). The read and the write are a few milliseconds apart: a change
    /// made between them is lost, which a store closes by implementing
    /// `redeem_code_with_first_token`.
    async fn first_token(&self, client_id: &str) {
        let stored = match self.store.get_client(client_id).await {
            Ok(stored) => stored,
            Err(e) => {
                tracing::warn!(target: "oauth_mcp::store", error = %e, "could not read a registration to record its first token; it keeps the unused-registration expiry");
                return;
            }
        };
        let Some(mut client) = stored else {
            return;
        };
        let Some(first) = self.first_token_of(&client) else {
            return;
        };
        client.awaiting_first_token = false;
        client.expires_at = first.expires_at;
        if let Err(e) = self.store.update_client(client).await {
            tracing::warn!(target: "oauth_mcp::store", error = %e, "could not record a registration's first token; it keeps the unused-registration expiry");
        }
    }

    /// What a client's first token changes, if it awaits one.
    fn first_token_of(&self, client: &Client) -> Option<FirstToken> {
        client.awaiting_first_token.then(|| FirstToken {
            client_id: client.client_id.clone(),
            expires_at: self
                .cfg
                .registered_client_ttl
                .map(|ttl| client.created_at.saturating_add(ttl)),
        })
    }

    /// The `resource` the token request names, resolved; `None` if it
    /// names none.
    fn resource_param(&self, form: &Params) -> Result<Option<ResourceUri>, OAuthError> {
        let requested = form.all("resource");
        if requested.is_empty() {
            return Ok(None);
        }
        Ok(Some(self.cfg.resources().resolve(&requested)?))
    }

    fn check_resource_param(&self, form: &Params, bound: &ResourceUri) -> Result<(), OAuthError> {
        let Some(resolved) = self.resource_param(form)? else {
            return Ok(());
        };
        if resolved != *bound {
            return Err(OAuthError::invalid_target(format!(
                "resource `{resolved}` differs from `{bound}`, the resource this grant was authorized for"
            )));
        }
        Ok(())
    }

    /// The code grant; `true` if the store recorded the client's first
    /// token with the redemption.
    async fn code_grant(
        &self,
        form: &Params,
        client: &Client,
    ) -> Result<(TokenResponse, bool), OAuthError> {
        let code = form.required("code")?;
        let verifier = form.single("code_verifier")?.ok_or_else(|| {
            OAuthError::invalid_request("missing code_verifier: PKCE is required")
        })?;
        let now = self.now();
        let code_hash = hash_secret(code);
        let refresh = random_token();
        let refresh_seed = client.allows_grant("refresh_token").then(|| RefreshSeed {
            token_hash: hash_secret(&refresh),
            expires_at: now + self.cfg.refresh_token_ttl,
        });
        // One store step where the store can check the request while it
        // spends the code (a database: one round trip, not two).
        if let Some(exchange) = self.one_step_exchange(form, client, verifier, now, &refresh_seed)
            && let Some(c) = self.store.exchange_code(&code_hash, &exchange).await?
        {
            let (grant, _) = exchange.grant_for(&c);
            let tokens = self.issue(&grant, &grant.scope, refresh_seed.map(|_| refresh))?;
            return Ok((tokens, true));
        }
        // Otherwise, or when that step did not redeem: read, check, then
        // spend together with storing the grant. A request that fails a
        // check leaves the code to its rightful client, and the one that
        // spends it needs no second store operation afterwards.
        let c = match self.store.get_code(&code_hash).await? {
            None => return Err(code_unknown()),
            Some(s) if s.spent => {
                return Err(self.code_replayed(client, code, &s.code.grant_id).await?);
            }
            Some(s) => s.code,
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

        let (grant, refresh_record) = grant_from_code(&c, now, refresh_seed.as_ref());
        let (redemption, recorded) = self
            .store
            .redeem_code_with_first_token(
                &code_hash,
                grant.clone(),
                refresh_record,
                self.first_token_of(client),
            )
            .await?;
        match redemption {
            CodeRedemption::Redeemed(_) => {}
            CodeRedemption::Replayed { grant_id } => {
                return Err(self.code_replayed(client, code, &grant_id).await?);
            }
            CodeRedemption::NotFound => return Err(code_unknown()),
        }
        let tokens = self.issue(&grant, &grant.scope, refresh_seed.map(|_| refresh))?;
        Ok((tokens, recorded))
    }

    /// The token request as [`CodeExchange`] for the store's one-step
    /// exchange; `None` if its `code_verifier`, `redirect_uri` or
    /// `resource` is malformed, which the checks after reading the code
    /// report in their order.
    fn one_step_exchange(
        &self,
        form: &Params,
        client: &Client,
        verifier: &str,
        now: i64,
        refresh: &Option<RefreshSeed>,
    ) -> Option<CodeExchange> {
        pkce::check_verifier_format(verifier).ok()?;
        let redirect_uri = form.single("redirect_uri").ok()?.map(str::to_owned);
        let resource = self.resource_param(form).ok()?;
        Some(CodeExchange {
            client_id: client.client_id.clone(),
            now,
            redirect_uri,
            s256_challenge: pkce::s256_challenge(verifier),
            resource,
            refresh: refresh.clone(),
            first_token: self.first_token_of(client),
        })
    }

    /// A spent code presented again: revokes every token of its grant
    /// (RFC 6749 §4.1.2) and says so.
    async fn code_replayed(
        &self,
        client: &Client,
        code: &str,
        grant_id: &str,
    ) -> Result<OAuthError, OAuthError> {
        let revoked = self.revoke_grant(grant_id).await?;
        AuditEvent::CodeReplayed {
            client_id: &client.client_id,
            code,
            grant_revoked: revoked,
        }
        .emit();
        Ok(OAuthError::invalid_grant(
            "the authorization code was already used; every token it issued has been revoked",
        ))
    }

    async fn refresh_grant(
        &self,
        form: &Params,
        client: &Client,
    ) -> Result<TokenResponse, OAuthError> {
        let presented = form.required("refresh_token")?;
        let presented_hash = hash_secret(presented);
        let now = self.now();
        let new_refresh = random_token();
        let new_hash = hash_secret(&new_refresh);
        let new_expires_at = now + self.cfg.refresh_token_ttl;
        // One store step where the store can check the request while it
        // rotates (a database: one round trip, not two).
        if let Some(exchange) = self.one_step_refresh(form, client, now, &new_hash, new_expires_at)
            && let Some(grant) = self.store.refresh_for(&presented_hash, &exchange).await?
        {
            return self.issue(&grant, &grant.scope, Some(new_refresh));
        }
        // Otherwise, or when that step did not rotate: read, check, rotate.
        let invalid = || {
            OAuthError::invalid_grant(
                "the refresh token is unknown, expired or revoked; authorize again",
            )
        };
        let (_, grant) = self
            .store
            .get_refresh_with_grant(&presented_hash)
            .await?
            .ok_or_else(invalid)?;
        let grant = grant.ok_or_else(invalid)?;
        if grant.client_id != client.client_id {
            return Err(OAuthError::invalid_grant(
                "the refresh token was issued to another client",
            ));
        }
        // `offline_access` only asks for the refresh token being used here.
        let requested = form
            .single("scope")?
            .map(ScopeSet::parse)
            .transpose()?
            .map(|s| s.without(OFFLINE_ACCESS))
            .filter(|s| !s.is_empty());
        let scope = match requested {
            Some(requested) => {
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
        let outcome = self
            .store
            .rotate_refresh(&presented_hash, &new_hash, now, new_expires_at)
            .await?;
        match outcome {
            RotateOutcome::Rotated(grant) => self.issue(&grant, &scope, Some(new_refresh)),
            RotateOutcome::Reused { grant_id } => {
                // The store revoked the grant; drop its cached tokens here now.
                self.revocations.revoked(&grant_id);
                AuditEvent::RefreshReused {
                    client_id: &client.client_id,
                    grant_id: &grant_id,
                    refresh_token: presented,
                }
                .emit();
                Err(OAuthError::invalid_grant(
                    "this refresh token was already rotated; reusing it revoked the whole grant (possible token theft). Authorize again",
                ))
            }
            RotateOutcome::Invalid => Err(invalid()),
        }
    }

    /// The refresh request as [`RefreshExchange`] for the store's one-step
    /// refresh; `None` if it asks for narrower scopes (checked against the
    /// grant after reading it) or its `scope` or `resource` is malformed,
    /// which the checks after reading the token report in their order.
    fn one_step_refresh(
        &self,
        form: &Params,
        client: &Client,
        now: i64,
        new_hash: &str,
        new_expires_at: i64,
    ) -> Option<RefreshExchange> {
        // `offline_access` only asks for the refresh token being used.
        if let Some(scope) = form.single("scope").ok()? {
            let asked = ScopeSet::parse(scope).ok()?.without(OFFLINE_ACCESS);
            if !asked.is_empty() {
                return None;
            }
        }
        Some(RefreshExchange {
            client_id: client.client_id.clone(),
            resource: self.resource_param(form).ok()?,
            now,
            new_hash: new_hash.to_owned(),
            new_expires_at,
        })
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
        AuditEvent::TokenMinted {
            client_id: &grant.client_id,
            subject: &grant.subject,
            audience: &claims.aud,
            scopes: &claims.scope,
            jti: &claims.jti,
            expires_at: claims.exp,
        }
        .emit();
        Ok(TokenResponse {
            access_token: jwt,
            token_type: "Bearer",
            expires_in: self.cfg.access_token_ttl,
            refresh_token: refresh,
            scope: scope.to_string(),
        })
    }
}

fn code_unknown() -> OAuthError {
    OAuthError::invalid_grant("the authorization code is unknown to this server")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::client::{Client, TokenEndpointAuthMethod};
    use crate::store::{ClientStore, MemoryStore};
    use crate::{AuthServer, ServerConfig};

    fn awaiting_client() -> Client {
        Client {
            client_id: "fresh-client".into(),
            secret_hash: None,
            redirect_uris: vec!["http://127.0.0.1:7777/cb".into()],
            auth_method: TokenEndpointAuthMethod::None,
            auth_method_explicit: true,
            client_name: Some("Fresh".into()),
            scope: None,
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            trusted: false,
            active: true,
            created_at: 1_700_000_000,
            expires_at: Some(1_700_003_600),
            awaiting_first_token: true,
            metadata: serde_json::Map::new(),
        }
    }

    /// The fallback for a store that does not record a first token with the
    /// redemption (the memory store does, so it is called here directly):
    /// the stored record is read again, so a change made to it since the
    /// exchange read the client is kept.
    #[tokio::test]
    async fn the_fallback_first_token_record_keeps_a_change_made_meanwhile() {
        let store = Arc::new(MemoryStore::new());
        let cfg = ServerConfig::builder("http://127.0.0.1:8080")
            .build()
            .unwrap();
        let server = AuthServer::new(cfg, store.clone()).unwrap();
        let client = awaiting_client();
        store.insert_client(client.clone()).await.unwrap();
        let mut edited = client.clone();
        edited.client_name = Some("renamed by the operator".into());
        edited
            .redirect_uris
            .push("http://127.0.0.1:7777/second".into());
        assert!(store.update_client(edited.clone()).await.unwrap());

        server.first_token(&client.client_id).await;
        let stored = store.get_client(&client.client_id).await.unwrap().unwrap();
        let mut expected = edited;
        expected.awaiting_first_token = false;
        expected.expires_at = server.first_token_of(&client).unwrap().expires_at;
        // By default a used registration does not expire: the early expiry
        // is lifted.
        assert_eq!(expected.expires_at, None);
        assert_eq!(stored, expected);

        // Recorded once: a second call changes nothing.
        server.first_token(&client.client_id).await;
        assert_eq!(
            store.get_client(&client.client_id).await.unwrap().unwrap(),
            expected
        );
    }
}
