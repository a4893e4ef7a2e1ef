//! Resource-server token validation: the [`TokenValidator`] trait and the
//! local JWT validator for tokens this library issued.

use std::sync::Arc;

use async_trait::async_trait;
use jsonwebtoken::{Validation, decode, decode_header};
use serde::{Deserialize, Serialize};

use crate::clock::SharedClock;
use crate::resource::ResourceUri;
use crate::scope::ScopeSet;
use crate::store::TokenStore;
use crate::token::{ACCESS_TOKEN_TYP, KeySet};

#[cfg(feature = "remote")]
pub mod remote;

/// The identity behind a validated access token. Adapters put it in request
/// extensions; MCP tools read it from there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthContext {
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
}

#[derive(Deserialize)]
struct RawClaims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<serde_json::Value>,
    exp: Option<i64>,
    nbf: Option<i64>,
    jti: Option<String>,
    client_id: Option<String>,
    scope: Option<String>,
    gid: Option<String>,
}

/// Validates JWT access tokens signed by keys this process holds: signature,
/// `typ`, `iss`, `aud` (this resource, after canonicalisation), `exp`/`nbf`
/// with a small leeway, and optionally that the grant was not revoked.
#[derive(Clone)]
pub struct LocalJwtValidator {
    keys: Arc<KeySet>,
    issuer: String,
    audience: ResourceUri,
    leeway: i64,
    clock: SharedClock,
    revocations: Option<Arc<dyn TokenStore>>,
}

impl std::fmt::Debug for LocalJwtValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalJwtValidator")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway", &self.leeway)
            .finish_non_exhaustive()
    }
}

impl LocalJwtValidator {
    /// A validator for tokens from `issuer` meant for `audience`.
    pub fn new(
        keys: Arc<KeySet>,
        issuer: impl Into<String>,
        audience: ResourceUri,
        clock: SharedClock,
    ) -> Self {
        Self {
            keys,
            issuer: issuer.into(),
            audience,
            leeway: 30,
            clock,
            revocations: None,
        }
    }

    /// Clock-skew allowance for `exp` and `nbf`, in seconds (default 30).
    pub fn with_leeway(mut self, secs: i64) -> Self {
        self.leeway = secs;
        self
    }

    /// Also refuse tokens whose grant this store knows to be revoked (code
    /// replay, refresh-token reuse, revocation). Costs one store lookup per request.
    pub fn with_revocation_check(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.revocations = Some(store);
        self
    }

    /// Checks everything but revocation; synchronous.
    pub fn validate_sync(
        &self,
        token: &str,
    ) -> Result<(AuthContext, Option<String>), TokenRejection> {
        let header = decode_header(token).map_err(|e| TokenRejection::Malformed(e.to_string()))?;
        match header.typ.as_deref() {
            Some(t)
                if t.eq_ignore_ascii_case(ACCESS_TOKEN_TYP)
                    || t.eq_ignore_ascii_case("application/at+jwt") => {}
            other => {
                return Err(TokenRejection::WrongType(
                    other.unwrap_or("(none)").to_owned(),
                ));
            }
        }
        let kid = header.kid.clone().unwrap_or_default();
        let key = self
            .keys
            .find(&kid)
            .ok_or_else(|| TokenRejection::UnknownKey(kid.clone()))?;
        if header.alg != key.algorithm().jwt_alg() {
            return Err(TokenRejection::Algorithm(format!("{:?}", header.alg)));
        }
        let mut v = Validation::new(key.algorithm().jwt_alg());
        v.validate_exp = false;
        v.validate_nbf = false;
        v.validate_aud = false;
        v.required_spec_claims.clear();
        let data = decode::<RawClaims>(token, key.decoding(), &v).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => TokenRejection::BadSignature,
            jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => {
                TokenRejection::Algorithm(format!("{:?}", header.alg))
            }
            _ => TokenRejection::Malformed(e.to_string()),
        })?;
        let c = data.claims;
        check_claims(
            &ClaimView {
                iss: c.iss.as_deref(),
                aud: c.aud.as_ref(),
                exp: c.exp,
                nbf: c.nbf,
            },
            &self.issuer,
            &self.audience,
            self.clock.now(),
            self.leeway,
        )?;
        let sub = c.sub.ok_or(TokenRejection::MissingClaim("sub"))?;
        let exp = c.exp.unwrap_or_default();
        Ok((
            AuthContext {
                subject: sub,
                client_id: c.client_id.unwrap_or_default(),
                scopes: ScopeSet::parse(c.scope.as_deref().unwrap_or("")).unwrap_or_default(),
                audience: self.audience.to_string(),
                issuer: self.issuer.clone(),
                expires_at: exp,
                token_id: c.jti,
            },
            c.gid,
        ))
    }
}

/// The claims every validator checks the same way.
pub(crate) struct ClaimView<'a> {
    pub(crate) iss: Option<&'a str>,
    pub(crate) aud: Option<&'a serde_json::Value>,
    pub(crate) exp: Option<i64>,
    pub(crate) nbf: Option<i64>,
}

