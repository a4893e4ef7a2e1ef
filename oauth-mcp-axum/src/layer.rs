//! A tower layer that protects routes with Bearer tokens.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use oauth_mcp_core::ResourceServer;
use oauth_mcp_core::http::{Protection, decorate_protected, protect};
use tower_layer::Layer;
use tower_service::Service;

use crate::body::read_body;
use crate::into_axum;

/// Protects the wrapped routes: requests without a valid token get the
/// core's 401/403 with `WWW-Authenticate`; the others reach the route with an
/// [`oauth_mcp_core::AuthContext`] in their extensions.
#[derive(Debug, Clone)]
pub struct BearerLayer {
    rs: ResourceServer,
}

impl BearerLayer {
    /// A layer enforcing `rs` (its Bearer validation and scopes).
    pub fn new(rs: ResourceServer) -> Self {
        Self { rs }
    }
}

impl<S> Layer<S> for BearerLayer {
    type Service = Bearer<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Bearer {
            inner,
            rs: self.rs.clone(),
        }
    }
}

/// The service [`BearerLayer`] produces.
#[derive(Debug, Clone)]
pub struct Bearer<S> {
    inner: S,
    rs: ResourceServer,
}

impl<S> Service<Request> for Bearer<S>
where
    S: Service<Request, Error = Infallible> + Clone + Send + 'static,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let rs = self.rs.clone();
        // Use the service that was driven ready; leave a fresh clone behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            let (body, bytes) = match rs.body_limit(&parts) {
                Some(limit) => match read_body(body, limit).await {
                    Ok(b) => (Body::from(b.clone()), Some(b)),
                    Err(refused) => return Ok(refused),
                },
                None => (body, None),
            };
            match protect(&rs, &parts, bytes.as_deref()).await {
                Protection::Respond(r) => Ok(into_axum(r)),
                Protection::Allow(ctx) => {
                    parts.extensions.insert(ctx);
                    let mut resp = inner
                        .call(Request::from_parts(parts, body))
                        .await?
                        .into_response();
                    decorate_protected(resp.headers_mut());
                    Ok(resp)
                }
            }
        })
    }
}
