//! The protected-resource side: turns a request into an [`AuthContext`] or
//! a refusal with the right status and `WWW-Authenticate` challenge.

use std::collections::HashMap;
use std::sync::Arc;

use http::HeaderMap;

use crate::error::ErrorCode;
use crate::scope::{OFFLINE_ACCESS, ScopeHierarchy, ScopeSet, SharedImplication, missing_scopes};
use crate::server::AuthServer;
use crate::validate::{AuthContext, TokenRejection, TokenValidator};

/// Why a request to a protected route was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerRefusal {
    /// 400, 401, 403 or 503.
    pub status: u16,
    /// The RFC 6750 error, or `None` for a bare challenge (no credentials).
    pub error: Option<ErrorCode>,
    /// The description (also in the challenge).
    pub description: String,
    /// The `WWW-Authenticate` value.
    pub challenge: String,
}

/// Checks Bearer tokens for a protected resource (the MCP endpoint).
#[derive(Clone)]
pub struct ResourceGuard {
    validator: Arc<dyn TokenValidator>,
    prm_url: String,
    required: ScopeSet,
    tool_scopes: HashMap<String, ScopeSet>,
    implication: SharedImplication,
    challenge_scopes: ScopeSet,
    max_body: usize,
}

impl std::fmt::Debug for ResourceGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceGuard")
            .field("prm_url", &self.prm_url)
            .field("required", &self.required)
            .finish_non_exhaustive()
    }
}

/// Escapes a value for a quoted-string in a challenge.
fn quote(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' => '\'',
            '\\' => '/',
            c if c.is_ascii() && !c.is_ascii_control() => c,
            _ => '?',
        })
        .collect()
}

impl ResourceGuard {
    /// A guard that validates with `validator` and points clients at the
    /// protected-resource metadata at `prm_url` (absolute).
    pub fn new(validator: Arc<dyn TokenValidator>, prm_url: impl Into<String>) -> Self {
        Self {
            validator,
            prm_url: prm_url.into(),
            required: ScopeSet::empty(),
            tool_scopes: HashMap::new(),
            implication: Arc::new(ScopeHierarchy::new()),
            challenge_scopes: ScopeSet::empty(),
            max_body: 64 * 1024,
        }
    }

    /// The guard for the MCP endpoint of an embedded authorization server,
    /// with the required and per-tool scopes and hierarchy of its config.
    pub fn for_server(server: &AuthServer) -> Self {
        let cfg = server.config();
        let mut g = Self::new(Arc::new(server.local_validator()), cfg.prm_url())
            .with_required_scopes(cfg.required_scopes().clone())
            .with_scope_rule(cfg.implication().clone())
            .with_challenge_scopes(&ScopeSet::from_scopes(
                cfg.required_scopes()
                    .iter()
                    .chain(cfg.default_scopes.iter())
                    .map(str::to_owned),
            ));
        g.tool_scopes = cfg.tool_scopes.clone();
        g.max_body = cfg.max_body_bytes();
        g
    }

    /// Scopes every request needs.
    pub fn with_required_scopes(mut self, s: ScopeSet) -> Self {
        self.required = s;
        self
    }

    /// Scopes a `tools/call` of `tool` needs.
    pub fn with_tool_scopes(mut self, tool: impl Into<String>, s: ScopeSet) -> Self {
        self.tool_scopes.insert(tool.into(), s);
        self
    }

    /// The scope hierarchy.
    pub fn with_scope_rule(mut self, rule: SharedImplication) -> Self {
        self.implication = rule;
        self
    }

    /// The scopes named in a bare 401 challenge (what a client should ask for
    /// first); `offline_access` is always left out.
    pub fn with_challenge_scopes(mut self, s: &ScopeSet) -> Self {
        self.challenge_scopes = s.without(OFFLINE_ACCESS);
        self
    }

    /// The largest body inspected for per-tool scopes.
    pub fn max_body(&self) -> usize {
        self.max_body
    }

    /// The absolute URL of the protected-resource metadata.
    pub fn prm_url(&self) -> &str {
        &self.prm_url
    }

    /// True if the guard needs the request body (per-tool scopes) to decide.
    pub fn needs_body(&self) -> bool {
        !self.tool_scopes.is_empty()
    }

    fn challenge(&self, error: Option<(ErrorCode, &str)>, scope: &ScopeSet) -> String {
        let mut c = format!("Bearer resource_metadata=\"{}\"", quote(&self.prm_url));
        if !scope.is_empty() {
            c.push_str(&format!(
                ", scope=\"{}\"",
                quote(&scope.without(OFFLINE_ACCESS).to_string())
            ));
        }
        if let Some((code, desc)) = error {
            c.push_str(&format!(
                ", error=\"{}\", error_description=\"{}\"",
                code.as_str(),
                quote(desc)
            ));
        }
        c
    }

    fn refuse(
        &self,
        status: u16,
        error: Option<ErrorCode>,
        description: String,
        scope: &ScopeSet,
    ) -> BearerRefusal {
        let challenge = self.challenge(error.map(|e| (e, description.as_str())), scope);
        crate::events::AuditEvent::BearerRefused {
            status,
            error,
            reason: &description,
        }
        .emit();
        BearerRefusal {
            status,
            error,
            description,
            challenge,
        }
    }

