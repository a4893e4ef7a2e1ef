//! A client's private signing key, for tests of `private_key_jwt` (feature
//! `test-kit`): generate an RS256, PS256, ES256 or EdDSA key, publish its
//! public JWK, sign client assertions with it. Never use it in production:
//! keys live only in memory and RSA keys are shared within a process.

// Test support: a key that cannot be generated is a failed test.
#![allow(clippy::expect_used)]

use std::sync::OnceLock;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

use super::AssertionAlgorithm;

/// A test client's private key and its public JWK (with `kid`, without
/// `alg`, so an RSA key serves RS256 and PS256).
pub struct TestClientKey {
    pub(crate) alg: Algorithm,
    pub(crate) encoding: EncodingKey,
    pub(crate) jwk: Value,
}

impl std::fmt::Debug for TestClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestClientKey")
            .field("alg", &self.alg)
            .field("kid", &self.jwk["kid"])
            .finish_non_exhaustive()
    }
}

impl TestClientKey {
    /// A fresh key for `algorithm` whose JWK carries `kid`. RSA keys
    /// (2048 bits) are generated once per process and shared, because
    /// generating one is slow in debug builds.
    pub fn generate(algorithm: AssertionAlgorithm, kid: &str) -> Self {
        let rng = SystemRandom::new();
        let alg = algorithm.jwt();
        let encoding = match algorithm {
            AssertionAlgorithm::Es256 => EncodingKey::from_ec_der(
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .expect("generate a P-256 key")
                    .as_ref(),
            ),
            AssertionAlgorithm::EdDsa => {
                let der = Ed25519KeyPair::generate_pkcs8(&rng).expect("generate an Ed25519 key");
                let kp = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der.as_ref())
                    .expect("read the Ed25519 key");
                EncodingKey::from_ed_der(kp.to_pkcs8v1().expect("Ed25519 PKCS#8").as_ref())
            }
            AssertionAlgorithm::Rs256 | AssertionAlgorithm::Ps256 => shared_rsa_key(),
        };
        let mut jwk = serde_json::to_value(
            Jwk::from_encoding_key(&encoding, alg).expect("the public JWK of a generated key"),
        )
        .expect("a JWK is JSON");
        jwk["kid"] = kid.into();
        if let Some(members) = jwk.as_object_mut() {
            members.remove("alg");
        }
        Self { alg, encoding, jwk }
    }

    /// The public JWK.
    pub fn public_jwk(&self) -> &Value {
        &self.jwk
    }

    /// A JWK Set of the public keys of `keys`.
    pub fn jwks(keys: &[&Self]) -> Value {
        json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
    }

    /// `claims` signed as a compact JWS, with `kid` in the header if given.
    pub fn sign(&self, kid: Option<&str>, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = kid.map(str::to_owned);
        encode(&header, claims, &self.encoding).expect("sign with a generated key")
    }
}

fn shared_rsa_key() -> EncodingKey {
    static PEM: OnceLock<String> = OnceLock::new();
    let pem = PEM.get_or_init(|| {
        let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .expect("generate an RSA key");
        let der: aws_lc_rs::encoding::Pkcs8V1Der<'_> = kp.as_der().expect("RSA PKCS#8");
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(der.as_ref())
        )
    });
    EncodingKey::from_rsa_pem(pem.as_bytes()).expect("read the RSA key")
}
