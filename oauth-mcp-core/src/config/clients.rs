//! Clients created by the operator rather than by dynamic registration:
//! checked at start-up (redirect URIs, secret length, auth method) and kept
//! in memory, ahead of the store.

use std::collections::HashMap;

use crate::client::{
    Client, SUPPORTED_GRANT_TYPES, TokenEndpointAuthMethod, validate_redirect_uri,
};
use serde_json::{Map, Value};

use crate::client_assertion::declared_keys;
use crate::error::ConfigError;
use crate::secret::{Secret, hash_secret};

/// A client created by an operator rather than by dynamic registration.
/// Pre-registered clients are shown as verified on the consent page.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct PreRegisteredClient {
    /// The client id.
    pub client_id: String,
    /// The secret, for confidential clients (stored hashed).
    pub client_secret: Option<Secret>,
    /// Allowed redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Display name.
    pub client_name: Option<String>,
    /// Skip the consent step.
    pub trusted: bool,
    /// Accept only this token endpoint auth method (otherwise basic and post).
    pub auth_method: Option<TokenEndpointAuthMethod>,
    /// For `private_key_jwt`: the client's public keys, as a JWK Set.
    pub jwks: Option<Value>,
    /// For `private_key_jwt`: where the client publishes its JWK Set.
    pub jwks_uri: Option<String>,
}

impl PreRegisteredClient {
    /// A public client (PKCE, no secret).
    pub fn public(client_id: impl Into<String>, redirect_uris: Vec<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: None,
            redirect_uris,
            client_name: None,
            trusted: false,
            auth_method: None,
            jwks: None,
            jwks_uri: None,
        }
    }

    /// A confidential client with a secret.
    pub fn confidential(
        client_id: impl Into<String>,
        secret: impl Into<Secret>,
        redirect_uris: Vec<String>,
    ) -> Self {
        Self {
            client_secret: Some(secret.into()),
            ..Self::public(client_id, redirect_uris)
        }
    }

    /// A confidential client that authenticates with `private_key_jwt`
    /// (RFC 7523) against the public keys of `jwks` (a JWK Set,
    /// `{"keys": [...]}`), checked at start-up.
    pub fn private_key_jwt(
        client_id: impl Into<String>,
        jwks: Value,
        redirect_uris: Vec<String>,
    ) -> Self {
        Self {
            auth_method: Some(TokenEndpointAuthMethod::PrivateKeyJwt),
            jwks: Some(jwks),
            ..Self::public(client_id, redirect_uris)
        }
    }

    /// A confidential client that authenticates with `private_key_jwt`
    /// against the JWK Set it publishes at `jwks_uri` (https; fetched with
    /// the SSRF rules of metadata documents, feature `cimd`).
    pub fn private_key_jwt_with_jwks_uri(
        client_id: impl Into<String>,
        jwks_uri: impl Into<String>,
        redirect_uris: Vec<String>,
    ) -> Self {
        Self {
            auth_method: Some(TokenEndpointAuthMethod::PrivateKeyJwt),
            jwks_uri: Some(jwks_uri.into()),
            ..Self::public(client_id, redirect_uris)
        }
    }

    /// Marks the client trusted (no consent step).
    pub fn trusted(mut self) -> Self {
        self.trusted = true;
        self
    }

    /// Sets the display name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.client_name = Some(name.into());
        self
    }

    /// Accepts only `method` at the token endpoint.
    pub fn auth_method(mut self, method: TokenEndpointAuthMethod) -> Self {
        self.auth_method = Some(method);
        self
    }

    fn into_client(self, now: i64) -> Result<Client, ConfigError> {
        let err = |reason: String| ConfigError::new("clients", reason);
        let id = &self.client_id;
        if id.is_empty() {
            return Err(err("a pre-registered client has an empty client_id".into()));
        }
        if self.redirect_uris.is_empty() {
            return Err(err(format!("client `{id}` has no redirect_uris")));
        }
        for u in &self.redirect_uris {
            validate_redirect_uri(u)
                .map_err(|e| err(format!("client `{id}`: {}", e.description)))?;
        }
        let mut metadata = Map::new();
        if let Some(jwks) = self.jwks {
            metadata.insert("jwks".into(), jwks);
        }
        if let Some(uri) = self.jwks_uri {
            metadata.insert("jwks_uri".into(), Value::String(uri));
        }
        let has_keys = declared_keys(&metadata)
            .map_err(|why| err(format!("client `{id}`: {why}")))?
            .is_some();
        let (auth_method, explicit) = match (&self.client_secret, self.auth_method) {
            (None, Some(TokenEndpointAuthMethod::PrivateKeyJwt)) if has_keys => {
                (TokenEndpointAuthMethod::PrivateKeyJwt, true)
            }
            (_, Some(TokenEndpointAuthMethod::PrivateKeyJwt)) => {
                return Err(err(format!(
                    "client `{id}` uses private_key_jwt: give it its public keys (jwks or jwks_uri) and no client_secret"
                )));
            }
            (None, None | Some(TokenEndpointAuthMethod::None)) => {
                (TokenEndpointAuthMethod::None, true)
            }
            (None, Some(m)) => {
                return Err(err(format!(
                    "client `{id}` uses {} but has no client_secret",
                    m.as_str()
                )));
            }
            (Some(_), Some(TokenEndpointAuthMethod::None)) => {
                return Err(err(format!(
                    "client `{id}` has a secret but auth method none"
                )));
            }
            (Some(s), m) => {
                if s.secret().len() < 16 {
                    return Err(err(format!(
                        "client `{id}`: the secret must be at least 16 characters"
                    )));
                }
                (
                    m.unwrap_or(TokenEndpointAuthMethod::ClientSecretBasic),
                    m.is_some(),
                )
            }
        };
        Ok(Client {
            client_id: self.client_id.clone(),
            secret_hash: self.client_secret.as_ref().map(|s| hash_secret(s.secret())),
            redirect_uris: self.redirect_uris,
            auth_method,
            auth_method_explicit: explicit,
            client_name: self.client_name,
            scope: None,
            grant_types: SUPPORTED_GRANT_TYPES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            trusted: self.trusted,
            active: true,
            created_at: now,
            expires_at: None,
            awaiting_first_token: false,
            metadata,
        })
    }
}

/// The operator's clients by id; a duplicate id is a start-up error.
pub(crate) fn pre_registered(
    list: Vec<PreRegisteredClient>,
    now: i64,
) -> Result<HashMap<String, Client>, ConfigError> {
    let mut clients = HashMap::new();
    for c in list {
        let client = c.into_client(now)?;
        let id = client.client_id.clone();
        if clients.insert(id.clone(), client).is_some() {
            return Err(ConfigError::new(
                "clients",
                format!("client id `{id}` is configured twice"),
            ));
        }
    }
    Ok(clients)
}
