//! The decision on a request to a protected route (the MCP endpoint):
//! serve it with an identity, or answer with a refusal or a preflight.

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Response, StatusCode};
use serde_json::json;

use super::{CORS_EXPOSE_HEADERS, add_cors, error_response, json_response, preflight};
use crate::bearer::BearerRefusal;
use crate::error::OAuthError;
use crate::resource_server::{NotJson, ResourceServer};
use crate::validate::AuthContext;

/// The response for a refused protected request: its status, the
/// `WWW-Authenticate` challenge, CORS headers (so browser clients can read the
/// challenge) and a JSON body explaining why.
pub fn refusal_response(r: &BearerRefusal) -> Response<Bytes> {
    let body = match r.error {
        Some(e) => json!({"error": e.as_str(), "error_description": r.description}),
        None => json!({"error_description": r.description}),
    };
    let mut resp = json_response(r.status, &body);
    if let Ok(v) = HeaderValue::from_str(&r.challenge) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    if r.status == 503 {
        resp.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(super::RETRY_AFTER_SECS),
        );
    }
    add_cors(&mut resp);
    resp
}

/// What a protected route should do with a request.
#[derive(Debug)]
pub enum Protection {
    /// Serve it, with this identity in the request extensions.
    Allow(AuthContext),
    /// Answer with this response instead (a refusal, or a CORS preflight).
    Respond(Response<Bytes>),
}

/// Decides on a request to the protected MCP endpoint. `body` is the
/// buffered body when [`ResourceServer::body_limit`] asked for it. CORS
/// preflights are answered without a token. A body that is not UTF-8 JSON
/// (or that the guard cannot read for certain, see
/// [`ResourceServer::check`]) is answered with [`jsonrpc_parse_error`]
/// once the token is accepted, before the scopes are checked.
pub async fn protect(
    rs: &ResourceServer,
    parts: &http::request::Parts,
    body: Option<&[u8]>,
) -> Protection {
    if parts.method == Method::OPTIONS {
        return Protection::Respond(preflight("GET, POST, DELETE, OPTIONS"));
    }
    match rs.check_json(&parts.headers, parts.uri.query(), body).await {
        Ok(Ok(ctx)) => Protection::Allow(ctx),
        Ok(Err(NotJson)) => Protection::Respond(jsonrpc_parse_error()),
        Err(r) => Protection::Respond(refusal_response(&r)),
    }
}

/// The JSON-RPC 2.0 answer to a body that is not JSON (§5.1: code -32700,
/// `id` null), status 400, so that an MCP client reads the error as it reads
/// any other, the same on every framework. Sent only to a caller whose token
/// was accepted.
pub fn jsonrpc_parse_error() -> Response<Bytes> {
    let mut r = json_response(
        400,
        &json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": "Parse error"}}),
    );
    add_cors(&mut r);
    r
}

/// The headers [`decorate_protected`] adds to every answer of a protected
/// route, as lowercase names and values: the same two every cross-origin
/// answer of the library gets. For an adapter whose framework has its own
/// header types (it can add them without building an `http::HeaderMap`).
pub const PROTECTED_RESPONSE_HEADERS: [(&str, &str); 2] = [
    ("access-control-allow-origin", "*"),
    ("access-control-expose-headers", CORS_EXPOSE_HEADERS),
];

/// The only request headers [`protect`] (and [`ResourceServer::check`])
/// read, as lowercase names: `Authorization`, the `Mcp-Method` /
/// `Mcp-Name` pair, and `Content-Type` / `Content-Encoding` (a body the
/// server would decode first is one the guard cannot read for certain).
/// An adapter whose framework has its own header types may convert just
/// these.
pub const PROTECT_READS_HEADERS: [&str; 5] = [
    "authorization",
    crate::resource_server::MCP_METHOD,
    crate::resource_server::MCP_NAME,
    crate::resource_server::FRAMING_HEADERS[0],
    crate::resource_server::FRAMING_HEADERS[1],
];

