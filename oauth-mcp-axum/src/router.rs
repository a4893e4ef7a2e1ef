//! The OAuth endpoints and the protected MCP endpoint as axum `Router`s.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any};
use oauth_mcp_core::ResourceServer;
use oauth_mcp_core::http::Endpoints;
use tower_layer::Layer;
use tower_service::Service;

use crate::body::read_body;
use crate::{BearerLayer, into_axum};

/// A router serving every endpoint of `endpoints` at the paths it names: an
/// [`oauth_mcp_core::http::OAuthHttp`] (the embedded authorization server's
/// endpoints) or a [`ResourceServer`] (its protected-resource metadata only).
///
/// The authorization server limits requests per client address, which it
/// reads from axum's `ConnectInfo<SocketAddr>`: serve the app with
/// `axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())`.
/// Without it, requests are limited only per authenticated client (and a
/// warning says so once). Reading `ConnectInfo` needs the crate feature
/// `connect-info` (on by default).
pub fn oauth_router<E: Endpoints>(endpoints: E) -> Router {
    let paths = endpoints.paths();
    let state: Arc<dyn Endpoints> = Arc::new(endpoints);
    let mut router = Router::new();
    for p in paths {
        router = router.route(&p, any(handle));
    }
    router.with_state(state)
}

async fn handle(State(oauth): State<Arc<dyn Endpoints>>, req: Request) -> Response {
    let limit = oauth.max_body_bytes();
    let (mut parts, body) = req.into_parts();
    peer_addr(&mut parts);
    match read_body(body, limit).await {
        Ok(bytes) => into_axum(oauth.handle(http::Request::from_parts(parts, bytes)).await),
        Err(refused) => refused,
    }
}

/// The core limits requests by the connection's address: hand it over from
/// axum's `ConnectInfo<SocketAddr>` (feature `connect-info`, on by default).
#[cfg(feature = "connect-info")]
fn peer_addr(parts: &mut http::request::Parts) {
    use axum::extract::ConnectInfo;
    use oauth_mcp_core::http::PeerAddr;
    if let Some(ConnectInfo(peer)) = parts
        .extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .copied()
    {
        parts.extensions.insert(PeerAddr(peer));
    }
}

/// Without `connect-info`, the application inserts
/// [`oauth_mcp_core::http::PeerAddr`] itself (or requests are limited per
/// authenticated client only).
#[cfg(not(feature = "connect-info"))]
fn peer_addr(_parts: &mut http::request::Parts) {}

/// The protected MCP endpoint in one call: `service` (e.g. rmcp's
/// `StreamableHttpService`, or any `MethodRouter`) at
/// [`ResourceServer::mcp_path`] (that path exactly, as the service would be
/// with `route_service`) behind a [`BearerLayer`], plus the RFC 9728
/// metadata at its well-known paths. Merge the embedded authorization
/// server's [`oauth_router`], if any.
///
/// Every method passes the guard first (a preflight is answered by it, a
/// request without a valid token gets 401 whatever its method). A
/// `MethodRouter` is layered handler by handler (`MethodRouter::layer`, its
/// fallback included) rather than whole, so that a request does not clone
/// its method table; the answers are the same.
pub fn mcp_router<S>(rs: ResourceServer, service: S) -> Router
where
    S: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
{
    let layer = BearerLayer::new(rs.clone());
    let protected = match as_method_router(service) {
        // A method router (`post(handler)`): the layer wraps each of its
        // handlers and its fallback (so every method still passes the
        // guard first, preflights included), and a request clones one
        // handler instead of the whole method table.
        Ok(methods) => Router::new().route(rs.mcp_path(), methods.layer(layer)),
        // Any other service: the layer wraps the service itself, not the
        // router (no path stripping, one boxed service per request).
        Err(service) => Router::new().route_service(rs.mcp_path(), layer.layer(service)),
    };
    protected.merge(oauth_router(rs))
}

/// `service` itself if it is a [`MethodRouter`], else it back.
fn as_method_router<S: 'static>(service: S) -> Result<MethodRouter, S> {
    let mut slot = Some(service);
    let methods = (&mut slot as &mut dyn std::any::Any)
        .downcast_mut::<Option<MethodRouter>>()
        .and_then(Option::take);
    match (methods, slot) {
        (Some(methods), _) => Ok(methods),
        (None, Some(service)) => Err(service),
        // The slot is emptied only when it held a method router (taken
        // above); an empty one would answer every method 405.
        (None, None) => Ok(MethodRouter::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_method_router_is_told_from_other_services() {
        let methods: MethodRouter = axum::routing::post(|| async { "ok" });
        assert!(as_method_router(methods).is_ok());
        let plain = tower::service_fn(|_req: Request| async {
            Ok::<_, Infallible>(Response::new(axum::body::Body::empty()))
        });
        assert!(as_method_router(plain).is_err());
        // A router is a service too, but not a method router.
        assert!(as_method_router(Router::<()>::new()).is_err());
    }
}
