//! # oauth-mcp-actix
//!
//! OAuth 2.1 for an MCP server built on [actix-web](https://docs.rs/actix-web):
//! mounts [`oauth_mcp_core`] so that MCP clients (Claude, ChatGPT, Cursor, VS
//! Code, MCP Inspector, the official SDK clients) can discover where to log
//! in, get a token for your MCP endpoint, and call your tools. Like
//! `oauth-mcp-axum`, it only translates types (actix-web speaks `http` 0.2,
//! the core `http` 1): every status, header and body comes from the core's
//! framework-neutral HTTP layer, so both adapters answer alike.
//!
//! - [`configure_mcp`]: your MCP endpoint handler behind the Bearer guard
//!   of a [`ResourceServer`], plus its RFC 9728 metadata, in one call.
//! - [`configure`]: every endpoint of an embedded authorization server
//!   (metadata, `/authorize`, `/token`, `/register`, `/revoke`,
//!   `/introspect`, `/jwks.json`).
//! - [`BearerAuth`]: the middleware [`configure_mcp`] uses, for routes you
//!   mount yourself; it puts the caller's [`AuthContext`] in request extensions.
//! - [`Authenticated`]: an extractor for that identity.
//! - [`to_core_parts`], [`copy_headers`]: the conversions a bridge to a
//!   `http`-1 service (such as rmcp's) needs.
//!
//! # Example: an MCP server with its own authorization server
//!
//! A complete server: an MCP endpoint built with the official Rust MCP SDK,
//! [`rmcp`](https://docs.rs/rmcp) (streamable HTTP), whose tool reads the
//! caller's identity, and the embedded authorization server with one user.
//! actix-web cannot mount a tower service, so `mcp_bridge` hands each request
//! to rmcp's `StreamableHttpService::handle` and streams the answer back,
//! passing on the identity the Bearer middleware found. Its `Cargo.toml`
//! needs `oauth-mcp-actix`, `oauth-mcp-core`, `actix-web` (feature
//! `macros`), `http`, `http-body-util` and `rmcp` (`server`, `macros`,
//! `transport-streamable-http-server`).
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use actix_web::http::StatusCode;
//! use actix_web::{App, HttpMessage, HttpRequest, HttpResponse, HttpServer, web};
//! use http_body_util::{BodyDataStream, Full};
//! use oauth_mcp_actix::{configure, configure_mcp, copy_headers, to_core_parts};
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
//! const BIND: (&str, u16) = ("127.0.0.1", 8080);
//! /// The URL clients reach this server at: the issuer, and `<PUBLIC_URL>/mcp`
//! /// is the MCP endpoint and the audience of every token.
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
//!         let who = parts
//!             .extensions
//!             .get::<AuthContext>()
//!             .ok_or_else(|| ErrorData::internal_error("not behind the Bearer middleware", None))?;
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
//! type McpService = StreamableHttpService<Tools, LocalSessionManager>;
//!
//! /// One MCP request to rmcp, with the caller's identity.
//! async fn mcp_bridge(req: HttpRequest, body: web::Bytes, mcp: web::Data<McpService>) -> HttpResponse {
//!     let mut parts = to_core_parts(&req);
//!     if let Some(who) = req.extensions().get::<AuthContext>() {
//!         parts.extensions.insert(who.clone());
//!     }
//!     let response = mcp.handle(http::Request::from_parts(parts, Full::new(body))).await;
//!     let (parts, body) = response.into_parts();
//!     let status = StatusCode::from_u16(parts.status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
//!     let mut out = HttpResponse::build(status).streaming(BodyDataStream::new(body));
//!     copy_headers(&parts.headers, out.headers_mut());
//!     out
//! }
//!
//! #[actix_web::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//!     let config = ServerConfig::builder(PUBLIC_URL)
//!         .scopes_supported(["mcp", "admin"])
//!         .default_scopes(["mcp"])
//!         .build()?; // a bad value fails here, naming it
//!     let store = Arc::new(MemoryStore::new());
//!     store.put_user(new_user("alice", "correct horse battery staple")?).await?;
//!     let server = AuthServer::new(config, store)?;
//!     let resource = ResourceServer::for_auth_server(&server)
//!         .required_scopes(["mcp"])
//!         .build()?; // refuses to start if resource, issuer and scopes disagree
//!     let oauth = OAuthHttp::new(server);
//!     let mcp = web::Data::new(StreamableHttpService::new(
//!         || Ok(Tools),
//!         Arc::new(LocalSessionManager::default()),
//!         StreamableHttpServerConfig::default()
//!             .with_allowed_hosts(["127.0.0.1", "localhost"]) // the public URL's host
//!             .with_legacy_session_mode(false),
//!     ));
//!
//!     HttpServer::new(move || {
//!         App::new()
//!             .app_data(mcp.clone())
//!             .configure(configure_mcp(resource.clone(), mcp_bridge)) // /mcp and its metadata
//!             .configure(configure(oauth.clone())) // /authorize, /token, /register, …
//!     })
//!     .bind(BIND)?
//!     .run()
//!     .await?;
//!     Ok(())
//! }
//! ```
//!
//! # Example: trusting an external authorization server
//!
//! Keycloak, Auth0, Okta, Entra ID or any OpenID provider issues the tokens;
//! this server only checks them. Enable `oauth-mcp-core`'s `remote` feature
//! and build the [`ResourceServer`] with the provider's issuer and a
//! validator:
//!
//! ```no_run
//! use actix_web::{App, HttpServer};
//! use oauth_mcp_actix::{Authenticated, configure_mcp};
//! use oauth_mcp_core::validate::remote::RemoteJwksValidator;
//! use oauth_mcp_core::{ResourceServer, ResourceUri};
//!
//! const BIND: (&str, u16) = ("127.0.0.1", 8080);
//! /// This server's public URL; the MCP endpoint is `<PUBLIC_URL>/mcp`.
//! const PUBLIC_URL: &str = "https://mcp.example.com";
//! /// The provider's issuer identifier, exactly as its metadata spells it.
//! const ISSUER: &str = "https://idp.example.com/realms/acme";
//!
//! // Your MCP endpoint: the rmcp bridge of the first example, or a handler.
//! async fn mcp(Authenticated(who): Authenticated) -> String {
//!     format!("hello {} (scopes {})", who.subject, who.scopes)
//! }
//!
//! #[actix_web::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//!     let resource = ResourceUri::parse(&format!("{PUBLIC_URL}/mcp"))?;
//!     // Discovers and fetches the provider's JWKS now; fails here if it cannot.
//!     let validator = RemoteJwksValidator::builder(ISSUER, resource.clone())
//!         .build()
//!         .await?;
//!     let rs = ResourceServer::builder(resource.as_str())
//!         .authorization_server(ISSUER)
//!         .validator(validator) // its issuer and audience must match, or build() refuses
//!         .scopes_supported(["mcp:tools", "mcp:admin"])
//!         .required_scopes(["mcp:tools"])
//!         .build()?;
//!     HttpServer::new(move || App::new().configure(configure_mcp(rs.clone(), mcp)))
//!         .bind(BIND)?
//!         .run()
//!         .await?;
//!     Ok(())
//! }
//! ```
//!
//! # Trying an app without a network
//!
//! `actix_web::test` calls an `App` directly, as your tests can: here the
//! embedded server with a plain handler, and a resource server trusting a
//! provider through introspection (nothing is fetched before the first
//! token):
//!
//! ```
//! use std::sync::Arc;
//!
//! use actix_web::{App, test};
//! use oauth_mcp_actix::{Authenticated, configure, configure_mcp};
//! use oauth_mcp_core::store::MemoryStore;
//! use oauth_mcp_core::validate::remote::IntrospectionValidator;
//! use oauth_mcp_core::{AuthServer, OAuthHttp, ResourceServer, ResourceUri, ServerConfig};
//!
//! async fn mcp(Authenticated(who): Authenticated) -> String {
//!     format!("hello {}", who.subject)
//! }
//!
//! #[actix_web::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // Embedded authorization server.
//!     let config = ServerConfig::builder("http://127.0.0.1:8080").build()?;
//!     let server = AuthServer::new(config, Arc::new(MemoryStore::new()))?;
//!     let resource = ResourceServer::for_auth_server(&server).required_scopes(["mcp"]).build()?;
//!     let app = test::init_service(
//!         App::new()
//!             .configure(configure_mcp(resource, mcp))
//!             .configure(configure(OAuthHttp::new(server))),
//!     )
//!     .await;
//!     let response = test::call_service(&app, test::TestRequest::post().uri("/mcp").to_request()).await;
//!     assert_eq!(response.status(), 401);
//!     assert_eq!(
//!         response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()),
//!         Some(r#"Bearer resource_metadata="http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp", scope="mcp""#)
//!     );
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
//!     let app = test::init_service(App::new().configure(configure_mcp(rs, mcp))).await;
//!     let prm = test::TestRequest::get().uri("/.well-known/oauth-protected-resource/mcp").to_request();
//!     let metadata: serde_json::Value = test::call_and_read_body_json(&app, prm).await;
//!     assert_eq!(metadata["resource"], "https://mcp.example.com/mcp");
//!     assert_eq!(metadata["authorization_servers"], serde_json::json!([issuer]));
//!     Ok(())
//! }
//! ```
//!
//! # Routes you mount yourself
//!
//! Wrap any resource or scope in [`BearerAuth`] (`.wrap(BearerAuth::new(resource))`)
//! and read the identity with [`Authenticated`]; serve the metadata with
//! `configure(resource)`, as [`configure_mcp`] does.
//!
//! # Examples in the repository
//!
//! - [`examples/example-actix-server`](https://github.com/oauth-mcp/oauth-mcp/tree/main/examples/example-actix-server):
//!   the first example grown up: `--bind`, `--public-url`, SQLite or
//!   PostgreSQL (`--store`), upstream login, `TCP_NODELAY`, request-head
//!   and keep-alive timeouts.
//! - [`examples/example-resource-server`](https://github.com/oauth-mcp/oauth-mcp/tree/main/examples/example-resource-server):
//!   the second mode with JWKS or introspection (on axum; the resource server
//!   is built the same way).
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
//! | `upstream` | logging people in at GitHub, Google or any OpenID provider (adds `/upstream/callback` to [`configure`]); implies `remote` | no |
//! | `test-kit` | the storage conformance kit, for tests | no |
//!
//! actix-web itself is used with `default-features = false`; your
//! application enables `macros` (for `#[actix_web::main]`) and what else it
//! needs.
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
