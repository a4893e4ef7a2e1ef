//! The example MCP server: rmcp over streamable HTTP at `/mcp`, protected by
//! oauth-mcp's axum adapter, with an embedded authorization server, an
//! in-memory store and a demo user. `main.rs` is a thin CLI around [`start`];
//! tests call [`start`] directly on an ephemeral loopback port.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use oauth_mcp_axum::{BearerLayer, oauth_router};
use oauth_mcp_core::clock::SharedClock;
use oauth_mcp_core::http::OAuthHttp;
use oauth_mcp_core::login::new_user;
use oauth_mcp_core::scope::ScopeHierarchy;
use oauth_mcp_core::store::{MemoryStore, UserStore};
use oauth_mcp_core::token::{KeySet, SigningKey};
use oauth_mcp_core::{AuthContext, AuthServer, PreRegisteredClient, ServerConfig};
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig as McpConfig,
};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData as McpError, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;

/// Options shared by the CLI flags and the tests.
#[derive(Debug, Clone)]
pub struct Options {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub bind: SocketAddr,
    /// Public URL; default `http://<bound address>`.
    pub public_url: Option<String>,
    /// `memory` (only store in this build).
    pub store: String,
    /// Demo login name.
    pub demo_user: String,
    /// Demo password.
    pub demo_password: String,
    /// Give the demo user the `admin` scope.
    pub demo_admin: bool,
    /// PEM or JWK signing-key file.
    pub signing_key: Option<PathBuf>,
    /// Extra operator-created clients.
    pub clients: Vec<PreRegisteredClient>,
    /// Clock override (tests).
    pub clock: Option<SharedClock>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            store: "memory".into(),
            demo_user: "demo-user".into(),
            demo_password: "demo-password".into(),
            demo_admin: false,
            signing_key: None,
            clients: Vec::new(),
            clock: None,
        }
    }
}

/// A running server.
#[derive(Debug)]
pub struct Running {
    /// The bound address.
    pub addr: SocketAddr,
    /// The public URL (issuer).
    pub public_url: String,
    /// The MCP endpoint URL.
    pub mcp_url: String,
    /// The serving task.
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct EchoArgs {
    /// The text to echo back.
    message: String,
}

/// The demo MCP server's tools.
#[derive(Debug, Clone, Default)]
pub struct DemoTools;

fn identity(parts: &http::request::Parts) -> Result<&AuthContext, McpError> {
    parts.extensions.get::<AuthContext>().ok_or_else(|| {
        McpError::internal_error(
            "no OAuth identity: the MCP endpoint is not behind the Bearer layer",
            None,
        )
    })
}

#[tool_router]
impl DemoTools {
    #[tool(description = "Who am I? Returns the token's subject, client id, scopes and audience.")]
    async fn whoami(
        &self,
        Extension(parts): Extension<http::request::Parts>,
    ) -> Result<CallToolResult, McpError> {
        let who = identity(&parts)?;
        let body = serde_json::json!({
            "subject": who.subject,
            "client_id": who.client_id,
            "scopes": who.scopes.to_vec(),
            "audience": who.audience,
        });
        Ok(CallToolResult::success(vec![ContentBlock::text(
            body.to_string(),
        )]))
    }

    #[tool(description = "Echo a message back. Requires the `admin` scope.")]
    async fn admin_echo(
        &self,
        Extension(parts): Extension<http::request::Parts>,
        Parameters(EchoArgs { message }): Parameters<EchoArgs>,
    ) -> Result<CallToolResult, McpError> {
        // The Bearer layer already refused tokens without `admin` (403); this
        // second check keeps the tool safe if it is ever mounted elsewhere.
        if !identity(&parts)?.scopes.contains("admin") {
            return Ok(CallToolResult::error(vec![ContentBlock::text(
                "insufficient_scope: `admin` is required",
            )]));
        }
        Ok(CallToolResult::success(vec![ContentBlock::text(message)]))
    }
}

#[tool_handler]
impl ServerHandler for DemoTools {
    fn get_info(&self) -> McpConfig {
        McpConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("oauth-mcp example (axum)", env!("CARGO_PKG_VERSION")))
            .with_instructions("Demo MCP server protected by oauth-mcp. Tools: whoami, admin_echo (needs scope `admin`).")
    }
}

/// Builds the oauth-mcp configuration the example uses.
pub fn config(
    opts: &Options,
    public_url: &str,
) -> Result<Arc<ServerConfig>, Box<dyn std::error::Error + Send + Sync>> {
    let mut b = ServerConfig::builder(public_url)
        .server_name("oauth-mcp example")
        .scopes_supported(["mcp", "admin"])
        .default_scopes(["mcp"])
        .required_scopes(["mcp"])
        .tool_scopes("admin_echo", ["admin"])
        .scope_hierarchy(ScopeHierarchy::new().with("admin", ["mcp"]))
        .default_user_scopes(["mcp"]);
    if opts.demo_admin {
        b = b.user_scopes(&opts.demo_user, ["mcp", "admin"]);
    }
    if let Some(path) = &opts.signing_key {
        b = b.signing_keys(KeySet::new(SigningKey::from_file(path)?));
    }
    if let Some(c) = &opts.clock {
        b = b.clock(c.clone());
    }
    for c in &opts.clients {
        b = b.client(c.clone());
    }
    Ok(b.build()?)
}

/// Builds the application router for `public_url`.
pub async fn app(
    opts: &Options,
    public_url: &str,
) -> Result<Router, Box<dyn std::error::Error + Send + Sync>> {
    if opts.store != "memory" {
        return Err(format!(
            "store `{}` is not available in this build; use `memory` (SQLite and PostgreSQL arrive with oauth-mcp-sqlx)",
            opts.store
        )
        .into());
    }
    let cfg = config(opts, public_url)?;
    let store = Arc::new(MemoryStore::new());
    store
        .put_user(new_user(&opts.demo_user, &opts.demo_password)?)
        .await?;
    let oauth = OAuthHttp::new(AuthServer::new(cfg.clone(), store)?);

    let host = url::Url::parse(public_url)?
        .host_str()
        .unwrap_or("127.0.0.1")
        .to_owned();
    let mcp_config = StreamableHttpServerConfig::default()
        .with_allowed_hosts([
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
            host,
        ])
        // Stateless: every request carries (and is checked with) its own token.
        .with_legacy_session_mode(false)
        .with_sse_keep_alive(Some(Duration::from_secs(15)));
    let mcp = StreamableHttpService::new(
        || Ok(DemoTools),
        Arc::new(LocalSessionManager::default()),
        mcp_config,
    );

    let protected = Router::new()
        .nest_service(cfg.mcp_path(), mcp)
        .layer(BearerLayer::new(oauth.resource_guard()));
    Ok(protected.merge(oauth_router(oauth)))
}

/// Binds, builds and serves in the background.
pub async fn start(opts: Options) -> Result<Running, Box<dyn std::error::Error + Send + Sync>> {
    let listener = tokio::net::TcpListener::bind(opts.bind).await?;
    let addr = listener.local_addr()?;
    let public_url = opts
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let router = app(&opts, &public_url).await?;
    let mcp_url = format!("{public_url}/mcp");
    let task = tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(Running {
        addr,
        public_url,
        mcp_url,
        task,
    })
}
