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
use crate::scope::ScopeSet;

pub(crate) use cached::RevocationHub;
pub use cached::{MAX_STALENESS, POLL_INTERVAL};
pub use jwt::AsymmetricAlgorithm;
pub use local::LocalJwtValidator;

/// The identity behind a validated access token. Adapters put it in request
/// extensions; MCP tools read it from there.
///
/// The text fields are shared strings (`Arc<str>`: read them as `&str` with
/// `&*ctx.subject` or `ctx.subject.as_ref()`, print them as they are), so
/// that handing a cached identity to each request copies pointers, not text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthContext {
    /// The user (`sub`).
    pub subject: Arc<str>,
    /// The client (`client_id`).
    pub client_id: Arc<str>,
    /// Granted scopes.
    pub scopes: ScopeSet,
    /// The audience the token was checked against (this resource).
    pub audience: Arc<str>,
    /// The issuer.
    pub issuer: Arc<str>,
    /// Expiry (Unix seconds).
    pub expires_at: i64,
    /// Token id, if any.
    pub token_id: Option<Arc<str>>,
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
    fn validate_now(&self, token: &str) -> Option<AuthContext> {
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
