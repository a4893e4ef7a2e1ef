//! # oauth-mcp-axum
//!
//! Mounts [`oauth_mcp_core`] in an axum application. It only translates
//! types: every status, header and body comes from the core's framework-neutral
//! HTTP layer, so axum and actix-web answer byte for byte alike.
//!
//! - [`mcp_router`]: your MCP endpoint (any tower service, e.g. rmcp's
//!   `StreamableHttpService`, or a `MethodRouter`) behind the Bearer guard of
//!   a [`ResourceServer`], plus its RFC 9728 metadata, in one call.
//! - [`oauth_router`]: every endpoint of an embedded authorization server
//!   (metadata, `/authorize`, `/token`, `/register`, `/revoke`, `/jwks.json`).
//! - [`BearerLayer`]: the tower layer [`mcp_router`] uses, for routes you
//!   mount yourself; it puts the caller's [`AuthContext`] in request extensions.
//! - [`Authenticated`]: an extractor for that identity in plain axum handlers.
//!
//! ```
//! use std::sync::Arc;
//! use axum::{Router, routing::post};
//! use oauth_mcp_axum::{Authenticated, mcp_router, oauth_router};
//! use oauth_mcp_core::{AuthServer, ResourceServer, ServerConfig, http::OAuthHttp, store::MemoryStore};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ServerConfig::builder("http://127.0.0.1:8080").build()?;
//! let server = AuthServer::new(config, Arc::new(MemoryStore::new()))?;
//! let resource = ResourceServer::for_auth_server(&server).required_scopes(["mcp"]).build()?;
//!
//! async fn mcp(Authenticated(who): Authenticated) -> String {
//!     format!("hello {}", who.subject)
//! }
//!
//! let app: Router = mcp_router(resource, post(mcp)) // /mcp + its metadata
//!     .merge(oauth_router(OAuthHttp::new(server)));
//! # let _ = app; Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod extract;
mod layer;
mod router;

pub use extract::{Authenticated, MissingBearerLayer};
pub use layer::{Bearer, BearerLayer};
pub use oauth_mcp_core::{AuthContext, ResourceServer};
pub use router::{mcp_router, oauth_router};

use axum::body::Body;
use bytes::Bytes;

/// A core response as an axum response.
pub(crate) fn into_axum(r: http::Response<Bytes>) -> axum::response::Response {
    r.map(Body::from)
}
