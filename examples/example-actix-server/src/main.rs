//! `cargo run -p example-actix-server`: an OAuth-protected MCP server on localhost, on actix-web.

use clap::Parser;
use example_common::{BoxError, Cli, Endpoints, init_tracing};

#[actix_web::main]
async fn main() -> Result<(), BoxError> {
    init_tracing();
    let opts = Cli::parse().try_options()?;
    let running = example_actix_server::start(opts.clone()).await?;
    Endpoints::new(&opts, running.addr).print_banner(&opts);
    tokio::select! {
        r = running.task => r??,
        _ = tokio::signal::ctrl_c() => running.handle.stop(true).await,
    }
    Ok(())
}
