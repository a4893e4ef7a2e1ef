//! Conversion between actix-web's `http` 0.2 types and the core's `http` 1
//! types, by bytes and strings. The only place the two versions meet.

use actix_web::body::BoxBody;
use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;
use oauth_mcp_core::http::{PROTECT_READS_HEADERS, PROTECTED_RESPONSE_HEADERS, PeerAddr};

/// The request line and headers of an actix request as core `http` 1 parts.
pub fn to_core_parts(req: &HttpRequest) -> http::request::Parts {
    let mut b = http::Request::builder()
        .method(
            http::Method::from_bytes(req.method().as_str().as_bytes()).unwrap_or(http::Method::GET),
        )
        .uri(req.uri().to_string());
    if let Some(headers) = b.headers_mut() {
        for (name, value) in req.headers() {
            if let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(name.as_str().as_bytes()),
                http::HeaderValue::from_bytes(value.as_bytes()),
            ) {
                headers.append(n, v);
            }
        }
    }
    // Only an unparsable URI could fail here, and actix already parsed it.
    b.body(())
        .map(|r| r.into_parts().0)
        .unwrap_or_else(|_| http::Request::new(()).into_parts().0)
}

/// An actix request and its body as a core request, with the connection's
/// peer address as a [`PeerAddr`] extension (the core's rate limits count
/// requests by it).
pub fn to_core_request(req: &HttpRequest, body: Bytes) -> http::Request<Bytes> {
    let mut parts = to_core_parts(req);
    if let Some(peer) = req.peer_addr() {
        parts.extensions.insert(PeerAddr(peer));
    }
    http::Request::from_parts(parts, body)
}

/// Copies core (`http` 1) headers into an actix response's headers. A name
/// present in `from` replaces what `to` had under it (actix sets defaults
/// such as `content-type` that must not survive beside the core's value);
/// repeated values of one name are all kept.
pub fn copy_headers(from: &http::HeaderMap, to: &mut actix_web::http::header::HeaderMap) {
    for name in from.keys() {
        let Ok(n) = actix_web::http::header::HeaderName::from_bytes(name.as_str().as_bytes())
        else {
            continue;
        };
        to.remove(&n);
        for value in from.get_all(name) {
            if let Ok(v) = actix_web::http::header::HeaderValue::from_bytes(value.as_bytes()) {
                to.append(n.clone(), v);
            }
        }
    }
}

/// A core response as an actix response.
pub fn to_actix_response(r: http::Response<Bytes>) -> HttpResponse<BoxBody> {
    let (parts, body) = r.into_parts();
    let status = actix_web::http::StatusCode::from_u16(parts.status.as_u16())
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = HttpResponse::with_body(status, body).map_into_boxed_body();
    copy_headers(&parts.headers, resp.headers_mut());
    resp
}

/// What [`oauth_mcp_core::http::protect`] reads of an actix request as core
/// parts: the method, the path and query, and only the
/// [`PROTECT_READS_HEADERS`] (converting every header was a measured third
/// of the middleware's cost per request).
pub(crate) fn to_protect_parts(req: &HttpRequest) -> http::request::Parts {
    let mut parts = http::Request::new(()).into_parts().0;
    parts.method =
        http::Method::from_bytes(req.method().as_str().as_bytes()).unwrap_or(http::Method::GET);
    if let Some(pq) = req.uri().path_and_query()
        && let Ok(uri) = http::Uri::try_from(pq.as_str())
    {
        parts.uri = uri;
    }
    for (theirs, ours) in protect_header_names() {
        for value in req.headers().get_all(theirs) {
            if let Ok(v) = http::HeaderValue::from_bytes(value.as_bytes()) {
                parts.headers.append(ours.clone(), v);
            }
        }
    }
    parts
}

/// [`PROTECT_READS_HEADERS`] as actix and as core header names, made once.
fn protect_header_names() -> &'static [(actix_web::http::header::HeaderName, http::HeaderName)] {
    static NAMES: std::sync::LazyLock<
        Vec<(actix_web::http::header::HeaderName, http::HeaderName)>,
    > = std::sync::LazyLock::new(|| {
        PROTECT_READS_HEADERS
            .iter()
            .map(|n| {
                (
                    actix_web::http::header::HeaderName::from_static(n),
                    http::HeaderName::from_static(n),
                )
            })
            .collect()
    });
    &NAMES
}

