//! What the example servers share, so that the axum and actix-web examples
//! differ only in how they mount things: the command-line flags, the demo
//! MCP tools (`whoami`, `admin_echo`), the OAuth configuration and the rmcp
//! streamable-HTTP service.

pub mod upstream;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use oauth_mcp_core::cimd::CimdConfig;
use oauth_mcp_core::client_assertion::JwksFetchConfig;
use oauth_mcp_core::clock::SharedClock;
use oauth_mcp_core::config::KeyRotation;
use oauth_mcp_core::crypto::KeyEncryptionKey;
use oauth_mcp_core::http::OAuthHttp;
use oauth_mcp_core::login::Branding;
use oauth_mcp_core::login::new_user;
use oauth_mcp_core::ratelimit::{ForwardedHeader, RateLimitConfig, TrustedProxies};
use oauth_mcp_core::scope::ScopeHierarchy;
use oauth_mcp_core::server::StartError;
use oauth_mcp_core::store::{MemoryStore, Store};
use oauth_mcp_core::token::{KeySet, SigningKey};
use oauth_mcp_core::{
    AuthContext, AuthServer, PreRegisteredClient, ResourceServer, Secret, ServerConfig,
};
use oauth_mcp_sqlx::SqlStore;
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig as McpConfig,
};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData as McpError, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;

pub use upstream::{UpstreamChoice, UpstreamOptions};

/// A boxed error for start-up failures.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The flags every example server takes; each also reads an environment
/// variable. `Debug` shows no password, secret or store password, and
/// `--help` shows no secret environment value.
#[derive(Clone, clap::Parser)]
#[command(version)]
pub struct Cli {
    /// Address to listen on.
    #[arg(long, env = "MCP_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Public URL (issuer); the MCP endpoint is `<public-url>/mcp`. Default: `http://<bind>`.
    #[arg(long, env = "MCP_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Store: `memory`, `sqlite://<path>` (created if missing: add `?mode=rwc`) or `postgres://…`.
    #[arg(
        long,
        env = "MCP_STORE",
        default_value = "memory",
        hide_env_values = true
    )]
    pub store: String,
    /// Demo user name.
    #[arg(long, env = "MCP_DEMO_USER", default_value = "demo-user")]
    pub demo_user: String,
    /// Demo user password.
    #[arg(
        long,
        env = "MCP_DEMO_PASSWORD",
        default_value = "demo-password",
        hide_env_values = true
    )]
    pub demo_password: String,
    /// Give the demo user the `admin` scope (needed by `admin_echo`).
    #[arg(long, env = "MCP_DEMO_ADMIN")]
    pub demo_admin: bool,
    /// Signing key file (PEM or JWK). Default: keys kept in the store
    /// (a memory store's die with the process), rotated on a schedule.
    #[arg(long, env = "MCP_SIGNING_KEY")]
    pub signing_key: Option<PathBuf>,
    /// Sign people in at this OpenID provider (issuer URL) instead of the demo user.
    #[arg(long, env = "MCP_UPSTREAM_ISSUER", conflicts_with = "upstream")]
    pub upstream_issuer: Option<String>,
    /// Sign people in with `github` or `google` instead of the demo user.
    #[arg(long, env = "MCP_UPSTREAM")]
    pub upstream: Option<String>,
    /// The client id this server is registered with at the upstream provider.
    #[arg(long, env = "MCP_UPSTREAM_CLIENT_ID")]
    pub upstream_client_id: Option<String>,
    /// Its client secret (omit for a public client: PKCE only).
    #[arg(long, env = "MCP_UPSTREAM_CLIENT_SECRET", hide_env_values = true)]
    pub upstream_client_secret: Option<String>,
    /// Who may sign in upstream: user names, user ids or email addresses,
    /// comma-separated; `*` for anyone. Default: nobody.
    #[arg(long, env = "MCP_ALLOWED_USERS")]
    pub allowed_users: Option<String>,
    /// Who gets the `admin` scope (and may sign in), same format.
    #[arg(long, env = "MCP_ADMIN_USERS")]
    pub admin_users: Option<String>,
    /// Key-encryption key sealing the signing keys kept in an SQL store:
    /// base64 of 32 random bytes (`openssl rand -base64 32`). Secret; the
    /// same for every server on the store.
    #[arg(
        long,
        env = "MCP_KEY_ENCRYPTION_KEY",
        hide_env_values = true,
        value_name = "BASE64",
        conflicts_with = "key_encryption_key_file"
    )]
    pub key_encryption_key: Option<String>,
    /// A file holding the key-encryption key (base64 of 32 bytes, or the 32 bytes).
    #[arg(long, env = "MCP_KEY_ENCRYPTION_KEY_FILE", value_name = "FILE")]
    pub key_encryption_key_file: Option<PathBuf>,
    /// Reverse proxies (CIDR ranges or addresses, comma-separated) whose
    /// `X-Forwarded-For` names the client address the rate limits count by.
    /// Default: none (the connection's peer is the client).
    #[arg(long, env = "MCP_TRUSTED_PROXIES", value_name = "CIDRS")]
    pub trusted_proxies: Option<String>,
    /// Turn every rate limit off (load tests only: an open server needs them).
    #[arg(long, env = "MCP_DANGEROUSLY_DISABLE_RATE_LIMITS")]
    pub dangerously_disable_rate_limits: bool,
}

