//! Whether a POST body's bytes are the message the MCP server will read:
//! the guard reads them as UTF-8 JSON, so a request that asks the server to
//! decode them first (a `Content-Encoding` such as `gzip`, a `charset` other
//! than UTF-8 on its `Content-Type`) could name, once decoded, an operation
//! the guard never saw. Express's `express.json()` (the TypeScript SDK's
//! server) inflates compressed bodies and decodes `charset=utf-7`, where
//! `tools+AC8-call` is `tools/call`. JSON is UTF-8 on the wire (RFC 8259
//! §8.1) and MCP clients do not compress requests, so such a body is one the
//! guard cannot read for certain.

use http::HeaderMap;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE};

/// The request headers [`sent_as_read`] looks at.
pub(crate) const FRAMING_HEADERS: [&str; 2] = ["content-type", "content-encoding"];

/// False if the headers ask for the body to be decoded before it is read:
/// a `Content-Encoding` other than `identity`, a `Content-Type` whose
/// `charset` is not UTF-8, or either header (with parameters, for the
/// `Content-Type`) not readable as ASCII.
pub(crate) fn sent_as_read(headers: &HeaderMap) -> bool {
    // MCP clients send no `Content-Encoding`: one lookup decides it.
    let encodings_are_identity = headers.get(CONTENT_ENCODING).is_none()
        || headers.get_all(CONTENT_ENCODING).iter().all(|v| {
            v.to_str().is_ok_and(|v| {
                v.split(',')
                    .map(str::trim)
                    .all(|c| c.is_empty() || c.eq_ignore_ascii_case("identity"))
            })
        });
    encodings_are_identity
        && headers.get_all(CONTENT_TYPE).iter().all(|v| {
            // A type without parameters (`application/json`, what MCP
            // clients send) declares no charset: nothing more to read.
            !v.as_bytes().contains(&b';') || v.to_str().is_ok_and(charset_is_utf8)
        })
}

/// True if a `Content-Type` value names no charset or only UTF-8 (`utf-8`
/// or `utf8`, any case, quoted or not).
fn charset_is_utf8(content_type: &str) -> bool {
    content_type.split(';').skip(1).all(|param| {
        let Some((name, value)) = param.split_once('=') else {
            return true;
        };
        if !name.trim().eq_ignore_ascii_case("charset") {
            return true;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        value.eq_ignore_ascii_case("utf-8") || value.eq_ignore_ascii_case("utf8")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&'static str, &[u8])]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, http::HeaderValue::from_bytes(v).unwrap());
        }
        h
    }

    #[test]
    fn plain_json_is_read_as_sent() {
        for ok in [
            &[][..],
            &[("content-type", &b"application/json"[..])],
            &[("content-type", b"application/json; charset=utf-8")],
            &[("content-type", b"application/json;charset=UTF-8")],
            &[("content-type", b"application/json; charset=\"utf-8\"")],
            &[("content-type", b"application/json; charset=utf8; x=y")],
            &[("content-type", b"application/json; boundary")],
            &[("content-encoding", b"identity")],
            &[("content-encoding", b"")],
        ] {
            assert!(sent_as_read(&with(ok)), "{ok:?}");
        }
    }

    #[test]
    fn a_body_the_server_would_decode_first_is_not() {
        for bad in [
            &[("content-type", &b"application/json; charset=utf-7"[..])][..],
            &[("content-type", b"application/json; charset=UTF-16LE")],
            &[("content-type", b"application/json; charset=\"utf-7\"")],
            &[(
                "content-type",
                b"application/json; charset=utf-8; charset=utf-7",
            )],
            &[
                ("content-type", b"application/json"),
                ("content-type", b"application/json; charset=latin1"),
            ],
            &[("content-type", b"application/json; charset=\xff")],
            &[("content-encoding", b"gzip")],
            &[("content-encoding", b"identity, br")],
            &[
                ("content-encoding", b"identity"),
                ("content-encoding", b"deflate"),
            ],
        ] {
            assert!(!sent_as_read(&with(bad)), "{bad:?}");
        }
    }
}
