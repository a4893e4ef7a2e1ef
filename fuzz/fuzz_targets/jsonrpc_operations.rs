//! The Bearer guard's reading of MCP JSON-RPC: the operations of a body
//! (single message or batch: `tools/call` name, `resources/read` uri,
//! `prompts/get` name) and of the `Mcp-Method`/`Mcp-Name` headers, matched
//! against per-operation scopes (exact names, an exact resource URI and an
//! RFC 6570 template), through `ResourceServer::check`.
//!
//! Input: selector byte (the token: mcp, mcp+admin, none, outage), then
//! NUL-separated: Mcp-Method, Mcp-Name, body.
//!
//! Checked against a model of the configuration: the request passes iff
//! the token holds `mcp` and, when any operation in the body or headers
//! needs it, `admin`; a refusal for scope is 403 `insufficient_scope` naming
//! what is missing; an outage is 503.
#![no_main]

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use oauth_mcp_core::ErrorCode;
use oauth_mcp_fuzz::{block_on, fields, resource_server};
use serde_json::Value;

/// True if the operation (method, name) needs `admin` in the fuzz
/// configuration.
fn needs_admin(method: &str, name: &str) -> bool {
    match method {
        "tools/call" => name == "admin_echo",
        "prompts/get" => name == "admin_prompt",
        "resources/read" => {
            name == "secret://exact"
                || name
                    .strip_prefix("file:///secret/")
                    .is_some_and(|rest| !rest.is_empty() && !rest.contains(['/', '?', '#', ',']))
        }
        _ => false,
    }
}

fn body_needs_admin(body: &[u8]) -> bool {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    let one = |m: &Value| {
        let Some(method) = m.get("method").and_then(Value::as_str) else {
            return false;
        };
        let key = if method == "resources/read" {
            "uri"
        } else {
            "name"
        };
        m.get("params")
            .and_then(|p| p.get(key))
            .and_then(Value::as_str)
            .is_some_and(|n| needs_admin(method, n))
    };
    match &v {
        Value::Array(items) => items.iter().any(one),
        other => one(other),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let token = ["tok-mcp", "tok-admin", "tok-none", "tok-down"][sel as usize % 4];
    let f = fields(rest, 3);
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).expect("header"),
    );
    let mut header_op = (None, None);
    if let Ok(v) = HeaderValue::from_bytes(f[0]) {
        header_op.0 = v.to_str().ok().map(str::to_owned);
        headers.insert("mcp-method", v);
    }
    if let Ok(v) = HeaderValue::from_bytes(f[1]) {
        header_op.1 = v.to_str().ok().map(str::to_owned);
        headers.insert("mcp-name", v);
    }
    let admin =
        body_needs_admin(f[2]) || matches!(&header_op, (Some(m), Some(n)) if needs_admin(m, n));
    let result = block_on(resource_server().check(&headers, None, Some(f[2])));
    match token {
        "tok-down" => assert_eq!(result.map_err(|r| r.status), Err(503)),
        "tok-none" => assert_eq!(result.map_err(|r| r.status), Err(403)),
        "tok-admin" => assert!(result.is_ok(), "{result:?}"),
        _ if admin => {
            let r = result.expect_err("admin needed");
            assert_eq!(r.status, 403);
            assert_eq!(r.error, Some(ErrorCode::InsufficientScope));
            assert!(r.description.contains("`admin`"), "{}", r.description);
            assert!(r.challenge.contains("scope=\""), "{}", r.challenge);
        }
        _ => assert!(result.is_ok(), "{result:?}"),
    }
});
