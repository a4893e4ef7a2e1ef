//! # oauth-mcp-axum
//!
//! Mounts [`oauth_mcp_core`] in an axum application. It only translates
//! types: every status, header and body comes from the core's framework-neutral
//! HTTP layer, so axum and actix-web answer byte for byte alike.
//!
//! - [`oauth_router`]: every OAuth endpoint (metadata, `/authorize`, `/token`,
//!   `/register`, `/revoke`, `/jwks.json`) as a `Router`.
//! - [`BearerLayer`]: a tower layer that protects any route (your MCP
//!   endpoint) and puts the caller's [`AuthContext`] in request extensions.
//! - [`Authenticated`]: an extractor for that identity in plain axum handlers.
//!
//! ```
//! use std::sync::Arc;
//! use axum::{Router, routing::post};
//! use oauth_mcp_axum::{Authenticated, BearerLayer, oauth_router};
//! use oauth_mcp_core::{AuthServer, ServerConfig, http::OAuthHttp, store::MemoryStore};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ServerConfig::builder("http://127.0.0.1:8080").build()?;
//! let oauth = OAuthHttp::new(AuthServer::new(config, Arc::new(MemoryStore::new()))?);
//!
//! async fn mcp(Authenticated(who): Authenticated) -> String {
//!     format!("hello {}", who.subject)
//! }
//!
//! let app: Router = Router::new()
//!     .route("/mcp", post(mcp))
//!     .layer(BearerLayer::new(oauth.resource_guard()))
//!     .merge(oauth_router(oauth));
//! # let _ = app; Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod extract;
mod layer;
mod router;

pub use extract::{Authenticated, MissingBearerLayer};
pub use layer::{Bearer, BearerLayer};
pub use oauth_mcp_core::AuthContext;
pub use router::oauth_router;

use axum::body::Body;
use bytes::Bytes;

/// A core response as an axum response.
pub(crate) fn into_axum(r: http::Response<Bytes>) -> axum::response::Response {
    r.map(Body::from)
}
