//! The axum example: rmcp's streamable-HTTP MCP service at `/mcp` behind
//! oauth-mcp's Bearer guard ([`oauth_mcp_axum::mcp_router`]), plus the embedded authorization server's
//! endpoints. `main.rs` is a thin CLI around [`start`]; tests call [`start`]
//! directly on an ephemeral loopback port.

use axum::Router;
use example_common::{BoxError, Endpoints, mcp_service, oauth};
use oauth_mcp_axum::{mcp_router, oauth_router};

pub use example_common::Options;

/// A running server.
#[derive(Debug)]
pub struct Running {
    /// The bound address.
    pub addr: std::net::SocketAddr,
    /// The public URL (issuer).
    pub public_url: String,
    /// The MCP endpoint URL.
    pub mcp_url: String,
    /// The serving task.
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// The application router for `public_url`.
pub async fn app(opts: &Options, public_url: &str) -> Result<Router, BoxError> {
    let roles = oauth(opts, public_url).await?;
    Ok(mcp_router(roles.resource, mcp_service(public_url)?).merge(oauth_router(roles.oauth)))
}

/// Binds, builds and serves in the background.
pub async fn start(opts: Options) -> Result<Running, BoxError> {
    let listener = tokio::net::TcpListener::from_std(example_common::bind(opts.bind)?)?;
    start_on(listener, opts).await
}

/// Builds and serves on an already bound `listener` (`opts.bind` is not
/// used): for tests that must know the port before the server is built,
/// e.g. to register its upstream callback URL at an identity provider.
pub async fn start_on(
    listener: tokio::net::TcpListener,
    opts: Options,
) -> Result<Running, BoxError> {
    let ep = Endpoints::new(&opts, listener.local_addr()?);
    let router = app(&opts, &ep.public_url).await?;
    let task = tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(Running {
        addr: ep.addr,
        public_url: ep.public_url,
        mcp_url: ep.mcp_url,
        task,
    })
}
