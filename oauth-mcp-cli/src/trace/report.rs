//! What a trace found: steps with their status and diagnoses, a summary,
//! the (redacted) exchanges, and the three renderings: text lines, the JSON
//! trace file and a Mermaid sequence diagram.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use url::Url;

use super::recorder::Exchange;
use crate::timefmt::rfc3339_millis;
use crate::words::count;

/// The version of the JSON trace's schema: the `schema_version` member of
/// [`TraceReport::to_json`]. It changes when a field is removed or retyped,
/// or one is added to an object the schema closes.
pub const TRACE_SCHEMA_VERSION: u64 = 1;

/// The JSON Schema (draft 2020-12) of [`TraceReport::to_json`], as shipped
/// in the crate (`schema/trace.schema.json`).
pub const TRACE_JSON_SCHEMA: &str = include_str!("../../schema/trace.schema.json");

/// How a step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// Done, nothing to report.
    Ok,
    /// Not run (not applicable, or an earlier step failed).
    Skipped,
    /// Done, but the server deviates from the specification in a way some
    /// clients tolerate.
    Warning,
    /// The server violates the specification here, or the step failed.
    Failed,
}

impl Status {
    /// `✔`, `–`, `⚠` or `✘`.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Ok => "✔",
            Self::Skipped => "–",
            Self::Warning => "⚠",
            Self::Failed => "✘",
        }
    }

    /// `ok`, `skipped`, `warning` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Skipped => "skipped",
            Self::Warning => "warning",
            Self::Failed => "failed",
        }
    }
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// Works with lenient clients; fix it anyway.
    Warning,
    /// Real MCP clients fail here.
    Failure,
}

impl Severity {
    /// `warning` or `failure`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Warning => "warning",
            Self::Failure => "failure",
        }
    }
}

/// A finding: what is wrong, why, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    /// Warning or failure.
    pub severity: Severity,
    /// A stable identifier, e.g. `aud-is-authorization-server` (see the
    /// crate documentation for the list).
    pub id: &'static str,
    /// What the tracer observed.
    pub problem: String,
    /// Why it happens / why it matters.
    pub cause: String,
    /// What to change.
    pub fix: String,
}

impl Diagnosis {
    /// A finding real MCP clients fail on.
    pub(crate) fn failure(
        id: &'static str,
        problem: impl Into<String>,
        cause: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            severity: Severity::Failure,
            id,
            problem: problem.into(),
            cause: cause.into(),
            fix: fix.into(),
        }
    }

    /// A finding lenient clients tolerate.
    pub(crate) fn warning(
        id: &'static str,
        problem: impl Into<String>,
        cause: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::failure(id, problem, cause, fix)
        }
    }
}

/// One step of the flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// 1-based position.
    pub number: u32,
    /// Short name, e.g. `AS metadata`.
    pub name: String,
    /// The outcome.
    pub status: Status,
    /// One line: the decisive request and its answer, or what was done.
    pub summary: String,
    /// Further observations (informational).
    pub notes: Vec<String>,
    /// Findings.
    pub diagnoses: Vec<Diagnosis>,
    /// Indices into [`TraceReport::exchanges`] of this step's requests.
    pub exchanges: Vec<usize>,
}

/// The overall outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every step passed.
    Ok,
    /// The flow completed, with warnings.
    Warnings,
    /// At least one step failed: real clients would not connect (or would
    /// connect insecurely).
    Failed,
}

impl Outcome {
    /// `ok`, `warnings` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warnings => "warnings",
            Self::Failed => "failed",
        }
    }
}

