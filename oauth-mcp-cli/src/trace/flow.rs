//! What every step shares: the step being built ([`StepCtx`]), the
//! [`Tracer`] that numbers, redacts and reports steps and sends the HTTP
//! requests, and small readers of what servers answer.

use http::Method;
use serde_json::Value;
use url::Url;

use super::TraceOptions;
use super::html::{error_text, visible_text};
use super::parse::truncate;
use super::recorder::{BodyMode, Exchange, HttpError, Recorder, Reply};
use super::report::{self, Diagnosis, Severity, Status, Step, Summary};

/// The flow cannot go on (the step that found out has been reported).
pub(super) struct Stop;

/// A step being built.
pub(super) struct StepCtx {
    number: u32,
    name: &'static str,
    /// The step's one line (default: the last request and its answer).
    pub(super) summary: String,
    notes: Vec<String>,
    diagnoses: Vec<Diagnosis>,
    first_exchange: usize,
    skipped: bool,
}

impl StepCtx {
    /// Records a finding.
    pub(super) fn push(&mut self, d: Diagnosis) {
        self.diagnoses.push(d);
    }

    /// Records an observation.
    pub(super) fn note(&mut self, n: impl Into<String>) {
        self.notes.push(n.into());
    }

    /// Marks the step as not run, saying why.
    pub(super) fn skip(&mut self, summary: impl Into<String>) {
        self.skipped = true;
        self.summary = summary.into();
    }

    /// True if a failure was recorded.
    pub(super) fn failed(&self) -> bool {
        self.diagnoses
            .iter()
            .any(|d| d.severity == Severity::Failure)
    }
}

/// The traced MCP server.
pub(super) struct Target {
    /// The MCP endpoint URL as given.
    pub(super) url: Url,
    /// Its canonical form: the audience tokens must carry.
    pub(super) canonical: String,
    /// The RFC 8707 resource indicator to send (`--resource`, else `canonical`).
    pub(super) resource: String,
}

/// What an MCP request carries besides the body once `initialize` succeeded.
#[derive(Default)]
pub(super) struct McpSession {
    /// `Mcp-Session-Id`, if the server gave one.
    pub(super) id: Option<String>,
    /// The negotiated protocol version (`MCP-Protocol-Version`).
    pub(super) version: Option<String>,
}

/// The steps reported so far and whom to tell.
pub(super) struct StepLog<F> {
    on_step: F,
    steps: Vec<Step>,
}

impl<F: FnMut(&Step, &[Exchange])> StepLog<F> {
    pub(super) fn new(on_step: F) -> Self {
        Self {
            on_step,
            steps: Vec::new(),
        }
    }

    /// Starts step number `len + 1`; its requests are recorded from now on.
    pub(super) fn begin(&self, rec: Option<&Recorder>, name: &'static str) -> StepCtx {
        let number = u32::try_from(self.steps.len() + 1).unwrap_or(u32::MAX);
        let first_exchange = rec.map_or(0, |r| {
            r.set_step(number);
            r.count()
        });
        StepCtx {
            number,
            name,
            summary: String::new(),
            notes: Vec::new(),
            diagnoses: Vec::new(),
            first_exchange,
            skipped: false,
        }
    }

    /// Finishes a step: its status, its texts redacted, reported to `on_step`.
    pub(super) fn end(&mut self, rec: Option<&Recorder>, s: StepCtx) {
        let (count, all) = rec.map_or((0, Vec::new()), |r| (r.count(), r.exchanges(0)));
        let exchanges: Vec<usize> = (s.first_exchange..count).collect();
        let status = if s.failed() {
            Status::Failed
        } else if s.diagnoses.iter().any(|d| d.severity == Severity::Warning) {
            Status::Warning
        } else if s.skipped {
            Status::Skipped
        } else {
            Status::Ok
        };
        let red = |t: &str| rec.map_or_else(|| t.to_owned(), |r| r.redact(t));
        let summary = if s.summary.is_empty() {
            exchanges
                .last()
                .and_then(|&i| all.get(i))
                .map(report::exchange_line)
                .unwrap_or_default()
        } else {
            red(&s.summary)
        };
        let step = Step {
            number: s.number,
            name: s.name.to_owned(),
            status,
            summary,
            notes: s.notes.iter().map(|n| red(n)).collect(),
            diagnoses: s
                .diagnoses
                .into_iter()
                .map(|d| Diagnosis {
                    problem: red(&d.problem),
                    cause: red(&d.cause),
                    fix: red(&d.fix),
                    ..d
                })
                .collect(),
            exchanges,
        };
        (self.on_step)(&step, &all);
        self.steps.push(step);
    }

    /// The steps reported.
    pub(super) fn into_steps(self) -> Vec<Step> {
        self.steps
    }
}

