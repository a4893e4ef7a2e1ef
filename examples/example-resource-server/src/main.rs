//! `cargo run -p example-resource-server -- --issuer https://idp.example`:
//! an MCP server that trusts an external authorization server.

use clap::Parser;
use example_common::{BoxError, init_tracing};
use example_resource_server::{Options, start};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    init_tracing();
    let opts = Options::parse();
    let running = start(&opts).await?;
    #[allow(clippy::print_stdout)]
    {
        println!("MCP server (OAuth-protected): {}", running.mcp_url);
        println!("Trusted authorization server: {}", opts.issuer);
    }
    tokio::select! {
        r = running.task => r??,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
