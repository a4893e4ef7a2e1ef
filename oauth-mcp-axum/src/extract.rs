//! The extractor for the authenticated identity.

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use oauth_mcp_core::AuthContext;
use oauth_mcp_core::http::unguarded_route;

use crate::into_axum;

/// The identity behind the request's access token. Only available on routes
/// behind [`crate::BearerLayer`]; elsewhere the handler answers 500, which
/// points at the missing layer.
#[derive(Debug, Clone)]
pub struct Authenticated(pub AuthContext);

/// The rejection when no [`crate::BearerLayer`] ran.
#[derive(Debug)]
pub struct MissingBearerLayer;

impl IntoResponse for MissingBearerLayer {
    fn into_response(self) -> Response {
        into_axum(unguarded_route())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = MissingBearerLayer;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<AuthContext>()
            .cloned()
            .map(Authenticated)
            .ok_or(MissingBearerLayer)
    }
}
