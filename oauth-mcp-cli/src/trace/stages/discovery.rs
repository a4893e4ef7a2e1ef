//! Steps 1–3, discovery: the MCP endpoint's 401 challenge, the
//! protected-resource metadata (RFC 9728) and the authorization server's
//! metadata (RFC 8414 / OpenID discovery). Yields a [`Discovery`].

use serde_json::Value;
use url::Url;

use crate::trace::diagnoses::discovery as diag;
use crate::trace::flow::{McpSession, Stop, Tracer, error_summary, str_list};
use crate::trace::parse::{
    Challenge, is_loopback, origin, parse_challenges, same_resource, truncate,
};
use crate::trace::recorder::Exchange;
use crate::trace::report::Step;
use crate::trace::stages::mcp::initialize_body;
use crate::trace::wellknown;

/// What the 401 challenge told.
struct Challenged {
    /// `resource_metadata`, as sent.
    resource_metadata: Option<String>,
    /// `scope`, as sent.
    scope: Option<String>,
}

/// The protected resource's metadata and the authorization server it names.
struct ProtectedResource {
    /// The document (`Null` when none was found).
    metadata: Value,
    /// The first of `authorization_servers` (or, for a 2025-03-26 client,
    /// the MCP server's origin).
    issuer: String,
    /// True when the authorization server was assumed at the MCP server's
    /// origin (no protected-resource metadata).
    legacy: bool,
}

/// The authorization server, from its metadata.
pub(crate) struct AuthServer {
    /// The issuer identifier.
    pub(crate) issuer: String,
    /// The metadata document.
    pub(crate) metadata: Value,
    /// `authorization_endpoint` (an absolute URL).
    pub(crate) authorization_endpoint: String,
    /// `token_endpoint` (an absolute URL).
    pub(crate) token_endpoint: String,
}

impl AuthServer {
    /// A string member of the metadata.
    pub(crate) fn member(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).and_then(Value::as_str)
    }

    /// A boolean member of the metadata (`false` when absent).
    pub(crate) fn flag(&self, key: &str) -> bool {
        self.metadata
            .get(key)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// A string-array member of the metadata.
    pub(crate) fn list(&self, key: &str) -> Option<Vec<String>> {
        str_list(&self.metadata, key)
    }
}

/// What discovery found: everything a client needs to register and log in.
pub(crate) struct Discovery {
    /// The challenge's `scope`.
    challenge_scope: Option<String>,
    /// The protected resource's `scopes_supported`.
    resource_scopes: Option<Vec<String>>,
    /// The authorization server.
    pub(crate) auth_server: AuthServer,
}

impl Discovery {
    /// `--scope`, else the challenge's scope, else the metadata's scopes.
    pub(crate) fn requested_scope(&self, given: Option<&str>) -> Option<String> {
        given
            .map(str::to_owned)
            .or_else(|| self.challenge_scope.clone())
            .or_else(|| self.resource_scopes.as_ref().map(|v| v.join(" ")))
            .filter(|s| !s.trim().is_empty())
    }
}

/// Runs steps 1–3.
pub(crate) async fn run<F: FnMut(&Step, &[Exchange])>(
    t: &mut Tracer<'_, F>,
) -> Result<Discovery, Stop> {
    let challenged = challenge(t).await?;
    let resource = protected_resource(t, challenged.resource_metadata.as_deref()).await?;
    let resource_scopes = str_list(&resource.metadata, "scopes_supported");
    let auth_server = authorization_server(t, resource).await?;
    Ok(Discovery {
        challenge_scope: challenged.scope,
        resource_scopes,
        auth_server,
    })
}

/// The URL a challenge should name: the first well-known candidate.
fn prm_hint(mcp: &Url) -> String {
    wellknown::protected_resource(mcp)
        .first()
        .cloned()
        .unwrap_or_default()
}

