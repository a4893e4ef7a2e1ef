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
//! what is missing; an outage is 503. A body the guard cannot read for
//! certain needs `admin` too (every per-operation scope) if it may name an
//! operation (a scoped method literally, or a backslash): one that
//! `serde_json::Value` refuses (not UTF-8 JSON, nested deeper than 128, a
//! number beyond `f64`), or
//! whose message names `method` or `params` twice, or whose object
//! `params` names `name` or `uri` twice, or either names a key that is one
//! of those only to a loose parser (ASCII case, `ſ`, the Kelvin sign, `ı`, `İ`, `_`,
//! `-` and NULs ignored, or cut at a NUL).
//! A NUL byte anywhere counts as a backslash does (UTF-16 or UTF-32).
#![no_main]

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use oauth_mcp_core::ErrorCode;
use oauth_mcp_fuzz::{block_on, fields, resource_server};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
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

/// Where a value sits: the body, an element of a batch, a message's
/// `params`, or elsewhere.
#[derive(Clone, Copy, PartialEq)]
enum At {
    Body,
    Element,
    Params,
}

/// The ways a loose parser might read `key`: folded (NULs, `_` and `-`
/// dropped, ASCII lower-cased, the letters that fold to ASCII ones
/// replaced), and its part before a NUL folded the same way.
fn loosely(key: &str) -> Vec<String> {
    let fold = |k: &str| -> String {
        k.chars()
            .filter(|c| !matches!(c, '\0' | '_' | '-'))
            .map(|c| match c {
                '\u{17f}' => 's',
                '\u{212a}' => 'k',
                '\u{131}' | '\u{130}' => 'i',
                c => c.to_ascii_lowercase(),
            })
            .collect()
    };
    let mut out = vec![fold(key)];
    if let Some((before, _)) = key.split_once('\0') {
        out.push(fold(before));
    }
    out
}

/// Sets `.1` if a message or its `params` repeats a key the guard reads, or
/// names a look-alike of one.
struct Repeats<'a>(At, &'a std::cell::Cell<bool>);

impl<'de> DeserializeSeed<'de> for Repeats<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Repeats<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let watched: &[&str] = match self.0 {
            At::Body | At::Element => &["method", "params"],
            At::Params => &["name", "uri"],
        };
        let mut seen = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if watched.contains(&key.as_str()) {
                if seen.contains(&key) {
                    self.1.set(true);
                }
                seen.push(key.clone());
            } else if loosely(&key).iter().any(|k| watched.contains(&k.as_str())) {
                self.1.set(true);
            }
            if key == "params" && self.0 != At::Params {
                map.next_value_seed(Repeats(At::Params, self.1))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.0 == At::Body {
            while seq
                .next_element_seed(Repeats(At::Element, self.1))?
                .is_some()
            {}
        } else {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
        }
        Ok(())
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

fn body_needs_admin(body: &[u8]) -> bool {
    // A body that cannot name an operation (no method with scopes in it
    // literally, no escape) needs nothing, JSON or not; one that may and
    // that the guard cannot read for certain needs every scope.
    let may_name = body.contains(&b'\\')
        || body.contains(&0)
        || ["tools/call", "resources/read", "prompts/get"]
            .iter()
            .any(|m| body.windows(m.len()).any(|w| w == m.as_bytes()));
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return may_name;
    };
    let repeats = std::cell::Cell::new(false);
    let mut de = serde_json::Deserializer::from_slice(body);
    if Repeats(At::Body, &repeats).deserialize(&mut de).is_err() || repeats.get() {
        return may_name;
    }
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
