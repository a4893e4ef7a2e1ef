//! The framework-neutral HTTP layer: `http::Request<Bytes>` in,
//! `http::Response<Bytes>` out. It owns every status code, header, CORS
//! header and error body, so adapters only translate types and mount paths.

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use crate::authorize::AuthorizeOutcome;
use crate::bearer::{BearerRefusal, ResourceGuard};
use crate::error::{ErrorCode, OAuthError};
use crate::metadata::{authorization_server_metadata, protected_resource_metadata};
use crate::server::AuthServer;
use crate::validate::AuthContext;

/// Request headers a browser-based MCP client may send cross-origin.
pub const CORS_ALLOW_HEADERS: &str = "Authorization, Content-Type, MCP-Protocol-Version, Mcp-Session-Id, Mcp-Method, Mcp-Name, Last-Event-ID";
/// Response headers a browser-based client must be able to read.
pub const CORS_EXPOSE_HEADERS: &str = "WWW-Authenticate, Mcp-Session-Id, MCP-Protocol-Version";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    ProtectedResource,
    AuthorizationServer,
    Authorize,
    Token,
    Register,
    Revoke,
    Introspect,
    Jwks,
}

impl Endpoint {
    fn methods(self) -> &'static [Method] {
        match self {
            Self::Authorize => &[Method::GET, Method::POST],
            Self::Token | Self::Register | Self::Revoke | Self::Introspect => &[Method::POST],
            _ => &[Method::GET],
        }
    }

    /// Browser clients call everything but /authorize cross-origin.
    fn cors(self) -> bool {
        self != Self::Authorize
    }
}

/// Every OAuth endpoint of an embedded authorization server, as one handler.
#[derive(Debug, Clone)]
pub struct OAuthHttp {
    server: AuthServer,
    routes: Vec<(String, Endpoint)>,
}

