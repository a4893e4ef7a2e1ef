//! The decision on a request to a protected route (the MCP endpoint):
//! serve it with an identity, or answer with a refusal or a preflight.

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Response, StatusCode};
use serde_json::json;

use super::{CORS_EXPOSE_HEADERS, add_cors, error_response, json_response, preflight};
use crate::bearer::BearerRefusal;
use crate::error::OAuthError;
use crate::resource_server::ResourceServer;
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
/// preflights are answered without a token.
pub async fn protect(
    rs: &ResourceServer,
    parts: &http::request::Parts,
    body: Option<&[u8]>,
) -> Protection {
    if parts.method == Method::OPTIONS {
        return Protection::Respond(preflight("GET, POST, DELETE, OPTIONS"));
    }
    match rs.check(&parts.headers, parts.uri.query(), body).await {
        Ok(ctx) => Protection::Allow(ctx),
        Err(r) => Protection::Respond(refusal_response(&r)),
    }
}

/// Adds the CORS headers a protected response needs (the MCP endpoint's
/// successful answers are read cross-origin too); every cross-origin answer
/// of the library gets the same two.
pub fn decorate_protected(headers: &mut http::HeaderMap) {
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(CORS_EXPOSE_HEADERS),
    );
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
