//! `cargo run -p example-axum-server`: an OAuth-protected MCP server on localhost.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use example_axum_server::{Options, start};

/// An MCP server (rmcp, streamable HTTP) protected by oauth-mcp, with an embedded authorization server.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Address to listen on.
    #[arg(long, env = "MCP_BIND", default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// Public URL (issuer); the MCP endpoint is <public-url>/mcp. Default: http://<bind>.
    #[arg(long, env = "MCP_PUBLIC_URL")]
    public_url: Option<String>,
    /// Store: `memory`.
    #[arg(long, env = "MCP_STORE", default_value = "memory")]
    store: String,
    /// Demo user name.
    #[arg(long, env = "MCP_DEMO_USER", default_value = "demo-user")]
    demo_user: String,
    /// Demo user password.
    #[arg(long, env = "MCP_DEMO_PASSWORD", default_value = "demo-password")]
    demo_password: String,
    /// Give the demo user the `admin` scope (needed by `admin_echo`).
    #[arg(long, env = "MCP_DEMO_ADMIN")]
    demo_admin: bool,
    /// Signing key file (PEM or JWK); default: a fresh key per start.
    #[arg(long, env = "MCP_SIGNING_KEY")]
    signing_key: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,oauth_mcp=info".into()),
        )
        .init();
    let cli = Cli::parse();
    let running = start(Options {
        bind: cli.bind,
        public_url: cli.public_url,
        store: cli.store,
        demo_user: cli.demo_user.clone(),
        demo_password: cli.demo_password.clone(),
        demo_admin: cli.demo_admin,
        signing_key: cli.signing_key,
        ..Options::default()
    })
    .await?;
    #[allow(clippy::print_stdout)]
    {
        println!("MCP server (OAuth-protected): {}", running.mcp_url);
        println!("Authorization server:         {}", running.public_url);
        println!(
            "Demo login:                   {} / {}",
            cli.demo_user, cli.demo_password
        );
    }
    tokio::select! {
        r = running.task => r??,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
