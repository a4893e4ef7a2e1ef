//! The framework-neutral HTTP layer: `http::Request<Bytes>` in,
//! `http::Response<Bytes>` out. It owns every status code, header, CORS
//! header and error body, so adapters only translate types and mount paths.
//! This module holds the shared response helpers and the [`Endpoints`]
//! trait adapters mount; [`OAuthHttp`] (the authorization server's endpoints)
//! and the protected-route decision ([`protect`]) live in submodules.

mod body;
mod limits;
mod oauth;
mod pages;
mod protect;
mod resource;
#[cfg(feature = "upstream")]
mod upstream;

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode};
use serde_json::json;

use crate::error::{ErrorCode, OAuthError};

pub use body::{BodyBuffer, BodyTooLarge};
pub use limits::PeerAddr;
pub(crate) use limits::log_rate_limited;
pub use oauth::OAuthHttp;
pub use protect::{
    BODY_READ_TIMEOUT, PROTECT_READS_HEADERS, PROTECTED_RESPONSE_HEADERS, Protection, body_timeout,
    body_too_large, decorate_protected, jsonrpc_parse_error, protect, refusal_response,
    unguarded_route, within_body_timeout,
};

/// Request headers a browser-based MCP client may send cross-origin.
pub const CORS_ALLOW_HEADERS: &str = "Authorization, Content-Type, MCP-Protocol-Version, Mcp-Session-Id, Mcp-Method, Mcp-Name, Last-Event-ID";
/// Response headers a browser-based client must be able to read.
pub const CORS_EXPOSE_HEADERS: &str = "WWW-Authenticate, Mcp-Session-Id, MCP-Protocol-Version";

/// `Retry-After` (seconds) on every 503: storage outages usually last
/// seconds, and the pool gives up on a connection within 3 s.
pub(crate) const RETRY_AFTER_SECS: &str = "5";

pub(crate) fn response(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Bytes> {
    let mut r = Response::new(body.into());
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

pub(crate) fn json_response(status: u16, v: &impl serde::Serialize) -> Response<Bytes> {
    response(
        status,
        "application/json",
        serde_json::to_vec(v).unwrap_or_default(),
    )
}

pub(crate) fn no_store(r: &mut Response<Bytes>) {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// The RFC 6749 §5.2 JSON error response for `e`; `invalid_client` carries
/// `WWW-Authenticate: Basic`.
pub fn error_response(e: &OAuthError) -> Response<Bytes> {
    let mut r = json_response(
        e.code.http_status(),
        &json!({"error": e.code.as_str(), "error_description": e.description}),
    );
    if e.code == ErrorCode::InvalidClient {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"oauth-mcp\", charset=\"UTF-8\""),
        );
    }
    if e.code == ErrorCode::InvalidToken {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
    }
    if let Some(secs) = e.retry_after_secs {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    } else if e.code == ErrorCode::TemporarilyUnavailable {
        r.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECS),
        );
    }
    no_store(&mut r);
    r
}

/// An HTML page with the security headers every page gets and `csp`.
pub(crate) fn html_response(status: u16, html: String, csp: &str) -> Response<Bytes> {
    let mut r = response(status, "text/html; charset=utf-8", html);
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(csp)
            .unwrap_or_else(|_| HeaderValue::from_static(crate::login::DEFAULT_CSP)),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    no_store(&mut r);
    r
}

/// Adds the CORS headers for a cross-origin call (no credentials: `*`).
pub fn add_cors(r: &mut Response<Bytes>) {
    decorate_protected(r.headers_mut());
}

/// The answer to a CORS preflight (`OPTIONS`).
pub fn preflight(methods: &str) -> Response<Bytes> {
    let mut r = response(204, "text/plain", Bytes::new());
    r.headers_mut().remove(header::CONTENT_TYPE);
    add_cors(&mut r);
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(methods) {
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, v);
    }
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(CORS_ALLOW_HEADERS),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    r
}

pub(crate) fn content_type_is(req: &Request<Bytes>, expected: &str) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(expected))
}

/// A set of endpoints an adapter mounts: the paths, the body limit, and one
/// handler. Implemented by [`OAuthHttp`] (an embedded authorization server)
/// and [`crate::ResourceServer`] (its protected-resource metadata).
#[async_trait::async_trait]
pub trait Endpoints: Send + Sync + 'static {
    /// Every path to mount.
    fn paths(&self) -> Vec<String>;
    /// The largest request body to read, in bytes.
    fn max_body_bytes(&self) -> usize;
    /// Answers one request.
    async fn handle(&self, req: Request<Bytes>) -> Response<Bytes>;
}

/// A 405 answer naming the allowed methods.
pub(crate) fn method_not_allowed(
    path: &str,
    method: &http::Method,
    allow: &str,
) -> Response<Bytes> {
    let mut r = error_response(&OAuthError::invalid_request(format!(
        "method {method} is not allowed on `{path}`; use {allow}"
    )));
    *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    if let Ok(v) = HeaderValue::from_str(allow) {
        r.headers_mut().insert(header::ALLOW, v);
    }
    r
}
