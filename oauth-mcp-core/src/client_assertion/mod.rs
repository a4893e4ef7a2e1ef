//! `private_key_jwt` client authentication (RFC 7523 §2.2 and §3; OpenID
//! Connect Core §9): the client proves its identity with a short-lived JWT
//! signed by a key it publishes (`jwks` or `jwks_uri` in its registration
//! or metadata document).
//!
//! What is checked, in order: the compact JWS form and its size; `alg` is
//! RS256, PS256, ES256 or EdDSA (never `none`, never HMAC); no `crit`; the
//! signature, with the client's key named by `kid` (an unknown `kid` makes
//! the JWKS cache refetch, rate-limited); `iss` = `sub` = `client_id`;
//! `aud` includes the token endpoint URL or the issuer; `exp` is present,
//! not past and not far ([`AssertionPolicy::max_lifetime`]); `nbf` and
//! `iat`, when present, are not in the future; `jti` is present and is
//! consumed in the [`ReplayStore`] until `exp`, so the assertion is single
//! use across every replica sharing the store.
//!
//! [`verify_signed`] is the sans-IO core; [`ClientAssertionVerifier`] adds
//! key fetching (feature `cimd`: through the SSRF-hardened fetcher) and the
//! replay check.

mod error;
mod fetch;
#[cfg(feature = "cimd")]
mod jwks_cache;
mod keys;
#[cfg(any(test, feature = "test-kit"))]
mod test_key;
#[cfg(test)]
mod tests;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Validation, decode};
use serde_json::{Map, Value};
use std::time::Duration;

pub use error::AssertionError;
pub use fetch::JwksFetchConfig;
#[cfg(feature = "cimd")]
use jwks_cache::ClientJwksCache;
pub use keys::{AssertionAlgorithm, ClientKeys};
#[cfg(any(test, feature = "test-kit"))]
pub use test_key::TestClientKey;

use crate::error::ConfigError;
use crate::secret::hash_secret;
use crate::store::ReplayStore;

/// The `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The longest assertion accepted, in bytes.
pub const MAX_ASSERTION_BYTES: usize = 8 * 1024;

/// The longest `jti` accepted, in bytes.
const MAX_JTI_BYTES: usize = 256;

/// Which audiences, lifetimes and clock skew an assertion may have. The
/// limits are checked when a [`ClientAssertionVerifier`] (or the server
/// configuration holding them) is built; a bad one is a start-up error.
#[derive(Debug, Clone)]
pub struct AssertionPolicy {
    audiences: Vec<String>,
    max_lifetime: i64,
    leeway: i64,
}

/// The longest assertion lifetime that may be configured, in seconds.
const MAX_LIFETIME_LIMIT: i64 = 3600;

/// The largest clock skew that may be configured, in seconds.
const MAX_LEEWAY: i64 = 300;

impl AssertionPolicy {
    /// Accepts `aud` = the token endpoint URL or the issuer (RFC 7523 §3),
    /// `exp` at most 600 s away, 30 s of clock skew.
    pub fn new(token_endpoint: impl Into<String>, issuer: impl Into<String>) -> Self {
        Self {
            audiences: vec![token_endpoint.into(), issuer.into()],
            max_lifetime: 600,
            leeway: 30,
        }
    }

