//! Row types (shared by both databases) and their conversions to and from
//! the core's records. Scope sets are stored space-separated, lists and
//! metadata as JSON text, enums as their wire names.

use oauth_mcp_core::client::{Client, TokenEndpointAuthMethod};
use oauth_mcp_core::error::StoreError;
use oauth_mcp_core::pkce::CodeChallengeMethod;
use oauth_mcp_core::resource::ResourceUri;
use oauth_mcp_core::scope::ScopeSet;
use oauth_mcp_core::store::{AuthorizationCode, Grant, PendingAuthorization, RefreshToken, User};

fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Other(format!("stored {what} is malformed: {detail}"))
}

fn resource(s: &str) -> Result<ResourceUri, StoreError> {
    ResourceUri::parse(s).map_err(|e| corrupt("resource", e))
}

fn scope(s: &str) -> Result<ScopeSet, StoreError> {
    ScopeSet::parse(s).map_err(|e| corrupt("scope", e))
}

fn method(s: &str) -> Result<CodeChallengeMethod, StoreError> {
    match s {
        "S256" => Ok(CodeChallengeMethod::S256),
        "plain" => Ok(CodeChallengeMethod::Plain),
        other => Err(corrupt("code_challenge_method", other)),
    }
}

fn to_json<T: serde::Serialize + ?Sized>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Other(format!("cannot encode JSON: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| corrupt(what, e))
}

/// u64 generation to the BIGINT column.
pub(crate) fn generation_to_db(g: u64) -> Result<i64, StoreError> {
    i64::try_from(g).map_err(|_| StoreError::Other(format!("refresh generation {g} too large")))
}

pub(crate) fn generation_from_db(g: i64) -> Result<u64, StoreError> {
    u64::try_from(g).map_err(|_| corrupt("refresh generation", g))
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ClientRow {
    pub(crate) client_id: String,
    pub(crate) secret_hash: Option<String>,
    pub(crate) redirect_uris: String,
    pub(crate) auth_method: String,
    pub(crate) auth_method_explicit: bool,
    pub(crate) client_name: Option<String>,
    pub(crate) scope: Option<String>,
    pub(crate) grant_types: String,
    pub(crate) trusted: bool,
    pub(crate) active: bool,
    pub(crate) created_at: i64,
    pub(crate) expires_at: Option<i64>,
    pub(crate) metadata: String,
    pub(crate) awaiting_first_token: bool,
}

impl ClientRow {
    pub(crate) fn from_client(c: &Client) -> Result<Self, StoreError> {
        Ok(Self {
            client_id: c.client_id.clone(),
            secret_hash: c.secret_hash.clone(),
            redirect_uris: to_json(&c.redirect_uris)?,
            auth_method: c.auth_method.as_str().to_owned(),
            auth_method_explicit: c.auth_method_explicit,
            client_name: c.client_name.clone(),
            scope: c.scope.as_ref().map(ToString::to_string),
            grant_types: to_json(&c.grant_types)?,
            trusted: c.trusted,
            active: c.active,
            created_at: c.created_at,
            expires_at: c.expires_at,
            metadata: to_json(&c.metadata)?,
            awaiting_first_token: c.awaiting_first_token,
        })
    }

    pub(crate) fn into_client(self) -> Result<Client, StoreError> {
        Ok(Client {
            redirect_uris: from_json("redirect_uris", &self.redirect_uris)?,
            auth_method: TokenEndpointAuthMethod::parse(&self.auth_method)
                .ok_or_else(|| corrupt("auth_method", &self.auth_method))?,
            auth_method_explicit: self.auth_method_explicit,
            client_name: self.client_name,
            scope: self.scope.as_deref().map(scope).transpose()?,
            grant_types: from_json("grant_types", &self.grant_types)?,
            trusted: self.trusted,
            active: self.active,
            created_at: self.created_at,
            expires_at: self.expires_at,
            awaiting_first_token: self.awaiting_first_token,
            metadata: from_json("metadata", &self.metadata)?,
            secret_hash: self.secret_hash,
            client_id: self.client_id,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct PendingRow {
    pub(crate) id_hash: String,
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) redirect_uri_explicit: bool,
    pub(crate) state: Option<String>,
    pub(crate) code_challenge: String,
    pub(crate) code_challenge_method: String,
    pub(crate) scope: String,
    pub(crate) resource: String,
    pub(crate) created_at: i64,
    pub(crate) expires_at: i64,
}

impl PendingRow {
    pub(crate) fn into_pending(self) -> Result<PendingAuthorization, StoreError> {
        Ok(PendingAuthorization {
            id_hash: self.id_hash,
            client_id: self.client_id,
            redirect_uri: self.redirect_uri,
            redirect_uri_explicit: self.redirect_uri_explicit,
            state: self.state,
            code_challenge: self.code_challenge,
            code_challenge_method: method(&self.code_challenge_method)?,
            scope: scope(&self.scope)?,
            resource: resource(&self.resource)?,
            created_at: self.created_at,
            expires_at: self.expires_at,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CodeRow {
    pub(crate) code_hash: String,
    pub(crate) grant_id: String,
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) redirect_uri_explicit: bool,
    pub(crate) code_challenge: String,
    pub(crate) code_challenge_method: String,
    pub(crate) scope: String,
    pub(crate) resource: String,
    pub(crate) subject: String,
    pub(crate) issued_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) spent: bool,
}

impl CodeRow {
    pub(crate) fn into_code(self) -> Result<AuthorizationCode, StoreError> {
        Ok(AuthorizationCode {
            code_hash: self.code_hash,
            grant_id: self.grant_id,
            client_id: self.client_id,
            redirect_uri: self.redirect_uri,
            redirect_uri_explicit: self.redirect_uri_explicit,
            code_challenge: self.code_challenge,
            code_challenge_method: method(&self.code_challenge_method)?,
            scope: scope(&self.scope)?,
            resource: resource(&self.resource)?,
            subject: self.subject,
            issued_at: self.issued_at,
            expires_at: self.expires_at,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct GrantRow {
    pub(crate) grant_id: String,
    pub(crate) client_id: String,
    pub(crate) subject: String,
    pub(crate) scope: String,
    pub(crate) resource: String,
    pub(crate) created_at: i64,
    pub(crate) refresh_generation: i64,
    pub(crate) revoked: bool,
}

impl GrantRow {
    pub(crate) fn into_grant(self) -> Result<Grant, StoreError> {
        Ok(Grant {
            grant_id: self.grant_id,
            client_id: self.client_id,
            subject: self.subject,
            scope: scope(&self.scope)?,
            resource: resource(&self.resource)?,
            created_at: self.created_at,
            refresh_generation: generation_from_db(self.refresh_generation)?,
            revoked: self.revoked,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RefreshRow {
    pub(crate) token_hash: String,
    pub(crate) grant_id: String,
    pub(crate) generation: i64,
    pub(crate) issued_at: i64,
    pub(crate) expires_at: i64,
}

impl RefreshRow {
    pub(crate) fn into_refresh(self) -> Result<RefreshToken, StoreError> {
        Ok(RefreshToken {
            token_hash: self.token_hash,
            grant_id: self.grant_id,
            generation: generation_from_db(self.generation)?,
            issued_at: self.issued_at,
            expires_at: self.expires_at,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct UserRow {
    pub(crate) username: String,
    pub(crate) subject: String,
    pub(crate) password_hash: String,
}

impl UserRow {
    pub(crate) fn into_user(self) -> User {
        User {
            username: self.username,
            subject: self.subject,
            password_hash: self.password_hash,
        }
    }
}
