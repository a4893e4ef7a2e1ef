//! Resource-server token validation: the [`TokenValidator`] trait, the local
//! JWT validator for tokens this library issued and, with the `remote`
//! feature, validators for an external authorization server.

mod cached;
mod jwt;
mod local;
#[cfg(feature = "remote")]
pub mod remote;

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::resource::ResourceUri;
use crate::scope::{OFFLINE_ACCESS, ScopeSet};

pub(crate) use cached::RevocationHub;
pub use cached::{MAX_STALENESS, POLL_INTERVAL};
pub use jwt::AsymmetricAlgorithm;
pub use local::LocalJwtValidator;

/// The identity behind a validated access token: a shared handle to an
/// [`Identity`], whose fields it derefs to (`ctx.subject`, `ctx.scopes`).
/// Adapters put it in request extensions; MCP tools read it from there.
///
/// Cloning it copies one pointer: the validators' token cache hands every
/// request of a repeated token the same identity, without copying its text
/// or counting references to each field.
///
/// ```
/// use oauth_mcp_core::validate::{AuthContext, Identity};
/// use oauth_mcp_core::scope::ScopeSet;
///
/// let ctx = AuthContext::new(Identity {
///     subject: "alice".into(),
///     client_id: "my-client".into(),
///     scopes: ScopeSet::parse("mcp").unwrap(),
///     audience: "https://mcp.example.com/mcp".into(),
///     issuer: "https://mcp.example.com".into(),
///     expires_at: 1_900_000_000,
///     token_id: None,
/// });
/// assert_eq!(ctx.subject, "alice");
/// assert!(ctx.scopes.contains("mcp"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AuthContext(Arc<Identity>);

/// Who and what a validated access token stands for; read it through an
/// [`AuthContext`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The user (`sub`).
    pub subject: String,
    /// The client (`client_id`).
    pub client_id: String,
    /// Granted scopes.
    pub scopes: ScopeSet,
    /// The audience the token was checked against (this resource).
    pub audience: String,
    /// The issuer.
    pub issuer: String,
    /// Expiry (Unix seconds).
    pub expires_at: i64,
    /// Token id, if any.
    pub token_id: Option<String>,
}

impl AuthContext {
    /// A handle to `identity`.
    pub fn new(identity: Identity) -> Self {
        Self(Arc::new(identity))
    }

    /// The identity (also what `*ctx` and field access reach).
    pub fn identity(&self) -> &Identity {
        &self.0
    }

    /// The identity a library validator found in a token, as a resource
    /// sees it: without `offline_access`, which asks an authorization server
    /// for a refresh token and grants nothing here (some providers put it in
    /// access tokens). Dropped before caching, so that
    /// [`ResourceServer::check`](crate::ResourceServer::check) never copies
    /// a cached identity to drop it.
    pub(crate) fn validated(mut identity: Identity) -> Self {
        if identity.scopes.contains(OFFLINE_ACCESS) {
            identity.scopes = identity.scopes.without(OFFLINE_ACCESS);
        }
        Self::new(identity)
    }

    /// The same identity without `offline_access` (copied only if it has it:
    /// a custom validator's).
    pub(crate) fn without_offline_access(self) -> Self {
        if self.scopes.contains(OFFLINE_ACCESS) {
            Self::validated(Identity::clone(&self.0))
        } else {
            self
        }
    }
}

impl std::ops::Deref for AuthContext {
    type Target = Identity;

    fn deref(&self) -> &Identity {
        &self.0
    }
}

impl From<Identity> for AuthContext {
    fn from(identity: Identity) -> Self {
        Self::new(identity)
    }
}

impl std::fmt::Debug for AuthContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for AuthContext {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for AuthContext {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Identity::deserialize(d).map(Self::new)
    }
}

