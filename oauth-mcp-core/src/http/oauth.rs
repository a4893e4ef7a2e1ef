//! [`OAuthHttp`]: every endpoint of an embedded authorization server
//! (RFC 8414 metadata, `/authorize`, `/token`, `/register`, `/revoke`,
//! `/introspect`, `/jwks.json`) as one handler. The protected resource's own
//! metadata is served by its [`crate::ResourceServer`].

use bytes::Bytes;
use http::header;
use http::{Method, Request, Response, StatusCode};

use super::pages::authorize_response;
use super::{
    Endpoints, add_cors, content_type_is, error_response, json_response, method_not_allowed,
    no_store, preflight, response,
};
use crate::authorize::{AuthorizeRequest, LoginForm, error_page};
use crate::error::{ErrorCode, OAuthError};
use crate::metadata::authorization_server_metadata;
use crate::server::AuthServer;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    AuthorizationServer,
    Authorize,
    Token,
    Register,
    Revoke,
    Introspect,
    Jwks,
    /// The upstream identity provider's return (`/upstream/callback`).
    #[cfg(feature = "upstream")]
    UpstreamCallback,
}

impl Endpoint {
    fn methods(self) -> &'static [Method] {
        match self {
            Self::Authorize => &[Method::GET, Method::POST],
            Self::Token | Self::Register | Self::Revoke | Self::Introspect => &[Method::POST],
            _ => &[Method::GET],
        }
    }

    /// Browser clients call everything but the browser's own pages
    /// (/authorize, the upstream callback) cross-origin.
    /// The rate limit counting requests with `method`, if any.
    fn limit(self, method: &Method) -> Option<crate::ratelimit::Endpoint> {
        use crate::ratelimit::Endpoint as L;
        match self {
            Self::Authorize if method == Method::GET => Some(L::AuthorizeGet),
            Self::Authorize => Some(L::AuthorizePost),
            Self::Token => Some(L::Token),
            Self::Register => Some(L::Register),
            Self::Revoke => Some(L::Revoke),
            Self::Introspect => Some(L::Introspect),
            _ => None,
        }
    }

    fn cors(self) -> bool {
        match self {
            Self::Authorize => false,
            #[cfg(feature = "upstream")]
            Self::UpstreamCallback => false,
            _ => true,
        }
    }
}

/// Every OAuth endpoint of an embedded authorization server, as one handler.
#[derive(Debug, Clone)]
pub struct OAuthHttp {
    server: AuthServer,
    routes: Vec<(String, Endpoint)>,
}

impl OAuthHttp {
    /// The HTTP face of `server`. Inside a tokio runtime this also starts
    /// the server's purge schedule (see [`AuthServer::purge_now`]).
    pub fn new(server: AuthServer) -> Self {
        server.start_purge_schedule();
        let cfg = server.config().clone();
        let ip = cfg.issuer_path().to_owned();
        let mut routes = vec![
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
        #[cfg(feature = "upstream")]
        if server.signs_in_upstream() {
            routes.push((
                cfg.endpoint_path(crate::upstream::CALLBACK_PATH),
                Endpoint::UpstreamCallback,
            ));
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
            method_not_allowed(path, req.method(), &allow_list)
        } else if req.body().len() > self.server.config().max_body_bytes() {
            let mut r = error_response(&OAuthError::invalid_request(format!(
                "request body too large (limit {} bytes)",
                self.server.config().max_body_bytes()
            )));
            *r.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            r
        } else if let Some(refused) = match endpoint.limit(req.method()) {
            Some(limit) => super::limits::check(&self.server, limit, &req).await,
            None => None,
        } {
            refused
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
            Endpoint::AuthorizationServer => {
                json_response(200, &authorization_server_metadata(cfg))
            }
            Endpoint::Jwks => {
                let keys = self.server.keys();
                keys.refresh_if_due().await;
                let mut r = json_response(200, &keys.jwks());
                if let Ok(v) = header::HeaderValue::from_str(keys.cache_control()) {
                    r.headers_mut().insert(header::CACHE_CONTROL, v);
                }
                r
            }
            #[cfg(feature = "upstream")]
            Endpoint::UpstreamCallback => super::upstream::callback(&self.server, req).await,
            #[cfg(feature = "upstream")]
            Endpoint::Authorize if self.server.signs_in_upstream() => {
                if req.method() == Method::GET {
                    super::upstream::authorize_get(&self.server, req).await
                } else if !content_type_is(req, "application/x-www-form-urlencoded") {
                    authorize_response(
                        error_page(
                            415,
                            &OAuthError::invalid_request(
                                "the consent form must be posted as application/x-www-form-urlencoded",
                            ),
                        ),
                        cfg.login_ui().as_ref(),
                    )
                } else {
                    super::upstream::authorize_post(&self.server, req).await
                }
            }
            Endpoint::Authorize => {
                let outcome = if req.method() == Method::GET {
                    let query = req.uri().query().unwrap_or("");
                    self.server
                        .authorize(&AuthorizeRequest::parse(query.as_bytes()))
                        .await
                } else if !content_type_is(req, "application/x-www-form-urlencoded") {
                    error_page(
                        415,
                        &OAuthError::invalid_request(
                            "the login form must be posted as application/x-www-form-urlencoded",
                        ),
                    )
                } else {
                    self.server
                        .submit_login(&LoginForm::parse(req.body()))
                        .await
                };
                authorize_response(outcome, cfg.login_ui().as_ref())
            }
            Endpoint::Token => {
                if !content_type_is(req, "application/x-www-form-urlencoded") {
                    return error_response(&OAuthError::invalid_request(
                        "token requests must be sent as application/x-www-form-urlencoded (RFC 6749 §4.1.3)",
                    ));
                }
                match self.server.token(req.body(), authorization).await {
                    Ok(t) => {
                        let mut r = json_response(200, &t);
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
