//! Encryption at rest with an operator-given key-encryption key (KEK):
//! AES-256-GCM from aws-lc-rs (the crypto backend the workspace already
//! uses), a random 96-bit nonce per message, and associated data that binds
//! each ciphertext to the record it belongs to (a signing key's `kid`, an
//! upstream token's owner), so a sealed value copied into another record
//! does not open.
//!
//! ```
//! use oauth_mcp_core::crypto::KeyEncryptionKey;
//!
//! // Operators keep this secret, e.g. in MCP_KEY_ENCRYPTION_KEY.
//! let b64 = KeyEncryptionKey::generate_base64();
//! let kek = KeyEncryptionKey::from_base64(b64.secret())?;
//!
//! let sealed = kek.seal(b"signing-key:kid-1", b"private key bytes")?;
//! assert_eq!(kek.open(b"signing-key:kid-1", &sealed)?, b"private key bytes");
//! // Bound to its record: under other associated data it does not open.
//! assert!(kek.open(b"signing-key:kid-2", &sealed).is_err());
//! # Ok::<(), oauth_mcp_core::crypto::CryptoError>(())
//! ```
//!
//! Sealed layout (version 1): `0x01 ‖ kek id (8) ‖ nonce (12) ‖ ciphertext ‖
//! tag (16)`. The first nine bytes are authenticated too. The KEK id (a hash
//! of the key, safe to log) lets [`KeyEncryptionKey::open`] tell "sealed
//! with another key" from "altered".

use std::path::Path;
use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

use crate::secret::Secret;

/// Length of a key-encryption key in bytes (AES-256).
pub const KEK_LEN: usize = 32;

const VERSION: u8 = 1;
const ID_LEN: usize = 8;
const HEADER_LEN: usize = 1 + ID_LEN;
const TAG_LEN: usize = 16;

/// Why a key-encryption key could not be loaded, or a value not sealed or
/// opened. Messages never contain key material.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The key-encryption key given is unusable; the message says how to make one.
    #[error("invalid key-encryption key: {0}")]
    InvalidKey(String),
    /// The sealed value is truncated, or was not produced by [`KeyEncryptionKey::seal`].
    #[error("the sealed value is malformed (truncated, or not sealed by oauth-mcp)")]
    Malformed,
    /// The value was sealed with a different key-encryption key.
    #[error(
        "the value was sealed with another key-encryption key (id {sealed_with}); the key given has id {given}"
    )]
    WrongKey {
        /// Id of the key the value was sealed with.
        sealed_with: String,
        /// Id of the key given.
        given: String,
    },
    /// The right key, but authentication failed: the value was altered, or
    /// it belongs to another record (different associated data).
    #[error("the sealed value failed authentication: it was altered, or belongs to another record")]
    Tampered,
    /// The crypto backend failed (random source or cipher).
    #[error("the crypto backend failed")]
    Backend,
}

/// An AES-256 key-encryption key. `Debug` shows only its id; the key bytes
/// cannot be read back. Cloning is cheap (shared).
#[derive(Clone)]
pub struct KeyEncryptionKey {
    key: Arc<RandomizedNonceKey>,
    id: [u8; ID_LEN],
}

impl std::fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyEncryptionKey(id {}, [redacted])", self.id())
    }
}

const HOW_TO_MAKE: &str =
    "use base64 of 32 random bytes, e.g. the output of `openssl rand -base64 32`";

