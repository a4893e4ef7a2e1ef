//! Signing keys for access tokens: generated at start-up or loaded from a PEM
//! or JWK file, each with a `kid` (its RFC 7638 thumbprint, so instances that
//! share a key agree on it), published as a JWKS.

use std::path::Path;
use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

/// The asymmetric algorithms this server signs with.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlgorithm {
    /// ECDSA P-256 with SHA-256 (the default; every JOSE library verifies it).
    Es256,
    /// Ed25519.
    EdDsa,
}

impl SigningAlgorithm {
    /// The JOSE `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    pub(crate) fn jwt_alg(self) -> Algorithm {
        match self {
            Self::Es256 => Algorithm::ES256,
            Self::EdDsa => Algorithm::EdDSA,
        }
    }
}

impl std::str::FromStr for SigningAlgorithm {
    type Err = KeyError;

    /// Parses the JOSE `alg` name ([`SigningAlgorithm::as_str`]).
    fn from_str(s: &str) -> Result<Self, KeyError> {
        match s {
            "ES256" => Ok(Self::Es256),
            "EdDSA" => Ok(Self::EdDsa),
            other => Err(KeyError(format!(
                "unsupported signing algorithm `{other}` (ES256 or EdDSA)"
            ))),
        }
    }
}

/// Why a key could not be made or loaded.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("signing key: {0}")]
pub struct KeyError(String);

