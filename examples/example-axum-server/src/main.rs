//! `cargo run -p example-axum-server`: an OAuth-protected MCP server on localhost.

use clap::Parser;
use example_common::{BoxError, Cli, Endpoints, init_tracing};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    init_tracing();
    let opts = Cli::parse().try_options()?;
    let running = example_axum_server::start(opts.clone()).await?;
    Endpoints::new(&opts, running.addr).print_banner(&opts);
    tokio::select! {
        r = running.task => r??,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
