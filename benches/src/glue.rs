//! The resource-server set-up the benches measure, written once and exactly
//! as the README shows it: a `ServerConfig` with scopes `mcp`/`admin`, a
//! `MemoryStore`, an `AuthServer`, and `ResourceServer::for_auth_server`
//! with `required_scopes(["mcp"])` and a per-tool scope (the Bearer check
//! with the default revocation lookup). Tokens are minted with the same
//! signing key by a [`TokenMint`], outside the server, so a load generator
//! can bring a fresh valid token for every request.
//!
//! When the core's API changes, this is the only file to port.

use std::sync::Arc;

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::post;

use oauth_mcp_core::clock::{Clock, SystemClock};
use oauth_mcp_core::http::OAuthHttp;
use oauth_mcp_core::resource::ResourceUri;
use oauth_mcp_core::scope::ScopeSet;
use oauth_mcp_core::secret::random_token;
use oauth_mcp_core::store::MemoryStore;
use oauth_mcp_core::token::{KeySet, MintRequest, SigningKey, TokenSigner};
use oauth_mcp_core::{AuthServer, ResourceServer, ServerConfig};

/// A boxed error for set-up failures.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The README's `ServerConfig` for `public_url`, signing with `key`.
pub fn readme_config(public_url: &str, key: SigningKey) -> Result<Arc<ServerConfig>, BoxError> {
    Ok(ServerConfig::builder(public_url)
        .scopes_supported(["mcp", "admin"])
        .default_scopes(["mcp"])
        .signing_keys(KeySet::new(key))
        .build()?)
}

/// The README's embedded authorization server on a memory store.
pub fn readme_server(public_url: &str, key: SigningKey) -> Result<AuthServer, BoxError> {
    let config = readme_config(public_url, key)?;
    Ok(AuthServer::new(config, Arc::new(MemoryStore::new()))?)
}

/// The README's resource server for `server`'s MCP endpoint.
pub fn readme_resource_server(server: &AuthServer) -> Result<ResourceServer, BoxError> {
    Ok(ResourceServer::for_auth_server(server)
        .required_scopes(["mcp"])
        .tool_scopes("admin_echo", ["admin"])
        .build()?)
}

/// The README's `OAuthHttp` (embedded authorization server on a memory store).
pub fn readme_oauth(public_url: &str, key: SigningKey) -> Result<OAuthHttp, BoxError> {
    Ok(OAuthHttp::new(readme_server(public_url, key)?))
}

/// The README's Bearer check: its `ResourceServer`.
pub fn readme_guard(public_url: &str, key: SigningKey) -> Result<ResourceServer, BoxError> {
    readme_resource_server(&readme_server(public_url, key)?)
}

/// The JSON-RPC request every resource-server target gets.
pub const TOOLS_LIST: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#;

/// The headers every resource-server request carries besides
/// `Authorization` (and the connection's `Host`), as an MCP client sends
/// them.
pub fn mcp_headers() -> Vec<(http::HeaderName, http::HeaderValue)> {
    use http::{HeaderName, HeaderValue, header};
    vec![
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ),
        (
            header::ACCEPT,
            HeaderValue::from_static("application/json, text/event-stream"),
        ),
        (
            HeaderName::from_static("mcp-protocol-version"),
            HeaderValue::from_static("2025-11-25"),
        ),
    ]
}

/// The trivial handler's answer (same bytes in every framework).
pub const MCP_BODY: &str = r#"{"jsonrpc":"2.0","id":1,"result":{"ok":true}}"#;

/// The trivial MCP handler of the axum targets: [`MCP_BODY`] as JSON.
pub async fn mcp() -> impl IntoResponse {
    ([(http::header::CONTENT_TYPE, "application/json")], MCP_BODY)
}

/// Bare axum: `POST /mcp` answered by [`mcp`], with no guard.
pub fn bare_router() -> Router {
    Router::new().route("/mcp", post(mcp))
}

/// The same handler protected as the README shows:
/// `mcp_router(resource, post(mcp))` with [`readme_guard`].
pub fn protected_router(public_url: &str, key: SigningKey) -> Result<Router, BoxError> {
    Ok(oauth_mcp_axum::mcp_router(
        readme_guard(public_url, key)?,
        post(mcp),
    ))
}

/// Mints access tokens that a [`readme_guard`] with the same key and public
/// URL accepts: audience `<public_url>/mcp`, scope `mcp`, a grant id (so the
/// guard's revocation lookup runs, as it does for real tokens), one hour.
#[derive(Debug, Clone)]
pub struct TokenMint {
    signer: TokenSigner,
    audience: ResourceUri,
    scope: ScopeSet,
}

impl TokenMint {
    /// A mint for the server at `public_url` signing with `key`.
    pub fn new(public_url: &str, key: SigningKey) -> Result<Self, BoxError> {
        let config = readme_config(public_url, key.clone())?;
        Ok(Self {
            signer: TokenSigner::new(KeySet::new(key), config.issuer()),
            audience: config.resource().clone(),
            scope: ScopeSet::parse("mcp")?,
        })
    }

    /// A fresh token (new `jti` and grant id).
    pub fn mint(&self) -> Result<String, BoxError> {
        let grant = random_token();
        let (token, _) = self.signer.mint(&MintRequest {
            subject: "bench-user",
            client_id: "bench-client",
            scope: &self.scope,
            audience: &self.audience,
            grant_id: Some(&grant),
            now: SystemClock.now(),
            ttl: 3600,
        })?;
        Ok(token)
    }
}