/// The private key parsed once, ready to sign: jsonwebtoken's `encode`
/// re-parses the PKCS#8 document and re-derives the public key on every
/// call, which was most of the cost of minting a token.
enum Prepared {
    Es256(EcdsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

/// A private signing key with its public JWK and `kid`.
#[derive(Clone)]
pub struct SigningKey {
    alg: SigningAlgorithm,
    kid: String,
    prepared: Arc<Prepared>,
    encoding: EncodingKey,
    decoding: DecodingKey,
    public_jwk: Jwk,
    pkcs8_der: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a fresh key. Tokens signed with it stop verifying when the
    /// process restarts; load a key from a file to keep them valid.
    pub fn generate(alg: SigningAlgorithm) -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        let der = match alg {
            SigningAlgorithm::Es256 => {
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            }
            SigningAlgorithm::EdDsa => Ed25519KeyPair::generate_pkcs8(&rng),
        }
        .map_err(|_| KeyError("key generation failed".into()))?;
        Self::from_pkcs8_der(alg, der.as_ref())
    }

    /// Loads a PKCS#8 DER private key.
    pub fn from_pkcs8_der(alg: SigningAlgorithm, der: &[u8]) -> Result<Self, KeyError> {
        let (encoding, prepared) = match alg {
            SigningAlgorithm::Es256 => {
                let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|e| KeyError(format!("not a P-256 PKCS#8 key: {e}")))?;
                (EncodingKey::from_ec_der(der), Prepared::Es256(kp))
            }
            SigningAlgorithm::EdDsa => {
                // jsonwebtoken wants the 48-byte PKCS#8 v1 form; normalise v2 documents.
                let kp = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                    .map_err(|e| KeyError(format!("not an Ed25519 PKCS#8 key: {e}")))?;
                let v1 = kp
                    .to_pkcs8v1()
                    .map_err(|_| KeyError("cannot encode the Ed25519 key".into()))?;
                (EncodingKey::from_ed_der(v1.as_ref()), Prepared::EdDsa(kp))
            }
        };
        let mut jwk = Jwk::from_encoding_key(&encoding, alg.jwt_alg())
            .map_err(|e| KeyError(format!("cannot derive the public key: {e}")))?;
        let kid = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|e| KeyError(format!("thumbprint: {e}")))?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let decoding =
            DecodingKey::from_jwk(&jwk).map_err(|e| KeyError(format!("public key: {e}")))?;
        let pkcs8_der = encoding.as_bytes().to_vec();
        Ok(Self {
            alg,
            kid,
            prepared: Arc::new(prepared),
            encoding,
            decoding,
            public_jwk: jwk,
            pkcs8_der,
        })
    }

    /// Loads a PEM private key (`-----BEGIN PRIVATE KEY-----`, PKCS#8, P-256 or
    /// Ed25519; or SEC1 `EC PRIVATE KEY`, P-256).
    pub fn from_pem(pem: &[u8]) -> Result<Self, KeyError> {
        let block = pem::parse(pem).map_err(|e| KeyError(format!("not a PEM private key: {e}")))?;
        match block.tag() {
            "EC PRIVATE KEY" => {
                let kp = EcdsaKeyPair::from_private_key_der(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    block.contents(),
                )
                .map_err(|e| KeyError(format!("EC PRIVATE KEY is not a P-256 key: {e}")))?;
                let der = kp
                    .to_pkcs8v1()
                    .map_err(|_| KeyError("cannot encode the EC key".into()))?;
                Self::from_pkcs8_der(SigningAlgorithm::Es256, der.as_ref())
            }
            "PRIVATE KEY" => Self::from_pkcs8_der(SigningAlgorithm::Es256, block.contents())
                .or_else(|_| Self::from_pkcs8_der(SigningAlgorithm::EdDsa, block.contents()))
                .map_err(|_| {
                    KeyError("PEM holds neither a P-256 nor an Ed25519 private key".into())
                }),
            other => Err(KeyError(format!(
                "PEM block is `{other}`; expected `PRIVATE KEY` (PKCS#8, P-256 or Ed25519) \
                 or `EC PRIVATE KEY` (SEC1, P-256)"
            ))),
        }
    }

    /// Loads a private JWK (`kty` EC P-256 or OKP Ed25519, with `d`).
    pub fn from_jwk_json(json: &str) -> Result<Self, KeyError> {
        let v: serde_json::Value =
            serde_json::from_str(json).map_err(|e| KeyError(format!("JWK is not JSON: {e}")))?;
        let field = |name: &str| -> Result<Vec<u8>, KeyError> {
            let s = v
                .get(name)
                .and_then(|x| x.as_str())
                .ok_or_else(|| KeyError(format!("JWK lacks `{name}`")))?;
            URL_SAFE_NO_PAD
                .decode(s)
                .map_err(|_| KeyError(format!("JWK `{name}` is not base64url")))
        };
        match (
            v.get("kty").and_then(|x| x.as_str()),
            v.get("crv").and_then(|x| x.as_str()),
        ) {
            (Some("EC"), Some("P-256")) => {
                let (d, x, y) = (field("d")?, field("x")?, field("y")?);
                let mut public = vec![4u8];
                public.extend_from_slice(&x);
                public.extend_from_slice(&y);
                let kp = EcdsaKeyPair::from_private_key_and_public_key(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    &d,
                    &public,
                )
                .map_err(|e| KeyError(format!("inconsistent EC JWK: {e}")))?;
                let der = kp
                    .to_pkcs8v1()
                    .map_err(|_| KeyError("cannot encode the EC key".into()))?;
                Self::from_pkcs8_der(SigningAlgorithm::Es256, der.as_ref())
            }
            (Some("OKP"), Some("Ed25519")) => {
                let kp = Ed25519KeyPair::from_seed_unchecked(&field("d")?)
                    .map_err(|e| KeyError(format!("bad Ed25519 JWK: {e}")))?;
                let der = kp
                    .to_pkcs8()
                    .map_err(|_| KeyError("cannot encode the Ed25519 key".into()))?;
                Self::from_pkcs8_der(SigningAlgorithm::EdDsa, der.as_ref())
            }
            _ => Err(KeyError(
                "JWK must be an EC P-256 or OKP Ed25519 private key".into(),
            )),
        }
    }

    /// Loads a key file: PEM, or a JWK when the file starts with `{`.
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let bytes = std::fs::read(path)
            .map_err(|e| KeyError(format!("cannot read {}: {e}", path.display())))?;
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
            Self::from_jwk_json(&String::from_utf8_lossy(&bytes))
        } else {
            Self::from_pem(&bytes)
        }
    }

    /// The key as a PKCS#8 PEM, to save it for the next start.
    pub fn to_pkcs8_pem(&self) -> String {
        let block = pem::Pem::new("PRIVATE KEY", self.pkcs8_der.clone());
        pem::encode_config(
            &block,
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        )
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.alg
    }

    pub(crate) fn encoding(&self) -> &EncodingKey {
        &self.encoding
    }

    /// A compact JWS of `claims` under `header`, signed with the prepared
    /// key (what `jsonwebtoken::encode` produces, without re-parsing the key).
    pub(crate) fn sign_jwt<T: serde::Serialize>(
        &self,
        header: &jsonwebtoken::Header,
        claims: &T,
    ) -> Result<String, KeyError> {
        let part = |v: Result<Vec<u8>, serde_json::Error>| {
            v.map(|b| URL_SAFE_NO_PAD.encode(b))
                .map_err(|e| KeyError(format!("cannot serialise the token: {e}")))
        };
        let mut jwt = part(serde_json::to_vec(header))?;
        jwt.push('.');
        jwt.push_str(&part(serde_json::to_vec(claims))?);
        let signature = match self.prepared.as_ref() {
            Prepared::Es256(kp) => kp
                .sign(&SystemRandom::new(), jwt.as_bytes())
                .map_err(|_| KeyError("ECDSA signing failed".into()))?
                .as_ref()
                .to_vec(),
            Prepared::EdDsa(kp) => kp.sign(jwt.as_bytes()).as_ref().to_vec(),
        };
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut jwt);
        Ok(jwt)
    }

    pub(crate) fn decoding(&self) -> &DecodingKey {
        &self.decoding
    }

    pub(crate) fn public_jwk(&self) -> &Jwk {
        &self.public_jwk
    }
}