    /// Also accepts `aud` = `audience` (for example the revocation endpoint's URL).
    pub fn also_accept_audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// The farthest `exp` accepted, from now (1 s to 1 h). An assertion is
    /// meant for one request; a long-lived one is a bearer credential in all
    /// but name.
    pub fn max_lifetime(mut self, max: Duration) -> Self {
        self.max_lifetime = i64::try_from(max.as_secs()).unwrap_or(i64::MAX);
        self
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat` (at most 5 minutes).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = i64::try_from(leeway.as_secs()).unwrap_or(i64::MAX);
        self
    }

    /// The accepted audiences.
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// Checks the limits; the error names the value and what is allowed.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=MAX_LIFETIME_LIMIT).contains(&self.max_lifetime) {
            return Err(ConfigError::new(
                "client_assertion_max_lifetime",
                format!(
                    "is {} s; use 1 s to {MAX_LIFETIME_LIMIT} s (clients sign a fresh, short-lived assertion per request)",
                    self.max_lifetime
                ),
            ));
        }
        if self.leeway > MAX_LEEWAY {
            return Err(ConfigError::new(
                "client_assertion_leeway",
                format!(
                    "is {} s; use at most {MAX_LEEWAY} s (more would keep expired assertions usable)",
                    self.leeway
                ),
            ));
        }
        if self.audiences.iter().any(String::is_empty) {
            return Err(ConfigError::new(
                "client_assertion_audiences",
                "an accepted audience is empty; name the token endpoint URL or the issuer",
            ));
        }
        Ok(())
    }
}

/// A verified assertion (signature and claims; [`ClientAssertionVerifier`]
/// has also consumed its `jti`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    /// The authenticated client.
    pub client_id: String,
    /// The assertion's `jti`.
    pub jti: String,
    /// The assertion's `exp`.
    pub expires_at: i64,
    /// The algorithm it was signed with.
    pub algorithm: AssertionAlgorithm,
    /// The `kid` of its header, if any.
    pub kid: Option<String>,
}

/// The parts of the JOSE header that matter here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionHeader {
    /// The (allowed) algorithm.
    pub algorithm: AssertionAlgorithm,
    /// The key id, if any.
    pub kid: Option<String>,
}

/// Reads the header of `assertion` without verifying anything else: its
/// algorithm must be allowed and it must have no `crit` member.
pub fn parse_header(assertion: &str) -> Result<AssertionHeader, AssertionError> {
    if assertion.len() > MAX_ASSERTION_BYTES {
        return Err(AssertionError::Malformed(format!(
            "longer than {MAX_ASSERTION_BYTES} bytes"
        )));
    }
    let mut parts = assertion.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AssertionError::Malformed(
            "not a compact JWS (three base64url parts separated by dots)".into(),
        ));
    };
    let raw = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| AssertionError::Malformed("the header is not base64url".into()))?;
    let header: Map<String, Value> = serde_json::from_slice(&raw)
        .map_err(|_| AssertionError::Malformed("the header is not a JSON object".into()))?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or_else(|| AssertionError::Malformed("the header has no `alg`".into()))?;
    let algorithm =
        AssertionAlgorithm::parse(alg).ok_or_else(|| AssertionError::Algorithm(alg.to_owned()))?;
    if header.contains_key("crit") {
        return Err(AssertionError::Critical);
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => {
            return Err(AssertionError::Malformed(
                "the header's `kid` is not a string".into(),
            ));
        }
    };
    Ok(AssertionHeader { algorithm, kid })
}

/// The `sub` (else `iss`) of `assertion`, read WITHOUT verifying anything:
/// only to find which client to verify it for when the request names none
/// (RFC 7523 §3 makes `client_id` optional). The verification that follows
/// requires `iss` = `sub` = that client.
pub fn unverified_subject(assertion: &str) -> Result<String, AssertionError> {
    parse_header(assertion)?;
    let payload = assertion.split('.').nth(1).unwrap_or_default();
    let raw = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| AssertionError::Malformed("the payload is not base64url".into()))?;
    let claims: Map<String, Value> = serde_json::from_slice(&raw)
        .map_err(|_| AssertionError::Malformed("the payload is not a JSON object".into()))?;
    ["sub", "iss"]
        .iter()
        .find_map(|c| claims.get(*c).and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .ok_or(AssertionError::MissingClaim("sub"))
}

/// Verifies the signature of `assertion` with `keys` and its claims for
/// `client_id` at `now`. Does not consume the `jti`.
pub fn verify_signed(
    assertion: &str,
    client_id: &str,
    keys: &ClientKeys,
    policy: &AssertionPolicy,
    now: i64,
) -> Result<VerifiedAssertion, AssertionError> {
    let header = parse_header(assertion)?;
    let claims = verify_signature(assertion, &header, keys)?;
    check_claims(&claims, client_id, policy, now).map(|(jti, expires_at)| VerifiedAssertion {
        client_id: client_id.to_owned(),
        jti,
        expires_at,
        algorithm: header.algorithm,
        kid: header.kid,
    })
}

fn verify_signature(
    assertion: &str,
    header: &AssertionHeader,
    keys: &ClientKeys,
) -> Result<Value, AssertionError> {
    let alg = header.algorithm;
    let named: Vec<_> = keys
        .keys
        .iter()
        .filter(|k| header.kid.is_none() || k.kid == header.kid)
        .collect();
    if let (Some(kid), true) = (&header.kid, named.is_empty()) {
        return Err(AssertionError::UnknownKey(kid.clone()));
    }
    let candidates: Vec<_> = named
        .into_iter()
        .filter(|k| k.algorithms.contains(&alg))
        .collect();
    if candidates.is_empty() {
        return Err(AssertionError::NoKeyForAlgorithm(alg.as_str()));
    }
    let mut validation = Validation::new(alg.jwt());
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    for k in candidates {
        match decode::<Value>(assertion, &k.key, &validation) {
            Ok(data) => return Ok(data.claims),
            Err(e) => match e.kind() {
                ErrorKind::Base64(_) | ErrorKind::Json(_) | ErrorKind::Utf8(_) => {
                    return Err(AssertionError::Malformed(
                        "the payload is not base64url JSON".into(),
                    ));
                }
                // A signature that fails, or a key of another kind: try the next.
                _ => {}
            },
        }
    }
    Err(AssertionError::BadSignature)
}

/// A JSON number as whole seconds.
fn seconds(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_f64().map(|f| f.floor() as i64))
}

fn check_claims(
    claims: &Value,
    client_id: &str,
    policy: &AssertionPolicy,
    now: i64,
) -> Result<(String, i64), AssertionError> {
    for claim in ["iss", "sub"] {
        let found = claims
            .get(claim)
            .and_then(Value::as_str)
            .ok_or(AssertionError::MissingClaim(claim))?;
        if found != client_id {
            return Err(AssertionError::WrongClient {
                claim,
                found: found.to_owned(),
                client_id: client_id.to_owned(),
            });
        }
    }
    let aud = claims
        .get("aud")
        .ok_or(AssertionError::MissingClaim("aud"))?;
    let listed: Vec<&str> = match aud {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if listed.is_empty() {
        return Err(AssertionError::MissingClaim("aud"));
    }
    if !listed
        .iter()
        .any(|a| policy.audiences.iter().any(|ok| ok == a))
    {
        return Err(AssertionError::WrongAudience {
            found: aud.to_string(),
            expected: policy
                .audiences
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(" or "),
        });
    }
    let exp = claims
        .get("exp")
        .and_then(seconds)
        .ok_or(AssertionError::MissingClaim("exp"))?;
    if now >= exp.saturating_add(policy.leeway) {
        return Err(AssertionError::Expired { exp, now });
    }
    let secs = exp.saturating_sub(now);
    if secs > policy.max_lifetime.saturating_add(policy.leeway) {
        return Err(AssertionError::TooLong {
            secs,
            max: policy.max_lifetime,
        });
    }
    for claim in ["nbf", "iat"] {
        if let Some(v) = claims.get(claim) {
            let value = seconds(v).ok_or(AssertionError::MissingClaim(claim))?;
            if value > now.saturating_add(policy.leeway) {
                return Err(AssertionError::NotYetValid { claim, value, now });
            }
        }
    }
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .filter(|j| !j.is_empty())
        .ok_or(AssertionError::MissingClaim("jti"))?;
    if jti.len() > MAX_JTI_BYTES {
        return Err(AssertionError::Malformed(format!(
            "`jti` is longer than {MAX_JTI_BYTES} bytes"
        )));
    }
    Ok((jti.to_owned(), exp))
}

/// The replay-store key of `jti` for `client_id`: fixed length, and one
/// client's `jti` never collides with another's.
pub fn replay_key(client_id: &str, jti: &str) -> String {
    hash_secret(&format!("client-assertion\n{client_id}\n{jti}"))
}

/// Where a client's public keys are.
#[derive(Debug, Clone, Copy)]
pub enum KeySource<'a> {
    /// An inline JWK Set (`jwks`).
    Inline(&'a Value),
    /// A JWK Set URL (`jwks_uri`), fetched with the SSRF protections of
    /// client metadata documents and cached.
    Uri(&'a str),
}

impl<'a> KeySource<'a> {
    /// The key source named in client metadata (a registration or a client
    /// metadata document): `jwks` or `jwks_uri`, never both (RFC 7591 §2).
    pub fn from_metadata(metadata: &'a Map<String, Value>) -> Result<Self, AssertionError> {
        match (metadata.get("jwks"), metadata.get("jwks_uri")) {
            (Some(_), Some(_)) => Err(AssertionError::Keys(
                "the client metadata has both `jwks` and `jwks_uri` (RFC 7591 §2 forbids it)"
                    .into(),
            )),
            (Some(set), None) => Ok(Self::Inline(set)),
            (None, Some(Value::String(uri))) => Ok(Self::Uri(uri)),
            (None, Some(_)) => Err(AssertionError::Keys("`jwks_uri` is not a string".into())),
            (None, None) => Err(AssertionError::Keys(
                "the client metadata has neither `jwks` nor `jwks_uri`".into(),
            )),
        }
    }
}

/// Checks the key members of client metadata (a registration or a client
/// metadata document) and returns where its keys are, if it names any:
/// never both `jwks` and `jwks_uri` (RFC 7591 §2); `jwks` must hold a
/// usable public signing key and no private key material; `jwks_uri` must be
/// an absolute https URL (http only on loopback, for development) without
/// credentials or fragment; `token_endpoint_auth_signing_alg`, if present,
/// must be an algorithm this server accepts. `Err` says what is wrong.
pub fn declared_keys(metadata: &Map<String, Value>) -> Result<Option<KeySource<'_>>, String> {
    if let Some(alg) = metadata.get("token_endpoint_auth_signing_alg") {
        let name = alg.as_str().unwrap_or("(not a string)");
        if AssertionAlgorithm::parse(name).is_none() {
            return Err(format!(
                "token_endpoint_auth_signing_alg `{name}` is not accepted; use one of {}",
                AssertionAlgorithm::ALL
                    .map(AssertionAlgorithm::as_str)
                    .join(", ")
            ));
        }
    }
    if !metadata.contains_key("jwks") && !metadata.contains_key("jwks_uri") {
        return Ok(None);
    }
    let source = KeySource::from_metadata(metadata).map_err(|e| match e {
        AssertionError::Keys(why) => why,
        other => other.to_string(),
    })?;
    match source {
        KeySource::Inline(set) => {
            ClientKeys::from_jwks(set).map_err(|why| format!("`jwks`: {why}"))?;
        }
        KeySource::Uri(uri) => {
            let url = url::Url::parse(uri)
                .map_err(|e| format!("`jwks_uri` `{uri}` is not an absolute URL ({e})"))?;
            let loopback_http = url.scheme() == "http" && crate::net::is_loopback(&url);
            if url.scheme() != "https" && !loopback_http {
                return Err(format!("`jwks_uri` `{uri}` must use https"));
            }
            if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
                return Err(format!(
                    "`jwks_uri` `{uri}` must not carry credentials or a fragment"
                ));
            }
        }
    }
    Ok(Some(source))
}

/// Verifies client assertions: keys (inline or fetched and cached),
/// signature, claims, and single use of the `jti`.
#[derive(Debug)]
pub struct ClientAssertionVerifier {
    policy: AssertionPolicy,
    #[cfg(feature = "cimd")]
    jwks: ClientJwksCache,
}

impl ClientAssertionVerifier {
    /// A verifier with `policy`, fetching `jwks_uri` documents with `jwks`
    /// (feature `cimd`; without it only inline `jwks` can be used). Refuses
    /// limits out of range, naming them.
    pub fn new(policy: AssertionPolicy, jwks: JwksFetchConfig) -> Result<Self, ConfigError> {
        policy.validate()?;
        jwks.validate()?;
        Ok(Self::from_validated(policy, jwks))
    }

    /// A verifier from limits already validated (the server configuration
    /// checked them when it was built).
    #[cfg_attr(not(feature = "cimd"), allow(clippy::needless_pass_by_value))]
    pub(crate) fn from_validated(policy: AssertionPolicy, jwks: JwksFetchConfig) -> Self {
        #[cfg(not(feature = "cimd"))]
        let _ = jwks;
        Self {
            policy,
            #[cfg(feature = "cimd")]
            jwks: ClientJwksCache::new(jwks),
        }
    }

    /// The policy.
    pub fn policy(&self) -> &AssertionPolicy {
        &self.policy
    }

    /// Verifies `assertion` for `client_id` with the keys from `source` at
    /// `now`, then consumes its `jti` in `replay` until it expires.
    pub async fn verify(
        &self,
        assertion: &str,
        client_id: &str,
        source: KeySource<'_>,
        replay: &dyn ReplayStore,
        now: i64,
    ) -> Result<VerifiedAssertion, AssertionError> {
        let header = parse_header(assertion)?;
        let verified = match source {
            KeySource::Inline(set) => {
                let keys = ClientKeys::from_jwks(set).map_err(AssertionError::Keys)?;
                verify_signed(assertion, client_id, &keys, &self.policy, now)?
            }
            KeySource::Uri(uri) => {
                self.verify_with_uri(assertion, client_id, &header, uri, now)
                    .await?
            }
        };
        let first = replay
            .consume_once(
                &replay_key(client_id, &verified.jti),
                verified.expires_at.saturating_add(self.policy.leeway),
                now,
            )
            .await
            .map_err(AssertionError::Store)?;
        if first {
            Ok(verified)
        } else {
            Err(AssertionError::Replayed)
        }
    }

    #[cfg(feature = "cimd")]
    async fn verify_with_uri(
        &self,
        assertion: &str,
        client_id: &str,
        header: &AssertionHeader,
        uri: &str,
        now: i64,
    ) -> Result<VerifiedAssertion, AssertionError> {
        let keys = self.jwks.keys(uri, header.kid.as_deref(), now).await?;
        verify_signed(assertion, client_id, &keys, &self.policy, now)
    }

    #[cfg(not(feature = "cimd"))]
    async fn verify_with_uri(
        &self,
        _assertion: &str,
        _client_id: &str,
        _header: &AssertionHeader,
        uri: &str,
        _now: i64,
    ) -> Result<VerifiedAssertion, AssertionError> {
        Err(AssertionError::Keys(format!(
            "fetching `jwks_uri` ({uri}) needs oauth-mcp-core's `cimd` feature"
        )))
    }
}
