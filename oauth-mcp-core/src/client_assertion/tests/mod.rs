//! Every acceptance and every refusal of a client assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

use super::*;
use crate::error::{ErrorCode, OAuthError};
use crate::store::MemoryStore;

const CLIENT: &str = "https://client.example/oauth/client.json";
const TOKEN_ENDPOINT: &str = "https://as.example/token";
const ISSUER: &str = "https://as.example";
const NOW: i64 = 1_800_000_000;

/// A private key that signs and its public JWK (with `kid`).
fn test_key(alg: Algorithm, kid: &str) -> TestClientKey {
    let alg = match alg {
        Algorithm::ES256 => AssertionAlgorithm::Es256,
        Algorithm::EdDSA => AssertionAlgorithm::EdDsa,
        Algorithm::PS256 => AssertionAlgorithm::Ps256,
        _ => AssertionAlgorithm::Rs256,
    };
    TestClientKey::generate(alg, kid)
}

fn claims() -> Value {
    claims_at(NOW)
}

/// Fresh claims for an assertion signed at `now`.
fn claims_at(now: i64) -> Value {
    json!({
        "iss": CLIENT,
        "sub": CLIENT,
        "aud": TOKEN_ENDPOINT,
        "exp": now + 60,
        "iat": now,
        "jti": crate::secret::random_token(),
    })
}

fn jwks(keys: &[&TestClientKey]) -> Value {
    TestClientKey::jwks(keys)
}

fn policy() -> AssertionPolicy {
    AssertionPolicy::new(TOKEN_ENDPOINT, ISSUER)
}

fn check(assertion: &str, set: &Value) -> Result<VerifiedAssertion, AssertionError> {
    let keys = ClientKeys::from_jwks(set).map_err(AssertionError::Keys)?;
    verify_signed(assertion, CLIENT, &keys, &policy(), NOW)
}

/// The refusal as the token endpoint answers it.
fn answered(e: AssertionError) -> OAuthError {
    let o: OAuthError = e.into();
    assert_eq!(o.code, ErrorCode::InvalidClient);
    assert_eq!(o.code.http_status(), 401);
    o
}

#[test]
fn each_allowed_algorithm_verifies() {
    for alg in [
        Algorithm::RS256,
        Algorithm::PS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
    ] {
        let key = test_key(alg, "k1");
        let c = claims();
        let v = check(&key.sign(Some("k1"), &c), &jwks(&[&key])).unwrap();
        assert_eq!(v.client_id, CLIENT);
        assert_eq!(v.jti, c["jti"].as_str().unwrap());
        assert_eq!(v.expires_at, NOW + 60);
        assert_eq!(v.algorithm.as_str(), format!("{alg:?}"));
        assert_eq!(v.kid.as_deref(), Some("k1"));
        // Without a kid, the keys for the algorithm are tried.
        check(&key.sign(None, &claims()), &jwks(&[&key])).unwrap();
    }
}

#[test]
fn the_issuer_is_an_accepted_audience_and_arrays_are_searched() {
    let key = test_key(Algorithm::ES256, "k1");
    for aud in [
        json!(ISSUER),
        json!(["https://other.example", TOKEN_ENDPOINT]),
    ] {
        let mut c = claims();
        c["aud"] = aud;
        check(&key.sign(Some("k1"), &c), &jwks(&[&key])).unwrap();
    }
}

#[test]
fn a_signature_by_another_key_is_refused() {
    let key = test_key(Algorithm::ES256, "k1");
    let other = test_key(Algorithm::ES256, "k1");
    let e = check(&other.sign(Some("k1"), &claims()), &jwks(&[&key])).unwrap_err();
    assert!(matches!(e, AssertionError::BadSignature), "{e:?}");
    assert_eq!(
        answered(e).description,
        "the client assertion's signature does not verify with the client's keys"
    );
    // A tampered payload, too.
    let good = key.sign(Some("k1"), &claims());
    let mut parts: Vec<&str> = good.split('.').collect();
    let mut c = claims();
    c["sub"] = "someone-else".into();
    let forged = URL_SAFE_NO_PAD.encode(c.to_string());
    parts[1] = &forged;
    let e = check(&parts.join("."), &jwks(&[&key])).unwrap_err();
    assert!(matches!(e, AssertionError::BadSignature), "{e:?}");
}