impl Cli {
    /// The options these flags describe; an error names a flag that is
    /// wrong or missing.
    pub fn try_options(self) -> Result<Options, BoxError> {
        let upstream = UpstreamOptions::from_cli(&self)?;
        let mut limits = RateLimitConfig::default();
        if let Some(list) = &self.trusted_proxies {
            let ranges = list.split(',').map(str::trim).filter(|r| !r.is_empty());
            limits = limits.trusted_proxies(
                TrustedProxies::new(ForwardedHeader::XForwardedFor, ranges).map_err(|e| {
                    format!("--trusted-proxies (MCP_TRUSTED_PROXIES): {}", e.reason)
                })?,
            );
        }
        if self.dangerously_disable_rate_limits {
            limits = limits.dangerously_disable_all();
        }
        Ok(Options {
            upstream,
            rate_limits: Some(limits),
            ..self.options()
        })
    }

    /// The options these flags describe, without the upstream login (see
    /// [`Cli::try_options`]).
    pub fn options(self) -> Options {
        Options {
            bind: self.bind,
            public_url: self.public_url,
            store: self.store,
            demo_user: self.demo_user,
            demo_password: self.demo_password,
            demo_admin: self.demo_admin,
            signing_key: self.signing_key,
            key_encryption_key: self.key_encryption_key.map(Secret::new),
            key_encryption_key_file: self.key_encryption_key_file,
            ..Options::default()
        }
    }
}

/// Options shared by the CLI flags and the tests. `Debug` shows no
/// password, secret or store password.
#[derive(Clone)]
pub struct Options {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub bind: SocketAddr,
    /// Public URL; default `http://<bound address>`.
    pub public_url: Option<String>,
    /// `memory`, `sqlite://…` or `postgres://…`.
    pub store: String,
    /// Demo login name.
    pub demo_user: String,
    /// Demo password.
    pub demo_password: String,
    /// Give the demo user the `admin` scope.
    pub demo_admin: bool,
    /// PEM or JWK signing-key file.
    pub signing_key: Option<PathBuf>,
    /// The key-encryption key (base64 of 32 bytes) sealing the store's signing keys.
    pub key_encryption_key: Option<Secret>,
    /// A file holding the key-encryption key.
    pub key_encryption_key_file: Option<PathBuf>,
    /// When the store's signing keys rotate (tests; default [`KeyRotation::default`]).
    pub key_rotation: Option<KeyRotation>,
    /// Extra operator-created clients.
    pub clients: Vec<PreRegisteredClient>,
    /// Clock override (tests).
    pub clock: Option<SharedClock>,
    /// How Client ID Metadata Documents are fetched (default: any https client id).
    pub cimd: Option<CimdConfig>,
    /// How `private_key_jwt` clients' JWK Sets (`jwks_uri`) are fetched
    /// (default: https only, SSRF-hardened).
    pub client_jwks: Option<JwksFetchConfig>,
    /// A path appended to the default public URL `http://<bound address>`
    /// (tests of a path-prefixed server; `--public-url` says it directly).
    pub public_path: Option<String>,
    /// The look of the login pages (tests of branded pages; default: none).
    pub branding: Option<Branding>,
    /// Sign people in at an upstream identity provider instead of the demo user.
    pub upstream: Option<UpstreamOptions>,
    /// Rate limits (default [`RateLimitConfig::default`]); on a PostgreSQL
    /// store they are kept in the store, so they hold across replicas.
    pub rate_limits: Option<RateLimitConfig>,
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
            key_encryption_key: None,
            key_encryption_key_file: None,
            key_rotation: None,
            clients: Vec::new(),
            clock: None,
            cimd: None,
            client_jwks: None,
            public_path: None,
            branding: None,
            upstream: None,
            rate_limits: None,
        }
    }
}