fn response(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Bytes> {
    let mut r = Response::new(body.into());
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

fn json_response(status: u16, v: &Value) -> Response<Bytes> {
    response(
        status,
        "application/json",
        serde_json::to_vec(v).unwrap_or_default(),
    )
}

fn no_store(r: &mut Response<Bytes>) {
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
    if e.code == ErrorCode::TemporarilyUnavailable {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    no_store(&mut r);
    r
}

fn html_response(status: u16, html: String) -> Response<Bytes> {
    let mut r = response(status, "text/html; charset=utf-8", html);
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"),
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
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(CORS_EXPOSE_HEADERS),
    );
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

fn content_type_is(req: &Request<Bytes>, expected: &str) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(expected))
}

impl OAuthHttp {
    /// The HTTP face of `server`.
    pub fn new(server: AuthServer) -> Self {
        let cfg = server.config().clone();
        let ip = cfg.issuer_path().to_owned();
        let mut routes = vec![
            (cfg.prm_path(), Endpoint::ProtectedResource),
            (
                "/.well-known/oauth-protected-resource".to_owned(),
                Endpoint::ProtectedResource,
            ),
            (
                format!("/.well-known/oauth-authorization-server{ip}"),
                Endpoint::AuthorizationServer,
            ),
            (
                format!("/.well-known/openid-configuration{ip}"),
                Endpoint::AuthorizationServer,
            ),
            (
                format!("{ip}/.well-known/openid-configuration"),
                Endpoint::AuthorizationServer,
            ),
            // Clients written for 2025-03-26 look at the origin's root.
            (
                "/.well-known/oauth-authorization-server".to_owned(),
                Endpoint::AuthorizationServer,
            ),
            (cfg.endpoint_path("/authorize"), Endpoint::Authorize),
            (cfg.endpoint_path("/token"), Endpoint::Token),
            (cfg.endpoint_path("/revoke"), Endpoint::Revoke),
            (cfg.endpoint_path("/introspect"), Endpoint::Introspect),
            (cfg.endpoint_path("/jwks.json"), Endpoint::Jwks),
        ];
        if cfg.registration_enabled() {
            routes.push((cfg.endpoint_path("/register"), Endpoint::Register));
        }
        let mut seen = std::collections::HashSet::new();
        routes.retain(|(p, _)| seen.insert(p.clone()));
        Self { server, routes }
    }

    /// The authorization server behind it.
    pub fn server(&self) -> &AuthServer {
        &self.server
    }

    /// Every path this handler answers; adapters mount each one.
    pub fn paths(&self) -> Vec<String> {
        self.routes.iter().map(|(p, _)| p.clone()).collect()
    }

    /// A guard for the MCP endpoint that accepts this server's tokens.
    pub fn resource_guard(&self) -> ResourceGuard {
        ResourceGuard::for_server(&self.server)
    }

    /// Answers one request. Never panics; every failure is an RFC 6749 body.
    pub async fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        let path = req.uri().path();
        let Some(&(_, endpoint)) = self.routes.iter().find(|(p, _)| p == path) else {
            return error_response(&OAuthError::invalid_request(format!(
                "no OAuth endpoint at `{path}`"
            )));
        };
        let allowed = endpoint.methods();
        let allow_list = allowed
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        if req.method() == Method::OPTIONS {
            return preflight(&format!("{allow_list}, OPTIONS"));
        }
        let mut resp = if !allowed.contains(req.method()) {
            let mut r = error_response(&OAuthError::invalid_request(format!(
                "method {} is not allowed on `{path}`; use {allow_list}",
                req.method()
            )));
            *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            if let Ok(v) = HeaderValue::from_str(&allow_list) {
                r.headers_mut().insert(header::ALLOW, v);
            }
            r
        } else if req.body().len() > self.server.config().max_body_bytes() {
            let mut r = error_response(&OAuthError::invalid_request(format!(
                "request body too large (limit {} bytes)",
                self.server.config().max_body_bytes()
            )));
            *r.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            r
        } else {
            self.dispatch(endpoint, &req).await
        };
        if endpoint.cors() {
            add_cors(&mut resp);
        }
        resp
    }

    async fn dispatch(&self, endpoint: Endpoint, req: &Request<Bytes>) -> Response<Bytes> {
        let cfg = self.server.config();
        let authorization = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        match endpoint {
            Endpoint::ProtectedResource => json_response(200, &protected_resource_metadata(cfg)),
            Endpoint::AuthorizationServer => {
                json_response(200, &authorization_server_metadata(cfg))
            }
            Endpoint::Jwks => match serde_json::to_value(cfg.keys().jwks()) {
                Ok(v) => json_response(200, &v),
                Err(e) => error_response(&OAuthError::server_error(e.to_string())),
            },
            Endpoint::Authorize => {
                let outcome = if req.method() == Method::GET {
                    self.server
                        .authorize_get(req.uri().query().unwrap_or("").as_bytes())
                        .await
                } else if !content_type_is(req, "application/x-www-form-urlencoded") {
                    AuthorizeOutcome::ErrorPage {
                        status: 415,
                        error: ErrorCode::InvalidRequest,
                        html: crate::login::render_error(
                            "Unsupported form",
                            "the login form must be posted as application/x-www-form-urlencoded",
                        ),
                    }
                } else {
                    self.server.authorize_post(req.body()).await
                };
                match outcome {
                    AuthorizeOutcome::Login { status, html } => html_response(status, html),
                    AuthorizeOutcome::ErrorPage { status, html, .. } => html_response(status, html),
                    AuthorizeOutcome::Redirect(to) => {
                        let mut r = html_response(303, String::new());
                        match HeaderValue::from_str(&to) {
                            Ok(v) => {
                                r.headers_mut().insert(header::LOCATION, v);
                                r
                            }
                            Err(_) => html_response(
                                500,
                                crate::login::render_error(
                                    "Error",
                                    "the redirect URI cannot be sent",
                                ),
                            ),
                        }
                    }
                }
            }
            Endpoint::Token => {
                if !content_type_is(req, "application/x-www-form-urlencoded") {
                    return error_response(&OAuthError::invalid_request(
                        "token requests must be sent as application/x-www-form-urlencoded (RFC 6749 §4.1.3)",
                    ));
                }
                match self.server.token(req.body(), authorization).await {
                    Ok(t) => {
                        let mut r =
                            json_response(200, &serde_json::to_value(&t).unwrap_or_default());
                        no_store(&mut r);
                        r
                    }
                    Err(e) => error_response(&e),
                }
            }
            Endpoint::Register => {
                if !content_type_is(req, "application/json") {
                    return error_response(&OAuthError::new(
                        ErrorCode::InvalidClientMetadata,
                        "registration requests must be sent as application/json (RFC 7591 §3.1)",
                    ));
                }
                match self.server.register(req.body(), authorization).await {
                    Ok(v) => {
                        let mut r = json_response(201, &v);
                        no_store(&mut r);
                        r
                    }
                    Err(e) => error_response(&e),
                }
            }
            Endpoint::Revoke => {
                if !content_type_is(req, "application/x-www-form-urlencoded") {
                    return error_response(&OAuthError::invalid_request(
                        "revocation requests must be application/x-www-form-urlencoded",
                    ));
                }
                match self.server.revoke(req.body(), authorization).await {
                    Ok(()) => {
                        let mut r = response(200, "application/json", "{}");
                        no_store(&mut r);
                        r
                    }
                    Err(e) => error_response(&e),
                }
            }
            Endpoint::Introspect => {
                if !content_type_is(req, "application/x-www-form-urlencoded") {
                    return error_response(&OAuthError::invalid_request(
                        "introspection requests must be application/x-www-form-urlencoded",
                    ));
                }
                match self.server.introspect(req.body(), authorization).await {
                    Ok(v) => {
                        let mut r = json_response(200, &v);
                        no_store(&mut r);
                        r
                    }
                    Err(e) => error_response(&e),
                }
            }
        }
    }
}

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

