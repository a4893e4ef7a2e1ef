//! JWT access tokens as the resource server reads them: the local
//! validator (`LocalJwtValidator::validate_sync`), the remote JWKS
//! validator (`RemoteJwksValidator`, keys loaded once from loopback), and
//! the CLI's unverified decoder.
//!
//! Input: a selector byte, then either a raw token (even selector) or a
//! JOSE header, NUL, claims (odd selector), which the target signs with the
//! validators' key so that the header and claim checks are reached. An
//! empty header stands for `{"alg":"ES256","typ":"at+jwt","kid":<kid>}`.
//!
//! Checked: a token the local validator accepts the remote one accepts too
//! (it is the laxer: no `sub` needed), for the same subject and expiry; an
//! accepted token's claims really name the issuer, the resource as audience
//! and an expiry; the CLI decodes every accepted token to the same claims.
#![no_main]

use base64::Engine;
use libfuzzer_sys::fuzz_target;
use oauth_mcp_cli::fuzzing::decode_jwt;
use oauth_mcp_core::TokenValidator;
use oauth_mcp_fuzz::{
    ISSUER, RESOURCE, block_on, fields, local_validator, remote_validator, resource, sign,
    signing_key, text,
};
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let token = if sel % 2 == 0 {
        text(rest)
    } else {
        let f = fields(rest, 2);
        let header = if f[0].is_empty() {
            json!({"alg": "ES256", "typ": "at+jwt", "kid": signing_key().kid()})
                .to_string()
                .into_bytes()
        } else {
            f[0].to_vec()
        };
        sign(&header, f[1])
    };
    let local = local_validator().validate_sync(&token);
    let remote = block_on(remote_validator().validate(&token));
    let cli = decode_jwt(&token);
    // Claims that are not valid JSON text (an unpaired surrogate escape in
    // a field the local validator's typed decode skips) can only come from
    // a signer that writes invalid JSON; the validators may then disagree.
    let valid_json = token.split('.').nth(1).is_some_and(|p| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(p)
            .is_ok_and(|b| serde_json::from_slice::<serde_json::Value>(&b).is_ok())
    });
    if let (Ok((ctx, _gid)), true) = (&local, valid_json) {
        let r = remote
            .as_ref()
            .unwrap_or_else(|e| panic!("local accepted, remote refused: {e}"));
        assert_eq!(r.subject, ctx.subject);
        assert_eq!(r.expires_at, ctx.expires_at);
        assert_eq!(r.issuer, ctx.issuer);
        assert_eq!(r.audience, ctx.audience);
    }
    if let Ok(ctx) = &remote {
        assert_eq!(&*ctx.issuer, ISSUER);
        assert_eq!(&*ctx.audience, RESOURCE);
        let (header, claims, auds) = cli.expect("the CLI decodes an accepted token");
        assert_eq!(header["alg"], "ES256");
        assert_eq!(claims["iss"], ISSUER);
        assert!(claims["exp"].is_i64(), "{claims}");
        assert_eq!(ctx.expires_at, claims["exp"].as_i64().unwrap_or_default());
        let auds = auds.expect("an accepted token has an audience");
        assert!(auds.iter().any(|a| resource().matches(a)), "{auds:?}");
        let sub = claims.get("sub").and_then(Value::as_str);
        if let Some(sub) = sub {
            assert_eq!(&*ctx.subject, sub);
        }
    }
});