/// Adds the core's [`PROTECTED_RESPONSE_HEADERS`] to an actix response's
/// headers (what `decorate_protected` does to an `http::HeaderMap`).
pub(crate) fn decorate_protected_actix(to: &mut actix_web::http::header::HeaderMap) {
    use actix_web::http::header::{HeaderName, HeaderValue};
    static HEADERS: std::sync::LazyLock<Vec<(HeaderName, HeaderValue)>> =
        std::sync::LazyLock::new(|| {
            PROTECTED_RESPONSE_HEADERS
                .iter()
                .map(|(n, v)| (HeaderName::from_static(n), HeaderValue::from_static(v)))
                .collect()
        });
    for (name, value) in HEADERS.iter() {
        to.insert(name.clone(), value.clone());
    }
}

/// Reads a payload up to `limit` bytes; `None` if it is larger (or broken).
/// A payload that arrives in one chunk is returned as it came, without a copy.
pub(crate) async fn read_body(mut payload: actix_web::dev::Payload, limit: usize) -> Option<Bytes> {
    use futures_util::StreamExt;
    let mut buf = oauth_mcp_core::http::BodyBuffer::new(limit);
    while let Some(chunk) = payload.next().await {
        buf.push(chunk.ok()?).ok()?;
    }
    Some(buf.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn round_trip_keeps_method_uri_headers_and_status() {
        let req = TestRequest::post()
            .uri("/token?a=1")
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .insert_header(("authorization", "Basic eDp5"))
            .to_http_request();
        let core = to_core_request(&req, Bytes::from_static(b"x=1"));
        assert_eq!(core.method(), http::Method::POST);
        assert_eq!(core.uri().path(), "/token");
        assert_eq!(core.uri().query(), Some("a=1"));
        assert_eq!(core.headers()["authorization"], "Basic eDp5");
        let mut r = http::Response::new(Bytes::from_static(b"{}"));
        *r.status_mut() = http::StatusCode::UNAUTHORIZED;
        r.headers_mut()
            .insert("www-authenticate", http::HeaderValue::from_static("Basic"));
        let a = to_actix_response(r);
        assert_eq!(a.status().as_u16(), 401);
        assert_eq!(
            a.headers().get("www-authenticate").map(|v| v.as_bytes()),
            Some(&b"Basic"[..])
        );
    }

    #[test]
    fn protect_parts_carry_what_protect_reads() {
        let req = TestRequest::post()
            .uri("/mcp?access_token=x")
            .append_header(("authorization", "Bearer a"))
            .append_header(("authorization", "Bearer b"))
            .insert_header(("mcp-method", "tools/call"))
            .insert_header(("mcp-name", "admin_echo"))
            .insert_header(("cookie", "s=1"))
            .to_http_request();
        let p = to_protect_parts(&req);
        assert_eq!(p.method, http::Method::POST);
        assert_eq!(p.uri.path(), "/mcp");
        assert_eq!(p.uri.query(), Some("access_token=x"));
        let auth: Vec<_> = p.headers.get_all("authorization").iter().collect();
        assert_eq!(auth, ["Bearer a", "Bearer b"]);
        assert_eq!(p.headers["mcp-method"], "tools/call");
        assert_eq!(p.headers["mcp-name"], "admin_echo");
        assert_eq!(p.headers.len(), 4, "{:?}", p.headers);

        let mut to = actix_web::http::header::HeaderMap::new();
        decorate_protected_actix(&mut to);
        let mut expected = http::HeaderMap::new();
        oauth_mcp_core::http::decorate_protected(&mut expected);
        assert_eq!(to.len(), expected.len());
        for (name, value) in &expected {
            assert_eq!(
                to.get(name.as_str()).map(|v| v.as_bytes()),
                Some(value.as_bytes())
            );
        }
    }

    #[test]
    fn copied_headers_replace_defaults_and_keep_repeats() {
        let mut to = actix_web::http::header::HeaderMap::new();
        to.insert(
            actix_web::http::header::CONTENT_TYPE,
            actix_web::http::header::HeaderValue::from_static("application/octet-stream"),
        );
        let mut from = http::HeaderMap::new();
        from.insert(
            "content-type",
            http::HeaderValue::from_static("text/event-stream"),
        );
        from.append("vary", http::HeaderValue::from_static("a"));
        from.append("vary", http::HeaderValue::from_static("b"));
        copy_headers(&from, &mut to);
        assert_eq!(to.get_all("content-type").count(), 1);
        assert_eq!(
            to.get("content-type").map(|v| v.as_bytes()),
            Some(&b"text/event-stream"[..])
        );
        assert_eq!(to.get_all("vary").count(), 2);
    }
}
