//! Why a client assertion was refused, and the one mapping to an RFC 6749
//! error (`invalid_client`, RFC 7523 §3.2).

use crate::error::{OAuthError, StoreError};

/// A refused client assertion. Every variant is answered `invalid_client`
/// (401) with its `Display` text as `error_description`, except a
/// storage failure, which is a server-side problem.
#[non_exhaustive]
#[derive(Debug, Clone, thiserror::Error)]
pub enum AssertionError {
    /// Not a compact JWS, too long, or undecodable.
    #[error("the client assertion is malformed: {0}")]
    Malformed(String),
    /// `alg` is not RS256, PS256, ES256 or EdDSA (`none` and HMAC included).
    #[error(
        "the client assertion is signed with `{0}`; only RS256, PS256, ES256 and EdDSA are accepted"
    )]
    Algorithm(String),
    /// The client registered `token_endpoint_auth_signing_alg`, and the
    /// assertion is signed with another algorithm.
    #[error(
        "the client assertion is signed with {used}, but the client registered token_endpoint_auth_signing_alg {registered}"
    )]
    AlgorithmNotRegistered {
        /// The assertion's algorithm.
        used: &'static str,
        /// The registered one.
        registered: &'static str,
    },
    /// The header carries `crit` extensions, which this server does not implement.
    #[error(
        "the client assertion has critical header extensions (`crit`), which are not supported"
    )]
    Critical,
    /// The client publishes no key with the assertion's `kid` (after a refetch).
    #[error("the client's JWK Set has no key `{0}` (the assertion's kid)")]
    UnknownKey(String),
    /// The client publishes no key for the assertion's algorithm.
    #[error("the client's JWK Set has no key for {0}")]
    NoKeyForAlgorithm(&'static str),
    /// The signature does not verify with the client's keys.
    #[error("the client assertion's signature does not verify with the client's keys")]
    BadSignature,
    /// The client's keys could not be had: no `jwks`/`jwks_uri`, a fetch
    /// refused by the SSRF rules or failed, or an unusable key set.
    #[error("the client's keys are unavailable: {0}")]
    Keys(String),
    /// A required claim is missing or has the wrong type.
    #[error("the client assertion has no valid `{0}` claim")]
    MissingClaim(&'static str),
    /// `iss` or `sub` is not the client id.
    #[error(
        "the client assertion's `{claim}` is `{found}`; it must be the client_id `{client_id}`"
    )]
    WrongClient {
        /// `iss` or `sub`.
        claim: &'static str,
        /// What the assertion says.
        found: String,
        /// The authenticating client.
        client_id: String,
    },
    /// `aud` names neither the token endpoint nor the issuer.
    #[error("the client assertion's `aud` is {found}; it must include {expected}")]
    WrongAudience {
        /// The `aud` claim as sent.
        found: String,
        /// The accepted audiences, quoted and joined.
        expected: String,
    },
    /// `exp` is in the past.
    #[error("the client assertion expired at {exp} (now {now})")]
    Expired {
        /// The assertion's `exp`.
        exp: i64,
        /// The server's time.
        now: i64,
    },
    /// `exp` is too far in the future.
    #[error(
        "the client assertion's `exp` is {secs} s away; at most {max} s is accepted (sign a short-lived assertion for each request)"
    )]
    TooLong {
        /// Seconds until `exp`.
        secs: i64,
        /// The allowed maximum.
        max: i64,
    },
    /// `nbf` or `iat` is in the future.
    #[error("the client assertion's `{claim}` ({value}) is in the future (now {now})")]
    NotYetValid {
        /// `nbf` or `iat`.
        claim: &'static str,
        /// Its value.
        value: i64,
        /// The server's time.
        now: i64,
    },
    /// The `jti` was already used by this client and has not expired.
    #[error("the client assertion's `jti` was already used; sign a new assertion for each request")]
    Replayed,
    /// The replay store failed.
    #[error("the replay store failed: {0}")]
    Store(StoreError),
}

impl AssertionError {
    /// A short, stable name for audit events and metrics.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::Algorithm(_) => "algorithm",
            Self::AlgorithmNotRegistered { .. } => "algorithm_not_registered",
            Self::Critical => "crit",
            Self::UnknownKey(_) => "unknown_kid",
            Self::NoKeyForAlgorithm(_) => "no_key_for_alg",
            Self::BadSignature => "bad_signature",
            Self::Keys(_) => "keys_unavailable",
            Self::MissingClaim(_) => "missing_claim",
            Self::WrongClient { .. } => "wrong_iss_or_sub",
            Self::WrongAudience { .. } => "wrong_aud",
            Self::Expired { .. } => "expired",
            Self::TooLong { .. } => "exp_too_far",
            Self::NotYetValid { .. } => "not_yet_valid",
            Self::Replayed => "replayed_jti",
            Self::Store(_) => "store",
        }
    }
}

impl From<AssertionError> for OAuthError {
    fn from(e: AssertionError) -> Self {
        match e {
            AssertionError::Store(s) => s.into(),
            other => OAuthError::invalid_client(other.to_string()),
        }
    }
}