impl std::fmt::Debug for Cli {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cli")
            .field("bind", &self.bind)
            .field("public_url", &self.public_url)
            .field("store", &redact(&self.store))
            .field("demo_user", &self.demo_user)
            .field("demo_password", &REDACTED)
            .field("demo_admin", &self.demo_admin)
            .field("signing_key", &self.signing_key)
            .field("upstream_issuer", &self.upstream_issuer)
            .field("upstream", &self.upstream)
            .field("upstream_client_id", &self.upstream_client_id)
            .field(
                "upstream_client_secret",
                &self.upstream_client_secret.as_ref().map(|_| REDACTED),
            )
            .field("allowed_users", &self.allowed_users)
            .field("admin_users", &self.admin_users)
            .field(
                "key_encryption_key",
                &self.key_encryption_key.as_ref().map(|_| REDACTED),
            )
            .field("key_encryption_key_file", &self.key_encryption_key_file)
            .finish()
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("bind", &self.bind)
            .field("public_url", &self.public_url)
            .field("store", &redact(&self.store))
            .field("demo_user", &self.demo_user)
            .field("demo_password", &REDACTED)
            .field("demo_admin", &self.demo_admin)
            .field("signing_key", &self.signing_key)
            .field("key_encryption_key", &self.key_encryption_key)
            .field("key_encryption_key_file", &self.key_encryption_key_file)
            .field("key_rotation", &self.key_rotation)
            .field("clients", &self.clients)
            .field("clock", &self.clock)
            .field("cimd", &self.cimd)
            .field("client_jwks", &self.client_jwks)
            .field("public_path", &self.public_path)
            .field("branding", &self.branding)
            .field("upstream", &self.upstream)
            .finish()
    }
}

/// What `Debug` shows instead of a secret.
const REDACTED: &str = "[redacted]";

/// A running example server.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// The bound address.
    pub addr: SocketAddr,
    /// The public URL (issuer).
    pub public_url: String,
    /// The MCP endpoint URL.
    pub mcp_url: String,
}

impl Endpoints {
    /// The URLs of a server bound to `addr`.
    pub fn new(opts: &Options, addr: SocketAddr) -> Self {
        let public_url = opts.public_url.clone().unwrap_or_else(|| {
            format!("http://{addr}{}", opts.public_path.as_deref().unwrap_or(""))
        });
        let mcp_url = format!("{public_url}/mcp");
        Self {
            addr,
            public_url,
            mcp_url,
        }
    }