fn unsigned(alg: &str, claims: &Value) -> String {
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": alg, "typ": "JWT"}).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

#[test]
fn alg_none_is_refused() {
    let key = test_key(Algorithm::RS256, "k1");
    let e = check(&unsigned("none", &claims()), &jwks(&[&key])).unwrap_err();
    assert!(
        matches!(e, AssertionError::Algorithm(ref a) if a == "none"),
        "{e:?}"
    );
    assert_eq!(e.reason_code(), "algorithm");
    assert_eq!(
        answered(e).description,
        "the client assertion is signed with `none`; only RS256, PS256, ES256 and EdDSA are accepted"
    );
}

#[test]
fn hmac_signed_with_the_public_key_is_refused() {
    // The classic confusion attack: HS256 keyed with the client's public key.
    let key = test_key(Algorithm::RS256, "k1");
    let public = key.jwk["n"].as_str().unwrap().as_bytes().to_vec();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".into());
    let forged = encode(&header, &claims(), &EncodingKey::from_secret(&public)).unwrap();
    let e = check(&forged, &jwks(&[&key])).unwrap_err();
    assert!(
        matches!(e, AssertionError::Algorithm(ref a) if a == "HS256"),
        "{e:?}"
    );
}

#[test]
fn an_algorithm_the_key_is_not_for_is_refused() {
    // An EC key cannot verify RS256; a key pinned to PS256 cannot verify RS256.
    let ec = test_key(Algorithm::ES256, "k1");
    let rsa = test_key(Algorithm::RS256, "k1");
    let e = check(&rsa.sign(Some("k1"), &claims()), &jwks(&[&ec])).unwrap_err();
    assert!(
        matches!(e, AssertionError::NoKeyForAlgorithm("RS256")),
        "{e:?}"
    );
    let mut pinned = rsa.jwk.clone();
    pinned["alg"] = "PS256".into();
    let e = check(&rsa.sign(Some("k1"), &claims()), &json!({"keys": [pinned]})).unwrap_err();
    assert_eq!(
        answered(e).description,
        "the client's JWK Set has no key for RS256"
    );
}

#[test]
fn an_unknown_kid_is_refused() {
    let key = test_key(Algorithm::ES256, "k1");
    let e = check(&key.sign(Some("k2"), &claims()), &jwks(&[&key])).unwrap_err();
    assert!(
        matches!(e, AssertionError::UnknownKey(ref k) if k == "k2"),
        "{e:?}"
    );
    assert_eq!(e.reason_code(), "unknown_kid");
    assert_eq!(
        answered(e).description,
        "the client's JWK Set has no key `k2` (the assertion's kid)"
    );
}

fn claim_error(edit: impl FnOnce(&mut Value)) -> AssertionError {
    let key = test_key(Algorithm::ES256, "k1");
    let mut c = claims();
    edit(&mut c);
    check(&key.sign(Some("k1"), &c), &jwks(&[&key])).unwrap_err()
}

#[test]
fn iss_and_sub_must_be_the_client_id() {
    let e = claim_error(|c| c["iss"] = "https://evil.example/client.json".into());
    assert_eq!(
        answered(e).description,
        format!(
            "the client assertion's `iss` is `https://evil.example/client.json`; it must be the client_id `{CLIENT}`"
        )
    );
    let e = claim_error(|c| c["sub"] = "user-1".into());
    assert!(
        matches!(e, AssertionError::WrongClient { claim: "sub", .. }),
        "{e:?}"
    );
    assert_eq!(e.reason_code(), "wrong_iss_or_sub");
    let e = claim_error(|c| {
        c.as_object_mut().unwrap().remove("sub");
    });
    assert!(matches!(e, AssertionError::MissingClaim("sub")), "{e:?}");
}

#[test]
fn aud_must_name_the_token_endpoint_or_the_issuer() {
    let e = claim_error(|c| c["aud"] = "https://as.example/authorize".into());
    assert_eq!(
        answered(e).description,
        format!(
            "the client assertion's `aud` is \"https://as.example/authorize\"; it must include `{TOKEN_ENDPOINT}` or `{ISSUER}`"
        )
    );
    let e = claim_error(|c| c["aud"] = json!([]));
    assert!(matches!(e, AssertionError::MissingClaim("aud")), "{e:?}");
    let e = claim_error(|c| {
        c.as_object_mut().unwrap().remove("aud");
    });
    assert!(matches!(e, AssertionError::MissingClaim("aud")), "{e:?}");
    // A prefix or a trailing slash is not the audience.
    let e = claim_error(|c| c["aud"] = format!("{ISSUER}/").into());
    assert_eq!(e.reason_code(), "wrong_aud");
}

#[test]
fn exp_is_required_and_must_be_near() {
    let e = claim_error(|c| {
        c.as_object_mut().unwrap().remove("exp");
    });
    assert!(matches!(e, AssertionError::MissingClaim("exp")), "{e:?}");
    assert_eq!(
        answered(e).description,
        "the client assertion has no valid `exp` claim"
    );
    let e = claim_error(|c| c["exp"] = "soon".into());
    assert!(matches!(e, AssertionError::MissingClaim("exp")), "{e:?}");
    // Far: one day ahead.
    let e = claim_error(|c| c["exp"] = (NOW + 86_400).into());
    assert_eq!(
        answered(e).description,
        "the client assertion's `exp` is 86400 s away; at most 600 s is accepted (sign a short-lived assertion for each request)"
    );
    // Just inside the bound (600 s plus 30 s leeway) is accepted.
    let key = test_key(Algorithm::ES256, "k1");
    let mut c = claims();
    c["exp"] = (NOW + 630).into();
    check(&key.sign(Some("k1"), &c), &jwks(&[&key])).unwrap();
    c["exp"] = (NOW + 631).into();
    assert_eq!(
        check(&key.sign(Some("k1"), &c), &jwks(&[&key]))
            .unwrap_err()
            .reason_code(),
        "exp_too_far"
    );
    // Past, beyond the leeway.
    let e = claim_error(|c| c["exp"] = (NOW - 30).into());
    assert_eq!(
        answered(e).description,
        format!("the client assertion expired at {} (now {NOW})", NOW - 30)
    );
    // Within the leeway it still counts.
    let mut c = claims();
    c["exp"] = (NOW - 29).into();
    check(&key.sign(Some("k1"), &c), &jwks(&[&key])).unwrap();
}

#[test]
fn nbf_and_iat_in_the_future_are_refused() {
    for claim in ["nbf", "iat"] {
        let e = claim_error(|c| c[claim] = (NOW + 120).into());
        assert_eq!(
            answered(e).description,
            format!(
                "the client assertion's `{claim}` ({}) is in the future (now {NOW})",
                NOW + 120
            )
        );
    }
}

#[test]
fn jti_is_required_and_bounded() {
    let e = claim_error(|c| {
        c.as_object_mut().unwrap().remove("jti");
    });
    assert_eq!(
        answered(e).description,
        "the client assertion has no valid `jti` claim"
    );
    let e = claim_error(|c| c["jti"] = "".into());
    assert!(matches!(e, AssertionError::MissingClaim("jti")), "{e:?}");
    let e = claim_error(|c| c["jti"] = "x".repeat(257).into());
    assert_eq!(e.reason_code(), "malformed");
}

#[test]
fn malformed_assertions_and_crit_headers_are_refused() {
    let key = test_key(Algorithm::ES256, "k1");
    let set = jwks(&[&key]);
    for bad in ["", "abc", "a.b", "a.b.c.d", "!!!.b.c"] {
        let e = check(bad, &set).unwrap_err();
        assert!(matches!(e, AssertionError::Malformed(_)), "{bad}: {e:?}");
    }
    let long = format!("{}.b.c", "a".repeat(MAX_ASSERTION_BYTES));
    assert_eq!(
        answered(check(&long, &set).unwrap_err()).description,
        "the client assertion is malformed: longer than 8192 bytes"
    );
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("k1".into());
    header.crit = Some(vec!["exp".into()]);
    let with_crit = encode(&header, &claims(), &key.encoding).unwrap();
    assert!(matches!(
        check(&with_crit, &set).unwrap_err(),
        AssertionError::Critical
    ));
}

#[test]
fn key_sets_with_private_or_weak_or_no_usable_keys_are_refused() {
    let key = test_key(Algorithm::ES256, "k1");
    let mut private = key.jwk.clone();
    private["d"] = "c2VjcmV0".into();
    assert_eq!(
        ClientKeys::from_jwks(&json!({"keys": [private]})).unwrap_err(),
        "the JWK Set contains private or symmetric key material"
    );
    assert!(ClientKeys::from_jwks(&json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]})).is_err());
    let weak = json!({"kty": "RSA", "kid": "old", "e": "AQAB", "n": URL_SAFE_NO_PAD.encode([0xc5u8; 128])});
    assert_eq!(
        ClientKeys::from_jwks(&json!({"keys": [weak]})).unwrap_err(),
        "the JWK Set has no usable signing key (RS256, PS256, ES256 or EdDSA): RSA key `old` has 1024 bits; at least 2048 are required"
    );
    let mut enc = key.jwk.clone();
    enc["use"] = "enc".into();
    assert!(ClientKeys::from_jwks(&json!({"keys": [enc]})).is_err());
    assert!(ClientKeys::from_jwks(&json!({"keys": []})).is_err());
    assert!(ClientKeys::from_jwks(&json!({"nokeys": 1})).is_err());
    // A usable key next to unusable ones is kept.
    let keys = ClientKeys::from_jwks(
        &json!({"keys": [{"kty": "EC", "crv": "P-384", "x": "a", "y": "b"}, key.jwk]}),
    )
    .unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys.has_kid("k1"));
}