/// Why a token was refused. Every variant becomes `401 invalid_token` with
/// its message as `error_description`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejection {
    /// Not a JWT, or its claims do not parse.
    #[error("the access token is malformed: {0}")]
    Malformed(String),
    /// `typ` is not `at+jwt` (RFC 9068 §4).
    #[error("the token's typ is `{0}`, expected `at+jwt` (RFC 9068)")]
    WrongType(String),
    /// The header's `kid` names no key in the JWKS.
    #[error("the token was signed with an unknown key (kid `{0}`)")]
    UnknownKey(String),
    /// The algorithm is not one this resource accepts.
    #[error("the token's algorithm `{0}` is not accepted")]
    Algorithm(String),
    /// The signature does not verify.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// `iss` is not the trusted issuer.
    #[error("the token was issued by `{found}`, not by the trusted issuer `{expected}`")]
    WrongIssuer {
        /// The token's issuer.
        found: String,
        /// The trusted issuer.
        expected: String,
    },
    /// `aud` does not name this resource.
    #[error(
        "the token's audience {found} is not this resource `{expected}`; the client must request a token with resource={expected}"
    )]
    WrongAudience {
        /// The token's audience(s).
        found: String,
        /// This resource's canonical URI.
        expected: String,
    },
    /// `exp` has passed.
    #[error("the token expired {0} seconds ago")]
    Expired(i64),
    /// `nbf` is in the future.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// Its grant was revoked.
    #[error("the token was revoked")]
    Revoked,
    /// A required claim is missing.
    #[error("the token lacks the `{0}` claim")]
    MissingClaim(&'static str),
    /// The validator could not reach what it needs (JWKS, introspection, store).
    #[error("the token could not be checked right now: {0}")]
    Unavailable(String),
}

/// Validates a Bearer token for this resource.
#[async_trait]
pub trait TokenValidator: Send + Sync {
    /// The identity behind `token`, or why it is refused.
    async fn validate(&self, token: &str) -> Result<AuthContext, TokenRejection>;

    /// The identity behind `token` if it can be answered at once, without
    /// waiting on anything (a validated-token cache hit that needs no store
    /// or network call); `None` otherwise, and then the caller awaits
    /// [`validate`](Self::validate). Never answers what `validate` would
    /// refuse. The default answers nothing; the library's validators answer
    /// their cache hits here, which saves the boxed future of `validate` on
    /// the path every repeated token takes.
    ///
    /// `token` is the credentials' bytes as the request carried them, not
    /// yet checked to be UTF-8 (a cache compares them with the tokens it
    /// validated, so a repeated token costs no UTF-8 check); a token that
    /// is not UTF-8 is refused by the caller without asking `validate`.
    fn validate_now(&self, token: &[u8]) -> Option<AuthContext> {
        let _ = token;
        None
    }

    /// The issuer this validator trusts, if it checks one. A
    /// [`crate::ResourceServer`] refuses to start when it is not one of its
    /// authorization servers.
    fn issuer(&self) -> Option<&str> {
        None
    }

    /// The audience this validator requires, if it checks one. A
    /// [`crate::ResourceServer`] refuses to start when it is not its resource.
    fn audience(&self) -> Option<&ResourceUri> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(scope: &str) -> Identity {
        Identity {
            subject: "alice".into(),
            client_id: "c1".into(),
            scopes: ScopeSet::parse(scope).unwrap(),
            audience: "https://mcp.example/mcp".into(),
            issuer: "https://mcp.example".into(),
            expires_at: 1_900_000_000,
            token_id: Some("j1".into()),
        }
    }

    #[test]
    fn a_clone_shares_the_identity() {
        let a = AuthContext::new(identity("mcp"));
        let b = a.clone();
        assert!(std::ptr::eq(a.identity(), b.identity()));
        assert_eq!(b.subject, "alice");
    }

    #[test]
    fn serializes_as_the_flat_identity() {
        let ctx = AuthContext::new(identity("mcp admin"));
        let v = serde_json::to_value(&ctx).unwrap();
        assert_eq!(v["subject"], "alice");
        assert_eq!(v["scopes"], "admin mcp");
        assert_eq!(v["token_id"], "j1");
        let back: AuthContext = serde_json::from_value(v).unwrap();
        assert_eq!(back, ctx);
    }

    #[test]
    fn offline_access_is_dropped_and_copied_only_when_present() {
        let ctx = AuthContext::validated(identity("mcp offline_access"));
        assert_eq!(ctx.scopes.to_string(), "mcp");
        let plain = AuthContext::new(identity("mcp"));
        let same = plain.clone().without_offline_access();
        assert!(std::ptr::eq(plain.identity(), same.identity()));
        let custom = AuthContext::new(identity("mcp offline_access"));
        assert_eq!(custom.without_offline_access().scopes.to_string(), "mcp");
    }
}
