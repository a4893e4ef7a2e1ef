//! Dynamic client registration (RFC 7591): the HTTP step around
//! [`crate::client::validate_registration`], which holds the rules.

use serde_json::{Value, json};

use crate::authorization::credentials;
use crate::client::{RegistrationRequest, validate_registration};
use crate::error::{ErrorCode, OAuthError, StoreError};
use crate::events::AuditEvent;
use crate::secret::{constant_time_eq, hash_secret, random_token};
use crate::server::AuthServer;

impl AuthServer {
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
            let presented = authorization.and_then(|h| credentials(h, "Bearer"));
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
        let mut client = match validate_registration(&req, self.cfg.redirect_policy(), now) {
            Ok(c) => c,
            Err(e) => {
                AuditEvent::RegisterRefused {
                    redirect_uris: &req.redirect_uris,
                    client_name: req.client_name.as_deref(),
                    error: e.code,
                    reason: &e.description,
                }
                .emit();
                return Err(e);
            }
        };
        client.client_id = random_token();
        let lifetime = self.cfg.registered_client_ttl.map(|ttl| now + ttl);
        client.expires_at = lifetime;
        // Until its first token, an unused registration expires early.
        if let Some(unused) = self.cfg.abuse_limits().unused_registration_ttl {
            let unused_until =
                now.saturating_add(i64::try_from(unused.as_secs()).unwrap_or(i64::MAX));
            client.expires_at = Some(lifetime.map_or(unused_until, |l| l.min(unused_until)));
            client.awaiting_first_token = true;
        }
        let secret = client.auth_method.uses_secret().then(random_token);
        client.secret_hash = secret.as_deref().map(hash_secret);
        let written_at = std::time::Instant::now();
        self.store
            .insert_client(client.clone())
            .await
            .map_err(|e| match e {
                StoreError::Duplicate(_) => OAuthError::server_error("client id collision; retry"),
                other => other.into(),
            })?;
        self.remember_client(&client, written_at);
        AuditEvent::Registered {
            client_id: &client.client_id,
            redirect_uris: &client.redirect_uris,
            auth_method: client.auth_method.as_str(),
            client_name: client.client_name.as_deref(),
        }
        .emit();
        let mut out = Value::Object(client.metadata.clone());
        out["client_id"] = json!(client.client_id);
        out["client_id_issued_at"] = json!(now);
        if let Some(s) = secret {
            out["client_secret"] = json!(s);
            // The lifetime a client that is used gets.
            out["client_secret_expires_at"] = json!(lifetime.unwrap_or(0));
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
}
