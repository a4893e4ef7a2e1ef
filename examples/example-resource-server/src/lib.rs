//! A resource-server-only MCP server: rmcp streamable HTTP at `/mcp`, whose
//! tokens come from an external authorization server (Keycloak, Auth0, Okta,
//! Entra ID, any OpenID provider), configured only by that issuer's URL and
//! this server's own public URL. It mounts no authorization-server endpoint,
//! only the protected-resource metadata naming the issuer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use example_common::{BoxError, DemoTools, mcp_service_with};
use oauth_mcp_axum::mcp_router;
use oauth_mcp_core::Secret;
use oauth_mcp_core::clock::{SharedClock, SystemClock};
use oauth_mcp_core::resource::ResourceUri;
use oauth_mcp_core::scope::ScopeHierarchy;
use oauth_mcp_core::validate::remote::{IntrospectionValidator, RemoteJwksValidator, ScopeClaim};
use oauth_mcp_core::{ResourceServer, TokenValidator};

/// The flags; each also reads an environment variable. `Debug` shows no
/// secret, and `--help` no secret environment value.
#[derive(Debug, Clone, clap::Parser)]
#[command(version)]
pub struct Options {
    /// Address to listen on.
    #[arg(long, env = "MCP_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Public URL; the MCP endpoint (and token audience) is `<public-url>/mcp`. Default: `http://<bind>`.
    #[arg(long, env = "MCP_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The external authorization server's issuer identifier.
    #[arg(long, env = "MCP_ISSUER")]
    pub issuer: String,
    /// Validate opaque tokens by RFC 7662 introspection as this client (else: JWTs against the JWKS).
    #[arg(
        long,
        env = "MCP_INTROSPECTION_CLIENT_ID",
        requires = "introspection_client_secret"
    )]
    pub introspection_client_id: Option<String>,
    /// The introspection client's secret.
    #[arg(long, env = "MCP_INTROSPECTION_CLIENT_SECRET", hide_env_values = true)]
    pub introspection_client_secret: Option<Secret>,
    /// Accept JWT access tokens whose `typ` is `JWT` (not only RFC 9068's `at+jwt`).
    #[arg(long, env = "MCP_ACCEPT_JWT_TYP")]
    pub accept_jwt_typ: bool,
    /// An unknown key id refetches the JWKS at most this often (seconds).
    #[arg(long, env = "MCP_JWKS_MIN_REFETCH_SECS", default_value_t = 10)]
    pub jwks_min_refetch_secs: u64,
    /// The JWKS is refetched at least this often (seconds); sooner if its
    /// `Cache-Control: max-age` says so.
    #[arg(long, env = "MCP_JWKS_MAX_AGE_SECS", default_value_t = 600)]
    pub jwks_max_age_secs: u64,
    /// The scopes this resource understands (listed in its metadata), space- or comma-separated.
    #[arg(long, env = "MCP_SCOPES", default_value = "mcp admin")]
    pub scopes: String,
    /// The scopes every request needs (named in the 401 challenge).
    #[arg(long, env = "MCP_REQUIRED_SCOPES", default_value = "mcp")]
    pub required_scopes: String,
    /// The scopes each tool needs beyond the required ones, as
    /// `tool=scope scope;other_tool=scope` (named in its 403 challenge).
    #[arg(long, env = "MCP_TOOL_SCOPES", default_value = "admin_echo=admin")]
    pub tool_scopes: String,
    /// Scopes that include others, as `broad=narrower narrower;…` (a token
    /// with the broad scope satisfies the narrower ones). Empty for none.
    #[arg(long, env = "MCP_SCOPE_IMPLIES", default_value = "admin=mcp")]
    pub scope_implies: String,
    /// Clock override (tests).
    #[arg(skip)]
    pub clock: Option<SharedClock>,
}