/// What the flow obtained (no secrets).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// The protected-resource metadata URL that answered.
    pub resource_metadata_url: Option<String>,
    /// The authorization server's issuer identifier.
    pub issuer: Option<String>,
    /// The authorization-server metadata URL that answered.
    pub authorization_server_metadata_url: Option<String>,
    /// The client id used (registered or pre-registered).
    pub client_id: Option<String>,
    /// True if the client was registered dynamically in this run.
    pub dynamically_registered: bool,
    /// The redirect URI used.
    pub redirect_uri: Option<String>,
    /// The `resource` sent (RFC 8707), if any.
    pub resource: Option<String>,
    /// The `scope` requested, if any.
    pub requested_scope: Option<String>,
    /// The scope granted (token response), if stated.
    pub granted_scope: Option<String>,
    /// An authorization code came back.
    pub auth_code_received: bool,
    /// An access token came back.
    pub access_token_received: bool,
    /// The access token is a JWT (`None`: no token).
    pub access_token_is_jwt: Option<bool>,
    /// The access token's `aud`, when it is a JWT.
    pub audience: Option<Vec<String>>,
    /// A refresh token came back.
    pub refresh_token_received: bool,
    /// The refresh grant returned a new, different refresh token.
    pub refresh_token_rotated: Option<bool>,
    /// The MCP protocol version the server chose.
    pub protocol_version: Option<String>,
    /// The server's `serverInfo.name`.
    pub server_name: Option<String>,
    /// The tools `tools/list` returned.
    pub tools: Vec<String>,
}

/// Everything a trace found.
#[derive(Debug, Clone)]
pub struct TraceReport {
    /// The MCP server URL traced.
    pub server_url: String,
    /// The user name used for the login, if any.
    pub username: Option<String>,
    /// When the trace started.
    pub started_at: SystemTime,
    /// How long it took.
    pub duration: Duration,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Every HTTP exchange, redacted.
    pub exchanges: Vec<Exchange>,
    /// What was obtained.
    pub summary: Summary,
}

impl TraceReport {
    /// Failed if any step failed, Warnings if any warned, else Ok.
    pub fn outcome(&self) -> Outcome {
        let worst = self.steps.iter().map(|s| s.status).max();
        match worst {
            Some(Status::Failed) => Outcome::Failed,
            Some(Status::Warning) => Outcome::Warnings,
            _ => Outcome::Ok,
        }
    }

    /// True if any step failed.
    pub fn failed(&self) -> bool {
        self.outcome() == Outcome::Failed
    }

    /// Every diagnosis, in step order.
    pub fn diagnoses(&self) -> impl Iterator<Item = &Diagnosis> {
        self.steps.iter().flat_map(|s| s.diagnoses.iter())
    }

    /// The diagnosis with this id, if any step made it.
    pub fn diagnosis(&self, id: &str) -> Option<&Diagnosis> {
        self.diagnoses().find(|d| d.id == id)
    }

    /// The step with this name.
    pub fn step(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.name == name)
    }

    fn count(&self, sev: Severity) -> usize {
        self.diagnoses().filter(|d| d.severity == sev).count()
    }

    /// The closing line of the text output.
    pub fn result_line(&self) -> String {
        let (f, w) = (self.count(Severity::Failure), self.count(Severity::Warning));
        let what = format!(
            "{}, {}, {:.1} s",
            count(self.steps.len(), "step"),
            count(self.exchanges.len(), "request"),
            self.duration.as_secs_f64()
        );
        match self.outcome() {
            Outcome::Ok => format!("Result: OK ({what})"),
            Outcome::Warnings => format!("Result: OK with {} ({what})", count(w, "warning")),
            Outcome::Failed => format!(
                "Result: FAILED: {}, {} ({what})",
                count(f, "failure"),
                count(w, "warning")
            ),
        }
    }

    /// The whole report as text: every step, then the result line.
    pub fn render_text(&self, verbose: bool) -> String {
        let mut out = String::new();
        for s in &self.steps {
            out.push_str(&render_step(s, &self.exchanges, verbose));
        }
        out.push_str(&self.result_line());
        out.push('\n');
        out
    }

    /// The JSON trace file: the schema version, metadata, a summary, the
    /// steps and the full (redacted) log; [`TRACE_JSON_SCHEMA`] describes it.
    pub fn to_json(&self) -> Value {
        let finished = self.started_at + self.duration;
        let s = &self.summary;
        json!({
            "schema_version": TRACE_SCHEMA_VERSION,
            "metadata": {
                "tool": concat!("oauth-mcp trace ", env!("CARGO_PKG_VERSION")),
                "server_url": self.server_url,
                "username": self.username,
                "timestamp": rfc3339_millis(self.started_at),
                "finished": rfc3339_millis(finished),
                "duration_ms": u64::try_from(self.duration.as_millis()).unwrap_or(u64::MAX),
                "step_count": self.steps.len(),
                "total_requests": self.exchanges.len(),
                "outcome": self.outcome().as_str(),
                "failures": self.count(Severity::Failure),
                "warnings": self.count(Severity::Warning),
            },
            "sequence_summary": {
                "resource_metadata_url": s.resource_metadata_url,
                "issuer": s.issuer,
                "authorization_server_metadata_url": s.authorization_server_metadata_url,
                "client_id": s.client_id,
                "dynamically_registered": s.dynamically_registered,
                "redirect_uri": s.redirect_uri,
                "resource": s.resource,
                "requested_scope": s.requested_scope,
                "granted_scope": s.granted_scope,
                "auth_code_received": s.auth_code_received,
                "access_token_received": s.access_token_received,
                "access_token_is_jwt": s.access_token_is_jwt,
                "audience": s.audience,
                "refresh_token_received": s.refresh_token_received,
                "refresh_token_rotated": s.refresh_token_rotated,
                "protocol_version": s.protocol_version,
                "server_name": s.server_name,
                "tools": s.tools,
            },
            "steps": self.steps.iter().map(|st| json!({
                "number": st.number,
                "name": st.name,
                "status": st.status.as_str(),
                "summary": st.summary,
                "notes": st.notes,
                "diagnoses": st.diagnoses.iter().map(|d| json!({
                    "id": d.id,
                    "severity": d.severity.as_str(),
                    "problem": d.problem,
                    "cause": d.cause,
                    "fix": d.fix,
                })).collect::<Vec<_>>(),
                "requests": st.exchanges,
            })).collect::<Vec<_>>(),
            "trace_log": self.exchanges.iter().enumerate().flat_map(|(i, e)| exchange_json(i, e)).collect::<Vec<_>>(),
        })
    }

    /// The observed flow as a Mermaid `sequenceDiagram`.
    pub fn to_mermaid(&self) -> String {
        super::mermaid::render(self)
    }
}

