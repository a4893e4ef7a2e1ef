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
    let task = tokio::spawn(serve(listener, router));
    Ok(Running {
        addr: ep.addr,
        public_url: ep.public_url,
        mcp_url: ep.mcp_url,
        task,
    })
}

/// How long a client may take to send a request head (and, on a kept-alive
/// connection, the next one): slow or idle clients are let go after this.
pub const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves `router` on `listener` like `axum::serve` with
/// `into_make_service_with_connect_info::<SocketAddr>()` (the peer address
/// reaches the handlers), plus what an open port needs: `TCP_NODELAY` (no Nagle delay on MCP responses) and a
/// request-head timeout (stalled or idle connections are closed). Request
/// bodies have their own timeout in the oauth-mcp adapter.
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    use axum::Extension;
    use axum::extract::ConnectInfo;
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;
    use tower_layer::Layer as _;
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            // Out of file descriptors and the like: keep serving the rest.
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        // The peer address, as `into_make_service_with_connect_info` would
        // give it: the authorization server's rate limits count by it.
        let with_peer = Extension(ConnectInfo(peer)).layer(router.clone());
        let service = TowerToHyperService::new(with_peer);
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades()
                .await;
        });
    }
}
