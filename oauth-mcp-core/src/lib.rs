//! # oauth-mcp-core
//!
//! The protocol engine of oauth-mcp: OAuth 2.1 for MCP servers, correct by
//! default. It is storage-agnostic (async traits in [`store`]) and
//! framework-neutral ([`http`] takes `http::Request<Bytes>` and returns
//! `http::Response<Bytes>`); `oauth-mcp-axum` and `oauth-mcp-actix` mount it.
//!
//! It plays two roles, one type each:
//!
//! - **Protected resource** ([`ResourceServer`], every MCP server): RFC 9728
//!   metadata, Bearer validation bound to the MCP endpoint's URI as
//!   audience, required and per-operation scopes, `WWW-Authenticate`
//!   challenges. It trusts an external authorization server (a
//!   [`TokenValidator`] such as `validate::remote::RemoteJwksValidator`) or an
//!   embedded one.
//! - **Authorization server** ([`AuthServer`], optional): RFC 8414 metadata,
//!   RFC 7591 registration, authorization code + PKCE S256, RFC 8707 resource
//!   indicators, RFC 9068 JWT access tokens, refresh rotation, revocation,
//!   introspection. It feeds its issuer and local validator into its
//!   resource server ([`ResourceServer::for_auth_server`]).
//!
//! A client that sends no `resource` still gets a token whose audience is the
//! MCP endpoint, never the authorization server.
//!
//! ```
//! use std::sync::Arc;
//! use bytes::Bytes;
//! use oauth_mcp_core::{AuthServer, ResourceServer, ServerConfig, http::OAuthHttp, store::MemoryStore};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ServerConfig::builder("http://127.0.0.1:8080").build()?;
//! let server = AuthServer::new(config, Arc::new(MemoryStore::new()))?;
//! let mcp = ResourceServer::for_auth_server(&server)
//!     .required_scopes(["mcp"])
//!     .build()?; // refuses to start if resource, issuer and scopes disagree
//! assert_eq!(mcp.mcp_path(), "/mcp");
//! assert_eq!(mcp.metadata().authorization_servers, ["http://127.0.0.1:8080"]);
//!
//! let oauth = OAuthHttp::new(server);
//! let req = http::Request::get("/.well-known/oauth-authorization-server").body(Bytes::new())?;
//! let resp = oauth.handle(req).await;
//! assert_eq!(resp.status(), 200);
//! let md: serde_json::Value = serde_json::from_slice(resp.body())?;
//! assert_eq!(md["issuer"], "http://127.0.0.1:8080");
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod authorization;
pub mod authorize;
pub mod bearer;
#[cfg(feature = "cimd")]
pub mod cimd;
pub mod client;
pub mod client_assertion;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod discovery;
pub mod error;
pub mod events;
// The SSRF-hardened fetcher serves URLs strangers choose: client id
// metadata documents and clients' `jwks_uri` (both feature `cimd`).
#[cfg(feature = "cimd")]
mod fetch;
mod fetch_limits;
pub mod grant;
pub mod http;
pub mod login;
pub mod login_throttle;
mod maintenance;
pub mod metadata;
pub mod net;
pub mod params;
pub mod password;
pub mod pkce;
pub mod ratelimit;
pub mod resource;
pub mod resource_server;
pub mod scope;
pub mod secret;
pub mod server;
pub mod store;
pub mod token;
pub mod token_cache;
#[cfg(feature = "upstream")]
pub mod upstream;
pub mod validate;

// The types most servers name, at the root; everything else in its module.
pub use config::{PreRegisteredClient, ServerConfig, ServerConfigBuilder};
pub use error::{ConfigError, ErrorCode, OAuthError, StoreError};
pub use http::OAuthHttp;
pub use login::{Authenticator, Branding, LoginUi};
pub use resource::ResourceUri;
pub use resource_server::{ResourceServer, ResourceServerBuilder};
pub use scope::{ScopeHierarchy, ScopeSet};
pub use secret::Secret;
pub use server::AuthServer;
pub use store::{MemoryStore, Store};
pub use token::{KeySet, SigningKey};
pub use validate::{AuthContext, TokenValidator};
