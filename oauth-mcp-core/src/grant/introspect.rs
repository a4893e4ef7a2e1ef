//! Token introspection (RFC 7662) for authenticated clients.
//!
//! Who may learn what (RFC 7662 §4: the server decides which tokens a
//! caller may introspect): a client the operator set up — configured with
//! [`crate::ServerConfigBuilder::client`], or marked trusted in the store —
//! is a resource server and may introspect every token; any other
//! authenticated client (registered through `/register` or a Client ID
//! Metadata Document) only tokens issued to itself. Anything else answers
//! `{"active": false}`, as for an unknown token, so that a stranger who
//! registers a confidential client learns nothing about other people's
//! tokens.

use serde_json::{Value, json};

use crate::client::TokenEndpointAuthMethod;
use crate::error::OAuthError;
use crate::events::AuditEvent;
use crate::grant::{AuthenticatedClient, ClientAuthEndpoint};
use crate::params::Params;
use crate::secret::hash_secret;
use crate::server::AuthServer;
use crate::validate::LocalJwtValidator;

impl AuthServer {
    /// POST /introspect (RFC 7662): whether a token is active, and its claims.
    /// Only clients that authenticate (a secret or `private_key_jwt`) may
    /// introspect; a client the operator set up may introspect any token,
    /// other clients only their own (see the module docs). Unknown, expired
    /// or revoked tokens, and other clients' tokens, answer
    /// `{"active": false}`.
    pub async fn introspect(
        &self,
        body: &[u8],
        authorization: Option<&str>,
    ) -> Result<Value, OAuthError> {
        let form = Params::parse(body);
        let AuthenticatedClient { client, method } = self
            .authenticate_client(ClientAuthEndpoint::Introspect, &form, authorization)
            .await?;
        if method == TokenEndpointAuthMethod::None {
            return Err(OAuthError::invalid_client(format!(
                "client `{}` authenticated as a public client; introspection needs client authentication (a secret or private_key_jwt)",
                client.client_id
            )));
        }
        let token = form.required("token")?;
        let now = self.now();
        let inactive = json!({"active": false});
        let operator =
            client.trusted || self.cfg.pre_registered_client(&client.client_id).is_some();
        let may_see = |owner: &str| operator || owner == client.client_id;
        if let Some((r, g)) = self
            .store
            .get_refresh_with_grant(&hash_secret(token))
            .await?
        {
            let Some(g) = g else {
                return Ok(inactive);
            };
            if g.revoked || r.expires_at <= now || !may_see(&g.client_id) {
                return Ok(inactive);
            }
            return Ok(json!({
                "active": true, "token_type": "refresh_token", "client_id": g.client_id, "sub": g.subject,
                "scope": g.scope.to_string(), "aud": g.resource, "iss": self.cfg.issuer(),
                "exp": r.expires_at, "iat": r.issued_at,
            }));
        }
        for resource in self.cfg.resources().known() {
            let v = LocalJwtValidator::new(
                self.keys.clone(),
                self.cfg.issuer(),
                resource.clone(),
                self.cfg.clock().clone(),
            )
            .with_leeway(0);
            if let Ok((ctx, gid)) = v.validate_signed(token).await {
                if !may_see(&ctx.client_id) {
                    return Ok(inactive);
                }
                if let Some(gid) = gid
                    && self.store.get_grant(&gid).await?.is_some_and(|g| g.revoked)
                {
                    return Ok(inactive);
                }
                AuditEvent::TokenIntrospected {
                    client_id: &client.client_id,
                    subject: &ctx.subject,
                    audience: &ctx.audience,
                }
                .emit();
                return Ok(json!({
                    "active": true, "token_type": "Bearer", "client_id": ctx.client_id, "sub": ctx.subject,
                    "scope": ctx.scopes.to_string(), "aud": ctx.audience, "iss": ctx.issuer,
                    "exp": ctx.expires_at, "jti": ctx.token_id,
                }));
            }
        }
        Ok(inactive)
    }
}
