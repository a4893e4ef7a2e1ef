//! The `Authorization` header, both ways it is read: `Bearer` by the
//! resource server's guard (`ResourceServer::check`, with the query's
//! `access_token` refusal) and `Basic` (or form credentials) by the
//! authorization server's client authentication (`authenticate_client`).
//!
//! Input: selector byte, then NUL-separated: Authorization values (one
//! header per line), the query, a form body. Selector bit 0 set: the
//! target also builds a well-formed `Basic` header for the confidential
//! client from the first field's bytes (scheme case, spacing, which
//! characters are percent-encoded), which must authenticate.
//!
//! Checked: a request passes the guard only with exactly one
//! `Authorization: Bearer <known token with the required scope>` and no
//! token in the query; every refusal is 400/401/403/503 with a challenge
//! that the CLI's `WWW-Authenticate` parser reads back: `Bearer`, the
//! metadata URL, and the error and description as sent; a bare challenge
//! (no `error`) only when no Bearer credentials were presented.
//! A confidential client authenticates only with its secret.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use oauth_mcp_cli::fuzzing::challenges;
use oauth_mcp_core::grant::ClientAuthEndpoint;
use oauth_mcp_core::params::Params;
use oauth_mcp_fuzz::{
    CLIENT_SECRET, CONFIDENTIAL_CLIENT, PUBLIC_CLIENT, TOKENS, block_on, fields, resource_server,
    text, with_oauth,
};

/// What RFC 6749 §2.3.1 says a Basic header carries, decoded independently.
fn basic(value: &str) -> Option<(String, String)> {
    let v = value.trim_start();
    let (scheme, rest) = v.split_once([' ', '\t'])?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = String::from_utf8(STANDARD.decode(rest.trim()).ok()?).ok()?;
    let (id, secret) = raw.split_once(':')?;
    let dec = |s: &str| {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((dec(id), dec(secret)))
}

/// A Basic header for the confidential client, shaped by `shape`.
fn well_formed_basic(shape: &[u8]) -> String {
    let bit = |i: usize| shape.get(i / 8).is_some_and(|b| b >> (i % 8) & 1 == 1);
    let enc = |s: &str, off: usize| -> String {
        s.chars()
            .enumerate()
            .map(|(i, c)| {
                if bit(off + i) {
                    format!("%{:02X}", c as u32)
                } else {
                    c.to_string()
                }
            })
            .collect()
    };
    let scheme: String = "Basic"
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if bit(64 + i) {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    let gap = if bit(70) { "\t" } else { " " };
    let creds = format!("{}:{}", enc(CONFIDENTIAL_CLIENT, 0), enc(CLIENT_SECRET, 24));
    format!(
        "{scheme}{gap}{}{}",
        STANDARD.encode(creds),
        if bit(71) { " " } else { "" }
    )
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let f = fields(rest, 3);
    let query = text(f[1]);
    let query = (!query.is_empty()).then_some(query);

    // The resource server's guard.
    let mut headers = HeaderMap::new();
    for line in f[0].split(|b| *b == b'\n') {
        if let Ok(v) = HeaderValue::from_bytes(line) {
            headers.append(http::header::AUTHORIZATION, v);
        }
    }
    let rs = resource_server();
    let values: Vec<_> = headers
        .get_all(http::header::AUTHORIZATION)
        .iter()
        .collect();
    match block_on(rs.check(&headers, query.as_deref(), None)) {
        Ok(ctx) => {
            assert_eq!(values.len(), 1);
            let v = values[0].to_str().expect("ASCII");
            let (scheme, token) = v.trim().split_once([' ', '\t']).expect("scheme and token");
            assert!(scheme.eq_ignore_ascii_case("bearer"), "{v}");
            let token = token.trim();
            let (_, scopes) = TOKENS
                .iter()
                .find(|(t, _)| *t == token)
                .expect("known token");
            assert!(scopes.split(' ').any(|s| s == "mcp"));
            assert!(ctx.scopes.contains("mcp"));
            assert!(!query.as_deref().is_some_and(|q| {
                form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "access_token")
            }));
        }
        Err(r) => {
            assert!(matches!(r.status, 400 | 401 | 403 | 503), "{r:?}");
            let parsed = challenges(&r.challenge);
            let ((scheme, params), is_bearer, rm) = parsed.first().expect("a challenge");
            assert!(is_bearer, "{scheme}");
            assert_eq!(parsed.len(), 1, "{}", r.challenge);
            assert_eq!(rm.as_deref(), Some(rs.metadata_url()));
            let param = |n: &str| params.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
            match r.error {
                Some(code) => {
                    assert_eq!(param("error"), Some(code.as_str()));
                    // What a quoted-string can carry of the description.
                    let sent: String = r
                        .description
                        .chars()
                        .map(|c| {
                            if c == '\t' || (' '..='~').contains(&c) {
                                c
                            } else {
                                '?'
                            }
                        })
                        .collect();
                    assert_eq!(param("error_description"), Some(sent.as_str()));
                }
                None => {
                    assert_eq!(r.status, 401);
                    assert_eq!(param("error"), None);
                    let presented_bearer = values.iter().any(|v| {
                        v.to_str().is_ok_and(|v| {
                            v.trim_start()
                                .split([' ', '\t'])
                                .next()
                                .is_some_and(|s| s.eq_ignore_ascii_case("bearer"))
                        })
                    });
                    assert!(
                        !presented_bearer,
                        "bare challenge to presented Bearer credentials"
                    );
                }
            }
        }
    }

    // The authorization server's client authentication.
    let form = Params::parse(f[2]);
    let first = values
        .first()
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let result = with_oauth(|oauth| {
        block_on(oauth.server().authenticate_client(
            ClientAuthEndpoint::Token,
            &form,
            first.as_deref(),
        ))
    });
    if let Ok(c) = &result {
        let c = &c.client;
        assert!(c.client_id == CONFIDENTIAL_CLIENT || c.client_id == PUBLIC_CLIENT);
        if c.is_confidential() {
            let by_header = first
                .as_deref()
                .and_then(basic)
                .is_some_and(|(id, s)| id == CONFIDENTIAL_CLIENT && s == CLIENT_SECRET);
            let by_form = form.single("client_secret").ok().flatten() == Some(CLIENT_SECRET);
            assert!(
                by_header || by_form,
                "confidential client without its secret"
            );
        }
    }
    if sel & 1 == 1 {
        let header = well_formed_basic(f[0]);
        let r = with_oauth(|oauth| {
            block_on(oauth.server().authenticate_client(
                ClientAuthEndpoint::Token,
                &Params::parse(b""),
                Some(header.as_str()),
            ))
        });
        assert!(
            r.is_ok_and(|c| c.client.client_id == CONFIDENTIAL_CLIENT),
            "{header}"
        );
    }
});