impl KeyEncryptionKey {
    /// A key from exactly 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != KEK_LEN {
            return Err(CryptoError::InvalidKey(format!(
                "it has {} bytes, it must have {KEK_LEN}; {HOW_TO_MAKE}",
                bytes.len()
            )));
        }
        let key = RandomizedNonceKey::new(&AES_256_GCM, bytes).map_err(|_| CryptoError::Backend)?;
        let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        ctx.update(b"oauth-mcp key-encryption key id\0");
        ctx.update(bytes);
        let digest = ctx.finish();
        let mut id = [0u8; ID_LEN];
        id.copy_from_slice(&digest.as_ref()[..ID_LEN]);
        Ok(Self {
            key: Arc::new(key),
            id,
        })
    }

    /// A key from base64 (standard or URL-safe alphabet, padded or not,
    /// surrounding whitespace ignored) of 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(CryptoError::InvalidKey(format!(
                "it is empty; {HOW_TO_MAKE}"
            )));
        }
        let bytes = [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(text).ok())
            .ok_or_else(|| CryptoError::InvalidKey(format!("it is not base64; {HOW_TO_MAKE}")))?;
        if bytes.len() != KEK_LEN {
            return Err(CryptoError::InvalidKey(format!(
                "it decodes to {} bytes, it must decode to {KEK_LEN}; {HOW_TO_MAKE}",
                bytes.len()
            )));
        }
        Self::from_bytes(&bytes)
    }

    /// A key from a file holding its base64 (as [`Self::from_base64`]) or
    /// exactly 32 raw bytes. Warns (`kek.file_shared`, see [`crate::events`])
    /// when the file is readable by other users.
    pub fn from_file(path: &Path) -> Result<Self, CryptoError> {
        let bytes = std::fs::read(path).map_err(|e| {
            CryptoError::InvalidKey(format!("cannot read the file {}: {e}", path.display()))
        })?;
        warn_if_shared(path);
        if let Ok(text) = std::str::from_utf8(&bytes)
            && let Ok(kek) = Self::from_base64(text)
        {
            return Ok(kek);
        }
        if bytes.len() == KEK_LEN {
            return Self::from_bytes(&bytes);
        }
        Err(CryptoError::InvalidKey(format!(
            "the file {} holds neither base64 of {KEK_LEN} bytes nor {KEK_LEN} raw bytes; {HOW_TO_MAKE}",
            path.display()
        )))
    }

    /// A fresh random key, as base64 for the operator to keep (for example
    /// in `MCP_KEY_ENCRYPTION_KEY`).
    ///
    /// # Panics
    /// Only if the operating system's random source fails.
    pub fn generate_base64() -> Secret {
        let mut bytes = [0u8; KEK_LEN];
        #[allow(clippy::expect_used)]
        aws_lc_rs::rand::fill(&mut bytes).expect("the OS random number generator failed");
        Secret::new(STANDARD.encode(bytes))
    }

    /// The key's id: 16 hex digits of a hash of the key. Safe to log and to
    /// store; it tells which key sealed a value.
    pub fn id(&self) -> String {
        hex(&self.id)
    }

    /// Encrypts and authenticates `plaintext`, binding it to `aad` (which
    /// is not encrypted and must be given again to open).
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut header = [0u8; HEADER_LEN];
        header[0] = VERSION;
        header[1..].copy_from_slice(&self.id);
        let mut body = plaintext.to_vec();
        let nonce = self
            .key
            .seal_in_place_append_tag(Aad::from(bound_aad(&header, aad)), &mut body)
            .map_err(|_| CryptoError::Backend)?;
        let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + body.len());
        out.extend_from_slice(&header);
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Checks and decrypts a value made by [`Self::seal`] with the same key
    /// and the same `aad`.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < HEADER_LEN + NONCE_LEN + TAG_LEN || sealed[0] != VERSION {
            return Err(CryptoError::Malformed);
        }
        let (header, rest) = sealed.split_at(HEADER_LEN);
        if header[1..] != self.id {
            return Err(CryptoError::WrongKey {
                sealed_with: hex(&header[1..]),
                given: self.id(),
            });
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Malformed)?;
        let mut body = body.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(bound_aad(header, aad)), &mut body)
            .map_err(|_| CryptoError::Tampered)?;
        Ok(plain.to_vec())
    }
}

/// The id of the key-encryption key `sealed` was sealed with (as
/// [`KeyEncryptionKey::id`]), read from its header without any key; `None`
/// if it is not a sealed value.
pub fn sealed_with(sealed: &[u8]) -> Option<String> {
    (sealed.len() >= HEADER_LEN + NONCE_LEN + TAG_LEN && sealed[0] == VERSION)
        .then(|| hex(&sealed[1..HEADER_LEN]))
}