/// Step 1: `POST initialize` without a token; expects 401 with a Bearer challenge.
async fn challenge<F: FnMut(&Step, &[Exchange])>(
    t: &mut Tracer<'_, F>,
) -> Result<Challenged, Stop> {
    let mut s = t.begin("MCP challenge");
    let mcp = t.target.url.clone();
    let body = initialize_body(&t.o.protocol_version, 0);
    let r = match t
        .mcp_post(&body, None, Some(0), &McpSession::default())
        .await
    {
        Ok(r) => r,
        Err(e) => {
            s.push(diag::unreachable(&mcp, &e, t.o.timeout));
            return Err(t.stop(s));
        }
    };
    s.summary = format!("POST {mcp} (initialize, no token) → {}", r.status);
    let hint = prm_hint(&mcp);
    match r.status {
        401 => {}
        403 => s.push(diag::forbidden_without_token(&hint)),
        200..=299 => {
            s.push(diag::not_protected(r.status));
            return Err(t.stop(s));
        }
        404 => {
            s.push(diag::mcp_not_found(&mcp));
            return Err(t.stop(s));
        }
        405 => {
            s.push(diag::mcp_method_not_allowed(&mcp));
            return Err(t.stop(s));
        }
        other => {
            let answer = truncate(&error_summary(&r), 200);
            s.push(diag::mcp_unexpected_status(other, &answer, &hint));
            return Err(t.stop(s));
        }
    }
    let mut found = Challenged {
        resource_metadata: None,
        scope: None,
    };
    let values = r.header_all("www-authenticate");
    if values.is_empty() {
        s.push(diag::no_www_authenticate(r.status, &hint));
        s.note("continuing with the well-known protected-resource metadata URLs");
        t.end(s);
        return Ok(found);
    }
    let all: Vec<Challenge> = values.iter().flat_map(|v| parse_challenges(v)).collect();
    let raw = values.join(", ");
    s.note(format!("WWW-Authenticate: {}", truncate(&raw, 300)));
    let Some(c) = all.iter().find(|c| c.is_bearer()) else {
        s.push(diag::not_bearer(&truncate(&raw, 120), &hint));
        t.end(s);
        return Ok(found);
    };
    match c.param("resource_metadata") {
        Some(rm) => found.resource_metadata = Some(rm.to_owned()),
        None if t.version_at_least("2025-11-25") => {
            s.push(diag::no_resource_metadata(None, &hint));
        }
        None if t.version_at_least("2025-06-18") => {
            s.push(diag::no_resource_metadata(
                Some(&t.o.protocol_version),
                &hint,
            ));
        }
        None => s.note("no resource_metadata (not used by 2025-03-26 clients)"),
    }
    found.scope = c.param("scope").map(str::to_owned);
    if let Some(err) = c.param("error") {
        s.push(diag::error_on_bare_challenge(err));
    }
    t.end(s);
    Ok(found)
}

/// Step 2: RFC 9728 metadata from the challenge's URL, else the well-known URLs.
async fn protected_resource<F: FnMut(&Step, &[Exchange])>(
    t: &mut Tracer<'_, F>,
    from_challenge: Option<&str>,
) -> Result<ProtectedResource, Stop> {
    let mut s = t.begin("PRM");
    let mcp = t.target.url.clone();
    let canonical = t.target.canonical.clone();
    let well_known = wellknown::protected_resource(&mcp);
    let candidates = match from_challenge {
        Some(u) if Url::parse(u).is_ok() => vec![u.to_owned()],
        Some(u) => {
            s.push(diag::prm_url_invalid(u, &prm_hint(&mcp)));
            well_known.clone()
        }
        None => well_known.clone(),
    };
    let (found, tried) = t.first_json_document(&candidates).await;
    let Some((url, prm)) = found else {
        let tried = tried.join(", ");
        if !t.version_at_least("2025-06-18") {
            s.skip(format!("none ({tried})"));
            s.note("2025-03-26 clients do not use protected-resource metadata");
        } else if let Some(u) = from_challenge {
            s.push(diag::prm_not_found_at_challenge(&tried, u, &canonical));
        } else {
            let first = candidates.first().cloned().unwrap_or_default();
            s.push(diag::prm_not_found(&tried, &canonical, &first));
        }
        // Go on as a 2025-03-26 client would, to find further problems.
        let issuer = origin(&mcp);
        s.note(format!(
            "continuing as a 2025-03-26 client would: the authorization server is assumed at the MCP server's origin, {issuer}"
        ));
        t.end(s);
        return Ok(ProtectedResource {
            metadata: Value::Null,
            issuer,
            legacy: true,
        });
    };
    s.summary = format!("GET {url} → 200");
    t.summary.resource_metadata_url = Some(url);
    match prm.get("resource").and_then(Value::as_str) {
        None => s.push(diag::prm_invalid(&canonical)),
        Some(res) if same_resource(res, mcp.as_str()) => {
            s.note(format!("resource {res} (matches the MCP server URL)"));
        }
        Some(res) => {
            let parent = Url::parse(res).is_ok_and(|r| {
                r.origin() == mcp.origin() && mcp.path().starts_with(r.path().trim_end_matches('/'))
            });
            s.push(diag::prm_resource_mismatch(res, &canonical, parent));
        }
    }
    let servers = str_list(&prm, "authorization_servers").unwrap_or_default();
    let Some(first) = servers.first().cloned() else {
        s.push(diag::prm_no_authorization_servers());
        return Err(t.stop(s));
    };
    if servers.len() > 1 {
        s.note(format!(
            "{} authorization servers listed; using the first",
            servers.len()
        ));
    }
    s.note(format!("authorization server {first}"));
    if let Some(m) = str_list(&prm, "bearer_methods_supported")
        && !m.iter().any(|x| x == "header")
    {
        s.push(diag::prm_no_header_bearer(&m));
    }
    if let Some(sc) = str_list(&prm, "scopes_supported") {
        s.note(format!("scopes_supported: {}", sc.join(" ")));
    }
    t.end(s);
    Ok(ProtectedResource {
        metadata: prm,
        issuer: first,
        legacy: false,
    })
}

