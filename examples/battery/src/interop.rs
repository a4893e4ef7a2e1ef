//! Interop: the official TypeScript MCP SDK client (`interop/ts/client.mjs`,
//! `@modelcontextprotocol/sdk` pinned in `interop/ts/package.json`) connects
//! through OAuth to an example server: discovery, dynamic registration,
//! PKCE authorization with a headless login, code exchange, MCP over
//! streamable HTTP with the Bearer token, `whoami`, and a refresh.
//!
//! Needs Node.js (>= 20) and npm on `PATH`; the test fails (it does not skip)
//! when they are missing. `node_modules` is installed with `npm ci` from the
//! committed lock file when absent or stale.

use std::time::{Duration, Instant};

use crate::node::{ensure_node_deps, interop_dir, run_with_env};
use serde_json::Value;

/// The client gives up after 30 s by itself; this is the backstop.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);
const SDK: &str = "@modelcontextprotocol/sdk";

/// Runs the TypeScript SDK client (`node client.mjs <mcp_url>`) against the
/// running server whose MCP endpoint is `mcp_url` (`{issuer}/mcp`) and checks
/// its summary; panics (failing the test) on any failure.
pub async fn typescript_client(mcp_url: &str) {
    let (summary, issuer) = client_summary(mcp_url, &[]).await;
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

/// Runs `node client.mjs <mcp_url>` with `env`; returns its JSON summary
/// (panicking, with the client's output, unless it succeeded) and the
/// issuer the MCP URL implies.
async fn client_summary(mcp_url: &str, env: &[(&str, &str)]) -> (Value, String) {
    let issuer = mcp_url
        .strip_suffix("/mcp")
        .unwrap_or_else(|| panic!("the MCP URL `{mcp_url}` is not `{{issuer}}/mcp`"))
        .to_owned();
    let dir = interop_dir("ts");
    ensure_node_deps(&dir, SDK).await;

    let started = Instant::now();
    let out = run_with_env(&dir, "node", &["client.mjs", mcp_url], env, CLIENT_TIMEOUT).await;
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
    (summary, issuer)
}

/// The TypeScript SDK client against a server whose users sign in at an
/// upstream identity provider with login forms: the client's "browser"
/// approves this server's consent page, signs `user` in with `password` on
/// the provider's login form, approves the provider's consent form, and
/// follows the callback to the code. `whoami` must name `subject` (the
/// upstream user's local subject). Returns the summary.
pub async fn typescript_client_upstream(
    mcp_url: &str,
    user: &str,
    password: &str,
    subject: &str,
) -> Value {
    let (summary, issuer) = client_summary(
        mcp_url,
        &[
            ("UPSTREAM_USER", user),
            ("UPSTREAM_PASSWORD", password),
            ("EXPECT_SUBJECT", subject),
        ],
    )
    .await;
    assert_eq!(summary["ok"], true, "{summary}");
    assert_eq!(summary["issuer"], issuer, "{summary}");
    assert_eq!(summary["login"], "upstream", "{summary}");
    let who = &summary["whoami"];
    assert_eq!(who["subject"], subject, "{summary}");
    assert_eq!(who["audience"], mcp_url, "{summary}");
    assert_eq!(summary["refreshed"], true, "{summary}");
    summary
}
