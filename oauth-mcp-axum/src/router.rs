//! The OAuth endpoints as an axum `Router`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::any;
use oauth_mcp_core::http::{Endpoints, body_too_large};

use crate::into_axum;

/// A router serving every endpoint of `endpoints` at the paths it names:
/// an [`oauth_mcp_core::http::OAuthHttp`] (embedded authorization server) or
/// an [`oauth_mcp_core::http::ResourceMetadataHttp`] (external one).
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
    let (parts, body) = req.into_parts();
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => into_axum(oauth.handle(http::Request::from_parts(parts, bytes)).await),
        Err(_) => into_axum(body_too_large(limit)),
    }
}
