//! Secrets that cannot leak by accident: redacted `Debug`, hashing for
//! storage, constant-time comparison and random generation.

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

/// A secret string (client secret, password, token). `Debug` prints
/// `[redacted]`; read it with [`Secret::secret`]. There is no `==`: compare
/// with [`Secret::matches`], in constant time.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value. Never log it.
    pub fn secret(&self) -> &str {
        &self.0
    }

    /// True if `other` is this secret, compared in constant time.
    pub fn matches(&self, other: &str) -> bool {
        constant_time_eq(&self.0, other)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

/// A random URL-safe token with 256 bits of entropy from the OS RNG.
///
/// # Panics
/// Only if the operating system's random source fails, which leaves nothing
/// safe to do.
#[allow(clippy::expect_used)]
pub fn random_token() -> String {
    let mut buf = [0u8; 32];
    // aws-lc-rs (already the JWT signing backend) reads the OS random source.
    aws_lc_rs::rand::fill(&mut buf).expect("the OS random number generator failed");
    URL_SAFE_NO_PAD.encode(buf)
}

/// base64url(SHA-256(bytes)), without padding: the storage hash of secrets
/// and the PKCE S256 challenge.
pub(crate) fn sha256_base64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, bytes))
}

/// The storage key of a high-entropy secret (code, refresh token, client
/// secret, request id): base64url(SHA-256(value)). These values carry 256 bits
/// of entropy, so a fast hash is enough; passwords use argon2 instead.
pub fn hash_secret(value: &str) -> String {
    sha256_base64url(value.as_bytes())
}

/// A short, non-reversible tag for logs: the first 8 characters of the hash.
pub fn log_tag(value: &str) -> String {
    let mut h = hash_secret(value);
    h.truncate(8);
    h
}

/// Constant-time equality of two strings.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
        assert_eq!(s.secret(), "hunter2");
        assert!(s.matches("hunter2"));
        assert!(!s.matches("hunter3"));
    }

    #[test]
    fn tokens_are_unique_and_urlsafe() {
        let a = random_token();
        let b = random_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }

    #[test]
    fn hashing_is_stable_and_compare_is_exact() {
        assert_eq!(hash_secret("x"), hash_secret("x"));
        assert_ne!(hash_secret("x"), hash_secret("y"));
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
        assert_eq!(log_tag("x").len(), 8);
    }
}