    /// Prints where the server is and how to log in.
    #[allow(clippy::print_stdout)]
    pub fn print_banner(&self, opts: &Options) {
        println!("Listening on:                 {}", self.addr);
        println!("MCP server (OAuth-protected): {}", self.mcp_url);
        println!("Authorization server:         {}", self.public_url);
        match &opts.upstream {
            None => println!(
                "Demo login:                   {} / {}",
                opts.demo_user, opts.demo_password
            ),
            Some(u) => {
                let provider = match &u.provider {
                    UpstreamChoice::Issuer(url) => url.as_str(),
                    UpstreamChoice::GitHub => "GitHub",
                    UpstreamChoice::Google => "Google",
                };
                println!("Sign-in:                      {provider}");
                println!(
                    "Callback URL to register:     {}/upstream/callback",
                    self.public_url
                );
                if u.allowed_users.is_empty() && u.admin_users.is_empty() {
                    println!(
                        "Warning: no --allowed-users or --admin-users: nobody can sign in yet."
                    );
                }
            }
        }
        println!("Signing keys:                 {}", signing_keys(opts));
    }
}

/// Where the signing keys come from, in words.
fn signing_keys(opts: &Options) -> String {
    match &opts.signing_key {
        Some(path) => format!("the key file {}", path.display()),
        None if opts.store == "memory" => {
            "in memory (tokens stop validating at a restart; an SQL --store keeps them)".into()
        }
        None => "in the store, sealed with the key-encryption key (keep it secret), rotated on a schedule".into(),
    }
}

/// Logs to stderr; `RUST_LOG` overrides the default `info,rmcp=warn`
/// (rmcp logs the start and end of its per-request session at INFO, which
/// in stateless mode is every MCP call). Colours only when stderr is a
/// terminal, so redirected logs carry no ANSI codes.
pub fn init_tracing() {
    use std::io::IsTerminal as _;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,rmcp=warn".into()),
        )
        .init();
}

/// Binds a listening socket on `addr`. A failure names the address and how
/// to choose another one, instead of a bare `Os { code: 98, … }`.
pub fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, BoxError> {
    let listener = std::net::TcpListener::bind(addr).map_err(|e| bind_error(addr, &e))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// The start-up error for a socket that cannot be bound.
fn bind_error(addr: SocketAddr, e: &std::io::Error) -> BoxError {
    let why = match e.kind() {
        std::io::ErrorKind::AddrInUse => {
            "the address is already in use (is another server running?)".to_owned()
        }
        std::io::ErrorKind::PermissionDenied => {
            "permission denied (ports below 1024 need privileges)".to_owned()
        }
        std::io::ErrorKind::AddrNotAvailable => {
            "no interface of this machine has that address".to_owned()
        }
        _ => e.to_string(),
    };
    format!(
        "cannot listen on {addr}: {why}. Choose another address with --bind <ip:port> \
         (or the MCP_BIND environment variable), e.g. --bind 127.0.0.1:{}",
        addr.port().wrapping_add(1).max(1024)
    )
    .into()
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct EchoArgs {
    /// The text to echo back.
    message: String,
}

/// The demo MCP server's tools.
#[derive(Debug, Clone)]
pub struct DemoTools {
    /// The scopes `admin_echo` checks for itself (default `admin`).
    admin_echo_scopes: Arc<[String]>,
}

impl Default for DemoTools {
    fn default() -> Self {
        Self::with_admin_echo_scopes(["admin"])
    }
}

impl DemoTools {
    /// Tools whose `admin_echo` requires `scopes` (the resource server's
    /// per-tool scopes for it, when they are not named `admin`).
    pub fn with_admin_echo_scopes<I: IntoIterator<Item = S>, S: Into<String>>(scopes: I) -> Self {
        Self {
            admin_echo_scopes: scopes.into_iter().map(Into::into).collect(),
        }
    }
}

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
        // The Bearer layer already refused tokens without these scopes (403);
        // this second check keeps the tool safe if it is ever mounted elsewhere.
        let who = identity(&parts)?;
        if let Some(missing) = self
            .admin_echo_scopes
            .iter()
            .find(|s| !who.scopes.contains(s))
        {
            return Ok(CallToolResult::error(vec![ContentBlock::text(format!(
                "insufficient_scope: `{missing}` is required"
            ))]));
        }
        Ok(CallToolResult::success(vec![ContentBlock::text(message)]))
    }
}

