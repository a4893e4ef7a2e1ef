//! # oauth-mcp-actix
//!
//! Mounts [`oauth_mcp_core`] in an actix-web application. Like
//! `oauth-mcp-axum`, it only translates types (actix-web speaks `http` 0.2,
//! the core `http` 1): every status, header and body comes from the core's
//! framework-neutral HTTP layer, so both adapters answer alike.
//!
//! - [`configure_mcp`]: your MCP endpoint handler behind the Bearer guard
//!   of a [`ResourceServer`], plus its RFC 9728 metadata, in one call.
//! - [`configure`]: every endpoint of an embedded authorization server.
//! - [`BearerAuth`]: the middleware [`configure_mcp`] uses, for routes you
//!   mount yourself; it puts the caller's [`AuthContext`] in request extensions.
//! - [`Authenticated`]: an extractor for that identity.
//!
//! ```
//! use std::sync::Arc;
//! use actix_web::{App, test};
//! use oauth_mcp_actix::{Authenticated, configure, configure_mcp};
//! use oauth_mcp_core::{AuthServer, ResourceServer, ServerConfig, http::OAuthHttp, store::MemoryStore};
//!
//! async fn mcp(Authenticated(who): Authenticated) -> String {
//!     format!("hello {}", who.subject)
//! }
//!
//! # #[actix_web::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ServerConfig::builder("http://127.0.0.1:8080").build()?;
//! let server = AuthServer::new(config, Arc::new(MemoryStore::new()))?;
//! let resource = ResourceServer::for_auth_server(&server).build()?;
//! let oauth = OAuthHttp::new(server);
//!
//! let app = test::init_service(
//!     App::new()
//!         .configure(configure_mcp(resource, mcp)) // /mcp + its metadata
//!         .configure(configure(oauth)),
//! )
//! .await;
//! let resp = test::call_service(&app, test::TestRequest::post().uri("/mcp").to_request()).await;
//! assert_eq!(resp.status(), 401);
//! assert!(resp.headers().get("www-authenticate").is_some());
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod configure;
mod convert;
mod extract;
mod middleware;

pub use configure::{configure, configure_mcp};
pub use convert::{copy_headers, to_actix_response, to_core_parts, to_core_request};
pub use extract::Authenticated;
pub use middleware::{BearerAuth, BearerAuthService};
pub use oauth_mcp_core::{AuthContext, ResourceServer};
