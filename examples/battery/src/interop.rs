//! Interop: the official TypeScript MCP SDK client (`interop/ts/client.mjs`,
//! `@modelcontextprotocol/sdk` pinned in `interop/ts/package.json`) connects
//! through OAuth to an example server: discovery, dynamic registration,
//! PKCE authorization with a headless login, code exchange, MCP over
//! streamable HTTP with the Bearer token, `whoami`, and a refresh.
//!
//! Needs Node.js (>= 20) and npm on `PATH`; the test fails (it does not skip)
//! when they are missing. `node_modules` is installed with `npm ci` from the
//! committed lock file when absent or stale.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::process::Command;

/// The client gives up after 30 s by itself; this is the backstop.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);
const NPM_TIMEOUT: Duration = Duration::from_secs(300);
const SDK: &str = "@modelcontextprotocol/sdk";

fn interop_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop/ts");
    dir.canonicalize()
        .unwrap_or_else(|e| panic!("interop/ts not found at {}: {e}", dir.display()))
}

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// Runs `program args` in `dir` with a deadline; panics with a clear message
/// when the program is not installed, times out or fails.
async fn run(dir: &Path, program: &str, args: &[&str], timeout: Duration) -> std::process::Output {
    let child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                panic!(
                    "`{program}` is not installed (or not on PATH): the TypeScript interop test \
                     needs Node.js >= 20 with npm. Install it (e.g. `apt-get install nodejs npm`) \
                     and run again."
                )
            }
            panic!("cannot start `{program}`: {e}")
        });
    // On timeout the future is dropped with the child, which kill_on_drop ends.
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => panic!("waiting for `{program} {}` failed: {e}", args.join(" ")),
        Err(_) => panic!(
            "`{program} {}` did not finish within {timeout:?} (killed)",
            args.join(" ")
        ),
    }
}

/// Installs `node_modules` from the lock file unless the pinned SDK is there.
async fn ensure_node_deps(dir: &Path) {
    let node = run(dir, "node", &["--version"], Duration::from_secs(30)).await;
    assert!(node.status.success(), "`node --version` failed: {node:?}");

    let pinned = read_json(&dir.join("package.json"))
        .and_then(|p| p["dependencies"][SDK].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("interop/ts/package.json does not depend on {SDK}"));
    let installed = read_json(&dir.join("node_modules").join(SDK).join("package.json"))
        .and_then(|p| p["version"].as_str().map(str::to_owned));
    if installed.as_deref() == Some(pinned.as_str()) {
        return;
    }
    eprintln!(
        "ts_interop: {SDK} {} installed, {pinned} pinned: running `npm ci` in {}",
        installed.as_deref().unwrap_or("not"),
        dir.display()
    );
    let out = run(dir, "npm", &["ci", "--no-audit", "--no-fund"], NPM_TIMEOUT).await;
    assert!(
        out.status.success(),
        "`npm ci` in {} failed ({}):\n{}\n{}",
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs the TypeScript SDK client (`node client.mjs <mcp_url>`) against the
/// running server whose MCP endpoint is `mcp_url` (`{issuer}/mcp`) and checks
/// its summary; panics (failing the test) on any failure.
pub async fn typescript_client(mcp_url: &str) {
    let issuer = mcp_url
        .strip_suffix("/mcp")
        .unwrap_or_else(|| panic!("the MCP URL `{mcp_url}` is not `{{issuer}}/mcp`"));
    let dir = interop_dir();
    ensure_node_deps(&dir).await;

    let started = Instant::now();
    let out = run(&dir, "node", &["client.mjs", mcp_url], CLIENT_TIMEOUT).await;
    let elapsed = started.elapsed();

    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the TypeScript SDK client failed ({}) against {mcp_url}:\n--- stderr ---\n{stderr}\n--- stdout ---\n{stdout}",
        out.status
    );
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON summary on stdout:\n{stdout}\n{stderr}"));
    let summary: Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("summary is not JSON ({e}): {line}"));
    eprintln!("ts_interop: client finished in {elapsed:?}: {summary}");

    assert_eq!(summary["ok"], true, "{summary}");
    assert!(
        summary["sdk"]
            .as_str()
            .is_some_and(|s| s.starts_with("@modelcontextprotocol/sdk@1.")),
        "{summary}"
    );
    assert_eq!(summary["mcp_url"], mcp_url, "{summary}");
    assert_eq!(summary["issuer"], issuer, "{summary}");
    let tools: Vec<&str> = summary["tools"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(
        tools.contains(&"whoami") && tools.contains(&"admin_echo"),
        "{summary}"
    );
    // The SDK sent the RFC 8707 resource indicator and the PRM's scope.
    assert_eq!(
        summary["authorization_request"]["resource"], mcp_url,
        "{summary}"
    );
    assert_eq!(
        summary["authorization_request"]["code_challenge_method"], "S256",
        "{summary}"
    );
    let who = &summary["whoami"];
    assert_eq!(who["subject"], "demo-user", "{summary}");
    assert_eq!(who["audience"], mcp_url, "{summary}");
    assert_eq!(who["client_id"], summary["client_id"], "{summary}");
    assert!(
        who["scopes"]
            .as_array()
            .is_some_and(|s| s.iter().any(|v| v == "mcp")),
        "{summary}"
    );
    assert_eq!(summary["token"]["refresh_token"], true, "{summary}");
    assert_eq!(summary["refreshed"], true, "{summary}");
}
