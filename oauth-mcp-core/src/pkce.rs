//! PKCE (RFC 7636): S256 required, `plain` only when explicitly enabled.

use serde::{Deserialize, Serialize};

use crate::error::OAuthError;
use crate::secret::constant_time_eq;

/// A PKCE code challenge method.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CodeChallengeMethod {
    /// `S256`: the challenge is base64url(SHA-256(verifier)).
    S256,
    /// `plain`: the challenge is the verifier. Refused unless
    /// [`crate::config::ServerConfigBuilder::dangerously_allow_plain_pkce`] is set.
    #[serde(rename = "plain")]
    Plain,
}

impl CodeChallengeMethod {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::S256 => "S256",
            Self::Plain => "plain",
        }
    }

    /// Parses a `code_challenge_method` value; absent means `plain` per RFC 7636.
    pub fn parse(value: Option<&str>) -> Result<Self, OAuthError> {
        match value {
            Some("S256") => Ok(Self::S256),
            Some("plain") | None => Ok(Self::Plain),
            Some(other) => Err(OAuthError::invalid_request(format!(
                "code_challenge_method `{other}` is not supported; use S256"
            ))),
        }
    }
}

fn is_unreserved(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')
}

/// Checks the RFC 7636 §4.1 shape of a verifier (43–128 unreserved characters).
pub fn check_verifier_format(verifier: &str) -> Result<(), OAuthError> {
    if !(43..=128).contains(&verifier.len()) {
        return Err(OAuthError::invalid_request(format!(
            "code_verifier must be 43 to 128 characters long (RFC 7636 §4.1); got {}",
            verifier.len()
        )));
    }
    if !verifier.chars().all(is_unreserved) {
        return Err(OAuthError::invalid_request(
            "code_verifier may contain only A-Z a-z 0-9 - . _ ~ (RFC 7636 §4.1)",
        ));
    }
    Ok(())
}

/// Checks the shape of a `code_challenge` for its method.
pub fn check_challenge_format(
    method: CodeChallengeMethod,
    challenge: &str,
) -> Result<(), OAuthError> {
    match method {
        CodeChallengeMethod::S256 => {
            if challenge.len() != 43 || !challenge.chars().all(is_unreserved) {
                return Err(OAuthError::invalid_request(
                    "code_challenge for S256 must be the 43-character base64url SHA-256 of the verifier",
                ));
            }
            Ok(())
        }
        CodeChallengeMethod::Plain => check_verifier_format(challenge),
    }
}

/// The S256 challenge of a verifier.
pub fn s256_challenge(verifier: &str) -> String {
    crate::secret::sha256_base64url(verifier.as_bytes())
}

/// Verifies `verifier` against the stored challenge, in constant time.
pub fn verify(
    method: CodeChallengeMethod,
    challenge: &str,
    verifier: &str,
) -> Result<(), OAuthError> {
    check_verifier_format(verifier)?;
    let computed = match method {
        CodeChallengeMethod::S256 => s256_challenge(verifier),
        CodeChallengeMethod::Plain => verifier.to_owned(),
    };
    if constant_time_eq(&computed, challenge) {
        Ok(())
    } else {
        Err(OAuthError::invalid_grant(
            "PKCE verification failed: code_verifier does not match the code_challenge sent to /authorize",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    // RFC 7636 appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_vector() {
        assert_eq!(s256_challenge(VERIFIER), CHALLENGE);
        verify(CodeChallengeMethod::S256, CHALLENGE, VERIFIER).unwrap();
    }

    #[test]
    fn wrong_verifier_is_invalid_grant() {
        let other = "a".repeat(43);
        let err = verify(CodeChallengeMethod::S256, CHALLENGE, &other).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidGrant);
    }

    #[test]
    fn verifier_length_and_charset() {
        assert_eq!(
            check_verifier_format(&"a".repeat(42)).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
        assert!(check_verifier_format(&"a".repeat(43)).is_ok());
        assert!(check_verifier_format(&"a".repeat(128)).is_ok());
        assert!(check_verifier_format(&"a".repeat(129)).is_err());
        let bad = format!("{}+", "a".repeat(43));
        assert!(check_verifier_format(&bad).is_err());
    }

    #[test]
    fn method_parsing() {
        assert_eq!(
            CodeChallengeMethod::parse(Some("S256")).unwrap(),
            CodeChallengeMethod::S256
        );
        assert_eq!(
            CodeChallengeMethod::parse(None).unwrap(),
            CodeChallengeMethod::Plain
        );
        assert!(CodeChallengeMethod::parse(Some("S512")).is_err());
        assert!(check_challenge_format(CodeChallengeMethod::S256, CHALLENGE).is_ok());
        assert!(check_challenge_format(CodeChallengeMethod::S256, "short").is_err());
    }

    #[test]
    fn plain_compares_verbatim() {
        verify(CodeChallengeMethod::Plain, VERIFIER, VERIFIER).unwrap();
    }
}
