//! Whether a POST body's bytes are the message the MCP server will read:
//! the guard reads them as UTF-8 JSON, so a request that asks the server to
//! decode them first (a `Content-Encoding` such as `gzip`, a `charset` other
//! than UTF-8 on its `Content-Type`) could name, once decoded, an operation
//! the guard never saw. Express's `express.json()` (the TypeScript SDK's
//! server) inflates compressed bodies and decodes `charset=utf-7`, where
//! `tools+AC8-call` is `tools/call`. JSON is UTF-8 on the wire (RFC 8259
//! §8.1) and MCP clients do not compress requests, so such a body is one the
//! guard cannot read for certain.

use http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue};

use super::operations::{MCP_METHOD, MCP_NAME, Operation};

/// The request headers [`GuardHeaders::sent_as_read`] depends on.
pub(crate) const FRAMING_HEADERS: [&str; 2] = ["content-type", "content-encoding"];

/// What the guard reads in a request's headers besides `Authorization`,
/// in one pass over them (a request carries a handful): whether its body
/// is read as sent, and the operation its `Mcp-Method` / `Mcp-Name`
/// headers name.
#[derive(Debug, Default)]
pub(crate) struct GuardHeaders<'h> {
    /// False if the headers ask for the body to be decoded before it is
    /// read: a `Content-Encoding` other than `identity`, a `Content-Type`
    /// whose `charset` is not UTF-8, or either header (with parameters, for
    /// the `Content-Type`) not readable as ASCII.
    pub(crate) sent_as_read: bool,
    /// The first `Mcp-Method` value.
    mcp_method: Option<&'h HeaderValue>,
    /// The first `Mcp-Name` value.
    mcp_name: Option<&'h HeaderValue>,
}

impl<'h> GuardHeaders<'h> {
    /// Reads `headers`: every value, repeats included.
    pub(crate) fn read(headers: &'h HeaderMap) -> Self {
        const MCP_METHOD_HEADER: HeaderName = HeaderName::from_static(MCP_METHOD);
        const MCP_NAME_HEADER: HeaderName = HeaderName::from_static(MCP_NAME);
        let mut read = GuardHeaders {
            sent_as_read: true,
            ..Self::default()
        };
        for (name, value) in headers {
            if name == CONTENT_ENCODING {
                read.sent_as_read &= value.to_str().is_ok_and(|v| {
                    v.split(',')
                        .map(str::trim)
                        .all(|c| c.is_empty() || c.eq_ignore_ascii_case("identity"))
                });
            } else if name == CONTENT_TYPE {
                // A type without parameters (`application/json`, what MCP
                // clients send) declares no charset: nothing more to read.
                read.sent_as_read &= memchr::memchr(b';', value.as_bytes()).is_none()
                    || value.to_str().is_ok_and(charset_is_utf8);
            } else if *name == MCP_METHOD_HEADER {
                read.mcp_method.get_or_insert(value);
            } else if *name == MCP_NAME_HEADER {
                read.mcp_name.get_or_insert(value);
            }
        }
        read
    }

    /// The operation named by the `Mcp-Method` and `Mcp-Name` headers.
    pub(crate) fn operation(&self) -> Option<Operation> {
        let method = self.mcp_method?.to_str().ok()?;
        let name = self.mcp_name?.to_str().ok()?;
        Operation::of(method, name)
    }
}

/// See [`GuardHeaders::sent_as_read`].
#[cfg(test)]
fn sent_as_read(headers: &HeaderMap) -> bool {
    GuardHeaders::read(headers).sent_as_read
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
    fn the_operation_of_the_mcp_headers_is_their_first_values() {
        let read = |pairs: &[(&'static str, &[u8])]| GuardHeaders::read(&with(pairs)).operation();
        let named = [
            ("content-type", &b"application/json"[..]),
            ("mcp-method", b"tools/call"),
            ("authorization", b"Bearer x"),
            ("mcp-name", b"admin_echo"),
            // As `HeaderMap::get` reads them: the first value of each.
            ("mcp-method", b"tools/list"),
            ("mcp-name", b"whoami"),
        ];
        assert_eq!(read(&named), Some(Operation::Tool("admin_echo".into())));
        assert_eq!(
            read(&[("mcp-name", b"p"), ("mcp-method", b"prompts/get")]),
            Some(Operation::Prompt("p".into()))
        );
        assert_eq!(read(&[("mcp-method", b"tools/call")]), None);
        assert_eq!(
            read(&[("mcp-method", b"tools/list"), ("mcp-name", b"x")]),
            None
        );
        assert_eq!(
            read(&[("mcp-method", b"tools/call"), ("mcp-name", b"\xff")]),
            None
        );
        assert_eq!(read(&[]), None);
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
