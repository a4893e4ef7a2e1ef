//! Per-operation scopes (MCP SEP-2350): the scopes a `tools/call` of a tool,
//! a `resources/read` of a URI (exact or by URI template) or a `prompts/get`
//! of a prompt needs, read from the JSON-RPC body (single message or batch)
//! and from the 2026-07-28 `Mcp-Method` / `Mcp-Name` headers. Both are
//! consulted and their needs added up, so a header cannot hide what the body
//! does.

use std::collections::HashMap;

use http::{HeaderMap, HeaderName};
use serde_json::Value;

use super::template::UriTemplate;
use crate::scope::ScopeSet;

/// One MCP operation that may need scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Operation {
    /// `tools/call` of this tool.
    Tool(String),
    /// `resources/read` of this URI.
    Resource(String),
    /// `prompts/get` of this prompt.
    Prompt(String),
}

impl Operation {
    /// The operation a JSON-RPC method names with `name` (the `Mcp-Name`
    /// header, or `params.name` / `params.uri`).
    fn of(method: &str, name: &str) -> Option<Self> {
        let name = name.to_owned();
        match method {
            "tools/call" => Some(Self::Tool(name)),
            "resources/read" => Some(Self::Resource(name)),
            "prompts/get" => Some(Self::Prompt(name)),
            _ => None,
        }
    }
}

/// The methods that name an operation (see [`Operation::of`]), split at
/// their `/`.
const OPERATION_METHODS: [(&[u8], &[u8]); 3] = [
    (b"tools", b"call"),
    (b"resources", b"read"),
    (b"prompts", b"get"),
];

/// False only if `body` cannot name an operation: a JSON string without
/// escapes is its bytes, so a body with no backslash names one of
/// [`OPERATION_METHODS`] only if it contains it literally. One pass over
/// the body, looking at each `/`; most MCP requests (`tools/list`,
/// notifications, results) are decided by it, without parsing the body.
fn may_name_an_operation(body: &[u8]) -> bool {
    memchr::memchr2_iter(b'\\', b'/', body).any(|i| {
        body[i] == b'\\'
            || OPERATION_METHODS
                .iter()
                .any(|(group, verb)| body[..i].ends_with(group) && body[i + 1..].starts_with(verb))
    })
}

/// Every operation in a JSON-RPC message or batch; nothing for anything else.
pub(crate) fn operations_in_body(body: &[u8]) -> Vec<Operation> {
    if !may_name_an_operation(body) {
        return Vec::new();
    }
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let one = |m: &Value| -> Option<Operation> {
        let method = m.get("method")?.as_str()?;
        let params = m.get("params")?;
        let key = if method == "resources/read" {
            "uri"
        } else {
            "name"
        };
        Operation::of(method, params.get(key)?.as_str()?)
    };
    match &v {
        Value::Array(items) => items.iter().filter_map(one).collect(),
        other => one(other).into_iter().collect(),
    }
}

/// The `Mcp-Method` request header (MCP 2026-07-28), lowercase.
pub(crate) const MCP_METHOD: &str = "mcp-method";
/// The `Mcp-Name` request header (MCP 2026-07-28), lowercase.
pub(crate) const MCP_NAME: &str = "mcp-name";

/// The operation named by the `Mcp-Method` and `Mcp-Name` headers.
pub(crate) fn operation_in_headers(headers: &HeaderMap) -> Option<Operation> {
    const MCP_METHOD_HEADER: HeaderName = HeaderName::from_static(MCP_METHOD);
    const MCP_NAME_HEADER: HeaderName = HeaderName::from_static(MCP_NAME);
    let method = headers.get(MCP_METHOD_HEADER)?.to_str().ok()?;
    let name = headers.get(MCP_NAME_HEADER)?.to_str().ok()?;
    Operation::of(method, name)
}

/// The configured per-operation scopes.
#[derive(Debug, Clone, Default)]
pub(crate) struct OperationScopes {
    pub(crate) tools: HashMap<String, ScopeSet>,
    pub(crate) resources: HashMap<String, ScopeSet>,
    pub(crate) templates: Vec<(UriTemplate, ScopeSet)>,
    pub(crate) prompts: HashMap<String, ScopeSet>,
    /// Every scope of the sets above (set once they are all in).
    pub(crate) every: ScopeSet,
}

impl OperationScopes {
    /// Every scope set configured, for start-up checks and the PRM.
    pub(crate) fn all(&self) -> impl Iterator<Item = &ScopeSet> {
        self.tools
            .values()
            .chain(self.resources.values())
            .chain(self.templates.iter().map(|(_, s)| s))
            .chain(self.prompts.values())
    }

    /// What `op` needs: for a resource, its exact entry and every matching
    /// template, added up.
    fn needed_by(&self, op: &Operation, out: &mut Vec<String>) {
        let mut add = |s: &ScopeSet| out.extend(s.iter().map(str::to_owned));
        match op {
            Operation::Tool(t) => self.tools.get(t).into_iter().for_each(&mut add),
            Operation::Prompt(p) => self.prompts.get(p).into_iter().for_each(&mut add),
            Operation::Resource(uri) => {
                self.resources.get(uri).into_iter().for_each(&mut add);
                self.templates
                    .iter()
                    .filter(|(t, _)| t.matches(uri))
                    .for_each(|(_, s)| add(s));
            }
        }
    }

