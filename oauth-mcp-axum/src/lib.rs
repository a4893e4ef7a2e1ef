//! # oauth-mcp-axum
//!
//! OAuth 2.1 for an MCP server built on [axum](https://docs.rs/axum): mounts
//! [`oauth_mcp_core`] so that MCP clients (Claude, ChatGPT, Cursor, VS Code,
//! MCP Inspector, the official SDK clients) can discover where to log in, get
//! a token for your MCP endpoint, and call your tools. This crate only
//! translates types: every status, header and body comes from the core's
//! framework-neutral HTTP layer, so axum and actix-web answer byte for byte
//! alike.
//!
//! - [`mcp_router`]: your MCP endpoint (any tower service: rmcp's
//!   `StreamableHttpService`, or a `MethodRouter`) behind the Bearer guard of
//!   a [`ResourceServer`], plus its RFC 9728 metadata, in one call.
//! - [`oauth_router`]: every endpoint of an embedded authorization server
//!   (metadata, `/authorize`, `/token`, `/register`, `/revoke`,
//!   `/introspect`, `/jwks.json`).
//! - [`BearerLayer`]: the tower layer [`mcp_router`] uses, for routes you
//!   mount yourself; it puts the caller's [`AuthContext`] in request extensions.
//! - [`Authenticated`]: an extractor for that identity in plain axum handlers.
//!
//! # Example: an MCP server with its own authorization server
//!
//! A complete server: an MCP endpoint built with the official Rust MCP SDK,
//! [`rmcp`](https://docs.rs/rmcp) (streamable HTTP), whose tool reads the
//! caller's identity, and the embedded authorization server with one user.
//! Its `Cargo.toml` needs `oauth-mcp-axum`, `oauth-mcp-core`, `axum`
//! (features `http1`, `tokio`), `tokio` (`macros`, `rt-multi-thread`),
//! `http` and `rmcp` (`server`, `macros`,
//! `transport-streamable-http-server`).
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use oauth_mcp_axum::{mcp_router, oauth_router};
//! use oauth_mcp_core::login::new_user;
//! use oauth_mcp_core::store::{MemoryStore, UserStore};
//! use oauth_mcp_core::{AuthContext, AuthServer, OAuthHttp, ResourceServer, ServerConfig};
//! use rmcp::handler::server::tool::Extension;
//! use rmcp::model::{CallToolResult, ContentBlock, ServerCapabilities, ServerConfig as McpConfig};
//! use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
//! use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
//! use rmcp::{ErrorData, ServerHandler, tool, tool_handler, tool_router};
//!
//! /// The address to listen on.
//! const BIND: &str = "127.0.0.1:8080";
//! /// The URL clients reach this server at: the issuer, and `<PUBLIC_URL>/mcp`
//! /// is the MCP endpoint and the audience of every token. Behind a TLS
//! /// proxy, `https://your.host`.
//! const PUBLIC_URL: &str = "http://127.0.0.1:8080";
//!
//! #[derive(Clone)]
//! struct Tools;
//!
//! #[tool_router]
//! impl Tools {
//!     #[tool(description = "Who am I? The token's subject, client and scopes.")]
//!     async fn whoami(
//!         &self,
//!         Extension(parts): Extension<http::request::Parts>,
//!     ) -> Result<CallToolResult, ErrorData> {
//!         // The Bearer layer put the caller's identity in the request.
//!         let who = parts
//!             .extensions
//!             .get::<AuthContext>()
//!             .ok_or_else(|| ErrorData::internal_error("not behind the Bearer layer", None))?;
//!         let text = format!("{} via {} with scopes {}", who.subject, who.client_id, who.scopes);
//!         Ok(CallToolResult::success(vec![ContentBlock::text(text)]))
//!     }
//! }
//!
//! #[tool_handler]
//! impl ServerHandler for Tools {
//!     fn get_info(&self) -> McpConfig {
//!         McpConfig::new(ServerCapabilities::builder().enable_tools().build())
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//!     // The authorization server (a bad value fails here, naming it).
//!     let config = ServerConfig::builder(PUBLIC_URL)
//!         .scopes_supported(["mcp", "admin"])
//!         .default_scopes(["mcp"])
//!         .build()?;
//!     let store = Arc::new(MemoryStore::new());
//!     store.put_user(new_user("alice", "correct horse battery staple")?).await?;
//!     let server = AuthServer::new(config, store)?;
//!
//!     // The resource server of the MCP endpoint: what each request needs.
//!     let resource = ResourceServer::for_auth_server(&server)
//!         .required_scopes(["mcp"])
//!         .build()?; // refuses to start if resource, issuer and scopes disagree
//!
//!     // The MCP endpoint. rmcp accepts only the Host names listed here.
//!     let mcp = StreamableHttpService::new(
//!         || Ok(Tools),
//!         Arc::new(LocalSessionManager::default()),
//!         StreamableHttpServerConfig::default()
//!             .with_allowed_hosts(["127.0.0.1", "localhost"])
//!             .with_legacy_session_mode(false), // every request carries its own token
//!     );
//!
//!     let app = mcp_router(resource, mcp) // /mcp (401/403 + WWW-Authenticate) and its metadata
//!         .merge(oauth_router(OAuthHttp::new(server))); // /authorize, /token, /register, …
//!     let listener = tokio::net::TcpListener::bind(BIND).await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! ```
//!
//! Point an MCP client (e.g. `npx @modelcontextprotocol/inspector`) at
//! `http://127.0.0.1:8080/mcp`: it is sent to the login page, comes back
//! with a token, and `whoami` answers `alice via <client id> with scopes mcp`.
//!
//! # Example: trusting an external authorization server
//!
//! Keycloak, Auth0, Okta, Entra ID or any OpenID provider issues the tokens;
//! this server only checks them. Enable `oauth-mcp-core`'s `remote` feature
//! and build the [`ResourceServer`] with the provider's issuer and a
//! validator; [`mcp_router`] then serves the MCP endpoint and metadata that
//! names the provider, and nothing else.
//!
//! ```no_run
//! use axum::{Router, routing::post};
//! use oauth_mcp_axum::{Authenticated, mcp_router};
//! use oauth_mcp_core::validate::remote::RemoteJwksValidator;
//! use oauth_mcp_core::{ResourceServer, ResourceUri};
//!
//! const BIND: &str = "127.0.0.1:8080";
//! /// This server's public URL; the MCP endpoint is `<PUBLIC_URL>/mcp`.
//! const PUBLIC_URL: &str = "https://mcp.example.com";
//! /// The provider's issuer identifier, exactly as its metadata spells it.
//! const ISSUER: &str = "https://idp.example.com/realms/acme";
//!
//! // Your MCP endpoint: rmcp's `StreamableHttpService` as in the first
//! // example, or a handler reading the caller's identity.
//! async fn mcp(Authenticated(who): Authenticated) -> String {
//!     format!("hello {} (scopes {})", who.subject, who.scopes)
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//!     let resource = ResourceUri::parse(&format!("{PUBLIC_URL}/mcp"))?;
//!     // Discovers the JWKS from the issuer's metadata (RFC 8414, then
//!     // OpenID), caches it, and refetches once (rate-limited) on an unknown
//!     // `kid`; fails here if the provider cannot be reached.
//!     let validator = RemoteJwksValidator::builder(ISSUER, resource.clone())
//!         .build()
//!         .await?;
//!     let rs = ResourceServer::builder(resource.as_str())
//!         .authorization_server(ISSUER)
//!         .validator(validator) // its issuer and audience must match, or build() refuses
//!         .scopes_supported(["mcp:tools", "mcp:admin"]) // the provider's scope names
//!         .required_scopes(["mcp:tools"]) // named in the 401 challenge too
//!         .tool_scopes("admin_echo", ["mcp:admin"])
//!         .build()?;
//!
//!     let app: Router = mcp_router(rs, post(mcp)); // /mcp and its metadata
//!     let listener = tokio::net::TcpListener::bind(BIND).await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! ```
//!
//! Opaque tokens: `IntrospectionValidator::discover(ISSUER, client_id,
//! client_secret, resource)` (RFC 7662) in place of the JWKS validator.
//!
//! # Trying a router without a network
//!
//! Both routers are plain axum `Router`s: send them requests with
//! `tower::ServiceExt::oneshot`, as your tests can. Here the first example's
//! server with a plain handler, and a resource server trusting a provider
//! through introspection (nothing is fetched before the first token):
//!
//! ```
//! use std::sync::Arc;
//!
//! use axum::body::Body;
//! use axum::{Router, routing::post};
//! use oauth_mcp_axum::{Authenticated, mcp_router, oauth_router};
//! use oauth_mcp_core::store::MemoryStore;
//! use oauth_mcp_core::validate::remote::IntrospectionValidator;
//! use oauth_mcp_core::{AuthServer, OAuthHttp, ResourceServer, ResourceUri, ServerConfig};
//! use tower::ServiceExt;
//!
//! async fn mcp(Authenticated(who): Authenticated) -> String {
//!     format!("hello {}", who.subject)
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//!     // Embedded authorization server.
//!     let config = ServerConfig::builder("http://127.0.0.1:8080").build()?;
//!     let server = AuthServer::new(config, Arc::new(MemoryStore::new()))?;
//!     let resource = ResourceServer::for_auth_server(&server).required_scopes(["mcp"]).build()?;
//!     let app: Router = mcp_router(resource, post(mcp)).merge(oauth_router(OAuthHttp::new(server)));
//!
//!     let no_token = http::Request::post("/mcp").body(Body::empty())?;
//!     let response = app.clone().oneshot(no_token).await?;
//!     assert_eq!(response.status(), 401);
//!     assert_eq!(
//!         response.headers()["www-authenticate"],
//!         r#"Bearer resource_metadata="http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp", scope="mcp""#
//!     );
//!     let metadata = http::Request::get("/.well-known/oauth-authorization-server").body(Body::empty())?;
//!     assert_eq!(app.oneshot(metadata).await?.status(), 200);
//!
//!     // External authorization server.
//!     let issuer = "https://idp.example.com";
//!     let resource = ResourceUri::parse("https://mcp.example.com/mcp")?;
//!     let validator =
//!         IntrospectionValidator::new(format!("{issuer}/introspect"), "mcp-rs", "secret", resource.clone())?
//!             .with_issuer(issuer);
//!     let rs = ResourceServer::builder(resource.as_str())
//!         .authorization_server(issuer)
//!         .validator(validator)
//!         .required_scopes(["mcp:tools"])
//!         .build()?;
//!     let app: Router = mcp_router(rs, post(mcp));
//!     let prm = http::Request::get("/.well-known/oauth-protected-resource/mcp").body(Body::empty())?;
//!     let response = app.oneshot(prm).await?;
//!     assert_eq!(response.status(), 200);
//!     let body = axum::body::to_bytes(response.into_body(), 64 * 1024).await?;
//!     let metadata: serde_json::Value = serde_json::from_slice(&body)?;
//!     assert_eq!(metadata["resource"], "https://mcp.example.com/mcp");
//!     assert_eq!(metadata["authorization_servers"], serde_json::json!([issuer]));
//!     Ok(())
//! }
//! ```
//!
//! # Routes you mount yourself
//!
//! [`BearerLayer`] guards any route with a [`ResourceServer`]'s checks, and
//! [`Authenticated`] (or `Extension<AuthContext>`) reads the identity:
//! `Router::new().route("/mcp", post(handler)).layer(BearerLayer::new(resource))`.
//! Serve the metadata with `oauth_router(resource)`, as [`mcp_router`]
//! does.
//!
//! # Examples in the repository
//!
//! - [`examples/example-axum-server`](https://github.com/oauth-mcp/oauth-mcp/tree/main/examples/example-axum-server):
//!   the first example grown up: `--bind`, `--public-url`, SQLite or
//!   PostgreSQL (`--store`), upstream login (`--upstream github`), a
//!   connection loop with a request-head timeout and `TCP_NODELAY`
//!   (`example_axum_server::serve`).
//! - [`examples/example-resource-server`](https://github.com/oauth-mcp/oauth-mcp/tree/main/examples/example-resource-server):
//!   the second, with JWKS or introspection and scopes from flags.
//!
//! # Feature flags
//!
//! This crate has no Cargo features of its own. What needs one is enabled on
//! your `oauth-mcp-core` dependency, and works here as it is:
//!
//! | `oauth-mcp-core` feature | enables | default |
//! |---|---|---|
//! | `remote` | validators for an external authorization server's tokens (JWKS, introspection) | no |
//! | `cimd` | Client ID Metadata Documents and `private_key_jwt` clients' `jwks_uri`; implies `remote` | no |
//! | `upstream` | logging people in at GitHub, Google or any OpenID provider (adds `/upstream/callback` to [`oauth_router`]); implies `remote` | no |
//! | `test-kit` | the storage conformance kit, for tests | no |
//!
//! axum itself is used with `default-features = false` (only what the
//! routers need); your application enables `http1`/`http2` and `tokio` to
//! serve.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod body;
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