/// The associated data actually authenticated: the fixed-length header,
/// then the caller's.
fn bound_aad(header: &[u8], aad: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(header.len() + aad.len());
    v.extend_from_slice(header);
    v.extend_from_slice(aad);
    v
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(unix)]
fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        crate::events::AuditEvent::KekFileShared {
            path: &path.display().to_string(),
        }
        .emit();
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_path: &Path) {}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn kek() -> KeyEncryptionKey {
        KeyEncryptionKey::from_base64(KeyEncryptionKey::generate_base64().secret()).unwrap()
    }

    #[test]
    fn seal_open_roundtrip_with_fresh_nonces() {
        let k = kek();
        let a = k.seal(b"aad", b"hello").unwrap();
        let b = k.seal(b"aad", b"hello").unwrap();
        assert_ne!(a, b, "every seal uses a fresh nonce");
        assert_eq!(a.len(), HEADER_LEN + NONCE_LEN + 5 + TAG_LEN);
        assert_eq!(k.open(b"aad", &a).unwrap(), b"hello");
        assert_eq!(k.open(b"aad", &b).unwrap(), b"hello");
        assert_eq!(k.open(b"", &k.seal(b"", b"").unwrap()).unwrap(), b"");
    }

    #[test]
    fn refusals_say_why() {
        let k = kek();
        let sealed = k.seal(b"kid-1", b"secret").unwrap();
        assert_eq!(sealed_with(&sealed), Some(k.id()));
        assert_eq!(sealed_with(b"not sealed"), None);
        assert_eq!(k.open(b"kid-2", &sealed), Err(CryptoError::Tampered));
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(k.open(b"kid-1", &flipped), Err(CryptoError::Tampered));
        let mut flipped = sealed.clone();
        flipped[HEADER_LEN + NONCE_LEN] ^= 1;
        assert_eq!(k.open(b"kid-1", &flipped), Err(CryptoError::Tampered));
        let other = kek();
        match other.open(b"kid-1", &sealed) {
            Err(CryptoError::WrongKey { sealed_with, given }) => {
                assert_eq!(sealed_with, k.id());
                assert_eq!(given, other.id());
                assert_ne!(sealed_with, given);
            }
            e => panic!("expected WrongKey, got {e:?}"),
        }
        assert_eq!(k.open(b"kid-1", &sealed[..20]), Err(CryptoError::Malformed));
        let mut v2 = sealed;
        v2[0] = 2;
        assert_eq!(k.open(b"kid-1", &v2), Err(CryptoError::Malformed));
    }

    #[test]
    fn keys_parse_from_every_base64_flavour_and_refuse_bad_input() {
        let raw = [7u8; 32];
        let id = KeyEncryptionKey::from_bytes(&raw).unwrap().id();
        for text in [
            STANDARD.encode(raw),
            STANDARD_NO_PAD.encode(raw),
            URL_SAFE.encode(raw),
            format!("  {}\n", URL_SAFE_NO_PAD.encode(raw)),
        ] {
            assert_eq!(KeyEncryptionKey::from_base64(&text).unwrap().id(), id);
        }
        assert_eq!(id.len(), 16);
        let err = |t: &str| match KeyEncryptionKey::from_base64(t) {
            Err(CryptoError::InvalidKey(m)) => m,
            other => panic!("expected InvalidKey for {t:?}, got {other:?}"),
        };
        assert!(err("").contains("empty"));
        assert!(err("not base64!").contains("not base64"));
        assert!(err(&STANDARD.encode([1u8; 16])).contains("decodes to 16 bytes"));
        assert!(err("not base64!").contains("openssl rand -base64 32"));
    }

    #[test]
    fn keys_load_from_files() {
        let dir = std::env::temp_dir().join(format!("oauth-mcp-kek-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let raw = [9u8; 32];
        let id = KeyEncryptionKey::from_bytes(&raw).unwrap().id();
        let b64 = dir.join("kek.b64");
        std::fs::write(&b64, format!("{}\n", STANDARD.encode(raw))).unwrap();
        assert_eq!(KeyEncryptionKey::from_file(&b64).unwrap().id(), id);
        let bin = dir.join("kek.bin");
        std::fs::write(&bin, raw).unwrap();
        assert_eq!(KeyEncryptionKey::from_file(&bin).unwrap().id(), id);
        let bad = dir.join("kek.bad");
        std::fs::write(&bad, b"short").unwrap();
        let e = KeyEncryptionKey::from_file(&bad).unwrap_err().to_string();
        assert!(e.contains("kek.bad") && e.contains("neither"), "{e}");
        let missing = dir.join("missing");
        let e = KeyEncryptionKey::from_file(&missing)
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot read") && e.contains("missing"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn debug_shows_only_the_id() {
        let raw = [3u8; 32];
        let k = KeyEncryptionKey::from_bytes(&raw).unwrap();
        let dbg = format!("{k:?}");
        assert!(dbg.contains(&k.id()) && dbg.contains("[redacted]"), "{dbg}");
        assert!(!dbg.contains(&STANDARD.encode(raw)), "{dbg}");
    }
}
