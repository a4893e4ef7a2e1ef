//! The server processes the harness starts (`loadtest serve <kind>`), each
//! pinned by the harness to its own core. They log nothing, so that what is
//! measured is the request path. They print `LISTENING <addr>` once bound.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::routing::post;
use axum::serve::ListenerExt;
use oauth_mcp_benches::FixedUser;
use oauth_mcp_benches::glue::{
    BoxError, MCP_BODY, bare_router, mcp, protected_router, readme_guard,
};
use oauth_mcp_core::http::OAuthHttp;
use oauth_mcp_core::ratelimit::RateLimitConfig;
use oauth_mcp_core::store::{MemoryStore, Store};
use oauth_mcp_core::token::SigningKey;
use oauth_mcp_core::{AuthServer, ServerConfig};
use oauth_mcp_sqlx::SqlStore;

/// What a server process serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Kind {
    /// axum, a trivial `POST /mcp`, no protection.
    Bare,
    /// The same route behind `BearerLayer` set up as the README shows.
    Layer,
    /// actix-web, the trivial route, no protection.
    ActixBare,
    /// actix-web, the trivial route behind `BearerAuth` (README set-up).
    Actix,
    /// `example-axum-server` as its `main` runs it (INFO logging to stderr,
    /// memory store, demo user), on a free loopback port.
    Example,
    /// The embedded authorization server on `--store`, with a fixed-cost
    /// authenticator (no argon2), plus a README-protected `POST /mcp`.
    As,
}

/// `loadtest serve` flags.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// What to serve.
    #[arg(value_enum)]
    pub(crate) kind: Kind,
    /// PEM signing key shared with the harness (which mints the tokens).
    #[arg(long)]
    pub(crate) key: Option<PathBuf>,
    /// Public URL (issuer; the audience is `<public-url>/mcp`).
    #[arg(long, default_value = "http://127.0.0.1")]
    pub(crate) public_url: String,
    /// Store for `as`: `memory`, `sqlite://…`, `postgres://…`.
    #[arg(long, default_value = "memory")]
    pub(crate) store: String,
}

fn key(args: &ServeArgs) -> Result<SigningKey, BoxError> {
    let path = args
        .key
        .as_ref()
        .ok_or("this server kind needs --key <PEM file>")?;
    Ok(SigningKey::from_file(path)?)
}

#[allow(clippy::print_stdout)]
fn announce(addr: SocketAddr) {
    println!("LISTENING {addr}");
    let _ = std::io::stdout().flush();
}

/// Runs the server until killed.
pub(crate) fn serve(args: &ServeArgs) -> Result<(), BoxError> {
    match args.kind {
        Kind::ActixBare | Kind::Actix => serve_actix(args),
        _ => {
            // The default multi-thread runtime, as `#[tokio::main]` builds it:
            // one worker per core the process may use (one, when pinned).
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(serve_axum(args))
        }
    }
}

async fn serve_example() -> Result<(), BoxError> {
    // What examples/example-axum-server/src/main.rs does, on a free port.
    example_common::init_tracing();
    // Every request comes from 127.0.0.1: rate limits would measure
    // themselves (429s), not the server.
    let opts = example_axum_server::Options {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        rate_limits: Some(RateLimitConfig::default().dangerously_disable_all()),
        ..Default::default()
    };
    let running = example_axum_server::start(opts).await?;
    announce(running.addr);
    tokio::select! {
        r = running.task => r??,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}

async fn serve_axum(args: &ServeArgs) -> Result<(), BoxError> {
    if args.kind == Kind::Example {
        return serve_example().await;
    }
    let app = match args.kind {
        Kind::Bare => bare_router(),
        Kind::Layer => protected_router(&args.public_url, key(args)?)?,
        Kind::As => {
            let server = authorization_server(args).await?;
            let rs = oauth_mcp_core::ResourceServer::for_auth_server(&server)
                .required_scopes(["mcp"])
                .build()?;
            oauth_mcp_axum::mcp_router(rs, post(mcp))
                .merge(oauth_mcp_axum::oauth_router(OAuthHttp::new(server)))
        }
        Kind::ActixBare | Kind::Actix | Kind::Example => {
            return Err("not a plain axum server".into());
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let listener = listener.tap_io(|s| {
        let _ = s.set_nodelay(true);
    });
    announce(addr);
    // Ends cleanly on SIGINT (the harness's stop), so profilers write their data.
    tokio::select! {
        r = axum::serve(listener, app) => r?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}

async fn authorization_server(args: &ServeArgs) -> Result<AuthServer, BoxError> {
    let mut b = ServerConfig::builder(&args.public_url)
        .scopes_supported(["mcp", "admin"])
        .default_scopes(["mcp"])
        .rate_limits(RateLimitConfig::default().dangerously_disable_all());
    if args.key.is_some() {
        b = b.signing_keys(oauth_mcp_core::token::KeySet::new(key(args)?));
    }
    let cfg = b.build()?;
    fn with<S: Store + 'static>(cfg: Arc<ServerConfig>, store: Arc<S>) -> AuthServer {
        AuthServer::with_authenticator(cfg, store, Arc::new(FixedUser))
    }
    if args.store == "memory" {
        Ok(with(cfg, Arc::new(MemoryStore::new())))
    } else {
        Ok(with(cfg, Arc::new(SqlStore::connect(&args.store).await?)))
    }
}

fn serve_actix(args: &ServeArgs) -> Result<(), BoxError> {
    use actix_web::{App, HttpResponse, HttpServer, web};
    // Takes the body, as the axum handler's server does: actix closes a
    // keep-alive connection whose request body was left unread.
    async fn mcp(_body: web::Bytes) -> HttpResponse {
        HttpResponse::Ok()
            .content_type("application/json")
            .body(MCP_BODY)
    }
    let guard = match args.kind {
        Kind::Actix => Some(readme_guard(&args.public_url, key(args)?)?),
        _ => None,
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    actix_web::rt::System::new().block_on(async move {
        let server = HttpServer::new(move || {
            let resource = web::resource("/mcp").route(web::post().to(mcp));
            match &guard {
                Some(g) => {
                    App::new().service(resource.wrap(oauth_mcp_actix::BearerAuth::new(g.clone())))
                }
                None => App::new().service(resource),
            }
        })
        .listen(listener)?
        .shutdown_timeout(1)
        .run();
        announce(addr);
        server.await
    })?;
    Ok(())
}
