//! Access tokens: RFC 9068 JWTs signed with an asymmetric key.

pub mod keys;
pub mod managed;
pub mod ring;
pub mod rotation;

use jsonwebtoken::Header;
use serde::{Deserialize, Serialize};

use crate::error::OAuthError;
use crate::resource::ResourceUri;
use crate::scope::ScopeSet;
use crate::secret::random_token;

pub use keys::{KeyError, KeySet, SigningAlgorithm, SigningKey};
pub use ring::KeyRing;

/// The JOSE `typ` of an RFC 9068 access token.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// The claims of an access token (RFC 9068 §2.2), plus `gid`, the grant id,
/// which lets the issuing server refuse tokens of a revoked grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// Issuer.
    pub iss: String,
    /// Subject (the user).
    pub sub: String,
    /// Audience: the canonical resource URI.
    pub aud: String,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Unique id.
    pub jti: String,
    /// The client.
    pub client_id: String,
    /// Space-separated scopes.
    pub scope: String,
    /// The grant the token belongs to.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub gid: Option<String>,
}

/// Signs access tokens.
#[derive(Debug, Clone)]
pub struct TokenSigner {
    keys: KeyRing,
    issuer: String,
}

/// What to put in a new access token.
#[derive(Debug, Clone)]
pub struct MintRequest<'a> {
    /// The user.
    pub subject: &'a str,
    /// The client.
    pub client_id: &'a str,
    /// Scopes.
    pub scope: &'a ScopeSet,
    /// Audience (canonical resource URI).
    pub audience: &'a ResourceUri,
    /// The grant.
    pub grant_id: Option<&'a str>,
    /// Issue time.
    pub now: i64,
    /// Lifetime in seconds.
    pub ttl: i64,
}

impl TokenSigner {
    /// A signer for `issuer` with `keys` (a [`KeySet`], an `Arc<KeySet>` or
    /// a [`KeyRing`] that follows the store).
    pub fn new(keys: impl Into<KeyRing>, issuer: impl Into<String>) -> Self {
        Self {
            keys: keys.into(),
            issuer: issuer.into(),
        }
    }

    /// The keys.
    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// Signs a new access token; returns it with its claims.
    pub fn mint(&self, req: &MintRequest<'_>) -> Result<(String, AccessTokenClaims), OAuthError> {
        let keys = self.keys.current();
        let key = keys.active();
        let mut header = Header::new(key.algorithm().jwt_alg());
        header.typ = Some(ACCESS_TOKEN_TYP.into());
        header.kid = Some(key.kid().to_owned());
        let claims = AccessTokenClaims {
            iss: self.issuer.clone(),
            sub: req.subject.to_owned(),
            aud: req.audience.to_string(),
            exp: req.now + req.ttl,
            iat: req.now,
            nbf: req.now,
            jti: random_token(),
            client_id: req.client_id.to_owned(),
            scope: req.scope.to_string(),
            gid: req.grant_id.map(str::to_owned),
        };
        let jwt = key.sign_jwt(&header, &claims).map_err(|e| {
            OAuthError::server_error(format!("could not sign the access token: {e}"))
        })?;
        Ok((jwt, claims))
    }
}