fn body_json(body: Option<&str>) -> (Value, Value) {
    match body {
        None => (Value::Null, Value::Null),
        Some(b) => match serde_json::from_str::<Value>(b) {
            Ok(v) if v.is_object() || v.is_array() => (v, Value::Null),
            _ => (Value::Null, Value::String(b.to_owned())),
        },
    }
}

fn headers_json(h: &[(String, String)]) -> Value {
    Value::Array(h.iter().map(|(k, v)| json!([k, v])).collect())
}

/// A request entry and a response entry for the trace log.
fn exchange_json(i: usize, e: &Exchange) -> Vec<Value> {
    let (req_json, req_text) = body_json(e.request_body.as_deref());
    let mut out = vec![json!({
        "index": i,
        "step": e.step,
        "timestamp": rfc3339_millis(e.time),
        "type": "request",
        "method": e.method,
        "url": e.url,
        "headers": headers_json(&e.request_headers),
        "json": req_json,
        "data": req_text,
    })];
    let (resp_json, resp_text) = body_json(e.response_body.as_deref());
    out.push(json!({
        "index": i,
        "step": e.step,
        "timestamp": rfc3339_millis(e.time + e.duration),
        "type": "response",
        "duration_ms": u64::try_from(e.duration.as_millis()).unwrap_or(u64::MAX),
        "status_code": e.status,
        "headers": headers_json(&e.response_headers),
        "json": resp_json,
        "text": resp_text,
        "error": e.error,
    }));
    out
}

/// `GET http://h/p` without the query (queries carry codes and states).
fn method_url(e: &Exchange) -> String {
    let shown = match Url::parse(&e.url) {
        Ok(mut u) if u.query().is_some() => {
            u.set_query(None);
            format!("{u}?…")
        }
        _ => e.url.clone(),
    };
    format!("{} {shown}", e.method)
}

/// `→ 200`, `→ 303 (Location …)`, `→ error: …`.
pub(crate) fn outcome_of(e: &Exchange) -> String {
    match (e.status, &e.error) {
        (Some(s), _) => format!("→ {s}"),
        (None, Some(err)) => format!("→ {err}"),
        (None, None) => "→ no response".to_owned(),
    }
}

/// `GET http://…/x → 200`.
pub(crate) fn exchange_line(e: &Exchange) -> String {
    format!("{} {}", method_url(e), outcome_of(e))
}

