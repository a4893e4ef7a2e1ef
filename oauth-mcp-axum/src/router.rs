//! The OAuth endpoints and the protected MCP endpoint as axum `Router`s.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
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
/// Every method at that path passes the guard first, and the path is
/// closed to other routes: adding one there later (`.route(path, get(…))`)
/// panics when the router is built rather than serving a method past the
/// guard. (A `MethodRouter` is wrapped whole for that reason: layered
/// handler by handler, axum would merge a later route into it unguarded.)
pub fn mcp_router<S>(rs: ResourceServer, service: S) -> Router
where
    S: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
{
    // The layer wraps the service itself, not the router: no path
    // stripping, and one boxed service per request instead of two. A
    // service route (not a method route) also refuses any later route at
    // the same path.
    let protected = BearerLayer::new(rs.clone()).layer(service);
    Router::new()
        .route_service(rs.mcp_path(), protected)
        .merge(oauth_router(rs))
}
