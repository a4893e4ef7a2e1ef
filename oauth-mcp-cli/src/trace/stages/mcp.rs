//! Steps 10–11, MCP with the token: `initialize` and
//! `notifications/initialized`, then `tools/list` (streamable HTTP: JSON or
//! SSE answers, `Mcp-Session-Id` kept). Yields the [`McpSession`].

use serde_json::{Value, json};

use crate::trace::diagnoses::mcp as diag;
use crate::trace::flow::{McpSession, StepCtx, Tracer, error_summary};
use crate::trace::parse::{Challenge, parse_challenges, truncate};
use crate::trace::recorder::{Exchange, Reply, is_response_to};
use crate::trace::report::{Diagnosis, Step};
use crate::trace::stages::discovery::Discovery;
use crate::trace::stages::tokens::Tokens;
use crate::words::count;

/// The JSON-RPC `initialize` request.
pub(crate) fn initialize_body(version: &str, id: i64) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "method": "initialize",
        "params": {
            "protocolVersion": version,
            "capabilities": {},
            "clientInfo": {"name": "oauth-mcp-trace", "version": env!("CARGO_PKG_VERSION")},
        },
    })
}

/// Runs steps 10–11.
pub(crate) async fn run<F: FnMut(&Step, &[Exchange])>(
    t: &mut Tracer<'_, F>,
    d: &Discovery,
    tokens: &Tokens,
) {
    let session = initialize(t, d, tokens).await;
    tools_list(t, d, tokens, session.as_ref()).await;
}

/// A 401 or 403 to the token.
fn refusal<F>(t: &Tracer<'_, F>, d: &Discovery, tokens: &Tokens, r: &Reply) -> Diagnosis {
    let challenge = r
        .header_all("www-authenticate")
        .iter()
        .flat_map(|v| parse_challenges(v))
        .find(Challenge::is_bearer);
    let answer = challenge
        .as_ref()
        .and_then(|c| c.param("error_description").map(str::to_owned))
        .unwrap_or_else(|| error_summary(r));
    if r.status == 403 {
        let scope = challenge.as_ref().and_then(|c| c.param("scope"));
        return diag::insufficient_scope(&answer, scope);
    }
    diag::token_refused(
        r.status,
        &answer,
        tokens.wrong_audience.as_deref(),
        &d.auth_server.issuer,
        &t.target.canonical,
    )
}

/// Ends a step with a finding.
fn fail<F: FnMut(&Step, &[Exchange])>(t: &mut Tracer<'_, F>, mut s: StepCtx, d: Diagnosis) {
    s.push(d);
    t.end(s);
}

/// Step 10: `initialize` and `notifications/initialized`.
async fn initialize<F: FnMut(&Step, &[Exchange])>(
    t: &mut Tracer<'_, F>,
    d: &Discovery,
    tokens: &Tokens,
) -> Option<McpSession> {
    let mut s = t.begin("MCP initialize");
    let access = tokens.access.as_str();
    let body = initialize_body(&t.o.protocol_version, 1);
    let r = match t
        .mcp_post(&body, Some(access), Some(1), &McpSession::default())
        .await
    {
        Ok(r) => r,
        Err(e) => {
            fail(t, s, diag::initialize_unanswered(&e));
            return None;
        }
    };
    s.summary = format!(
        "POST {} (initialize, Bearer) → {}",
        t.target.canonical, r.status
    );
    if r.status == 401 || r.status == 403 {
        let finding = refusal(t, d, tokens, &r);
        fail(t, s, finding);
        return None;
    }
    if !(200..300).contains(&r.status) {
        let answer = truncate(&error_summary(&r), 200);
        fail(t, s, diag::initialize_status(r.status, &answer));
        return None;
    }
    let Some(msg) = r.messages.iter().find(|m| is_response_to(m, Some(1))) else {
        fail(t, s, diag::initialize_no_response(&r.content_type()));
        return None;
    };
    if let Some(err) = msg.get("error") {
        fail(
            t,
            s,
            diag::initialize_error(&truncate(&err.to_string(), 200)),
        );
        return None;
    }
    let result = msg.get("result").cloned().unwrap_or(Value::Null);
    let version = result
        .get("protocolVersion")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let name = result
        .get("serverInfo")
        .and_then(|i| i.get("name"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let session = McpSession {
        id: r.header("mcp-session-id").map(str::to_owned),
        version: version.clone(),
    };
    let asked = &t.o.protocol_version;
    s.note(format!(
        "server {}, protocol {}{}{}",
        name.as_deref().unwrap_or("(unnamed)"),
        version.as_deref().unwrap_or("(none)"),
        match version.as_deref() {
            Some(v) if v != asked => format!(" (asked for {asked})"),
            _ => String::new(),
        },
        if session.id.is_some() {
            ", session id"
        } else {
            ", no session"
        }
    ));
    t.summary.protocol_version = version;
    t.summary.server_name = name;
    if let Some(aud) = &tokens.wrong_audience {
        s.push(diag::accepts_wrong_audience(aud, &t.target.canonical));
    }
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    match t.mcp_post(&note, Some(access), None, &session).await {
        Ok(n) if n.status == 202 => s.note("notifications/initialized → 202"),
        Ok(n) if (200..300).contains(&n.status) => {
            s.note(format!(
                "notifications/initialized → {} (202 Accepted expected)",
                n.status
            ));
        }
        Ok(n) => s.push(diag::initialized_status(
            n.status,
            &truncate(&error_summary(&n), 200),
        )),
        Err(e) => s.push(diag::initialized_unanswered(&e)),
    }
    t.end(s);
    Some(session)
}

/// Step 11: `tools/list` (skipped when `initialize` failed).
async fn tools_list<F: FnMut(&Step, &[Exchange])>(
    t: &mut Tracer<'_, F>,
    d: &Discovery,
    tokens: &Tokens,
    session: Option<&McpSession>,
) {
    let mut s = t.begin("tools/list");
    let Some(session) = session else {
        s.skip("skipped: initialize failed");
        t.end(s);
        return;
    };
    let body = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}});
    let r = match t
        .mcp_post(&body, Some(&tokens.access), Some(2), session)
        .await
    {
        Ok(r) => r,
        Err(e) => return fail(t, s, diag::tools_list_unanswered(&e)),
    };
    if r.status == 401 || r.status == 403 {
        let finding = refusal(t, d, tokens, &r);
        return fail(t, s, finding);
    }
    match r.messages.iter().find(|m| is_response_to(m, Some(2))) {
        Some(m) if m.get("result").is_some() => {
            let tools: Vec<String> = m["result"]
                .get("tools")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|t| t.get("name").and_then(Value::as_str).map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            s.summary = format!(
                "POST {} (tools/list, Bearer) → {}: {}{}",
                t.target.canonical,
                r.status,
                count(tools.len(), "tool"),
                if tools.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", truncate(&tools.join(", "), 120))
                }
            );
            t.summary.tools = tools;
        }
        Some(m) => s.push(diag::tools_list_error(&truncate(
            &m.get("error").map(Value::to_string).unwrap_or_default(),
            200,
        ))),
        None => s.push(diag::tools_list_no_response(r.status, &r.content_type())),
    }
    t.end(s);
}