    /// True if `scopes` holds every per-operation scope (exactly, without
    /// implication): then no operation needs more than the required scopes.
    pub(crate) fn all_held_by(&self, scopes: &ScopeSet) -> bool {
        // Not `BTreeSet::is_subset`: a lookup per scope is cheaper for the
        // one or two scopes usually configured.
        self.every.iter().all(|s| scopes.contains(s))
    }

    /// True if no operation has scopes of its own.
    fn is_empty(&self) -> bool {
        self.tools.is_empty()
            && self.resources.is_empty()
            && self.templates.is_empty()
            && self.prompts.is_empty()
    }

    /// The scopes the operations of a request need, beyond the required
    /// ones (with repeats; empty, and nothing allocated, for most requests).
    pub(crate) fn needed(&self, headers: &HeaderMap, body: Option<&[u8]>) -> Vec<String> {
        let mut out = Vec::new();
        if self.is_empty() {
            return out;
        }
        for op in body
            .map(operations_in_body)
            .unwrap_or_default()
            .iter()
            .chain(operation_in_headers(headers).as_ref())
        {
            self.needed_by(op, &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(s: &str) -> ScopeSet {
        ScopeSet::parse(s).unwrap()
    }

    #[test]
    fn operations_from_bodies() {
        assert_eq!(
            operations_in_body(
                br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}"#
            ),
            vec![Operation::Tool("x".into())]
        );
        assert_eq!(
            operations_in_body(
                br#"[{"method":"tools/call","params":{"name":"a"}},{"method":"tools/list"},
                    {"method":"resources/read","params":{"uri":"f://x"}},
                    {"method":"prompts/get","params":{"name":"p"}}]"#
            ),
            vec![
                Operation::Tool("a".into()),
                Operation::Resource("f://x".into()),
                Operation::Prompt("p".into())
            ]
        );
        assert!(operations_in_body(b"not json").is_empty());
        // Escaped methods are still found (the scan falls back to parsing).
        assert_eq!(
            operations_in_body(br#"{"method":"tools\/call","params":{"name":"x"}}"#),
            vec![Operation::Tool("x".into())]
        );
        assert_eq!(
            operations_in_body(br#"{"method":"\u0074ools/call","params":{"name":"x"}}"#),
            vec![Operation::Tool("x".into())]
        );
        assert!(!may_name_an_operation(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#
        ));
        assert!(may_name_an_operation(br#"{"method":"prompts/get"}"#));
        for (group, verb) in OPERATION_METHODS {
            let method = format!(
                "{}/{}",
                String::from_utf8_lossy(group),
                String::from_utf8_lossy(verb)
            );
            assert!(Operation::of(&method, "x").is_some(), "{method}");
            assert!(may_name_an_operation(method.as_bytes()), "{method}");
            assert!(!may_name_an_operation(&method.as_bytes()[1..]), "{method}");
        }
    }

    #[test]
    fn needs_add_up_over_body_headers_and_templates() {
        let mut ops = OperationScopes::default();
        ops.tools.insert("admin_echo".into(), scopes("admin"));
        ops.resources.insert("repo://a/b".into(), scopes("repo:a"));
        ops.templates.push((
            UriTemplate::parse("repo://{owner}/{name}").unwrap(),
            scopes("repo:read"),
        ));
        ops.prompts
            .insert("secret".into(), scopes("prompts:secret"));
        let none = HeaderMap::new();
        let body = br#"[{"method":"tools/call","params":{"name":"admin_echo"}},
            {"method":"resources/read","params":{"uri":"repo://a/b"}}]"#;
        assert_eq!(
            ScopeSet::from_scopes(ops.needed(&none, Some(body))).to_string(),
            "admin repo:a repo:read"
        );
        let mut h = HeaderMap::new();
        h.insert("mcp-method", "prompts/get".parse().unwrap());
        h.insert("mcp-name", "secret".parse().unwrap());
        // A header naming another operation than the body adds its needs too.
        let whoami = br#"{"method":"tools/call","params":{"name":"whoami"}}"#;
        assert_eq!(ops.needed(&h, Some(whoami)), ["prompts:secret"]);
        assert!(ops.needed(&none, Some(whoami)).is_empty());
    }

    #[test]
    fn a_token_with_every_operation_scope_needs_no_scan() {
        let mut ops = OperationScopes::default();
        assert!(ops.all_held_by(&ScopeSet::empty()), "nothing configured");
        ops.tools.insert("admin_echo".into(), scopes("admin"));
        ops.templates.push((
            UriTemplate::parse("repo://{owner}/{name}").unwrap(),
            scopes("repo:read"),
        ));
        ops.every = scopes("admin repo:read");
        assert!(ops.all_held_by(&scopes("mcp admin repo:read")));
        assert!(!ops.all_held_by(&scopes("mcp admin")));
        assert!(!ops.all_held_by(&scopes("mcp")));
    }
}
