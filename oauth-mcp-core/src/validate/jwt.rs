//! What every JWT validator does the same way: the `typ` rule, signature
//! verification with the library's own claim checks (jsonwebtoken's are
//! switched off so that every refusal has our wording), and the claim rules.

use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation, decode, decode_header};
use serde::de::DeserializeOwned;

use super::TokenRejection;
use crate::resource::ResourceUri;
use crate::token::ACCESS_TOKEN_TYP;

/// The JOSE header of a token, or why it is malformed.
pub(crate) fn header(token: &str) -> Result<Header, TokenRejection> {
    decode_header(token).map_err(|e| TokenRejection::Malformed(e.to_string()))
}

/// RFC 9068 §4: `typ` must be `at+jwt`; `accept_plain` also takes `JWT` or none.
pub(crate) fn check_typ(typ: Option<&str>, accept_plain: bool) -> Result<(), TokenRejection> {
    match typ {
        Some(t)
            if t.eq_ignore_ascii_case(ACCESS_TOKEN_TYP)
                || t.eq_ignore_ascii_case("application/at+jwt") =>
        {
            Ok(())
        }
        Some(t) if accept_plain && t.eq_ignore_ascii_case("JWT") => Ok(()),
        None if accept_plain => Ok(()),
        other => Err(TokenRejection::WrongType(
            other.unwrap_or("(none)").to_owned(),
        )),
    }
}

/// Verifies the signature with `key` and `alg` and deserialises the claims;
/// the claims themselves are checked by [`check_claims`].
pub(crate) fn verified_claims<T: DeserializeOwned>(
    token: &str,
    key: &DecodingKey,
    alg: Algorithm,
) -> Result<T, TokenRejection> {
    let mut v = Validation::new(alg);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    decode::<T>(token, key, &v)
        .map(|d| d.claims)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => TokenRejection::BadSignature,
            jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => {
                TokenRejection::Algorithm(format!("{alg:?}"))
            }
            _ => TokenRejection::Malformed(e.to_string()),
        })
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
    if exp.saturating_add(leeway) <= now {
        return Err(TokenRejection::Expired(now.saturating_sub(exp)));
    }
    if let Some(nbf) = c.nbf
        && nbf > now.saturating_add(leeway)
    {
        return Err(TokenRejection::NotYetValid);
    }
    Ok(())
}

/// An asymmetric JWS algorithm a resource server may accept. Symmetric
/// (`HS*`) algorithms cannot be named: a resource server must never verify
/// with a secret an attacker could know (the public key).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AsymmetricAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// RSASSA-PSS with SHA-384.
    Ps384,
    /// RSASSA-PSS with SHA-512.
    Ps512,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// ECDSA P-384 with SHA-384.
    Es384,
    /// Ed25519.
    EdDsa,
}

impl AsymmetricAlgorithm {
    /// The JOSE `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Rs384 => "RS384",
            Self::Rs512 => "RS512",
            Self::Ps256 => "PS256",
            Self::Ps384 => "PS384",
            Self::Ps512 => "PS512",
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::EdDsa => "EdDSA",
        }
    }

    #[cfg_attr(not(feature = "remote"), allow(dead_code))]
    pub(crate) fn jwt_alg(self) -> Algorithm {
        match self {
            Self::Rs256 => Algorithm::RS256,
            Self::Rs384 => Algorithm::RS384,
            Self::Rs512 => Algorithm::RS512,
            Self::Ps256 => Algorithm::PS256,
            Self::Ps384 => Algorithm::PS384,
            Self::Ps512 => Algorithm::PS512,
            Self::Es256 => Algorithm::ES256,
            Self::Es384 => Algorithm::ES384,
            Self::EdDsa => Algorithm::EdDSA,
        }
    }
}

impl std::fmt::Display for AsymmetricAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
