//! The guard's JSON check of a body that names no operation (most MCP
//! requests: `tools/list`, notifications, results), through
//! `oauth_mcp_core::http::protect` with an accepted token.
//!
//! Input: the body. A body that may name a scoped operation (a scoped
//! method literally, a backslash, a NUL) is read by the other path
//! (target `jsonrpc_operations`) and only checked not to panic here.
//!
//! Checked against `serde_json`: the request is allowed iff the body is
//! UTF-8, `serde_json` skips it whole as `IgnoredAny`, and it nests at most
//! 127 arrays and objects deep (`serde_json`'s limit); otherwise the answer
//! is 400 with the JSON-RPC parse error.
#![no_main]

use http::header::{AUTHORIZATION, CONTENT_TYPE};
use libfuzzer_sys::fuzz_target;
use oauth_mcp_core::http::{Protection, protect};
use oauth_mcp_fuzz::{block_on, resource_server};
use serde::Deserialize;
use serde::de::IgnoredAny;

/// Nesting depth of a text `serde_json` accepted, counted outside strings.
fn depth(text: &[u8]) -> u32 {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0u32, 0u32, false, false);
    for &c in text {
        match (in_string, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (_, _, b'"') => in_string = !in_string,
            (false, _, b'[' | b'{') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (false, _, b']' | b'}') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

fn serde_json_accepts(body: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(body) else {
        return false;
    };
    let mut de = serde_json::Deserializer::from_str(text);
    IgnoredAny::deserialize(&mut de).is_ok() && de.end().is_ok() && depth(body) <= 127
}

fuzz_target!(|body: &[u8]| {
    let (parts, ()) = http::Request::post("/mcp")
        .header(AUTHORIZATION, "Bearer tok-mcp")
        .header(CONTENT_TYPE, "application/json")
        .body(())
        .expect("request")
        .into_parts();
    let decision = block_on(protect(resource_server(), &parts, Some(body)));
    let may_name = body.contains(&b'\\')
        || body.contains(&0)
        || ["tools/call", "resources/read", "prompts/get"]
            .iter()
            .any(|m| body.windows(m.len()).any(|w| w == m.as_bytes()));
    if may_name {
        return;
    }
    match decision {
        Protection::Allow(_) => assert!(serde_json_accepts(body), "allowed: {body:?}"),
        Protection::Respond(r) => {
            assert!(!serde_json_accepts(body), "refused: {body:?}");
            assert_eq!(r.status(), 400);
            let v: serde_json::Value = serde_json::from_slice(r.body()).expect("JSON answer");
            assert_eq!(v["error"]["code"], -32700);
        }
    }
});