#[tool_handler]
impl ServerHandler for DemoTools {
    fn get_info(&self) -> McpConfig {
        McpConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("oauth-mcp example", env!("CARGO_PKG_VERSION")))
            .with_instructions("Demo MCP server protected by oauth-mcp. Tools: whoami, admin_echo (needs scope `admin`).")
    }
}

/// The authorization-server configuration the examples use: scopes `mcp`
/// and `admin`, users get `mcp`.
pub fn config(opts: &Options, public_url: &str) -> Result<Arc<ServerConfig>, BoxError> {
    let mut b = ServerConfig::builder(public_url)
        .server_name("oauth-mcp example")
        .scopes_supported(["mcp", "admin"])
        .default_scopes(["mcp"])
        .default_user_scopes(["mcp"])
        .scope_description("mcp", "Use this server's tools as you")
        .scope_description("admin", "Use the administrative tools (admin_echo)")
        .client_id_metadata_documents(opts.cimd.clone().unwrap_or_default())
        .client_jwks_fetch(opts.client_jwks.clone().unwrap_or_default());
    if opts.demo_admin {
        b = b.user_scopes(&opts.demo_user, ["mcp", "admin"]);
    }
    if let Some(path) = &opts.signing_key {
        b = b.signing_keys(KeySet::new(SigningKey::from_file(path)?));
    }
    if let Some(kek) = key_encryption_key(opts)? {
        b = b.key_encryption_key(kek);
    }
    if let Some(r) = opts.key_rotation {
        b = b.key_rotation(r);
    }
    if let Some(c) = &opts.clock {
        b = b.clock(c.clone());
    }
    if let Some(brand) = &opts.branding {
        b = b.branding(brand.clone());
    }
    for c in &opts.clients {
        b = b.client(c.clone());
    }
    let mut limits = opts.rate_limits.clone().unwrap_or_default();
    if is_postgres(&opts.store) {
        // Replicas share the store: so do the rate limits.
        limits = limits.in_store();
    }
    Ok(b.rate_limits(limits).build()?)
}

/// The example's two roles: the embedded authorization server's endpoints
/// and the resource server of the MCP endpoint it feeds.
#[derive(Debug, Clone)]
pub struct Roles {
    /// The authorization server's endpoints.
    pub oauth: OAuthHttp,
    /// The MCP endpoint's resource server (Bearer guard and metadata).
    pub resource: ResourceServer,
}

/// The resource server of the examples' MCP endpoint: every request needs
/// `mcp`, `admin_echo` needs `admin`, and `admin` implies `mcp`.
pub fn resource_server(server: &AuthServer) -> Result<ResourceServer, BoxError> {
    Ok(ResourceServer::for_auth_server(server)
        .required_scopes(["mcp"])
        .tool_scopes("admin_echo", ["admin"])
        .scope_hierarchy(ScopeHierarchy::new().with("admin", ["mcp"]))
        .build()?)
}

/// The embedded authorization server on the chosen store (`memory`,
/// `sqlite://path`, `postgres://…`), with the demo user, and its resource
/// server. SQL stores get their migrations applied and a cleanup task every
/// ten minutes.
pub async fn oauth(opts: &Options, public_url: &str) -> Result<Roles, BoxError> {
    let cfg = config(opts, public_url)?;
    if opts.store == "memory" {
        return with_store(opts, cfg, Arc::new(MemoryStore::new())).await;
    }
    if opts.store.starts_with("sqlite:") || is_postgres(&opts.store) {
        let store = Arc::new(
            SqlStore::connect(&opts.store)
                .await
                .map_err(|e| format!("store `{}`: {e}", redact(&opts.store)))?,
        );
        store.clone().spawn_cleanup(Duration::from_secs(600));
        return with_store(opts, cfg, store).await;
    }
    Err(format!("--store `{}` is not supported; use `memory`, `sqlite://<path>` or `postgres://<user>@<host>/<db>`", redact(&opts.store)).into())
}

fn is_postgres(store: &str) -> bool {
    store.starts_with("postgres:") || store.starts_with("postgresql:")
}

