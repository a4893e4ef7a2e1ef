//! # oauth-mcp-core
//!
//! The protocol engine of oauth-mcp: OAuth 2.1 for MCP servers, correct by
//! default. It is storage-agnostic (async traits in [`store`]) and
//! framework-neutral ([`http`] takes `http::Request<Bytes>` and returns
//! `http::Response<Bytes>`); `oauth-mcp-axum` and `oauth-mcp-actix` mount it.
//!
//! It plays two roles, usually both at once:
//!
//! - **Protected resource** (your MCP endpoint): RFC 9728 metadata, Bearer
//!   validation bound to the MCP endpoint's URI as audience, and
//!   `WWW-Authenticate` challenges ([`bearer::ResourceGuard`]).
//! - **Authorization server** ([`server::AuthServer`]): RFC 8414 metadata,
//!   RFC 7591 registration, authorization code + PKCE S256, RFC 8707 resource
//!   indicators, RFC 9068 JWT access tokens, refresh rotation, revocation.
//!
//! A client that sends no `resource` still gets a token whose audience is the
//! MCP endpoint, never the authorization server.
//!
//! ```
//! use std::sync::Arc;
//! use bytes::Bytes;
//! use oauth_mcp_core::{config::ServerConfig, http::OAuthHttp, server::AuthServer, store::MemoryStore};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ServerConfig::builder("http://127.0.0.1:8080").build()?;
//! let server = AuthServer::new(config, Arc::new(MemoryStore::new()))?;
//! let oauth = OAuthHttp::new(server);
//!
//! let req = http::Request::get("/.well-known/oauth-protected-resource/mcp").body(Bytes::new())?;
//! let resp = oauth.handle(req).await;
//! assert_eq!(resp.status(), 200);
//! let prm: serde_json::Value = serde_json::from_slice(resp.body())?;
//! assert_eq!(prm["resource"], "http://127.0.0.1:8080/mcp");
//! assert_eq!(prm["authorization_servers"][0], "http://127.0.0.1:8080");
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod authorize;
pub mod bearer;
#[cfg(feature = "cimd")]
pub mod cimd;
pub mod client;
pub mod client_assertion;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod error;
pub mod grant;
pub mod http;
pub mod login;
pub mod metadata;
pub mod params;
pub mod pkce;
pub mod resource;
pub mod scope;
pub mod secret;
pub mod server;
pub mod store;
pub mod token;
#[cfg(feature = "upstream")]
pub mod upstream;
pub mod validate;

pub use bearer::ResourceGuard;
pub use config::{PreRegisteredClient, ServerConfig};
pub use error::{ConfigError, ErrorCode, OAuthError, StoreError};
pub use server::AuthServer;
pub use validate::{AuthContext, TokenValidator};
