//! A tower layer that protects routes with Bearer tokens.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
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
            template: Arc::new(inner),
            ready: None,
            rs: self.rs.clone(),
        }
    }
}

/// The service [`BearerLayer`] produces.
///
/// The wrapped service is kept once, shared by every clone of this one
/// (axum clones the route's service for each request): each call takes its
/// own clone of it, made when it is driven ready, so a request clones the
/// wrapped service once, not twice (for a `MethodRouter`, each clone copies
/// its method table and allocates).
#[derive(Debug)]
pub struct Bearer<S> {
    /// The service as wrapped, never called: what each call clones.
    template: Arc<S>,
    /// The clone driven ready by `poll_ready`, which the next `call` takes.
    ready: Option<S>,
    rs: ResourceServer,
}

impl<S> Clone for Bearer<S> {
    /// Shares the wrapped service; the clone is driven ready on its own.
    fn clone(&self) -> Self {
        Self {
            template: Arc::clone(&self.template),
            ready: None,
            rs: self.rs.clone(),
        }
    }
}

impl<S> Service<Request> for Bearer<S>
where
    S: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        let template = &self.template;
        self.ready
            .get_or_insert_with(|| S::clone(template))
            .poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let rs = self.rs.clone();
        // The clone that was driven ready. Without `poll_ready` first (a
        // breach of tower's contract), a fresh clone, driven ready below.
        let (mut inner, polled) = match self.ready.take() {
            Some(ready) => (ready, true),
            None => (S::clone(&self.template), false),
        };
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
                    if !polled {
                        std::future::poll_fn(|cx| inner.poll_ready(cx)).await?;
                    }
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
