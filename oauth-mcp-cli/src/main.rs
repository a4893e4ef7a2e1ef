//! `oauth-mcp`: trace an MCP server's OAuth flow, manage an oauth-mcp store.
//! See the library documentation (`oauth_mcp_cli`) for the commands.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use oauth_mcp_cli::cli::{Cli, run};

#[tokio::main]
async fn main() -> ExitCode {
    run(Cli::parse()).await
}
