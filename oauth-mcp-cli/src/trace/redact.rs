//! Redaction: what leaves the tracer (step texts, the exchanges it
//! prints and saves) never holds a token, code, secret or password, by
//! name (query and form parameters, JSON members, credential headers) and
//! by value (every secret the flow has seen).

use serde_json::Value;
use url::Url;

use super::recorder::Exchange;
use crate::secret::REDACTED;

/// Parameter names whose values are secrets (query strings, form bodies, JSON).
const SECRET_KEYS: &[&str] = &[
    "code",
    "code_verifier",
    "client_secret",
    "password",
    "access_token",
    "refresh_token",
    "id_token",
    "token",
    "request_id",
    "registration_access_token",
    "client_assertion",
    "assertion",
    "subject_token",
];

/// Headers whose values are secrets.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

fn is_secret_key(k: &str) -> bool {
    SECRET_KEYS.iter().any(|s| k.eq_ignore_ascii_case(s))
}

/// Replaces every known secret value in `s`.
fn replace_known(s: &str, secrets: &[String]) -> String {
    let mut out = s.to_owned();
    for v in secrets {
        if out.contains(v.as_str()) {
            out = out.replace(v.as_str(), REDACTED);
        }
        // Also the form-encoded and percent-encoded spellings.
        let enc: String = form_urlencoded::byte_serialize(v.as_bytes()).collect();
        if enc != *v && out.contains(enc.as_str()) {
            out = out.replace(enc.as_str(), REDACTED);
        }
    }
    out
}

/// Redacts secret parameters of a URL's query.
fn redact_url(s: &str) -> String {
    let Ok(mut u) = Url::parse(s) else {
        return s.to_owned();
    };
    if u.query().is_none() {
        return s.to_owned();
    }
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| {
            let v = if is_secret_key(&k) {
                REDACTED.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    u.query_pairs_mut().clear().extend_pairs(pairs);
    u.to_string()
}

/// Redacts a form-encoded body's secret fields.
fn redact_form(s: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form_urlencoded::parse(s.as_bytes()).map(|(k, v)| {
            let v = if is_secret_key(&k) {
                REDACTED.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        }))
        .finish()
}

/// Redacts secret members anywhere in a JSON value.
fn redact_json(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                if is_secret_key(k) && val.is_string() {
                    *val = Value::String(REDACTED.to_owned());
                } else {
                    redact_json(val);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact_json),
        _ => {}
    }
}

/// Redacts a body: JSON members, form fields, then every known secret.
fn redact_body(s: &str, content_type: Option<&str>, secrets: &[String]) -> String {
    let ct = content_type.unwrap_or_default().to_ascii_lowercase();
    let structured = if let Ok(mut v) = serde_json::from_str::<Value>(s) {
        redact_json(&mut v);
        serde_json::to_string(&v).unwrap_or_default()
    } else if ct.starts_with("application/x-www-form-urlencoded") {
        redact_form(s)
    } else {
        s.to_owned()
    };
    replace_known(&structured, secrets)
}

/// Redacts free text (a message, a URL, a header) with the known secrets
/// and the URL rules.
pub(crate) fn redact_text(s: &str, secrets: &[String]) -> String {
    replace_known(&redact_url(s), secrets)
}

fn redact_headers(h: &[(String, String)], secrets: &[String]) -> Vec<(String, String)> {
    h.iter()
        .map(|(k, v)| {
            let lk = k.to_ascii_lowercase();
            let v = if SECRET_HEADERS.contains(&lk.as_str()) {
                // Keep the scheme: it tells Basic from Bearer.
                match v.split_once(' ') {
                    Some((scheme, _)) if lk.ends_with("authorization") => {
                        format!("{scheme} {REDACTED}")
                    }
                    _ => REDACTED.to_owned(),
                }
            } else if lk == "location" || lk == "content-location" {
                redact_text(v, secrets)
            } else {
                replace_known(v, secrets)
            };
            (k.clone(), v)
        })
        .collect()
}

pub(crate) fn redact_exchange(e: &Exchange, secrets: &[String]) -> Exchange {
    let req_ct = e
        .request_headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.as_str());
    Exchange {
        url: redact_text(&e.url, secrets),
        request_headers: redact_headers(&e.request_headers, secrets),
        request_body: e
            .request_body
            .as_ref()
            .map(|b| redact_body(b, req_ct, secrets)),
        response_headers: redact_headers(&e.response_headers, secrets),
        response_body: e
            .response_body
            .as_ref()
            .map(|b| redact_body(b, e.response_header("content-type"), secrets)),
        error: e.error.as_ref().map(|m| replace_known(m, secrets)),
        ..e.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction() {
        let secrets = vec!["s3cr3t-token".to_owned(), "a b+c".to_owned()];
        assert_eq!(
            redact_text(
                "http://h/cb?code=abc&state=xyz&iss=http%3A%2F%2Fh",
                &secrets
            ),
            "http://h/cb?code=%5Bredacted%5D&state=xyz&iss=http%3A%2F%2Fh"
        );
        assert_eq!(
            redact_body(
                "grant_type=authorization_code&code=abc&code_verifier=v&client_id=c",
                Some("application/x-www-form-urlencoded"),
                &secrets
            ),
            "grant_type=authorization_code&code=%5Bredacted%5D&code_verifier=%5Bredacted%5D&client_id=c"
        );
        assert_eq!(
            redact_body(
                r#"{"access_token":"x","nested":{"refresh_token":"y"},"token_type":"Bearer"}"#,
                None,
                &secrets
            ),
            r#"{"access_token":"[redacted]","nested":{"refresh_token":"[redacted]"},"token_type":"Bearer"}"#
        );
        assert_eq!(
            redact_body("<p>s3cr3t-token a+b%2Bc</p>", Some("text/html"), &secrets),
            "<p>[redacted] [redacted]</p>"
        );
        let h = redact_headers(
            &[
                ("Authorization".into(), "Bearer s3cr3t-token".into()),
                ("Location".into(), "http://h/?code=1".into()),
            ],
            &secrets,
        );
        assert_eq!(h[0].1, "Bearer [redacted]");
        assert_eq!(h[1].1, "http://h/?code=%5Bredacted%5D");
    }
}