async fn with_store<S: Store + 'static>(
    opts: &Options,
    cfg: Arc<ServerConfig>,
    store: Arc<S>,
) -> Result<Roles, BoxError> {
    if opts.upstream.is_none() {
        store
            .put_user(new_user(&opts.demo_user, &opts.demo_password)?)
            .await?;
    }
    let store_name = redact(&opts.store);
    let server = AuthServer::start(cfg, store).await.map_err(|e| match e {
        StartError::MissingKeyEncryptionKey => format!(
            "signing keys in the store `{store_name}`: no key-encryption key was given, and this store keeps the signing keys for every restart and every server sharing it. {KEK_HINT}"
        )
        .into(),
        StartError::KeyEncryptionKey(why) => format!(
            "signing keys in the store `{store_name}`: {why}. Give MCP_KEY_ENCRYPTION_KEY (--key-encryption-key) or MCP_KEY_ENCRYPTION_KEY_FILE (--key-encryption-key-file) the key-encryption key they were sealed with, the one every other server on this store uses"
        )
        .into(),
        other => BoxError::from(other),
    })?;
    let server = match &opts.upstream {
        Some(u) => server.upstream_login(u.login().await?)?,
        None => server,
    };
    Ok(Roles {
        resource: resource_server(&server)?,
        oauth: OAuthHttp::new(server),
    })
}

/// What to do about a missing key-encryption key.
const KEK_HINT: &str = "Set MCP_KEY_ENCRYPTION_KEY (--key-encryption-key) to 32 random bytes in base64, e.g. `export MCP_KEY_ENCRYPTION_KEY=$(openssl rand -base64 32)`, or name a file holding it with MCP_KEY_ENCRYPTION_KEY_FILE (--key-encryption-key-file). Keep it secret, apart from the store, and keep it: every server on this store needs the same one, and without it the store's signing keys cannot be opened";

/// The key-encryption key from the flags, the error naming the flag and
/// its variable.
fn key_encryption_key(opts: &Options) -> Result<Option<KeyEncryptionKey>, BoxError> {
    match (&opts.key_encryption_key, &opts.key_encryption_key_file) {
        (Some(b64), _) => KeyEncryptionKey::from_base64(b64.secret())
            .map(Some)
            .map_err(|e| format!("MCP_KEY_ENCRYPTION_KEY (--key-encryption-key): {e}").into()),
        (None, Some(path)) => KeyEncryptionKey::from_file(path).map(Some).map_err(|e| {
            format!("MCP_KEY_ENCRYPTION_KEY_FILE (--key-encryption-key-file): {e}").into()
        }),
        (None, None) => Ok(None),
    }
}

/// A store URL without its password, for messages.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// The rmcp service type the examples mount at `/mcp`.
pub type McpService = StreamableHttpService<DemoTools, LocalSessionManager>;

/// The MCP endpoint: rmcp streamable HTTP, stateless (every request carries
/// and is checked with its own token), accepting the public URL's host.
pub fn mcp_service(public_url: &str) -> Result<McpService, BoxError> {
    mcp_service_with(public_url, DemoTools::default())
}

/// [`mcp_service`] serving `tools`.
pub fn mcp_service_with(public_url: &str, tools: DemoTools) -> Result<McpService, BoxError> {
    let host = url::Url::parse(public_url)?
        .host_str()
        .unwrap_or("127.0.0.1")
        .to_owned();
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts([
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
            host,
        ])
        .with_legacy_session_mode(false)
        .with_sse_keep_alive(Some(Duration::from_secs(15)));
    Ok(StreamableHttpService::new(
        move || Ok(tools.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_port_names_the_address_and_the_flag() {
        let first = bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        let addr = first.local_addr().unwrap();
        let e = bind(addr).unwrap_err().to_string();
        assert!(e.contains(&addr.to_string()), "{e}");
        assert!(e.contains("already in use"), "{e}");
        assert!(e.contains("--bind") && e.contains("MCP_BIND"), "{e}");
    }
}

/// The README's code samples (axum and actix-web), compiled as doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
