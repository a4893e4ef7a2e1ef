//! # oauth-mcp-core
//!
//! The protocol engine of oauth-mcp: OAuth 2.1 for [Model Context
//! Protocol](https://modelcontextprotocol.io) servers, correct by default, so
//! that MCP clients (Claude, ChatGPT, Cursor, VS Code, MCP Inspector, the
//! official SDK clients) can discover where to log in, get a token **whose
//! audience is your MCP endpoint**, and call your tools. It is
//! storage-agnostic (async traits in [`store`], an in-memory [`MemoryStore`];
//! SQLite and PostgreSQL in `oauth-mcp-sqlx`) and framework-neutral ([`http`]
//! takes `http::Request<Bytes>` and returns `http::Response<Bytes>`):
//! `oauth-mcp-axum` and `oauth-mcp-actix` mount it in one call each.
//!
//! It plays the two roles of the MCP authorization specification, one type
//! each:
//!
//! - **Protected resource** ([`ResourceServer`], every MCP server): RFC 9728
//!   metadata, Bearer validation bound to the MCP endpoint's URI as
//!   audience, required and per-operation scopes (`tools/call`,
//!   `resources/read`, `prompts/get`), `WWW-Authenticate` challenges. It
//!   trusts an external authorization server (a [`TokenValidator`] such as
//!   [`RemoteJwksValidator`]) or an embedded one.
//! - **Authorization server** ([`AuthServer`], optional): RFC 8414 metadata,
//!   RFC 7591 registration and Client ID Metadata Documents, authorization
//!   code + PKCE S256, RFC 8707 resource indicators, RFC 9068 JWT access
//!   tokens, refresh rotation, revocation, introspection, a replaceable login
//!   UI ([`LoginUi`]). It feeds its issuer and local validator into its
//!   resource server ([`ResourceServer::for_auth_server`]).
//!
//! Configuration is checked when it is built: a value that is wrong, or two
//! values that disagree (the resource, the issuer, the validator's audience,
//! the scopes), stop the server at start-up with a [`ConfigError`] naming the
//! value and the fix, never at the first request.
//!
//! # Example: an embedded authorization server
//!
//! Your MCP server issues its own tokens: people log in on its login page
//! (or at GitHub, Google or any OpenID provider: feature `upstream`), and
//! the tokens are for its MCP endpoint only. Build the two roles, then hand
//! them to an adapter (`oauth_mcp_axum::mcp_router` and `oauth_router`,
//! `oauth_mcp_actix::configure_mcp` and `configure`). What each answers
//! does not depend on the framework, so it can be tried here directly:
//!
//! ```
//! use std::sync::Arc;
//!
//! use bytes::Bytes;
//! use oauth_mcp_core::login::new_user;
//! use oauth_mcp_core::store::{MemoryStore, UserStore};
//! use oauth_mcp_core::{AuthServer, OAuthHttp, ResourceServer, ServerConfig};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // The authorization server. The public URL is its issuer; the MCP
//!     // endpoint, <public URL>/mcp, is the audience of every token it mints.
//!     let config = ServerConfig::builder("http://127.0.0.1:8080")
//!         .scopes_supported(["mcp", "admin"])
//!         .default_scopes(["mcp"])
//!         .build()?; // a bad value fails here, naming it and the fix
//!     let store = Arc::new(MemoryStore::new());
//!     store.put_user(new_user("alice", "correct horse battery staple")?).await?;
//!     let server = AuthServer::new(config, store)?;
//!
//!     // The resource server of the MCP endpoint: what each request needs.
//!     let mcp = ResourceServer::for_auth_server(&server)
//!         .required_scopes(["mcp"])
//!         .tool_scopes("admin_echo", ["admin"]) // a `tools/call` of admin_echo needs `admin`
//!         .build()?; // refuses to start if resource, issuer and scopes disagree
//!     assert_eq!(mcp.mcp_path(), "/mcp");
//!
//!     // The authorization server's endpoints, framework-neutral.
//!     let oauth = OAuthHttp::new(server);
//!     let request = http::Request::get("/.well-known/oauth-authorization-server").body(Bytes::new())?;
//!     let response = oauth.handle(request).await;
//!     assert_eq!(response.status(), 200);
//!     let metadata: serde_json::Value = serde_json::from_slice(response.body())?;
//!     assert_eq!(metadata["issuer"], "http://127.0.0.1:8080");
//!     assert_eq!(metadata["code_challenge_methods_supported"], serde_json::json!(["S256"]));
//!
//!     // A request to the MCP endpoint without a token is told where to log in.
//!     match mcp.check(&http::HeaderMap::new(), None, None).await {
//!         Ok(who) => println!("{} may call tools", who.subject),
//!         Err(refusal) => {
//!             assert_eq!(refusal.status, 401);
//!             assert_eq!(
//!                 refusal.challenge,
//!                 r#"Bearer resource_metadata="http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp", scope="mcp""#
//!             );
//!         }
//!     }
//!     Ok(())
//! }
//! ```
//!
//! [`AuthServer::new`] signs with a key made for this process; with a
//! persistent store, [`AuthServer::start`] keeps the signing keys in the
//! store, sealed with a key-encryption key
//! ([`ServerConfigBuilder::key_encryption_key`]), and rotates them.
//!
//! # Example: trusting an external authorization server
//!
//! Your MCP server issues no tokens: Keycloak, Auth0, Okta, Entra ID or any
//! OpenID provider does (feature `remote`). Build the [`ResourceServer`]
//! alone, with the provider's issuer and a validator for its tokens. JWT
//! access tokens are checked against the provider's keys,
//! [`RemoteJwksValidator`], which discovers its JWKS from the issuer's
//! metadata, so building it fetches them (and fails at start-up if it
//! cannot):
//!
#![cfg_attr(feature = "remote", doc = "```no_run")]
#![cfg_attr(not(feature = "remote"), doc = "```ignore")]
//! use oauth_mcp_core::validate::remote::{RemoteJwksValidator, ScopeClaim};
//! use oauth_mcp_core::{ResourceServer, ResourceUri};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let issuer = "https://idp.example.com/realms/acme";
//!     let resource = ResourceUri::parse("https://mcp.example.com/mcp")?;
//!     let validator = RemoteJwksValidator::builder(issuer, resource.clone())
//!         // Entra ID and Okta list scopes in `scp`; the default reads `scope` only.
//!         .scope_claims(vec![
//!             ScopeClaim::SpaceSeparated("scope".into()),
//!             ScopeClaim::List("scp".into()),
//!         ])
//!         .build()
//!         .await?; // discovers and fetches the JWKS now
//!     let mcp = ResourceServer::builder(resource.as_str())
//!         .authorization_server(issuer)
//!         .validator(validator) // its issuer and audience must match, or build() refuses
//!         .scopes_supported(["mcp:tools", "mcp:admin"]) // the provider's scope names
//!         .required_scopes(["mcp:tools"])
//!         .tool_scopes("admin_echo", ["mcp:admin"])
//!         .build()?;
//!     // Mount it with oauth_mcp_axum::mcp_router or oauth_mcp_actix::configure_mcp.
//!     println!("MCP endpoint at {}", mcp.resource());
//!     Ok(())
//! }
//! ```
//!
//! Opaque tokens are checked by RFC 7662 introspection at the provider,
//! as a client of it ([`IntrospectionValidator`];
//! `IntrospectionValidator::discover` finds the endpoint in the issuer's
//! metadata). Given the endpoint, nothing is fetched before the first
//! token, so this one runs as it is:
//!
#![cfg_attr(feature = "remote", doc = "```")]
#![cfg_attr(not(feature = "remote"), doc = "```ignore")]
//! use oauth_mcp_core::validate::remote::IntrospectionValidator;
//! use oauth_mcp_core::{ResourceServer, ResourceUri};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let issuer = "https://idp.example.com/realms/acme";
//!     let resource = ResourceUri::parse("https://mcp.example.com/mcp")?;
//!     let validator = IntrospectionValidator::new(
//!         "https://idp.example.com/realms/acme/protocol/openid-connect/token/introspect",
//!         "mcp-resource-server", // this server's client id at the provider
//!         std::env::var("INTROSPECTION_SECRET").unwrap_or_default(),
//!         resource.clone(),
//!     )?
//!     .with_issuer(issuer); // answers must name this issuer
//!     let mcp = ResourceServer::builder(resource.as_str())
//!         .authorization_server(issuer)
//!         .validator(validator)
//!         .scopes_supported(["mcp:tools", "mcp:admin"])
//!         .required_scopes(["mcp:tools"])
//!         .build()?;
//!
//!     // What MCP clients read first: RFC 9728 metadata naming the provider.
//!     assert_eq!(
//!         mcp.metadata_url(),
//!         "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
//!     );
//!     assert_eq!(mcp.metadata().authorization_servers, [issuer]);
//!     let Err(refusal) = mcp.check(&http::HeaderMap::new(), None, None).await else {
//!         panic!("a request without a token is refused");
//!     };
//!     assert_eq!(refusal.status, 401);
//!     assert!(refusal.challenge.ends_with(r#"scope="mcp:tools""#));
//!     Ok(())
//! }
//! ```
//!
//! A disagreement stops the server before it serves anything: here the
//! validator checks tokens for another resource, so every token would be
//! refused:
//!
#![cfg_attr(feature = "remote", doc = "```")]
#![cfg_attr(not(feature = "remote"), doc = "```ignore")]
//! use oauth_mcp_core::validate::remote::IntrospectionValidator;
//! use oauth_mcp_core::{ResourceServer, ResourceUri};
//!
//! let issuer = "https://idp.example.com";
//! let other = ResourceUri::parse("https://other.example.com/mcp").unwrap();
//! let validator = IntrospectionValidator::new(format!("{issuer}/introspect"), "rs", "secret", other)
//!     .unwrap()
//!     .with_issuer(issuer);
//! let err = ResourceServer::builder("https://mcp.example.com/mcp")
//!     .authorization_server(issuer)
//!     .validator(validator)
//!     .build()
//!     .unwrap_err();
//! assert_eq!(err.field, "validator");
//! println!("{err}"); // the validator accepts tokens for `https://other.example.com/mcp`, but …
//! ```
//!
//! # Going further
//!
//! - **Storage**: [`MemoryStore`] keeps everything in the process; for state
//!   that survives restarts and is shared by replicas, `oauth-mcp-sqlx`'s
//!   `SqlStore` (SQLite, PostgreSQL). Your own backend implements the traits
//!   of [`store`] and proves itself with `store::conformance::run_all`
//!   (feature `test-kit`).
//! - **Users**: passwords in the store ([`login::new_user`], argon2id), your
//!   own [`Authenticator`], or an upstream identity provider (feature
//!   `upstream`: `upstream::GitHubUpstream`, `upstream::OidcUpstream`,
//!   `upstream::LoginPolicy`).
//! - **Pages**: brand the default login, consent and error pages with
//!   [`Branding`], or replace them with your own [`LoginUi`].
//! - **Limits**: login throttling, password-hashing concurrency, body sizes
//!   and purging are set on [`ServerConfigBuilder`]; see the repository
//!   README's "What is limited by default, and how to tune it".
//! - **Audit log**: every decision is a `tracing` event under the target
//!   `oauth_mcp::audit`, named and shaped in [`events`].
//!
//! # Examples in the repository
//!
//! - [`examples/example-axum-server`](https://github.com/oauth-mcp/oauth-mcp/tree/main/examples/example-axum-server):
//!   an MCP server (the official Rust SDK `rmcp`, streamable HTTP) with the
//!   embedded authorization server, on axum; `--store`, `--upstream`, key
//!   rotation.
//! - [`examples/example-actix-server`](https://github.com/oauth-mcp/oauth-mcp/tree/main/examples/example-actix-server):
//!   the same on actix-web.
//! - [`examples/example-resource-server`](https://github.com/oauth-mcp/oauth-mcp/tree/main/examples/example-resource-server):
//!   an MCP server trusting an external authorization server (JWKS or
//!   introspection), scopes from flags.
//!
//! # Feature flags
//!
//! None is enabled by default; the default build has the embedded
//! authorization server, the resource server, the local JWT validator, the
//! in-memory store and the framework-neutral HTTP layer, and makes no
//! outgoing HTTP request.
//!
//! | feature | enables | default |
//! |---|---|---|
//! | `remote` | validators for tokens of an external authorization server, over HTTPS (`reqwest` with rustls): [`RemoteJwksValidator`] (JWTs against a discovered, cached JWKS) and [`IntrospectionValidator`] (RFC 7662) | no |
//! | `cimd` | Client ID Metadata Documents (URL client ids, fetched with SSRF protections: [`cimd`], [`ServerConfigBuilder::client_id_metadata_documents`]) and fetching `private_key_jwt` clients' `jwks_uri`; implies `remote` | no |
//! | `upstream` | logging people in at GitHub, Google or any OpenID provider ([`upstream`], [`AuthServer::with_upstream`]), a login policy, a sealed vault of upstream tokens; implies `remote` | no |
//! | `test-kit` | for other crates' tests: the storage conformance kit (`store::conformance`) and a client signing key for `private_key_jwt` (`client_assertion::TestClientKey`) | no |
//!
//! On docs.rs every feature is documented and feature-gated items carry a
//! badge naming their feature.
//!
#![cfg_attr(
    feature = "remote",
    doc = "[`RemoteJwksValidator`]: validate::remote::RemoteJwksValidator\n\n[`IntrospectionValidator`]: validate::remote::IntrospectionValidator"
)]
#![cfg_attr(
    not(feature = "remote"),
    doc = "[`RemoteJwksValidator`]: https://docs.rs/oauth-mcp-core/latest/oauth_mcp_core/validate/remote/struct.RemoteJwksValidator.html\n\n[`IntrospectionValidator`]: https://docs.rs/oauth-mcp-core/latest/oauth_mcp_core/validate/remote/struct.IntrospectionValidator.html"
)]
#![cfg_attr(
    feature = "cimd",
    doc = "[`cimd`]: crate::cimd\n\n[`ServerConfigBuilder::client_id_metadata_documents`]: ServerConfigBuilder::client_id_metadata_documents"
)]
#![cfg_attr(
    not(feature = "cimd"),
    doc = "[`cimd`]: https://docs.rs/oauth-mcp-core/latest/oauth_mcp_core/cimd/index.html\n\n[`ServerConfigBuilder::client_id_metadata_documents`]: https://docs.rs/oauth-mcp-core/latest/oauth_mcp_core/config/struct.ServerConfigBuilder.html#method.client_id_metadata_documents"
)]
#![cfg_attr(
    feature = "upstream",
    doc = "[`upstream`]: crate::upstream\n\n[`AuthServer::with_upstream`]: AuthServer::with_upstream"
)]
#![cfg_attr(
    not(feature = "upstream"),
    doc = "[`upstream`]: https://docs.rs/oauth-mcp-core/latest/oauth_mcp_core/upstream/index.html\n\n[`AuthServer::with_upstream`]: https://docs.rs/oauth-mcp-core/latest/oauth_mcp_core/server/struct.AuthServer.html#method.with_upstream"
)]
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
pub use validate::{AuthContext, Identity, TokenValidator};