/// The active signing key plus older keys still accepted for verification
/// (rotation: add the new key as active, keep the old one until its tokens expire).
#[derive(Debug, Clone)]
pub struct KeySet {
    active: SigningKey,
    previous: Vec<SigningKey>,
}

impl KeySet {
    /// A key set with one key.
    pub fn new(active: SigningKey) -> Self {
        Self {
            active,
            previous: Vec::new(),
        }
    }

    /// Keeps `key` for verification only.
    pub fn with_previous(mut self, key: SigningKey) -> Self {
        self.previous.push(key);
        self
    }

    /// The key new tokens are signed with.
    pub fn active(&self) -> &SigningKey {
        &self.active
    }

    /// The key with this `kid`, if any.
    pub fn find(&self, kid: &str) -> Option<&SigningKey> {
        std::iter::once(&self.active)
            .chain(&self.previous)
            .find(|k| k.kid == kid)
    }

    /// The public JWKS document (`{"keys": [...]}`), every key with its `kid`.
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<serde_json::Value> = std::iter::once(&self.active)
            .chain(&self.previous)
            .filter_map(|k| serde_json::to_value(k.public_jwk()).ok())
            .collect();
        serde_json::json!({ "keys": keys })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prepared_key_signs_what_jsonwebtoken_would() {
        let claims = serde_json::json!({"sub": "alice", "exp": 4_000_000_000_i64});
        for alg in [SigningAlgorithm::Es256, SigningAlgorithm::EdDsa] {
            let k = SigningKey::generate(alg).unwrap();
            let mut header = jsonwebtoken::Header::new(alg.jwt_alg());
            header.typ = Some("at+jwt".into());
            header.kid = Some(k.kid().to_owned());
            let ours = k.sign_jwt(&header, &claims).unwrap();
            let theirs = jsonwebtoken::encode(&header, &claims, k.encoding()).unwrap();
            // Header and claims byte for byte; Ed25519 is deterministic, so all of it.
            let signed = |t: &str| t.rsplit_once('.').unwrap().0.to_owned();
            assert_eq!(signed(&ours), signed(&theirs));
            if alg == SigningAlgorithm::EdDsa {
                assert_eq!(ours, theirs);
            }
            let mut v = jsonwebtoken::Validation::new(alg.jwt_alg());
            v.required_spec_claims.clear();
            v.validate_aud = false;
            let got = jsonwebtoken::decode::<serde_json::Value>(&ours, k.decoding(), &v).unwrap();
            assert_eq!(got.claims, claims);
        }
    }

