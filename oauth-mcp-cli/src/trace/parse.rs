//! Parsers for what servers send: `WWW-Authenticate` challenges,
//! server-sent events, JWT payloads, plus URL comparisons (canonical
//! resources, loopback, redirect targets). HTML is read in `html.rs`, the
//! well-known URLs are built in `wellknown.rs`. None of them panics on any
//! input; each loop consumes input on every iteration.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth_mcp_core::resource::ResourceUri;
use serde_json::Value;
use url::Url;

// ------------------------------------------------------------ challenges

/// One challenge of a `WWW-Authenticate` header: scheme and auth-params.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    /// The scheme as sent (`Bearer`).
    pub(crate) scheme: String,
    /// Auth-params, names lower-cased, in order.
    pub(crate) params: Vec<(String, String)>,
}

impl Challenge {
    /// The value of a parameter (name case-insensitive).
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True for the `Bearer` scheme.
    pub(crate) fn is_bearer(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("bearer")
    }
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// Parses a `WWW-Authenticate` value into its challenges (RFC 9110 §11.6.1):
/// `Scheme k=v, k2="v 2", Other k=v`. Malformed parts are skipped.
pub(crate) fn parse_challenges(value: &str) -> Vec<Challenge> {
    let chars: Vec<char> = value.chars().collect();
    let mut out: Vec<Challenge> = Vec::new();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < chars.len() && (chars[*i] == ' ' || chars[*i] == '\t' || chars[*i] == ',') {
            *i += 1;
        }
    };
    while i < chars.len() {
        skip_ws(&mut i);
        // A token: a scheme, or a parameter name.
        let start = i;
        while i < chars.len() && is_tchar(chars[i]) {
            i += 1;
        }
        if i == start {
            // Not a token character: skip it.
            i += 1;
            continue;
        }
        let token: String = chars[start..i].iter().collect();
        let mut j = i;
        while j < chars.len() && (chars[j] == ' ' || chars[j] == '\t') {
            j += 1;
        }
        if j < chars.len() && chars[j] == '=' && !out.is_empty() {
            // name = value
            i = j + 1;
            while i < chars.len() && (chars[i] == ' ' || chars[i] == '\t') {
                i += 1;
            }
            let mut v = String::new();
            if i < chars.len() && chars[i] == '"' {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        i += 1;
                    }
                    v.push(chars[i]);
                    i += 1;
                }
                i += 1; // closing quote (or past the end)
            } else {
                while i < chars.len() && chars[i] != ',' {
                    v.push(chars[i]);
                    i += 1;
                }
                v = v.trim().to_owned();
            }
            if let Some(c) = out.last_mut() {
                c.params.push((token.to_ascii_lowercase(), v));
            }
        } else if j < chars.len() && chars[j] == '=' {
            // token68 or a parameter before any scheme: ignore up to the comma.
            while i < chars.len() && chars[i] != ',' {
                i += 1;
            }
        } else {
            out.push(Challenge {
                scheme: token,
                params: Vec::new(),
            });
        }
    }
    out
}

/// `s` cut to `max` characters, with `…` when cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut t: String = s.chars().take(max).collect();
    t.push('…');
    t
}

// ------------------------------------------------------------ SSE

/// Splits off the complete events of an SSE buffer: returns each event's
/// `data` (lines joined with `\n`) and leaves the incomplete rest in `buf`.
/// Lines end with CRLF, LF or CR, mixed freely (the SSE grammar); an empty
/// line ends an event. A CR at the very end of the buffer may be the first
/// half of a CRLF, so its line waits for the next chunk.
pub(crate) fn drain_sse_events(buf: &mut String) -> Vec<String> {
    let mut events = Vec::new();
    let mut data: Vec<&str> = Vec::new();
    let bytes = buf.as_bytes();
    let (mut pos, mut consumed) = (0, 0);
    while let Some(rel) = bytes[pos..].iter().position(|&b| b == b'\n' || b == b'\r') {
        let end = pos + rel;
        let next = match (bytes[end], bytes.get(end + 1)) {
            (b'\r', None) => break,
            (b'\r', Some(b'\n')) => end + 2,
            _ => end + 1,
        };
        let line = &buf[pos..end];
        if line.is_empty() {
            if !data.is_empty() {
                events.push(data.join("\n"));
                data.clear();
            }
            consumed = next;
        } else if line == "data" {
            data.push("");
        } else if let Some(d) = line.strip_prefix("data:") {
            data.push(d.strip_prefix(' ').unwrap_or(d));
        }
        pos = next;
    }
    buf.replace_range(..consumed, "");
    events
}