/// The tracer: options, HTTP client, target, what was obtained, the steps.
pub(super) struct Tracer<'o, F> {
    pub(super) o: &'o TraceOptions,
    pub(super) rec: Recorder,
    pub(super) target: Target,
    pub(super) summary: Summary,
    pub(super) log: StepLog<F>,
}

impl<F: FnMut(&Step, &[Exchange])> Tracer<'_, F> {
    /// Starts a step.
    pub(super) fn begin(&self, name: &'static str) -> StepCtx {
        self.log.begin(Some(&self.rec), name)
    }

    /// Finishes a step.
    pub(super) fn end(&mut self, s: StepCtx) {
        self.log.end(Some(&self.rec), s);
    }

    /// Finishes a step after which the flow cannot go on.
    pub(super) fn stop(&mut self, s: StepCtx) -> Stop {
        self.end(s);
        Stop
    }

    /// True if the protocol version spoken is `v` or newer.
    pub(super) fn version_at_least(&self, v: &str) -> bool {
        self.o.protocol_version.as_str() >= v
    }

    /// `GET url` with this `Accept`, the whole body read.
    pub(super) async fn get(&self, url: &str, accept: &str) -> Result<Reply, HttpError> {
        self.rec
            .send(
                Method::GET,
                url,
                &[("accept", accept.to_owned())],
                None,
                BodyMode::Full,
            )
            .await
    }

    /// `POST url` with a body of this content type, the whole answer read.
    pub(super) async fn post(
        &self,
        url: &str,
        content_type: &str,
        accept: &str,
        body: Vec<u8>,
    ) -> Result<Reply, HttpError> {
        self.rec
            .send(
                Method::POST,
                url,
                &[
                    ("content-type", content_type.to_owned()),
                    ("accept", accept.to_owned()),
                ],
                Some(body),
                BodyMode::Full,
            )
            .await
    }

    /// The first of `candidates` that answers 200 with a JSON object, and
    /// what each URL tried before it answered (`url → status or error`).
    pub(super) async fn first_json_document(
        &self,
        candidates: &[String],
    ) -> (Option<(String, Value)>, Vec<String>) {
        let mut tried = Vec::new();
        for c in candidates {
            match self.get(c, "application/json").await {
                Err(e) => tried.push(format!("{c} → {e}")),
                Ok(r) if r.status == 200 => match r.json() {
                    Some(v) if v.is_object() => return (Some((c.clone(), v)), tried),
                    _ => tried.push(format!(
                        "{c} → 200 but not a JSON object ({})",
                        r.content_type()
                    )),
                },
                Ok(r) => tried.push(format!("{c} → {}", r.status)),
            }
        }
        (None, tried)
    }

    /// A JSON-RPC message to the MCP endpoint (streamable HTTP), with the
    /// token and the session's headers; the answer is read until the
    /// response to `id` arrives.
    pub(super) async fn mcp_post(
        &self,
        body: &Value,
        bearer: Option<&str>,
        id: Option<i64>,
        session: &McpSession,
    ) -> Result<Reply, HttpError> {
        let mut h = vec![
            ("content-type", "application/json".to_owned()),
            ("accept", "application/json, text/event-stream".to_owned()),
        ];
        if let Some(t) = bearer {
            h.push(("authorization", format!("Bearer {t}")));
        }
        if let Some(sid) = &session.id {
            h.push(("mcp-session-id", sid.clone()));
        }
        if let Some(v) = &session.version {
            h.push(("mcp-protocol-version", v.clone()));
        }
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        self.rec
            .send(
                Method::POST,
                self.target.url.as_str(),
                &h,
                Some(bytes),
                BodyMode::Mcp(id),
            )
            .await
    }
}

/// `error: description` of an OAuth error body, else the page's visible text.
pub(super) fn error_summary(r: &Reply) -> String {
    if let Some(v) = r.json() {
        let e = v.get("error").and_then(Value::as_str);
        let d = v.get("error_description").and_then(Value::as_str);
        match (e, d) {
            (Some(e), Some(d)) => return format!("{e}: {d}"),
            (Some(e), None) => return e.to_owned(),
            _ => return truncate(&v.to_string(), 300),
        }
    }
    let text = r.text();
    error_text(&text).unwrap_or_else(|| visible_text(&text, 300))
}

/// 301, 302, 303, 307 or 308.
pub(super) fn is_redirect_status(s: u16) -> bool {
    matches!(s, 301 | 302 | 303 | 307 | 308)
}

/// The strings of a JSON array member (`None` if absent or not an array).
pub(super) fn str_list(v: &Value, key: &str) -> Option<Vec<String>> {
    v.get(key)?.as_array().map(|a| {
        a.iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect()
    })
}