#[test]
fn key_sources_come_from_client_metadata() {
    let meta = |v: Value| v.as_object().unwrap().clone();
    let m = meta(json!({"jwks": {"keys": []}}));
    assert!(matches!(
        KeySource::from_metadata(&m),
        Ok(KeySource::Inline(_))
    ));
    let m = meta(json!({"jwks_uri": "https://c.example/jwks.json"}));
    assert!(matches!(
        KeySource::from_metadata(&m),
        Ok(KeySource::Uri("https://c.example/jwks.json"))
    ));
    let m = meta(json!({"jwks": {"keys": []}, "jwks_uri": "https://c.example/jwks.json"}));
    assert!(KeySource::from_metadata(&m).is_err());
    assert!(KeySource::from_metadata(&meta(json!({}))).is_err());
}

#[tokio::test]
async fn a_jti_is_single_use_until_it_expires() {
    let key = test_key(Algorithm::ES256, "k1");
    let set = jwks(&[&key]);
    let store = MemoryStore::new();
    let verifier = ClientAssertionVerifier::new(policy(), JwksFetchConfig::default()).unwrap();
    let c = claims();
    let assertion = key.sign(Some("k1"), &c);
    verifier
        .verify(&assertion, CLIENT, KeySource::Inline(&set), &store, NOW)
        .await
        .unwrap();
    let e = verifier
        .verify(&assertion, CLIENT, KeySource::Inline(&set), &store, NOW + 5)
        .await
        .unwrap_err();
    assert_eq!(e.reason_code(), "replayed_jti");
    assert_eq!(
        answered(e).description,
        "the client assertion's `jti` was already used; sign a new assertion for each request"
    );
    // The same jti from another client is that client's own.
    let other = "https://other.example/client.json";
    let mut c2 = c.clone();
    c2["iss"] = other.into();
    c2["sub"] = other.into();
    verifier
        .verify(
            &key.sign(Some("k1"), &c2),
            other,
            KeySource::Inline(&set),
            &store,
            NOW,
        )
        .await
        .unwrap();
    // A refused assertion does not consume its jti.
    let mut c3 = claims();
    c3["aud"] = "https://elsewhere.example".into();
    let refused = key.sign(Some("k1"), &c3);
    assert!(
        verifier
            .verify(&refused, CLIENT, KeySource::Inline(&set), &store, NOW)
            .await
            .is_err()
    );
    c3["aud"] = TOKEN_ENDPOINT.into();
    verifier
        .verify(
            &key.sign(Some("k1"), &c3),
            CLIENT,
            KeySource::Inline(&set),
            &store,
            NOW,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn concurrent_replays_let_exactly_one_through() {
    let key = test_key(Algorithm::ES256, "k1");
    let set = std::sync::Arc::new(jwks(&[&key]));
    let store = std::sync::Arc::new(MemoryStore::new());
    let verifier = std::sync::Arc::new(
        ClientAssertionVerifier::new(policy(), JwksFetchConfig::default()).unwrap(),
    );
    let assertion = std::sync::Arc::new(key.sign(Some("k1"), &claims()));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (set, store, verifier, assertion) = (
                set.clone(),
                store.clone(),
                verifier.clone(),
                assertion.clone(),
            );
            tokio::spawn(async move {
                verifier
                    .verify(
                        &assertion,
                        CLIENT,
                        KeySource::Inline(&set),
                        store.as_ref(),
                        NOW,
                    )
                    .await
                    .is_ok()
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap() {
            ok += 1;
        }
    }
    assert_eq!(ok, 1);
}

#[cfg(feature = "cimd")]
mod fetched;