/// Moves the decodable part of `pending` (bytes of a UTF-8 stream read in
/// chunks) to `out`: complete characters as they are, an invalid sequence
/// as U+FFFD (so one bad byte cannot stall the stream), and an incomplete
/// character at the end left in `pending` for the next chunk.
pub(crate) fn decode_utf8_chunk(pending: &mut Vec<u8>, out: &mut String) {
    loop {
        match std::str::from_utf8(pending) {
            Ok(s) => {
                out.push_str(s);
                pending.clear();
                return;
            }
            Err(e) => {
                let valid = e.valid_up_to();
                out.push_str(&String::from_utf8_lossy(&pending[..valid]));
                match e.error_len() {
                    Some(bad) => {
                        out.push(char::REPLACEMENT_CHARACTER);
                        pending.drain(..valid + bad);
                    }
                    None => {
                        pending.drain(..valid);
                        return;
                    }
                }
            }
        }
    }
}

// ------------------------------------------------------------ JWT

/// A JWT's decoded header and claims (not verified: the tracer only reads them).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JwtParts {
    /// The JOSE header.
    pub(crate) header: Value,
    /// The claims.
    pub(crate) claims: Value,
}

fn b64_json(part: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.is_object().then_some(v)
}

/// Decodes a compact JWS (three base64url parts, JSON header with `alg`,
/// JSON object claims); `None` for anything else (an opaque token, a JWE).
pub(crate) fn decode_jwt(token: &str) -> Option<JwtParts> {
    let mut parts = token.split('.');
    let (h, c, _s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header = b64_json(h)?;
    header.get("alg")?.as_str()?;
    Some(JwtParts {
        header,
        claims: b64_json(c)?,
    })
}

/// The `aud` claim as a list (a string is a list of one).
pub(crate) fn audiences(claims: &Value) -> Option<Vec<String>> {
    match claims.get("aud")? {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(a) => Some(
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        ),
        _ => None,
    }
}

// ------------------------------------------------------------ URLs

/// True if `a` and `b` name the same resource after canonicalisation (case
/// of scheme and host, default port, one trailing slash).
pub(crate) fn same_resource(a: &str, b: &str) -> bool {
    match (ResourceUri::parse(a), ResourceUri::parse(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// The canonical form of a resource URI, or the input when it is not one.
pub(crate) fn canonical(s: &str) -> String {
    ResourceUri::parse(s).map_or_else(|_| s.to_owned(), |r| r.to_string())
}

/// `scheme://host[:port]` of a URL.
pub(crate) fn origin(u: &Url) -> String {
    u.origin().ascii_serialization()
}

pub(crate) use oauth_mcp_core::net::is_loopback;

/// True if `location` is `redirect_uri` plus query parameters (same scheme,
/// host, port and path).
pub(crate) fn is_redirect_to(location: &Url, redirect_uri: &Url) -> bool {
    location.scheme() == redirect_uri.scheme()
        && location.host_str().map(str::to_ascii_lowercase)
            == redirect_uri.host_str().map(str::to_ascii_lowercase)
        && location.port_or_known_default() == redirect_uri.port_or_known_default()
        && location.path() == redirect_uri.path()
}

/// The first value of a query parameter.
pub(crate) fn query_param(u: &Url, name: &str) -> Option<String> {
    u.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let c = parse_challenges(
            r#"Bearer resource_metadata="http://h/.well-known/oauth-protected-resource/mcp", scope="mcp admin""#,
        );
        assert_eq!(c.len(), 1);
        assert!(c[0].is_bearer());
        assert_eq!(
            c[0].param("resource_metadata"),
            Some("http://h/.well-known/oauth-protected-resource/mcp")
        );
        assert_eq!(c[0].param("SCOPE"), Some("mcp admin"));
        let c = parse_challenges(
            r#"Basic realm="x", Bearer error=invalid_token, error_description="a \"b\", c""#,
        );
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].param("error"), Some("invalid_token"));
        assert_eq!(c[1].param("error_description"), Some("a \"b\", c"));
        assert_eq!(parse_challenges("Bearer").len(), 1);
        for junk in ["", "=", "\"", "Bearer a=\"unterminated", "  ,,, ", "é=è"] {
            let _ = parse_challenges(junk);
        }
    }

    #[test]
    fn sse() {
        let mut buf =
            "event: message\ndata: {\"a\":1}\n\n: comment\n\ndata:x\ndata: y\r\n\r\ndata: partial"
                .to_owned();
        assert_eq!(drain_sse_events(&mut buf), vec!["{\"a\":1}", "x\ny"]);
        assert_eq!(buf, "data: partial");
        // Spec-valid lines a strict parser would refuse are ignored, as an
        // EventSource client ignores them.
        let mut buf = "noise\nevent: a\nevent: b\nunknown: x\ndata: z\n\n".to_owned();
        assert_eq!(drain_sse_events(&mut buf), vec!["z"]);
        // Mixed line endings end events too: CR, CRLF then LF, LF then CRLF.
        let mut buf = "data: a\r\rdata: b\r\n\ndata: c\n\r\ndata\ndata: d\r".to_owned();
        assert_eq!(drain_sse_events(&mut buf), vec!["a", "b", "c"]);
        // A trailing CR may be half of a CRLF: its line waits.
        assert_eq!(buf, "data\ndata: d\r");
        buf.push_str("\n\n");
        assert_eq!(drain_sse_events(&mut buf), vec!["\nd"]);
        assert_eq!(buf, "");
    }

    #[test]
    fn utf8_chunks() {
        let mut out = String::new();
        let mut pending = "dé".as_bytes()[..2].to_vec();
        decode_utf8_chunk(&mut pending, &mut out);
        assert_eq!((out.as_str(), pending.len()), ("d", 1));
        pending.extend_from_slice(&"é".as_bytes()[1..]);
        pending.extend_from_slice(b"x\xffy");
        decode_utf8_chunk(&mut pending, &mut out);
        assert_eq!(out, "déx\u{fffd}y");
        assert!(pending.is_empty());
    }

    #[test]
    fn jwt() {
        let enc = |v: &str| URL_SAFE_NO_PAD.encode(v);
        let t = format!(
            "{}.{}.sig",
            enc(r#"{"alg":"ES256","typ":"at+jwt"}"#),
            enc(r#"{"aud":["a","b"],"sub":"x"}"#)
        );
        let j = decode_jwt(&t).unwrap();
        assert_eq!(
            audiences(&j.claims),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
        assert!(decode_jwt("3f8a-uuid").is_none());
        assert!(decode_jwt("a.b.c").is_none());
        assert!(decode_jwt(&format!("{}.{}", enc("{}"), enc("{}"))).is_none());
    }

    #[test]
    fn urls() {
        assert!(same_resource(
            "HTTPS://H.example:443/mcp/",
            "https://h.example/mcp"
        ));
        assert!(!same_resource(
            "https://h.example/mcp",
            "https://h.example/"
        ));
        assert!(!same_resource(
            "https://h.example:8443/mcp",
            "https://h.example/mcp"
        ));
        let loc = Url::parse("http://127.0.0.1:33418/callback?code=x").unwrap();
        assert!(is_redirect_to(
            &loc,
            &Url::parse("http://127.0.0.1:33418/callback").unwrap()
        ));
        assert!(!is_redirect_to(
            &loc,
            &Url::parse("http://127.0.0.1:1/callback").unwrap()
        ));
        assert_eq!(query_param(&loc, "code").as_deref(), Some("x"));
    }
}
