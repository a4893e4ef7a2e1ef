//! # oauth-mcp-actix
//!
//! Mounts [`oauth_mcp_core`] in an actix-web application. Like
//! `oauth-mcp-axum`, it only translates types (actix-web speaks `http` 0.2,
//! the core `http` 1): every status, header and body comes from the core's
//! framework-neutral HTTP layer, so both adapters answer alike.
//!
//! - [`configure`]: every OAuth endpoint, for `App::configure`.
//! - [`BearerAuth`]: middleware that protects a route or scope (your MCP
//!   endpoint) and puts the caller's [`AuthContext`] in request extensions.
//! - [`Authenticated`]: an extractor for that identity.
//!
//! ```
//! use std::sync::Arc;
//! use actix_web::{App, web, test};
//! use oauth_mcp_actix::{Authenticated, BearerAuth, configure};
//! use oauth_mcp_core::{AuthServer, ServerConfig, http::OAuthHttp, store::MemoryStore};
//!
//! async fn mcp(Authenticated(who): Authenticated) -> String {
//!     format!("hello {}", who.subject)
//! }
//!
//! # #[actix_web::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ServerConfig::builder("http://127.0.0.1:8080").build()?;
//! let oauth = OAuthHttp::new(AuthServer::new(config, Arc::new(MemoryStore::new()))?);
//! let guard = oauth.resource_guard();
//!
//! let app = test::init_service(
//!     App::new()
//!         .service(web::resource("/mcp").wrap(BearerAuth::new(guard)).route(web::post().to(mcp)))
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

pub use configure::configure;
pub use convert::{copy_headers, to_actix_response, to_core_parts, to_core_request};
pub use extract::Authenticated;
pub use middleware::{BearerAuth, BearerAuthService};
pub use oauth_mcp_core::AuthContext;