/// Adds the CORS headers a protected response needs (the MCP endpoint's
/// successful answers are read cross-origin too), the
/// [`PROTECTED_RESPONSE_HEADERS`].
pub fn decorate_protected(headers: &mut http::HeaderMap) {
    // The same list as typed constants: nothing is parsed per response.
    const TYPED: [(HeaderName, HeaderValue); 2] = [
        (
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static(PROTECTED_RESPONSE_HEADERS[0].1),
        ),
        (
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(PROTECTED_RESPONSE_HEADERS[1].1),
        ),
    ];
    for (name, value) in TYPED {
        headers.insert(name, value);
    }
}

/// How long a request body may take to arrive once its headers have (a
/// client that announces a body and stalls must not hold the connection).
pub const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Awaits `read` (an adapter reading a request body) for at most
/// [`BODY_READ_TIMEOUT`]; past that, the answer to send instead. A body
/// that has already arrived (a small JSON-RPC message usually comes with
/// its headers) is taken at the first poll, without arming a timer.
pub async fn within_body_timeout<T>(
    read: impl std::future::Future<Output = T>,
) -> Result<T, Response<Bytes>> {
    let mut read = std::pin::pin!(read);
    let first = std::future::poll_fn(|cx| std::task::Poll::Ready(read.as_mut().poll(cx))).await;
    if let std::task::Poll::Ready(body) = first {
        return Ok(body);
    }
    // Boxed: the timer is rarely needed, and a timer held in this future
    // would make every future that awaits it larger (and its moves longer).
    Box::pin(tokio::time::timeout(BODY_READ_TIMEOUT, read))
        .await
        .map_err(|_| body_timeout())
}

/// The 408 answer when a body did not arrive in time (`Connection: close`).
pub fn body_timeout() -> Response<Bytes> {
    let mut r = error_response(&OAuthError::invalid_request(format!(
        "the request body did not arrive within {} s",
        BODY_READ_TIMEOUT.as_secs()
    )));
    *r.status_mut() = StatusCode::REQUEST_TIMEOUT;
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

/// The 413 answer when a body exceeds `limit` bytes (adapters stop reading there).
pub fn body_too_large(limit: usize) -> Response<Bytes> {
    let mut r = error_response(&OAuthError::invalid_request(format!(
        "request body too large (limit {limit} bytes)"
    )));
    *r.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    r
}

/// The answer when a handler asks for the authenticated identity on a route
/// that no Bearer guard protects: a server misconfiguration, not a client error.
pub fn unguarded_route() -> Response<Bytes> {
    error_response(&OAuthError::server_error(
        "this route reads the OAuth identity but is not behind the Bearer layer; wrap it with the oauth-mcp layer",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_body_at_hand_is_taken_and_a_stalled_one_times_out() {
        assert_eq!(within_body_timeout(async { 7 }).await.unwrap(), 7);
        // Arrives after one wait, well within the limit.
        let late = async {
            tokio::time::sleep(BODY_READ_TIMEOUT / 2).await;
            8
        };
        assert_eq!(within_body_timeout(late).await.unwrap(), 8);
        let start = tokio::time::Instant::now();
        let stalled = within_body_timeout(std::future::pending::<()>()).await;
        let r = stalled.unwrap_err();
        assert_eq!(r.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(r.headers()[header::CONNECTION], "close");
        assert_eq!(start.elapsed(), BODY_READ_TIMEOUT);
    }

    #[test]
    fn decorate_protected_adds_exactly_the_listed_headers() {
        let mut h = http::HeaderMap::new();
        decorate_protected(&mut h);
        assert_eq!(h.len(), PROTECTED_RESPONSE_HEADERS.len());
        for (name, value) in PROTECTED_RESPONSE_HEADERS {
            assert_eq!(h[name], value, "{name}");
        }
    }
}
