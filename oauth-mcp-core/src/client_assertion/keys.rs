//! A client's public keys (its `jwks`, inline or fetched from `jwks_uri`),
//! reduced to the ones that may verify a client assertion.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

/// The signature algorithms a client assertion may use. Never `none`, never
/// HMAC (an HMAC "signed" with a public key proves nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssertionAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (ChatGPT's).
    Rs256,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// Ed25519.
    EdDsa,
}

impl AssertionAlgorithm {
    /// Every allowed algorithm, as advertised in
    /// `token_endpoint_auth_signing_alg_values_supported`.
    pub const ALL: [Self; 4] = [Self::Rs256, Self::Ps256, Self::Es256, Self::EdDsa];

    /// The JOSE `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Ps256 => "PS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    /// The algorithm named `alg` (exact, case-sensitive as JOSE is), if allowed.
    pub fn parse(alg: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == alg)
    }

    pub(crate) fn jwt(self) -> Algorithm {
        match self {
            Self::Rs256 => Algorithm::RS256,
            Self::Ps256 => Algorithm::PS256,
            Self::Es256 => Algorithm::ES256,
            Self::EdDsa => Algorithm::EdDSA,
        }
    }
}

/// The smallest RSA modulus accepted (bits).
const MIN_RSA_BITS: usize = 2048;

/// At most this many keys of a set are considered.
const MAX_KEYS: usize = 20;

/// Members that only a private or symmetric key has.
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// One usable public key.
#[derive(Clone)]
pub(crate) struct ClientKey {
    pub(crate) kid: Option<String>,
    pub(crate) algorithms: Vec<AssertionAlgorithm>,
    pub(crate) key: DecodingKey,
}

/// The keys of a client's JWK Set that may verify its assertions: RSA
/// (2048 bits or more), EC P-256 and Ed25519 signing keys. Keys for
/// encryption, other curves or algorithms are skipped; a set holding
/// private or symmetric key material is refused whole.
#[derive(Clone)]
pub struct ClientKeys {
    pub(crate) keys: Vec<ClientKey>,
}

impl std::fmt::Debug for ClientKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|k| (&k.kid, &k.algorithms)))
            .finish()
    }
}

impl ClientKeys {
    /// Parses a JWK Set (`{"keys": [...]}`); `Err` says why no key can be used.
    pub fn from_jwks(set: &Value) -> Result<Self, String> {
        let list = set
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("the JWK Set has no `keys` array")?;
        if list
            .iter()
            .any(|k| PRIVATE_MEMBERS.iter().any(|m| k.get(*m).is_some()))
        {
            return Err("the JWK Set contains private or symmetric key material".into());
        }
        let mut skipped = Vec::new();
        let keys: Vec<ClientKey> = list
            .iter()
            .take(MAX_KEYS)
            .filter_map(|k| match usable(k) {
                Ok(key) => Some(key),
                Err(why) => {
                    skipped.push(why);
                    None
                }
            })
            .collect();
        if keys.is_empty() {
            return Err(format!(
                "the JWK Set has no usable signing key (RS256, PS256, ES256 or EdDSA){}",
                if skipped.is_empty() {
                    String::new()
                } else {
                    format!(": {}", skipped.join("; "))
                }
            ));
        }
        Ok(Self { keys })
    }

    /// Parses the bytes of a fetched JWK Set.
    pub fn from_slice(body: &[u8]) -> Result<Self, String> {
        let v: Value =
            serde_json::from_slice(body).map_err(|e| format!("the JWK Set is not JSON: {e}"))?;
        Self::from_jwks(&v)
    }

    /// True if a key with this `kid` is in the set.
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// How many usable keys the set has.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True if the set has no usable key (never, for a parsed set).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

fn usable(k: &Value) -> Result<ClientKey, String> {
    let kid = k.get("kid").and_then(Value::as_str).map(str::to_owned);
    let name = kid.as_deref().map_or(String::new(), |k| format!(" `{k}`"));
    if let Some(u) = k.get("use").and_then(Value::as_str)
        && u != "sig"
    {
        return Err(format!("key{name} is for `{u}`, not signatures"));
    }
    let kty = k.get("kty").and_then(Value::as_str).unwrap_or("(none)");
    let crv = k.get("crv").and_then(Value::as_str);
    let mut algorithms = match (kty, crv) {
        ("RSA", _) => {
            let n = k
                .get("n")
                .and_then(Value::as_str)
                .and_then(|n| URL_SAFE_NO_PAD.decode(n).ok())
                .ok_or_else(|| format!("RSA key{name} has no valid `n`"))?;
            let bits = n.iter().skip_while(|b| **b == 0).count() * 8;
            if bits < MIN_RSA_BITS {
                return Err(format!(
                    "RSA key{name} has {bits} bits; at least {MIN_RSA_BITS} are required"
                ));
            }
            vec![AssertionAlgorithm::Rs256, AssertionAlgorithm::Ps256]
        }
        ("EC", Some("P-256")) => vec![AssertionAlgorithm::Es256],
        ("OKP", Some("Ed25519")) => vec![AssertionAlgorithm::EdDsa],
        _ => {
            return Err(format!(
                "key{name} ({kty}{}) is not RSA, EC P-256 or Ed25519",
                crv.map(|c| format!(" {c}")).unwrap_or_default()
            ));
        }
    };
    if let Some(alg) = k.get("alg").and_then(Value::as_str) {
        match AssertionAlgorithm::parse(alg) {
            Some(a) if algorithms.contains(&a) => algorithms = vec![a],
            _ => {
                return Err(format!(
                    "key{name} is for `{alg}`, which is not allowed here"
                ));
            }
        }
    }
    let jwk: Jwk =
        serde_json::from_value(k.clone()).map_err(|e| format!("key{name} is not a JWK: {e}"))?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|e| format!("key{name} is unusable: {e}"))?;
    Ok(ClientKey {
        kid,
        algorithms,
        key,
    })
}
