//! Per-operation scopes (MCP SEP-2350): the scopes a `tools/call` of a tool,
//! a `resources/read` of a URI (exact or by URI template) or a `prompts/get`
//! of a prompt needs, read from the JSON-RPC body (single message or batch)
//! and from the 2026-07-28 `Mcp-Method` / `Mcp-Name` headers. Both are
//! consulted and their needs added up, so a header cannot hide what the body
//! does.

use std::collections::HashMap;

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
    pub(crate) fn of(method: &str, name: &str) -> Option<Self> {
        let name = name.to_owned();
        match method {
            "tools/call" => Some(Self::Tool(name)),
            "resources/read" => Some(Self::Resource(name)),
            "prompts/get" => Some(Self::Prompt(name)),
            _ => None,
        }
    }
}

/// The `Mcp-Method` request header (MCP 2026-07-28), lowercase.
pub(crate) const MCP_METHOD: &str = "mcp-method";
/// The `Mcp-Name` request header (MCP 2026-07-28), lowercase.
pub(crate) const MCP_NAME: &str = "mcp-name";

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
    /// ones (with repeats; empty, and nothing allocated, for most requests):
    /// those its body names (`body_ops`, see
    /// [`super::jsonrpc::operations_in_body`]) and its headers name
    /// (`header_op`, see [`super::framing::GuardHeaders::operation`]).
    pub(crate) fn needed(
        &self,
        header_op: Option<&Operation>,
        body_ops: &[Operation],
    ) -> Vec<String> {
        let mut out = Vec::new();
        if self.is_empty() {
            return out;
        }
        for op in body_ops.iter().chain(header_op) {
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
        let none = None;
        let body = [
            Operation::Tool("admin_echo".into()),
            Operation::Resource("repo://a/b".into()),
        ];
        assert_eq!(
            ScopeSet::from_scopes(ops.needed(none, &body)).to_string(),
            "admin repo:a repo:read"
        );
        let h = Operation::Prompt("secret".into());
        // A header naming another operation than the body adds its needs too.
        let whoami = [Operation::Tool("whoami".into())];
        assert_eq!(ops.needed(Some(&h), &whoami), ["prompts:secret"]);
        assert!(ops.needed(none, &whoami).is_empty());
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
