//! `trace` against an OAuth-protected MCP server built with another SDK: the
//! official TypeScript MCP SDK's demo OAuth server
//! (`interop/ts-server/server.mjs`: the SDK's `DemoInMemoryAuthProvider`,
//! `mcpAuthRouter`, `requireBearerAuth` and streamable HTTP with sessions),
//! on loopback.
//!
//! Needs Node.js (>= 18) and npm on `PATH`; the test fails (it does not
//! skip) when they are missing. `node_modules` is installed with `npm ci`
//! from the committed lock file when absent or stale.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use oauth_mcp_cli::{Outcome, Status, TraceOptions};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::support::{assert_completed, run_trace};

const SDK: &str = "@modelcontextprotocol/sdk";

fn server_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../interop/ts-server");
    dir.canonicalize()
        .unwrap_or_else(|e| panic!("interop/ts-server not found at {}: {e}", dir.display()))
}

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

async fn run(dir: &Path, program: &str, args: &[&str], limit: Duration) -> std::process::Output {
    let child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start `{program}` ({e}): this test needs Node.js >= 18 with npm on PATH (e.g. `apt-get install nodejs npm`)"
            )
        });
    tokio::time::timeout(limit, child.wait_with_output())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "`{program} {}` did not finish within {limit:?}",
                args.join(" ")
            )
        })
        .unwrap()
}

/// `npm ci` unless the pinned SDK version is installed.
async fn ensure_node_deps(dir: &Path) {
    let pinned = read_json(&dir.join("package.json"))
        .and_then(|p| p["dependencies"][SDK].as_str().map(str::to_owned))
        .unwrap();
    let installed = read_json(&dir.join("node_modules").join(SDK).join("package.json"))
        .and_then(|p| p["version"].as_str().map(str::to_owned));
    if installed.as_deref() == Some(pinned.as_str()) {
        return;
    }
    eprintln!("ts-server: running `npm ci` in {}", dir.display());
    let out = run(
        dir,
        "npm",
        &["ci", "--no-audit", "--no-fund"],
        Duration::from_secs(300),
    )
    .await;
    assert!(
        out.status.success(),
        "`npm ci` failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The running Node server (killed when dropped) and its URLs.
struct TsServer {
    _child: Child,
    mcp_url: String,
    sdk: String,
}

async fn start(args: &[&str]) -> TsServer {
    let dir = server_dir();
    ensure_node_deps(&dir).await;
    let mut child = Command::new("node")
        .arg("server.mjs")
        .args(args)
        .current_dir(&dir)
        // stdin stays open while the test runs; the server exits when it closes.
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `node` ({e}): this test needs Node.js >= 18"));
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the TypeScript server starts within 30 s")
        .unwrap()
        .expect("the TypeScript server prints its URLs");
    let v: Value =
        serde_json::from_str(&first).unwrap_or_else(|e| panic!("not JSON ({e}): {first}"));
    // Keep draining stdout (the server logs there) so it never blocks.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    TsServer {
        _child: child,
        mcp_url: v["mcp_url"].as_str().unwrap().to_owned(),
        sdk: v["sdk"].as_str().unwrap().to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_sdk_demo_oauth_server() {
    // --strict: the SDK's demo AS accepts only resource = the MCP URL, and
    // the MCP server only tokens introspected with that audience.
    let server = start(&["--strict"]).await;
    assert!(server.sdk.starts_with("1."), "{}", server.sdk);
    assert!(server.mcp_url.starts_with("http://127.0.0.1:"));
    // The demo login approves at once: no credentials needed.
    let r = run_trace(&TraceOptions::new(&server.mcp_url)).await;
    assert_completed(&r);
    assert_eq!(r.outcome(), Outcome::Warnings, "{}", r.render_text(false));
    // Its tokens are opaque UUIDs: the audience cannot be read.
    let aud = r.step("token audience").unwrap();
    assert_eq!(aud.status, Status::Skipped);
    assert!(
        aud.summary.contains("not a JWT, not checked"),
        "{}",
        aud.summary
    );
    assert_eq!(r.summary.access_token_is_jwt, Some(false));
    // The authorization server is a different origin from the MCP server.
    let issuer = r.summary.issuer.clone().unwrap();
    assert!(
        !server.mcp_url.starts_with(issuer.trim_end_matches('/')),
        "{issuer}"
    );
    assert_eq!(r.step("login").unwrap().status, Status::Skipped);
    assert!(
        r.summary.tools.iter().any(|t| t == "whoami"),
        "{:?}",
        r.summary
    );
    assert!(r.summary.protocol_version.is_some());
    // What the SDK's demo does differently from the spec, as warnings:
    // `error=` on the bare challenge, and no refresh token although
    // refresh_token is advertised.
    let ids: Vec<&str> = r.diagnoses().map(|d| d.id).collect();
    assert_eq!(
        ids,
        ["error-on-bare-challenge", "refresh-not-issued"],
        "{}",
        r.render_text(false)
    );
}
