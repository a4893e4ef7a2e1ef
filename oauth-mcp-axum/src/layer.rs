//! A tower layer that protects routes with Bearer tokens.

use std::any::Any;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
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

impl<S: Clone + 'static> Layer<S> for BearerLayer {
    type Service = Bearer<S>;
    fn layer(&self, inner: S) -> Self::Service {
        let template = with_routes(inner);
        Bearer {
            wrapped: Arc::new(Wrapped {
                shared: Mutex::new(template.clone()),
                template,
            }),
            rs: self.rs.clone(),
        }
    }
}

/// The service [`BearerLayer`] produces.
///
/// axum clones a route's service for each request; this one shares the
/// service it wraps between its clones. An accepted request calls the
/// shared instance in place when no other request is using it and it is
/// ready at once (no clone of the wrapped service: for a `MethodRouter`,
/// a clone copies its method table and allocates); otherwise it calls a
/// clone of its own, driven ready first. Requests never wait for each other.
///
/// The wrapped service's readiness is awaited in the call, once the token
/// is accepted: [`Service::poll_ready`] of this service is always ready, and
/// a refused request never waits for (or reaches) the wrapped service.
#[derive(Debug)]
pub struct Bearer<S> {
    wrapped: Arc<Wrapped<S>>,
    rs: ResourceServer,
}

impl<S> Clone for Bearer<S> {
    /// Shares the wrapped service.
    fn clone(&self) -> Self {
        Self {
            wrapped: Arc::clone(&self.wrapped),
            rs: self.rs.clone(),
        }
    }
}

/// The wrapped service, shared by every clone of a [`Bearer`].
#[derive(Debug)]
struct Wrapped<S> {
    /// Called in place by one request at a time, when ready at once.
    shared: Mutex<S>,
    /// Never called: what a request clones when `shared` is in use or not
    /// ready.
    template: S,
}

impl<S> Wrapped<S>
where
    S: Service<Request, Error = Infallible> + Clone,
{
    /// Calls the shared instance with `req` if it is free and ready now;
    /// otherwise gives `req` back. Its readiness is not waited for (a
    /// `Pending` leaves it to the next request), so the waker is a no-op.
    fn call_shared(&self, req: Request) -> Shared<S::Future> {
        // Busy (another request is in its `call`) or poisoned (a `call`
        // panicked): a clone serves this request.
        let Ok(mut shared) = self.shared.try_lock() else {
            return Shared::NotNow(req);
        };
        match shared.poll_ready(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Ok(())) => Shared::Called(shared.call(req)),
            Poll::Ready(Err(never)) => match never {},
            Poll::Pending => Shared::NotNow(req),
        }
    }

    /// Calls a clone of the wrapped service, driven ready.
    async fn call_clone(&self, req: Request) -> S::Future {
        let mut own = S::clone(&self.template);
        match std::future::poll_fn(|cx| own.poll_ready(cx)).await {
            Ok(()) => own.call(req),
            Err(never) => match never {},
        }
    }
}

/// What [`Wrapped::call_shared`] did with a request.
#[expect(
    clippy::large_enum_variant,
    reason = "lives for one call; boxing the request would add an allocation per request"
)]
enum Shared<F> {
    /// Called the shared instance: its future.
    Called(F),
    /// The shared instance is in use or not ready: the request, unused.
    NotNow(Request),
}

/// A `MethodRouter` made by `post(handler)` keeps its handlers boxed and
/// turns one into a route at every call; axum does that once, at
/// `with_state`, for the routes it serves itself, but a `MethodRouter`
/// wrapped in a layer is opaque to it. Done once here instead (about two
/// allocations less per request). Any other service is returned as is.
fn with_routes<S: 'static>(mut inner: S) -> S {
    if let Some(router) = (&mut inner as &mut dyn Any).downcast_mut::<MethodRouter>() {
        let boxed = std::mem::replace(router, MethodRouter::new());
        *router = boxed.with_state(());
    }
    inner
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

    /// Always ready: the wrapped service's readiness is awaited in the call,
    /// after the token check (see [`Bearer`]).
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let rs = self.rs.clone();
        let wrapped = Arc::clone(&self.wrapped);
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
                    let called = match wrapped.call_shared(Request::from_parts(parts, body)) {
                        Shared::Called(called) => called,
                        // Boxed: rarely taken, and its state (a clone of the
                        // wrapped service and the request) would otherwise
                        // make every request's future larger.
                        Shared::NotNow(req) => Box::pin(wrapped.call_clone(req)).await,
                    };
                    let mut resp = called.await?.into_response();
                    decorate_protected(resp.headers_mut());
                    Ok(resp)
                }
            }
        })
    }
}
