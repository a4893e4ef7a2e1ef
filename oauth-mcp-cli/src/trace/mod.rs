//! `oauth-mcp trace`: replays what an MCP client does to connect to an
//! OAuth-protected MCP server, checks every answer against the MCP
//! authorization specification, and explains each violation.
//!
//! The steps, in order (a step that cannot continue ends the trace):
//!
//! 1. **MCP challenge**: `POST initialize` without a token; expects 401 with
//!    `WWW-Authenticate: Bearer resource_metadata="…"`.
//! 2. **PRM**: RFC 9728 protected-resource metadata, from the challenge's
//!    `resource_metadata`, else the well-known URL with the MCP path
//!    inserted, then at the root.
//! 3. **AS metadata**: RFC 8414 with path insertion, then OpenID discovery
//!    (inserted, then appended).
//! 4. **registration**: RFC 7591 dynamic registration, or the
//!    `--client-id` given.
//! 5. **authorization**: the authorization request (PKCE S256, `state`,
//!    RFC 8707 `resource`), fetched headlessly or opened in a browser.
//! 6. **login**: the login (and consent) form submitted with the
//!    credentials, or the browser's redirect caught on loopback.
//! 7. **redirect**: the redirect back: `code`, `state`, RFC 9207 `iss`.
//! 8. **token**: the code exchange (PKCE verifier, `resource`).
//! 9. **token audience**: a JWT access token's `aud` must be the MCP server.
//! 10. **MCP initialize**: `initialize` + `notifications/initialized` with the token.
//! 11. **tools/list**.
//! 12. **refresh**: the refresh grant, and whether the refresh token rotated.

mod browser;
mod diagnoses;
mod flow;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod html;
mod mermaid;
mod options;
mod parse;
mod recorder;
mod redact;
mod report;
mod stages;
mod wellknown;

use std::time::{Instant, SystemTime};

use url::Url;

pub use browser::Opener;
pub use options::{
    DEFAULT_PROTOCOL_VERSION, DEFAULT_REDIRECT_URI, Login, Progress, TraceOptions, Waiting,
};
pub use recorder::Exchange;
pub use report::{
    Diagnosis, Outcome, Severity, Status, Step, Summary, TRACE_JSON_SCHEMA, TRACE_SCHEMA_VERSION,
    TraceReport, render_step,
};

use flow::{StepLog, Stop, Target, Tracer};
use parse::{canonical, is_loopback};
use recorder::Recorder;

/// Traces the flow against `opts.server_url` (see the module docs).
pub async fn trace(opts: &TraceOptions) -> TraceReport {
    trace_with(opts, |_, _| {}).await
}

/// Like [`trace`], calling `on_step` as each step completes with the step
/// and every exchange recorded so far (redacted; the step's
/// [`Step::exchanges`] index into it), for live output.
pub async fn trace_with(
    opts: &TraceOptions,
    on_step: impl FnMut(&Step, &[Exchange]),
) -> TraceReport {
    let started_at = SystemTime::now();
    let t0 = Instant::now();
    let mut log = StepLog::new(on_step);
    let (steps, exchanges, summary) = match Url::parse(opts.server_url.trim()) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {
            match Recorder::new(opts.timeout, is_loopback(&url), opts.progress.clone()) {
                Ok(rec) => {
                    let canonical = canonical(url.as_str());
                    let resource = opts.resource.clone().unwrap_or_else(|| canonical.clone());
                    let mut t = Tracer {
                        o: opts,
                        rec,
                        target: Target {
                            url,
                            canonical,
                            resource,
                        },
                        summary: Summary::default(),
                        log,
                    };
                    let _ = run(&mut t).await;
                    (t.log.into_steps(), t.rec.exchanges(0), t.summary)
                }
                Err(e) => {
                    let mut s = log.begin(None, "MCP challenge");
                    s.push(diagnoses::discovery::http_client(e));
                    log.end(None, s);
                    (log.into_steps(), Vec::new(), Summary::default())
                }
            }
        }
        other => {
            let why = match other {
                Err(e) => e.to_string(),
                Ok(u) => format!("scheme `{}` is not http(s)", u.scheme()),
            };
            let mut s = log.begin(None, "MCP challenge");
            s.push(diagnoses::discovery::bad_url(&opts.server_url, &why));
            log.end(None, s);
            (log.into_steps(), Vec::new(), Summary::default())
        }
    };
    TraceReport {
        server_url: opts.server_url.clone(),
        username: match &opts.login {
            Login::Form { username, .. } => username.clone(),
            Login::Browser { .. } => None,
        },
        started_at,
        duration: t0.elapsed(),
        steps,
        exchanges,
        summary,
    }
}

/// The stages in order; a stage that cannot go on ends the flow.
async fn run<F: FnMut(&Step, &[Exchange])>(t: &mut Tracer<'_, F>) -> Result<(), Stop> {
    let discovery = stages::discovery::run(t).await?;
    let client = stages::client::run(t, &discovery).await?;
    let code = stages::code::run(t, &discovery, &client).await?;
    let oauth = code.oauth.clone();
    let tokens = stages::tokens::run(t, &discovery, &client, code).await?;
    stages::mcp::run(t, &discovery, &tokens).await;
    stages::refresh::run(t, &discovery, &client, &oauth, &tokens).await;
    Ok(())
}