/// Decides on a request to a protected route. `body` is the buffered body
/// when [`ResourceGuard::needs_body`] is true. CORS preflights are answered
/// without a token.
pub async fn protect(
    guard: &ResourceGuard,
    parts: &http::request::Parts,
    body: Option<&[u8]>,
) -> Protection {
    if parts.method == Method::OPTIONS {
        return Protection::Respond(preflight("GET, POST, DELETE, OPTIONS"));
    }
    match guard.check(&parts.headers, parts.uri.query(), body).await {
        Ok(ctx) => Protection::Allow(ctx),
        Err(r) => Protection::Respond(refusal_response(&r)),
    }
}

/// Adds the CORS headers a protected response needs (the MCP endpoint's
/// successful answers are read cross-origin too).
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

/// A set of endpoints an adapter mounts: the paths, the body limit, and one
/// handler. Implemented by [`OAuthHttp`] (an embedded authorization server)
/// and [`ResourceMetadataHttp`] (a resource server trusting an external one).
#[async_trait::async_trait]
pub trait Endpoints: Send + Sync + 'static {
    /// Every path to mount.
    fn paths(&self) -> Vec<String>;
    /// The largest request body to read, in bytes.
    fn max_body_bytes(&self) -> usize;
    /// Answers one request.
    async fn handle(&self, req: Request<Bytes>) -> Response<Bytes>;
}

#[async_trait::async_trait]
impl Endpoints for OAuthHttp {
    fn paths(&self) -> Vec<String> {
        OAuthHttp::paths(self)
    }
    fn max_body_bytes(&self) -> usize {
        self.server.config().max_body_bytes()
    }
    async fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        OAuthHttp::handle(self, req).await
    }
}

/// The protected-resource metadata (RFC 9728) of a resource server whose
/// tokens come from an external authorization server: no authorization-server
/// endpoint is mounted.
#[derive(Debug, Clone)]
pub struct ResourceMetadataHttp {
    document: Value,
    paths: Vec<String>,
    url: String,
}

impl ResourceMetadataHttp {
    /// The metadata for `resource`, naming `authorization_servers` (issuer
    /// identifiers, exactly as their metadata states them) and `scopes`.
    pub fn new(
        resource: &crate::resource::ResourceUri,
        authorization_servers: &[&str],
        scopes: &crate::scope::ScopeSet,
        name: &str,
    ) -> Self {
        let path = format!("/.well-known/oauth-protected-resource{}", resource.path());
        let origin = resource.to_url().origin().ascii_serialization();
        let mut paths = vec![
            path.clone(),
            "/.well-known/oauth-protected-resource".to_owned(),
        ];
        paths.dedup();
        Self {
            document: crate::metadata::protected_resource_document(
                resource.as_str(),
                authorization_servers,
                &scopes.to_vec(),
                name,
            ),
            url: format!("{origin}{path}"),
            paths,
        }
    }

    /// The absolute URL of the metadata (for `WWW-Authenticate`).
    pub fn url(&self) -> &str {
        &self.url
    }
}

#[async_trait::async_trait]
impl Endpoints for ResourceMetadataHttp {
    fn paths(&self) -> Vec<String> {
        self.paths.clone()
    }
    fn max_body_bytes(&self) -> usize {
        1024
    }
    async fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        let mut r = match *req.method() {
            Method::OPTIONS => return preflight("GET, OPTIONS"),
            Method::GET => json_response(200, &self.document),
            _ => {
                let mut r = error_response(&OAuthError::invalid_request(
                    "use GET for resource metadata",
                ));
                *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
                r.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("GET"));
                r
            }
        };
        add_cors(&mut r);
        r
    }
}