    /// Checks a request. `body` is consulted only when per-tool scopes are
    /// configured (JSON-RPC `tools/call`, single or batched).
    pub async fn check(
        &self,
        headers: &HeaderMap,
        query: Option<&str>,
        body: Option<&[u8]>,
    ) -> Result<AuthContext, BearerRefusal> {
        if query
            .is_some_and(|q| form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "access_token"))
        {
            return Err(self.refuse(
                400,
                Some(ErrorCode::InvalidRequest),
                "access tokens in the query string are refused; send Authorization: Bearer <token>"
                    .into(),
                &self.challenge_scopes,
            ));
        }
        let mut auth = headers.get_all(http::header::AUTHORIZATION).iter();
        let first = auth.next();
        if auth.next().is_some() {
            return Err(self.refuse(
                400,
                Some(ErrorCode::InvalidRequest),
                "several Authorization headers".into(),
                &self.challenge_scopes,
            ));
        }
        let token = match first.map(|v| v.to_str()) {
            None => {
                return Err(self.refuse(
                    401,
                    None,
                    format!(
                        "this resource needs an OAuth access token; discover how to get one at {}",
                        self.prm_url
                    ),
                    &self.challenge_scopes,
                ));
            }
            Some(Err(_)) => {
                return Err(self.refuse(
                    401,
                    Some(ErrorCode::InvalidToken),
                    "the Authorization header is not ASCII".into(),
                    &self.challenge_scopes,
                ));
            }
            Some(Ok(v)) => match v.split_once(' ') {
                Some((scheme, t))
                    if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() =>
                {
                    t.trim()
                }
                Some((scheme, _)) if !scheme.eq_ignore_ascii_case("bearer") => {
                    return Err(self.refuse(
                        401,
                        None,
                        format!("the `{}` scheme is not accepted; use Bearer", quote(scheme)),
                        &self.challenge_scopes,
                    ));
                }
                _ => {
                    return Err(self.refuse(
                        401,
                        Some(ErrorCode::InvalidToken),
                        "empty or malformed Bearer credentials".into(),
                        &self.challenge_scopes,
                    ));
                }
            },
        };
        let ctx = match self.validator.validate(token).await {
            Ok(c) => c,
            Err(TokenRejection::Unavailable(why)) => {
                return Err(self.refuse(
                    503,
                    Some(ErrorCode::TemporarilyUnavailable),
                    why,
                    &ScopeSet::empty(),
                ));
            }
            Err(rej) => {
                return Err(self.refuse(
                    401,
                    Some(ErrorCode::InvalidToken),
                    rej.to_string(),
                    &self.challenge_scopes,
                ));
            }
        };
        let mut needed = self.required.clone();
        for tool in body
            .map(called_tools)
            .unwrap_or_default()
            .into_iter()
            .chain(header_tool(headers))
        {
            if let Some(s) = self.tool_scopes.get(&tool) {
                needed = ScopeSet::from_scopes(needed.iter().chain(s.iter()).map(str::to_owned));
            }
        }
        let missing = missing_scopes(&ctx.scopes, &needed, self.implication.as_ref());
        if !missing.is_empty() {
            // Name everything the operation needs plus what the token has, so a
            // client that replaces its scope set (rather than merging) still
            // keeps its other abilities after step-up.
            let challenge =
                ScopeSet::from_scopes(needed.iter().chain(ctx.scopes.iter()).map(str::to_owned));
            return Err(self.refuse(
                403,
                Some(ErrorCode::InsufficientScope),
                format!(
                    "this operation needs scope `{missing}`; the token has `{}`",
                    ctx.scopes
                ),
                &challenge,
            ));
        }
        Ok(ctx)
    }
}

/// The tool named by a 2026-07-28 `Mcp-Method: tools/call` + `Mcp-Name` header pair.
fn header_tool(headers: &HeaderMap) -> Option<String> {
    let method = headers.get("mcp-method")?.to_str().ok()?;
    if method != "tools/call" {
        return None;
    }
    headers.get("mcp-name")?.to_str().ok().map(str::to_owned)
}

/// The tool names of every `tools/call` in a JSON-RPC message or batch.
fn called_tools(body: &[u8]) -> Vec<String> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Vec::new();
    };
    let one = |m: &serde_json::Value| -> Option<String> {
        if m.get("method")?.as_str()? != "tools/call" {
            return None;
        }
        m.get("params")?.get("name")?.as_str().map(str::to_owned)
    };
    match &v {
        serde_json::Value::Array(items) => items.iter().filter_map(one).collect(),
        other => one(other).into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_names_from_bodies() {
        assert_eq!(
            called_tools(
                br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}"#
            ),
            vec!["x"]
        );
        assert_eq!(
            called_tools(
                br#"[{"method":"tools/call","params":{"name":"a"}},{"method":"tools/list"}]"#
            ),
            vec!["a"]
        );
        assert!(called_tools(b"not json").is_empty());
    }

    #[test]
    fn quoting_keeps_headers_valid() {
        assert_eq!(quote("a\"b\\c\u{e9}"), "a'b/c?");
    }
}