fn indent(s: &str, prefix: &str) -> String {
    s.lines()
        .map(|l| format!("{prefix}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn pretty_body(b: &str) -> String {
    match serde_json::from_str::<Value>(b) {
        Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_else(|_| b.to_owned()),
        Err(_) => super::parse::truncate(b, 2000),
    }
}

/// One step as text: its line, its notes and diagnoses, and with `verbose`
/// its requests and responses (already redacted).
pub fn render_step(step: &Step, exchanges: &[Exchange], verbose: bool) -> String {
    let mut out = format!(
        "{} {:>2} {:<15} {}\n",
        step.status.symbol(),
        step.number,
        step.name,
        step.summary
    );
    for n in &step.notes {
        let _ = writeln!(out, "{}", indent(n, "       "));
    }
    if verbose {
        for &i in &step.exchanges {
            let Some(e) = exchanges.get(i) else { continue };
            let _ = writeln!(out, "       > {} {}", e.method, e.url);
            for (k, v) in &e.request_headers {
                let _ = writeln!(out, "       >   {k}: {v}");
            }
            if let Some(b) = e.request_body.as_deref().filter(|b| !b.is_empty()) {
                let _ = writeln!(out, "{}", indent(&pretty_body(b), "       >   "));
            }
            match (e.status, &e.error) {
                (Some(s), _) => {
                    let _ = writeln!(out, "       < {s} ({} ms)", e.duration.as_millis());
                }
                (None, Some(err)) => {
                    let _ = writeln!(out, "       < error: {err}");
                }
                _ => {}
            }
            for (k, v) in &e.response_headers {
                let _ = writeln!(out, "       <   {k}: {v}");
            }
            if let Some(b) = e.response_body.as_deref().filter(|b| !b.is_empty()) {
                let _ = writeln!(out, "{}", indent(&pretty_body(b), "       <   "));
            }
        }
    }
    for d in &step.diagnoses {
        let sym = match d.severity {
            Severity::Warning => "⚠",
            Severity::Failure => "✘",
        };
        let _ = writeln!(out, "       {sym} {} [{}]", d.problem, d.id);
        let _ = writeln!(
            out,
            "{}",
            indent(&format!("cause: {}", d.cause), "         ")
        );
        let _ = writeln!(out, "{}", indent(&format!("fix:   {}", d.fix), "         "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_follows_the_worst_step() {
        let step = |status| Step {
            number: 1,
            name: "x".into(),
            status,
            summary: String::new(),
            notes: Vec::new(),
            diagnoses: Vec::new(),
            exchanges: Vec::new(),
        };
        let mut r = TraceReport {
            server_url: "http://h/mcp".into(),
            username: None,
            started_at: SystemTime::UNIX_EPOCH,
            duration: Duration::ZERO,
            steps: vec![step(Status::Ok), step(Status::Skipped)],
            exchanges: Vec::new(),
            summary: Summary::default(),
        };
        assert_eq!(r.outcome(), Outcome::Ok);
        r.steps.push(step(Status::Warning));
        assert_eq!(r.outcome(), Outcome::Warnings);
        r.steps.push(step(Status::Failed));
        assert!(r.failed());
        assert!(r.result_line().starts_with("Result: FAILED"));
        assert!(r.to_mermaid().starts_with("sequenceDiagram\n"));
        assert_eq!(r.to_json()["metadata"]["step_count"], 4);
    }

    #[test]
    fn result_line_counts_in_the_singular_too() {
        let step = Step {
            number: 1,
            name: "MCP challenge".into(),
            status: Status::Failed,
            summary: String::new(),
            notes: Vec::new(),
            diagnoses: vec![Diagnosis::failure("unreachable", "p", "c", "f")],
            exchanges: vec![0],
        };
        let r = TraceReport {
            server_url: "http://h/mcp".into(),
            username: None,
            started_at: SystemTime::UNIX_EPOCH,
            duration: Duration::from_millis(40),
            steps: vec![step],
            exchanges: Vec::new(),
            summary: Summary::default(),
        };
        assert_eq!(
            r.result_line(),
            "Result: FAILED: 1 failure, 0 warnings (1 step, 0 requests, 0.0 s)"
        );
    }
}