/// The shared claim rules: issuer exact, audience canonical, time with leeway.
pub(crate) fn check_claims(
    c: &ClaimView<'_>,
    issuer: &str,
    audience: &ResourceUri,
    now: i64,
    leeway: i64,
) -> Result<(), TokenRejection> {
    let iss = c.iss.ok_or(TokenRejection::MissingClaim("iss"))?;
    if iss != issuer {
        return Err(TokenRejection::WrongIssuer {
            found: iss.to_owned(),
            expected: issuer.to_owned(),
        });
    }
    let aud = c.aud.ok_or(TokenRejection::MissingClaim("aud"))?;
    let auds: Vec<&str> = match aud {
        serde_json::Value::String(s) => vec![s.as_str()],
        serde_json::Value::Array(a) => a.iter().filter_map(|v| v.as_str()).collect(),
        _ => vec![],
    };
    if !auds.iter().any(|a| audience.matches(a)) {
        return Err(TokenRejection::WrongAudience {
            found: format!("{auds:?}"),
            expected: audience.to_string(),
        });
    }
    let exp = c.exp.ok_or(TokenRejection::MissingClaim("exp"))?;
    if exp + leeway <= now {
        return Err(TokenRejection::Expired(now - exp));
    }
    if let Some(nbf) = c.nbf
        && nbf > now + leeway
    {
        return Err(TokenRejection::NotYetValid);
    }
    Ok(())
}

#[async_trait]
impl TokenValidator for LocalJwtValidator {
    async fn validate(&self, token: &str) -> Result<AuthContext, TokenRejection> {
        let (ctx, gid) = self.validate_sync(token)?;
        if let (Some(store), Some(gid)) = (&self.revocations, gid) {
            match store.get_grant(&gid).await {
                Ok(Some(g)) if g.revoked => return Err(TokenRejection::Revoked),
                // A grant this store never saw (another instance with its own
                // store, or before a restart of a memory store) is not revoked
                // here; the signature, issuer, audience and expiry still hold.
                Ok(_) => {}
                Err(e) => return Err(TokenRejection::Unavailable(e.to_string())),
            }
        }
        Ok(ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock, SystemClock};
    use crate::token::{MintRequest, SigningAlgorithm, SigningKey, TokenSigner};

    const ISS: &str = "https://as.example";

    fn setup(alg: SigningAlgorithm) -> (TokenSigner, LocalJwtValidator, ManualClock) {
        let keys = Arc::new(KeySet::new(SigningKey::generate(alg).unwrap()));
        let clock = ManualClock::new();
        let aud = ResourceUri::parse("https://mcp.example/mcp").unwrap();
        let v = LocalJwtValidator::new(keys.clone(), ISS, aud, Arc::new(clock.clone()));
        (TokenSigner::new(keys, ISS), v, clock)
    }

    fn mint(s: &TokenSigner, aud: &str, now: i64) -> String {
        let scope = ScopeSet::parse("mcp").unwrap();
        s.mint(&MintRequest {
            subject: "alice",
            client_id: "c1",
            scope: &scope,
            audience: aud,
            grant_id: None,
            now,
            ttl: 300,
        })
        .unwrap()
        .0
    }

    #[test]
    fn sign_and_verify_both_algorithms() {
        for alg in [SigningAlgorithm::Es256, SigningAlgorithm::EdDsa] {
            let (s, v, clock) = setup(alg);
            let t = mint(&s, "https://mcp.example/mcp", clock.now());
            let (ctx, _) = v.validate_sync(&t).unwrap();
            assert_eq!(ctx.subject, "alice");
            assert_eq!(ctx.client_id, "c1");
            assert!(ctx.scopes.contains("mcp"));
        }
    }

    #[test]
    fn audience_is_canonical_but_strict() {
        let (s, v, clock) = setup(SigningAlgorithm::Es256);
        assert!(
            v.validate_sync(&mint(&s, "https://MCP.example:443/mcp/", clock.now()))
                .is_ok()
        );
        let e = v
            .validate_sync(&mint(&s, "https://as.example", clock.now()))
            .unwrap_err();
        assert!(matches!(e, TokenRejection::WrongAudience { .. }), "{e:?}");
    }

    #[test]
    fn expiry_with_leeway() {
        let (s, v, clock) = setup(SigningAlgorithm::Es256);
        let t = mint(&s, "https://mcp.example/mcp", clock.now());
        clock.advance(300 + 29);
        assert!(v.validate_sync(&t).is_ok());
        clock.advance(2);
        assert!(matches!(
            v.validate_sync(&t).unwrap_err(),
            TokenRejection::Expired(_)
        ));
        let future = mint(&s, "https://mcp.example/mcp", clock.now() + 3600);
        assert_eq!(
            v.validate_sync(&future).unwrap_err(),
            TokenRejection::NotYetValid
        );
    }

    #[test]
    fn foreign_key_wrong_issuer_and_garbage_are_refused() {
        let (_, v, clock) = setup(SigningAlgorithm::Es256);
        let (other, _, _) = setup(SigningAlgorithm::Es256);
        let t = mint(&other, "https://mcp.example/mcp", clock.now());
        assert!(matches!(
            v.validate_sync(&t).unwrap_err(),
            TokenRejection::UnknownKey(_)
        ));
        let foreign_iss = TokenSigner::new(v.keys.clone(), "https://evil.example");
        let t = mint(&foreign_iss, "https://mcp.example/mcp", SystemClock.now());
        assert!(matches!(
            v.validate_sync(&t).unwrap_err(),
            TokenRejection::WrongIssuer { .. }
        ));
        assert!(matches!(
            v.validate_sync("a.b.c").unwrap_err(),
            TokenRejection::Malformed(_)
        ));
    }
}
