//! The OAuth endpoints as an axum `Router`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::any;
use oauth_mcp_core::http::{OAuthHttp, body_too_large};

use crate::into_axum;

/// A router serving every endpoint of `oauth` at the paths it names.
pub fn oauth_router(oauth: OAuthHttp) -> Router {
    let paths = oauth.paths();
    let state = Arc::new(oauth);
    let mut router = Router::new();
    for p in paths {
        router = router.route(&p, any(handle));
    }
    router.with_state(state)
}

async fn handle(State(oauth): State<Arc<OAuthHttp>>, req: Request) -> Response {
    let limit = oauth.server().config().max_body_bytes();
    let (parts, body) = req.into_parts();
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => into_axum(oauth.handle(http::Request::from_parts(parts, bytes)).await),
        Err(_) => into_axum(body_too_large(limit)),
    }
}