/// Step 3: RFC 8414 metadata with path insertion, then OpenID discovery.
async fn authorization_server<F: FnMut(&Step, &[Exchange])>(
    t: &mut Tracer<'_, F>,
    resource: ProtectedResource,
) -> Result<AuthServer, Stop> {
    let mut s = t.begin("AS metadata");
    let mut issuer = resource.issuer;
    let issuer_url = match Url::parse(&issuer) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u,
        _ => {
            s.push(diag::as_issuer_invalid(&issuer));
            return Err(t.stop(s));
        }
    };
    if issuer_url.scheme() == "http" && !is_loopback(&issuer_url) {
        s.push(diag::as_not_https(&issuer));
    }
    let candidates = wellknown::authorization_server(&issuer_url);
    let (found, tried) = t.first_json_document(&candidates).await;
    let Some((url, meta)) = found else {
        let first = candidates.first().cloned().unwrap_or_default();
        s.push(diag::as_metadata_not_found(
            &issuer,
            &tried.join(", "),
            &first,
        ));
        return Err(t.stop(s));
    };
    s.summary = format!("GET {url} → 200");
    t.summary.authorization_server_metadata_url = Some(url);
    match meta.get("issuer").and_then(Value::as_str) {
        None => s.push(diag::as_issuer_missing(&issuer)),
        Some(i) if resource.legacy => {
            if !same_resource(i, &issuer) {
                s.note(format!("issuer {i} (not the MCP server's origin)"));
            }
            issuer = i.to_owned();
        }
        Some(i) if i == issuer => s.note(format!("issuer {i}")),
        Some(i) => s.push(diag::as_issuer_mismatch(i, &issuer)),
    }
    let endpoint = |k: &str| {
        meta.get(k)
            .and_then(Value::as_str)
            .filter(|v| Url::parse(v).is_ok())
            .map(str::to_owned)
    };
    let (Some(authorization_endpoint), Some(token_endpoint)) = (
        endpoint("authorization_endpoint"),
        endpoint("token_endpoint"),
    ) else {
        let missing: Vec<&str> = ["authorization_endpoint", "token_endpoint"]
            .into_iter()
            .filter(|k| endpoint(k).is_none())
            .collect();
        s.push(diag::as_missing_endpoint(&missing));
        return Err(t.stop(s));
    };
    match str_list(&meta, "code_challenge_methods_supported") {
        None => s.push(diag::pkce_not_advertised()),
        Some(m) if !m.iter().any(|x| x == "S256") => s.push(diag::pkce_no_s256(&m)),
        Some(_) => {}
    }
    match str_list(&meta, "response_types_supported") {
        Some(r) if !r.iter().any(|x| x == "code") => {
            s.push(diag::no_code_response_type(Some(&r)));
        }
        None => s.push(diag::no_code_response_type(None)),
        _ => {}
    }
    if let Some(g) = str_list(&meta, "grant_types_supported")
        && !g.iter().any(|x| x == "authorization_code")
    {
        s.push(diag::grant_type_missing(&g));
    }
    if meta.get("registration_endpoint").is_none() {
        s.note("no registration_endpoint");
    }
    t.summary.issuer = Some(issuer.clone());
    t.end(s);
    Ok(AuthServer {
        issuer,
        metadata: meta,
        authorization_endpoint,
        token_endpoint,
    })
}