/// A running server.
#[derive(Debug)]
pub struct Running {
    /// The bound address.
    pub addr: SocketAddr,
    /// The MCP endpoint URL.
    pub mcp_url: String,
    /// The serving task.
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

fn scope_list(s: &str) -> Vec<&str> {
    s.split([' ', ',']).filter(|t| !t.is_empty()).collect()
}

/// Parses `name=scope scope;name=scope` (`flag` names the option in errors).
fn scope_map<'a>(flag: &str, s: &'a str) -> Result<Vec<(&'a str, Vec<&'a str>)>, BoxError> {
    s.split(';')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| match entry.split_once('=') {
            Some((name, scopes)) if !name.trim().is_empty() && !scope_list(scopes).is_empty() => {
                Ok((name.trim(), scope_list(scopes)))
            }
            _ => Err(format!(
                "--{flag}: `{entry}` is not `name=scope [scope…]` (entries separated by `;`)"
            )
            .into()),
        })
        .collect()
}

/// Builds the router: PRM naming the issuer, and `/mcp` behind the Bearer layer.
pub async fn app(opts: &Options, public_url: &str) -> Result<Router, BoxError> {
    let resource = ResourceUri::parse(&format!("{public_url}/mcp"))?;
    let clock: SharedClock = opts.clock.clone().unwrap_or_else(|| Arc::new(SystemClock));
    let validator: Arc<dyn TokenValidator> = match (
        &opts.introspection_client_id,
        &opts.introspection_client_secret,
    ) {
        (Some(id), Some(secret)) => Arc::new(
            IntrospectionValidator::discover(
                &opts.issuer,
                id.clone(),
                secret.clone(),
                resource.clone(),
            )
            .await?
            .with_clock(clock),
        ),
        _ => {
            let mut b = RemoteJwksValidator::builder(&opts.issuer, resource.clone())
                .scope_claims(vec![
                    ScopeClaim::SpaceSeparated("scope".into()),
                    ScopeClaim::List("scp".into()),
                ])
                .min_refetch_interval(Duration::from_secs(opts.jwks_min_refetch_secs))
                .max_key_age(Duration::from_secs(opts.jwks_max_age_secs))
                .clock(clock);
            if opts.accept_jwt_typ {
                b = b.accept_plain_jwt_typ();
            }
            Arc::new(b.build().await?)
        }
    };
    let mut hierarchy = ScopeHierarchy::new();
    for (broad, narrower) in scope_map("scope-implies", &opts.scope_implies)? {
        hierarchy = hierarchy.with(broad, narrower);
    }
    let mut rs = ResourceServer::builder(resource.as_str())
        .authorization_server(&opts.issuer)
        .shared_validator(validator)
        .scopes_supported(scope_list(&opts.scopes))
        .required_scopes(scope_list(&opts.required_scopes))
        .scope_hierarchy(hierarchy)
        .resource_name("oauth-mcp example resource server");
    let mut tools = DemoTools::default();
    for (tool, scopes) in scope_map("tool-scopes", &opts.tool_scopes)? {
        if tool == "admin_echo" {
            tools = DemoTools::with_admin_echo_scopes(scopes.iter().copied());
        }
        rs = rs.tool_scopes(tool, scopes);
    }
    // Refuses to start if a required or per-tool scope is not supported.
    let rs = rs.build()?;
    Ok(mcp_router(rs, mcp_service_with(public_url, tools)?))
}

/// Serves on an already bound listener (tests bind first, so the
/// authorization server can be told this server's URL before it starts).
pub async fn start_on(
    listener: tokio::net::TcpListener,
    opts: &Options,
) -> Result<Running, BoxError> {
    let addr = listener.local_addr()?;
    let public_url = opts
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let router = app(opts, &public_url).await?;
    let task = tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(Running {
        addr,
        mcp_url: format!("{public_url}/mcp"),
        task,
    })
}

/// Binds `opts.bind` and serves.
pub async fn start(opts: &Options) -> Result<Running, BoxError> {
    start_on(
        tokio::net::TcpListener::from_std(example_common::bind(opts.bind)?)?,
        opts,
    )
    .await
}
