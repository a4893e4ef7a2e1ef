//! The actix-web example: the same MCP server as the axum example (rmcp
//! streamable HTTP at `/mcp`, the embedded authorization server, the demo
//! user), mounted with `oauth-mcp-actix`.
//!
//! actix-web cannot mount a tower service, so [`mcp_bridge`] hands each
//! request to rmcp's `StreamableHttpService::handle` and streams its answer
//! back; the Bearer middleware has already put the caller's identity in the
//! request, which the bridge passes on to the tools.

use std::net::SocketAddr;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpMessage, HttpRequest, HttpResponse, HttpServer, web};
use example_common::{BoxError, Endpoints, McpService, mcp_service, oauth};
use http_body_util::{BodyDataStream, Full};
use oauth_mcp_actix::{configure, configure_mcp, copy_headers, to_core_parts};
use oauth_mcp_core::AuthContext;

pub use example_common::Options;

/// rmcp's own body limit (4 MiB).
const MCP_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// A running server.
#[derive(Debug)]
pub struct Running {
    /// The bound address.
    pub addr: SocketAddr,
    /// The public URL (issuer).
    pub public_url: String,
    /// The MCP endpoint URL.
    pub mcp_url: String,
    /// Stops the server.
    pub handle: ServerHandle,
    /// The serving task.
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Serves one MCP request with rmcp, passing the caller's identity along.
pub async fn mcp_bridge(
    req: HttpRequest,
    body: web::Bytes,
    mcp: web::Data<McpService>,
) -> HttpResponse {
    let mut parts = to_core_parts(&req);
    if let Some(ctx) = req.extensions().get::<AuthContext>() {
        parts.extensions.insert(ctx.clone());
    }
    let resp = mcp
        .handle(http::Request::from_parts(parts, Full::new(body)))
        .await;
    let (parts, body) = resp.into_parts();
    let status = actix_web::http::StatusCode::from_u16(parts.status.as_u16())
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut out = HttpResponse::build(status).streaming(BodyDataStream::new(body));
    copy_headers(&parts.headers, out.headers_mut());
    out
}

/// Binds, builds and serves in the background (two workers, `TCP_NODELAY`,
/// a 10 s request-head timeout, 30 s idle keep-alive).
pub async fn start(opts: Options) -> Result<Running, BoxError> {
    let listener = example_common::bind(opts.bind)?;
    start_on(listener, opts).await
}

/// Builds and serves on an already bound `listener` (`opts.bind` is not
/// used): for tests that must know the port before the server is built,
/// e.g. to register its upstream callback URL at an identity provider.
pub async fn start_on(listener: std::net::TcpListener, opts: Options) -> Result<Running, BoxError> {
    let ep = Endpoints::new(&opts, listener.local_addr()?);
    let roles = oauth(&opts, &ep.public_url).await?;
    let mcp = web::Data::new(mcp_service(&ep.public_url)?);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(mcp.clone())
            .app_data(web::PayloadConfig::new(MCP_BODY_LIMIT))
            .configure(configure_mcp(roles.resource.clone(), mcp_bridge))
            .configure(configure(roles.oauth.clone()))
    })
    .workers(2)
    // Abuse limits of the connection (the request body's own timeout is the
    // adapter's): answer without Nagle's delay, give up on a request head
    // not received within 10 s, close idle keep-alive connections after 30 s.
    .tcp_nodelay(true)
    .client_request_timeout(std::time::Duration::from_secs(10))
    .keep_alive(std::time::Duration::from_secs(30))
    .listen(listener)?
    .run();
    let handle = server.handle();
    let task = tokio::spawn(server);
    Ok(Running {
        addr: ep.addr,
        public_url: ep.public_url,
        mcp_url: ep.mcp_url,
        handle,
        task,
    })
}
