//! The OAuth endpoints and the protected MCP endpoint as axum `Router`s.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use oauth_mcp_core::ResourceServer;
use oauth_mcp_core::http::{Endpoints, PeerAddr, body_too_large, within_body_timeout};
use tower_service::Service;

use crate::{BearerLayer, into_axum};

/// A router serving every endpoint of `endpoints` at the paths it names: an
/// [`oauth_mcp_core::http::OAuthHttp`] (the embedded authorization server's
/// endpoints) or a [`ResourceServer`] (its protected-resource metadata only).
///
/// The authorization server limits requests per client address, which it
/// reads from axum's `ConnectInfo<SocketAddr>`: serve the app with
/// `axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())`.
/// Without it, requests are limited only per authenticated client (and a
/// warning says so once).
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
    // The core limits requests by the connection's address.
    if let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>().copied() {
        parts.extensions.insert(PeerAddr(peer));
    }
    match within_body_timeout(axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => into_axum(oauth.handle(http::Request::from_parts(parts, bytes)).await),
        Ok(Err(_)) => into_axum(body_too_large(limit)),
        Err(timed_out) => into_axum(timed_out),
    }
}

/// The protected MCP endpoint in one call: `service` (e.g. rmcp's
/// `StreamableHttpService`, or any `MethodRouter`) nested at
/// [`ResourceServer::mcp_path`] behind a [`BearerLayer`], plus the RFC 9728
/// metadata at its well-known paths. Merge the embedded authorization
/// server's [`oauth_router`], if any.
pub fn mcp_router<S>(rs: ResourceServer, service: S) -> Router
where
    S: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
{
    Router::new()
        .nest_service(rs.mcp_path(), service)
        .layer(BearerLayer::new(rs.clone()))
        .merge(oauth_router(rs))
}