    #[test]
    fn generate_roundtrip_pem_and_kid_is_stable() {
        for alg in [SigningAlgorithm::Es256, SigningAlgorithm::EdDsa] {
            let k = SigningKey::generate(alg).unwrap();
            let pem = k.to_pkcs8_pem();
            let k2 = SigningKey::from_pem(pem.as_bytes()).unwrap();
            assert_eq!(k.kid(), k2.kid());
            assert_eq!(k2.algorithm(), alg);
            let jwks = KeySet::new(k).jwks();
            assert_eq!(jwks["keys"][0]["kid"], k2.kid());
            assert!(
                jwks["keys"][0].get("d").is_none(),
                "private part must not be published"
            );
        }
    }

    #[test]
    fn pem_blocks_are_told_apart_by_their_label() {
        use aws_lc_rs::encoding::{AsDer, EcPrivateKeyRfc5915Der};
        let kp = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let pkcs8 =
            SigningKey::from_pkcs8_der(SigningAlgorithm::Es256, kp.to_pkcs8v1().unwrap().as_ref())
                .unwrap();
        // SEC1 `EC PRIVATE KEY` (what `openssl ecparam -genkey` writes), with
        // text around it and CRLF line endings.
        let sec1: EcPrivateKeyRfc5915Der<'static> = kp.private_key().as_der().unwrap();
        let block = pem::Pem::new("EC PRIVATE KEY", sec1.as_ref().to_vec());
        let file = format!(
            "EC parameters omitted\r\n{}",
            pem::encode_config(
                &block,
                pem::EncodeConfig::new().set_line_ending(pem::LineEnding::CRLF)
            )
        );
        let k = SigningKey::from_pem(file.as_bytes()).unwrap();
        assert_eq!(k.algorithm(), SigningAlgorithm::Es256);
        assert_eq!(k.kid(), pkcs8.kid());
        // An `EC PRIVATE KEY` block must hold a P-256 key.
        let ed = Ed25519KeyPair::generate().unwrap().to_pkcs8().unwrap();
        let mislabelled = pem::encode(&pem::Pem::new("EC PRIVATE KEY", ed.as_ref().to_vec()));
        let err = SigningKey::from_pem(mislabelled.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("not a P-256 key"), "{err}");
        // Other blocks are named in the refusal.
        let cert = pem::encode(&pem::Pem::new("CERTIFICATE", vec![1, 2, 3]));
        let err = SigningKey::from_pem(cert.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("`CERTIFICATE`"), "{err}");
        let err = SigningKey::from_pem(b"no PEM here").unwrap_err();
        assert!(err.to_string().contains("not a PEM private key"), "{err}");
    }

    #[test]
    fn private_jwks_load_and_match_their_public_key() {
        use aws_lc_rs::encoding::{AsBigEndian, EcPrivateKeyBin};
        use aws_lc_rs::signature::KeyPair;
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        // EC P-256: d from the private scalar, x and y from the uncompressed point.
        let kp = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let d: EcPrivateKeyBin<'static> = kp.private_key().as_be_bytes().unwrap();
        let point = kp.public_key().as_ref().to_vec();
        let jwk = format!(
            r#"{{"kty":"EC","crv":"P-256","d":"{}","x":"{}","y":"{}"}}"#,
            b64(d.as_ref()),
            b64(&point[1..33]),
            b64(&point[33..65])
        );
        let k = SigningKey::from_jwk_json(&jwk).unwrap();
        let from_der =
            SigningKey::from_pkcs8_der(SigningAlgorithm::Es256, kp.to_pkcs8v1().unwrap().as_ref())
                .unwrap();
        assert_eq!(k.kid(), from_der.kid());
        // Ed25519: d is the seed.
        let seed = [7u8; 32];
        let jwk = format!(r#"{{"kty":"OKP","crv":"Ed25519","d":"{}"}}"#, b64(&seed));
        let k = SigningKey::from_jwk_json(&jwk).unwrap();
        assert_eq!(k.algorithm(), SigningAlgorithm::EdDsa);
        // Inconsistent, malformed and unsupported keys are refused with a reason.
        assert!(
            SigningKey::from_jwk_json(r#"{"kty":"EC","crv":"P-256","x":"AA","y":"AA","d":"AA"}"#)
                .is_err()
        );
        assert!(SigningKey::from_jwk_json(r#"{"kty":"RSA","n":"AA","e":"AQAB"}"#).is_err());
        assert!(SigningKey::from_jwk_json("not json").is_err());
        assert!(
            SigningKey::from_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
                .is_err()
        );
    }
}
