//! RFC 6750 on the resource side: reading the Bearer token from a request
//! (header only, scheme in any case) and building the `WWW-Authenticate`
//! challenge of a refusal, its values escaped as RFC 9110 quoted-strings.

use http::HeaderMap;

use crate::authorization::credentials_bytes;
use crate::error::ErrorCode;
use crate::events::AuditEvent;
use crate::scope::{OFFLINE_ACCESS, ScopeSet};

/// Why a request to a protected route was refused.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerRefusal {
    /// 400, 401, 403 or 503.
    pub status: u16,
    /// The RFC 6750 error, or `None` for a bare challenge (no credentials).
    pub error: Option<ErrorCode>,
    /// The description (also in the challenge).
    pub description: String,
    /// The `WWW-Authenticate` value.
    pub challenge: String,
}

/// The content of an RFC 9110 quoted-string for `s`: `"` and `\` are
/// backslash-escaped; control characters and non-ASCII (which header values
/// cannot carry portably) become `?`.
pub fn quoted_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\t' | ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out.push('"');
    out
}

/// The `WWW-Authenticate: Bearer` value pointing at `prm_url`, naming `scope`
/// (never `offline_access`) and, for a presented token, the error.
pub(crate) fn challenge(
    prm_url: &str,
    error: Option<(ErrorCode, &str)>,
    scope: &ScopeSet,
) -> String {
    let mut c = format!("Bearer resource_metadata={}", quoted_string(prm_url));
    let scope = scope.without(OFFLINE_ACCESS);
    if !scope.is_empty() {
        c.push_str(&format!(", scope={}", quoted_string(&scope.to_string())));
    }
    if let Some((code, desc)) = error {
        c.push_str(&format!(
            ", error={}, error_description={}",
            quoted_string(code.as_str()),
            quoted_string(desc)
        ));
    }
    c
}

/// A refusal with its challenge, written to the audit log.
pub(crate) fn refusal(
    prm_url: &str,
    status: u16,
    error: Option<ErrorCode>,
    description: String,
    scope: &ScopeSet,
) -> BearerRefusal {
    let challenge = challenge(prm_url, error.map(|e| (e, description.as_str())), scope);
    AuditEvent::BearerRefused {
        status,
        error,
        reason: &description,
    }
    .emit();
    BearerRefusal {
        status,
        error,
        description,
        challenge,
    }
}

/// Why no token could be read: status, error (none for a bare challenge) and
/// description.
pub(crate) type NoToken = (u16, Option<ErrorCode>, String);

/// Why a token beyond ASCII is refused.
pub(crate) const NOT_ASCII: &str = "the Authorization header is not ASCII";

/// The Bearer token of a request, its bytes as sent: exactly one `Authorization` header with the
/// `Bearer` scheme (any case); tokens in the query string are refused.
pub(crate) fn bearer_token<'a>(
    headers: &'a HeaderMap,
    query: Option<&str>,
    prm_url: &str,
) -> Result<&'a [u8], NoToken> {
    if query.is_some_and(|q| form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "access_token"))
    {
        return Err((
            400,
            Some(ErrorCode::InvalidRequest),
            "access tokens in the query string are refused; send Authorization: Bearer <token>"
                .into(),
        ));
    }
    let mut all = headers.get_all(http::header::AUTHORIZATION).iter();
    let first = all.next();
    if all.next().is_some() {
        return Err((
            400,
            Some(ErrorCode::InvalidRequest),
            "several Authorization headers".into(),
        ));
    }
    let Some(first) = first else {
        return Err((
            401,
            None,
            format!(
                "this resource needs an OAuth access token; discover how to get one at {prm_url}"
            ),
        ));
    };
    // The token's bytes as they came: a repeated token is looked up in the
    // validator's cache by them, with no UTF-8 check (only validated tokens
    // are cached); `ResourceServer::check` checks a token it must validate
    // in full, and names a token beyond ASCII (see `NOT_ASCII`).
    if let Some(token) = credentials_bytes(first.as_bytes(), "Bearer") {
        return Ok(token);
    }
    // Only UTF-8 here (SIMD, where `HeaderValue::to_str` checks byte by
    // byte), to name the scheme.
    let Ok(value) = simdutf8::basic::from_utf8(first.as_bytes()) else {
        return Err((401, Some(ErrorCode::InvalidToken), NOT_ASCII.into()));
    };
    let scheme = value.trim_start().split([' ', '\t']).next().unwrap_or("");
    if scheme.eq_ignore_ascii_case("bearer") {
        return Err((
            401,
            Some(ErrorCode::InvalidToken),
            "empty or malformed Bearer credentials".into(),
        ));
    }
    Err((
        401,
        None,
        format!("the `{scheme}` scheme is not accepted; use Bearer"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_strings_escape_per_rfc_9110() {
        assert_eq!(quoted_string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(quoted_string("tab\tok \u{e9}\n"), "\"tab\tok ??\"");
        let c = challenge(
            "https://h/.well-known/oauth-protected-resource/mcp",
            Some((ErrorCode::InvalidToken, r#"kid "x\y" unknown"#)),
            &ScopeSet::parse("mcp offline_access").unwrap(),
        );
        assert_eq!(
            c,
            r#"Bearer resource_metadata="https://h/.well-known/oauth-protected-resource/mcp", scope="mcp", error="invalid_token", error_description="kid \"x\\y\" unknown""#
        );
        assert!(http::HeaderValue::from_str(&c).is_ok());
    }

    #[test]
    fn bearer_scheme_in_any_case() {
        for v in ["Bearer t", "bearer t", "BEARER t", "BeArEr   t"] {
            let mut h = HeaderMap::new();
            h.insert("authorization", v.parse().unwrap());
            assert_eq!(bearer_token(&h, None, "u").unwrap(), b"t", "{v}");
        }
        let mut h = HeaderMap::new();
        h.insert("authorization", "BEARER ".parse().unwrap());
        assert_eq!(
            bearer_token(&h, None, "u").unwrap_err().1,
            Some(ErrorCode::InvalidToken)
        );
        h.insert("authorization", "Basic abc".parse().unwrap());
        let (status, error, why) = bearer_token(&h, None, "u").unwrap_err();
        assert_eq!((status, error), (401, None));
        assert!(why.contains("`Basic`"), "{why}");
    }

    #[test]
    fn bytes_beyond_utf8() {
        // A Bearer token is handed on as its bytes (the check refuses one
        // beyond ASCII when it must validate it, see the resource server
        // suite); another scheme beyond UTF-8 is refused here.
        for v in [&b"Bearer t\xe9"[..], b"Bearer \xff\xfe"] {
            let mut h = HeaderMap::new();
            h.insert("authorization", http::HeaderValue::from_bytes(v).unwrap());
            assert_eq!(bearer_token(&h, None, "u").unwrap(), &v[7..], "{v:?}");
        }
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            http::HeaderValue::from_bytes(b"B\xe9arer t").unwrap(),
        );
        let (status, error, why) = bearer_token(&h, None, "u").unwrap_err();
        assert_eq!((status, error), (401, Some(ErrorCode::InvalidToken)));
        assert_eq!(why, NOT_ASCII);
        h.insert("authorization", http::HeaderValue::from_static("Bearer\tt"));
        assert_eq!(bearer_token(&h, None, "u").unwrap(), b"t", "tab separates");
    }
}
