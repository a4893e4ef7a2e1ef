//! Middleware that protects routes with Bearer tokens.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{Error, HttpMessage};
use oauth_mcp_core::ResourceServer;
use oauth_mcp_core::http::{Protection, body_too_large, protect, within_body_timeout};

use crate::convert::{decorate_protected_actix, read_body, to_actix_response, to_protect_parts};

/// Protects the wrapped routes: requests without a valid token get the
/// core's 401/403 with `WWW-Authenticate`; the others reach the route with an
/// [`oauth_mcp_core::AuthContext`] in their extensions.
#[derive(Debug, Clone)]
pub struct BearerAuth {
    rs: ResourceServer,
}

impl BearerAuth {
    /// Middleware enforcing `rs` (its Bearer validation and scopes).
    pub fn new(rs: ResourceServer) -> Self {
        Self { rs }
    }
}

impl<S, B> Transform<S, ServiceRequest> for BearerAuth
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B, BoxBody>>;
    type Error = Error;
    type Transform = BearerAuthService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(BearerAuthService {
            service: Rc::new(service),
            rs: self.rs.clone(),
        }))
    }
}

/// The service [`BearerAuth`] produces.
#[derive(Debug)]
pub struct BearerAuthService<S> {
    service: Rc<S>,
    rs: ResourceServer,
}

impl<S, B> Service<ServiceRequest> for BearerAuthService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B, BoxBody>>;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Error>>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let service = self.service.clone();
        let rs = self.rs.clone();
        Box::pin(async move {
            let parts = to_protect_parts(req.request());
            let (req, body) = match rs.body_limit(&parts) {
                Some(limit) => {
                    let (http_req, payload) = req.into_parts();
                    match within_body_timeout(read_body(payload, limit)).await {
                        Ok(Some(b)) => (
                            ServiceRequest::from_parts(http_req, b.clone().into()),
                            Some(b),
                        ),
                        Ok(None) => {
                            let resp = to_actix_response(body_too_large(limit));
                            return Ok(ServiceResponse::new(http_req, resp).map_into_right_body());
                        }
                        Err(timed_out) => {
                            let resp = to_actix_response(timed_out);
                            return Ok(ServiceResponse::new(http_req, resp).map_into_right_body());
                        }
                    }
                }
                None => (req, None),
            };
            match protect(&rs, &parts, body.as_deref()).await {
                Protection::Respond(r) => Ok(req
                    .into_response(to_actix_response(r))
                    .map_into_right_body()),
                Protection::Allow(ctx) => {
                    req.extensions_mut().insert(ctx);
                    let mut resp = service.call(req).await?;
                    decorate_protected_actix(resp.headers_mut());
                    Ok(resp.map_into_left_body())
                }
            }
        })
    }
}
