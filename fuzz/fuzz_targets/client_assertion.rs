//! `private_key_jwt` client assertions (RFC 7523): the header reader
//! (`parse_header`), a client's JWK Set (`ClientKeys::from_slice`, from its
//! registration or its `jwks_uri`), and `verify_signed` on assertions whose
//! fuzzed header and claims the target signs with a key of that set.
//!
//! Input: selector byte (mod 3): 0 a raw assertion; 1 a JWK Set; 2 header,
//! NUL, claims (an empty header stands for ES256 with the key's `kid`).
//!
//! Checked: a verified assertion has `iss` = `sub` = the client, an
//! accepted audience, an unexpired `exp` at most the policy's lifetime
//! away, a non-empty `jti`, and the header's `kid` and algorithm; a parsed
//! JWK Set has at least one usable key and no private member.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use oauth_mcp_core::client_assertion::{
    AssertionAlgorithm, AssertionPolicy, ClientKeys, parse_header, verify_signed,
};
use oauth_mcp_fuzz::{ISSUER, fields, jwks, sign, signing_key, text};
use serde_json::{Value, json};

const CLIENT: &str = "https://app.example/client.json";
const TOKEN_ENDPOINT: &str = "http://127.0.0.1:8080/token";
const NOW: i64 = 1_700_000_000;

fn keys() -> &'static ClientKeys {
    static K: OnceLock<ClientKeys> = OnceLock::new();
    K.get_or_init(|| ClientKeys::from_jwks(&jwks()).expect("the server's own JWKS is usable"))
}

fn check(assertion: &str) {
    let policy = AssertionPolicy::new(TOKEN_ENDPOINT, ISSUER);
    let header = parse_header(assertion);
    let Ok(v) = verify_signed(assertion, CLIENT, keys(), &policy, NOW) else {
        return;
    };
    let header = header.expect("a verified assertion has a readable header");
    assert_eq!(v.kid, header.kid);
    assert_eq!(v.algorithm, header.algorithm);
    assert_eq!(v.algorithm, AssertionAlgorithm::Es256);
    assert_eq!(v.client_id, CLIENT);
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            assertion.split('.').nth(1).expect("payload"),
        )
        .expect("base64url payload"),
    )
    .expect("JSON payload");
    assert_eq!(claims["iss"], CLIENT);
    assert_eq!(claims["sub"], CLIENT);
    let auds: Vec<&str> = match &claims["aud"] {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    assert!(
        auds.iter().any(|a| *a == TOKEN_ENDPOINT || *a == ISSUER),
        "{auds:?}"
    );
    assert!(v.expires_at + 30 > NOW, "expired: {}", v.expires_at);
    assert!(v.expires_at - NOW <= 600 + 30, "too long: {}", v.expires_at);
    assert!(!v.jti.is_empty());
    assert_eq!(claims["jti"].as_str(), Some(v.jti.as_str()));
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    match sel % 3 {
        0 => check(&text(rest)),
        1 => {
            if let Ok(k) = ClientKeys::from_slice(rest) {
                assert!(!k.is_empty() && k.len() <= 20);
                let v: Value = serde_json::from_slice(rest).expect("parsed once");
                for key in v["keys"].as_array().expect("keys") {
                    for m in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
                        assert!(key.get(m).is_none(), "private member `{m}` accepted");
                    }
                }
            }
        }
        _ => {
            let f = fields(rest, 2);
            let header = if f[0].is_empty() {
                json!({"alg": "ES256", "kid": signing_key().kid()})
                    .to_string()
                    .into_bytes()
            } else {
                f[0].to_vec()
            };
            check(&sign(&header, f[1]));
        }
    }
});
