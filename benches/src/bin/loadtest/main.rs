//! `loadtest`: the HTTP load harness (issue 12). Run it with
//!
//! ```text
//! cargo run --release -p oauth-mcp-benches --bin loadtest -- [--rounds 5 --duration 5 ...]
//! ```
//!
//! It starts each server as its own process pinned to one core (`taskset`)
//! and drives it from this process, pinned to the other core, over loopback
//! with keep-alive connections, in alternating rounds (A B C … A B C …). It
//! prints Markdown tables: per target the median req/s, p50/p99 latency and
//! server CPU per request (utime + stime from `/proc/<pid>/stat`), and the
//! median of the same-round ratios to bare axum. The second suite measures
//! the token endpoint (code flow, refresh rotation) on the memory, SQLite
//! and PostgreSQL stores with a fixed-cost authenticator, and counts the
//! PostgreSQL round trips of each endpoint through a counting proxy.
//!
//! Not part of `cargo test`: it takes minutes and wants an idle machine.

mod client;
mod cpu;
mod flows;
mod load;
mod pgcount;
mod report;
mod run;
mod serve;

use clap::Parser;

/// The harness's command line.
#[derive(Debug, Parser)]
#[command(about = "HTTP load harness for oauth-mcp (see benches/README.md)")]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    #[command(flatten)]
    run: run::RunArgs,
}

#[derive(Debug, clap::Subcommand)]
enum Cmd {
    /// Internal: serve one target (the harness starts these itself).
    Serve(serve::ServeArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match &cli.cmd {
        Some(Cmd::Serve(args)) => serve::serve(args),
        None => run::main(&cli.run),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadtest: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
