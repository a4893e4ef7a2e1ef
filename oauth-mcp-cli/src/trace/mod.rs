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
mod parse;
mod recorder;
mod report;

use std::time::{Duration, Instant, SystemTime};

use http::Method;
use oauth2::basic::{BasicClient, BasicErrorResponse};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError,
    Scope, TokenResponse, TokenUrl,
};
use serde_json::{Value, json};
use url::Url;

pub use browser::Opener;
pub use recorder::Exchange;
pub use report::{Diagnosis, Outcome, Severity, Status, Step, Summary, TraceReport, render_step};

use browser::Callback;
use parse::{
    Challenge, as_metadata_candidates, audiences, canonical, decode_jwt, error_text, is_loopback,
    is_redirect_to, origin, parse_challenges, parse_forms, prm_candidates, query_param,
    same_resource, truncate, visible_text,
};
use recorder::{BodyMode, HttpError, Recorder, Reply, is_response_to};

/// The MCP protocol version sent by default.
pub const DEFAULT_PROTOCOL_VERSION: &str = "2025-11-25";

/// The redirect URI used by default for the headless login: a loopback URI,
/// as native MCP clients use. Nothing needs to listen there: the redirect
/// is read from the `Location` header and never followed.
pub const DEFAULT_REDIRECT_URI: &str = "http://127.0.0.1:33418/callback";

/// How the user logs in.
#[derive(Debug, Clone)]
pub enum Login {
    /// Headless: fetch the authorization URL, fill in the HTML login form
    /// (and a consent form, if one follows) and submit it, reading the
    /// redirect from `Location` without following it. Servers that approve
    /// at once (no form) need no credentials.
    Form {
        /// The user name for the form.
        username: Option<String>,
        /// The password for the form.
        password: Option<String>,
    },
    /// Open the authorization URL in a browser and wait (at most `timeout`)
    /// for the redirect on a loopback listener.
    Browser {
        /// How to open the URL.
        opener: Opener,
        /// How long to wait for the redirect.
        timeout: Duration,
    },
}

/// What to trace and how.
#[derive(Debug, Clone)]
pub struct TraceOptions {
    /// The MCP endpoint URL, e.g. `http://127.0.0.1:8080/mcp`.
    pub server_url: String,
    /// How to log in.
    pub login: Login,
    /// A pre-registered client id (skips dynamic registration).
    pub client_id: Option<String>,
    /// The pre-registered client's secret (confidential clients).
    pub client_secret: Option<String>,
    /// The `client_name` sent at registration.
    pub client_name: String,
    /// The redirect URI (default [`DEFAULT_REDIRECT_URI`], or a free
    /// loopback port with a browser login).
    pub redirect_uri: Option<String>,
    /// The scope to request (default: the challenge's `scope`, else the
    /// metadata's `scopes_supported`).
    pub scope: Option<String>,
    /// The RFC 8707 resource indicator (default: the MCP server URL).
    pub resource: Option<String>,
    /// Send `resource` at all (false reproduces clients that omit it).
    pub send_resource: bool,
    /// The MCP protocol version to speak.
    pub protocol_version: String,
    /// The limit for each HTTP request, body included.
    pub timeout: Duration,
}

impl TraceOptions {
    /// Defaults for tracing `server_url`: headless login without
    /// credentials, dynamic registration, `resource` sent, protocol
    /// [`DEFAULT_PROTOCOL_VERSION`], 30 s per request.
    pub fn new(server_url: impl Into<String>) -> Self {
        Self {
            server_url: server_url.into(),
            login: Login::Form {
                username: None,
                password: None,
            },
            client_id: None,
            client_secret: None,
            client_name: "oauth-mcp trace".into(),
            redirect_uri: None,
            scope: None,
            resource: None,
            send_resource: true,
            protocol_version: DEFAULT_PROTOCOL_VERSION.into(),
            timeout: Duration::from_secs(30),
        }
    }

    /// With these form-login credentials.
    pub fn with_credentials(
        mut self,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.login = Login::Form {
            username: Some(username.into()),
            password: Some(password.into()),
        };
        self
    }
}

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
    let mcp = Url::parse(opts.server_url.trim());
    let loopback = mcp.as_ref().is_ok_and(is_loopback);
    let rec = Recorder::new(opts.timeout, loopback);
    let mut flow = Flow::new(opts, rec, on_step);
    match mcp {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
            flow.mcp_url = Some(u);
            let _ = flow.run().await;
        }
        other => {
            let mut s = flow.begin("MCP challenge");
            let why = match other {
                Err(e) => e.to_string(),
                Ok(u) => format!("scheme `{}` is not http(s)", u.scheme()),
            };
            s.fail(
                "bad-url",
                format!("`{}` is not an MCP server URL ({why})", opts.server_url),
                "the tracer needs the MCP endpoint's absolute http(s) URL",
                "pass the URL MCP clients are given, e.g. https://mcp.example.com/mcp",
            );
            flow.end(s);
        }
    }
    if let Some(rec) = flow.rec.as_ref() {
        flow.summary_exchanges = rec.exchanges(0);
    }
    TraceReport {
        server_url: opts.server_url.clone(),
        username: match &opts.login {
            Login::Form { username, .. } => username.clone(),
            Login::Browser { .. } => None,
        },
        started_at,
        duration: t0.elapsed(),
        steps: flow.steps,
        exchanges: flow.summary_exchanges,
        summary: flow.summary,
    }
}

/// The flow cannot go on.
struct Stop;

/// A step being built.
struct StepCtx {
    number: u32,
    name: String,
    summary: String,
    notes: Vec<String>,
    diagnoses: Vec<Diagnosis>,
    first_exchange: usize,
    skipped: bool,
}

impl StepCtx {
    fn diag(
        &mut self,
        severity: Severity,
        id: &'static str,
        problem: impl Into<String>,
        cause: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.diagnoses.push(Diagnosis {
            severity,
            id,
            problem: problem.into(),
            cause: cause.into(),
            fix: fix.into(),
        });
    }

    fn fail(
        &mut self,
        id: &'static str,
        problem: impl Into<String>,
        cause: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.diag(Severity::Failure, id, problem, cause, fix);
    }

    fn warn(
        &mut self,
        id: &'static str,
        problem: impl Into<String>,
        cause: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.diag(Severity::Warning, id, problem, cause, fix);
    }

    fn note(&mut self, n: impl Into<String>) {
        self.notes.push(n.into());
    }
}

/// Where the authorization request landed.
enum Landing {
    /// A page with a form (its URL and HTML).
    Form(String, String),
    /// Straight back to the redirect URI (no login page).
    Redirect(Url),
    /// Opened in a browser.
    Browser,
}

/// The oauth2 client with an authorization and a token endpoint.
type OAuthClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// The tokens obtained.
struct Tokens {
    access: String,
    refresh: Option<String>,
}

struct Flow<'o, F> {
    o: &'o TraceOptions,
    rec: Option<Recorder>,
    rec_error: Option<String>,
    on_step: F,
    steps: Vec<Step>,
    summary: Summary,
    summary_exchanges: Vec<Exchange>,
    mcp_url: Option<Url>,
    /// The canonical MCP server URL: the expected audience.
    mcp_canonical: String,
    resource: String,
    resource_metadata: Option<String>,
    challenge_scope: Option<String>,
    prm: Value,
    legacy_as: bool,
    issuer: String,
    as_meta: Value,
    client_id: String,
    client_secret: Option<String>,
    auth_type: AuthType,
    public_client: bool,
    redirect_uri: String,
    callback: Option<Callback>,
    oauth: Option<OAuthClient>,
    verifier: Option<PkceCodeVerifier>,
    state: String,
    code: Option<String>,
    tokens: Option<Tokens>,
    aud_problem: Option<String>,
    session_id: Option<String>,
    negotiated: Option<String>,
    mcp_ok: bool,
}

fn initialize_body(version: &str, id: i64) -> Value {
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

/// `error: description` of an OAuth error body, else the page's visible text.
fn error_summary(r: &Reply) -> String {
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

fn is_redirect_status(s: u16) -> bool {
    matches!(s, 301 | 302 | 303 | 307 | 308)
}

fn str_list(v: &Value, key: &str) -> Option<Vec<String>> {
    v.get(key)?.as_array().map(|a| {
        a.iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect()
    })
}

/// Why a token endpoint said `code`, and what to do.
fn token_error_help(code: &str, grant: &str, resource: Option<&str>) -> (String, String) {
    match code {
        "invalid_grant" if grant == "refresh_token" => (
            "the refresh token was refused right after it was issued: it is not stored, is bound to another client or resource, or the rotation logic revoked it".into(),
            "store refresh tokens when issuing them and accept the newest one; keep the grant's resource on refresh".into(),
        ),
        "invalid_grant" => (
            "the code was refused: the PKCE code_verifier does not match the code_challenge (S256), the redirect_uri differs from the authorization request's, the code expired or was already used, or it was issued to another client".into(),
            "compare SHA-256(code_verifier) with the stored challenge (base64url, no padding), compare redirect_uri exactly, and keep codes valid for a few minutes".into(),
        ),
        "invalid_client" => (
            "client authentication failed: the server expects another token_endpoint_auth_method than the one registered (public clients send only client_id)".into(),
            "accept the method the client registered (`none` for public clients; client_secret_basic or client_secret_post for confidential ones)".into(),
        ),
        "invalid_target" => (
            format!(
                "the server refused the resource indicator{} (RFC 8707)",
                resource.map(|r| format!(" `{r}`")).unwrap_or_default()
            ),
            "accept the MCP server's canonical URL as `resource` at /authorize and /token (that is what MCP clients send)".into(),
        ),
        "unsupported_grant_type" => (
            format!("the token endpoint does not support the `{grant}` grant"),
            format!("support `{grant}`, as MCP clients require"),
        ),
        "invalid_scope" => (
            "the requested scope is unknown or not allowed".into(),
            "accept the scopes listed in scopes_supported (or pass --scope with one the server grants)".into(),
        ),
        _ => (
            "the token endpoint refused the request".into(),
            "see the error description; the server's logs say more".into(),
        ),
    }
}

impl<'o, F: FnMut(&Step, &[Exchange])> Flow<'o, F> {
    fn new(o: &'o TraceOptions, rec: Result<Recorder, String>, on_step: F) -> Self {
        let (rec, rec_error) = match rec {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(e)),
        };
        Self {
            o,
            rec,
            rec_error,
            on_step,
            steps: Vec::new(),
            summary: Summary::default(),
            summary_exchanges: Vec::new(),
            mcp_url: None,
            mcp_canonical: String::new(),
            resource: String::new(),
            resource_metadata: None,
            challenge_scope: None,
            prm: Value::Null,
            legacy_as: false,
            issuer: String::new(),
            as_meta: Value::Null,
            client_id: String::new(),
            client_secret: None,
            auth_type: AuthType::BasicAuth,
            public_client: true,
            redirect_uri: String::new(),
            callback: None,
            oauth: None,
            verifier: None,
            state: String::new(),
            code: None,
            tokens: None,
            aud_problem: None,
            session_id: None,
            negotiated: None,
            mcp_ok: false,
        }
    }

    fn begin(&mut self, name: &str) -> StepCtx {
        let number = u32::try_from(self.steps.len() + 1).unwrap_or(u32::MAX);
        let first_exchange = match &self.rec {
            Some(r) => {
                r.set_step(number);
                r.count()
            }
            None => 0,
        };
        StepCtx {
            number,
            name: name.to_owned(),
            summary: String::new(),
            notes: Vec::new(),
            diagnoses: Vec::new(),
            first_exchange,
            skipped: false,
        }
    }

    fn end(&mut self, s: StepCtx) {
        let (count, all) = match &self.rec {
            Some(r) => (r.count(), r.exchanges(0)),
            None => (0, Vec::new()),
        };
        let exchanges: Vec<usize> = (s.first_exchange..count).collect();
        let status = if s.diagnoses.iter().any(|d| d.severity == Severity::Failure) {
            Status::Failed
        } else if s.diagnoses.iter().any(|d| d.severity == Severity::Warning) {
            Status::Warning
        } else if s.skipped {
            Status::Skipped
        } else {
            Status::Ok
        };
        let red = |t: &str| match &self.rec {
            Some(r) => r.redact(t),
            None => t.to_owned(),
        };
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
            name: s.name,
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

    fn rec(&self) -> Result<&Recorder, Stop> {
        self.rec.as_ref().ok_or(Stop)
    }

    fn mcp(&self) -> Result<&Url, Stop> {
        self.mcp_url.as_ref().ok_or(Stop)
    }

    fn version_at_least(&self, v: &str) -> bool {
        self.o.protocol_version.as_str() >= v
    }

    async fn get(&self, url: &str, accept: &str) -> Result<Reply, HttpError> {
        let Some(rec) = &self.rec else {
            return Err(HttpError("no HTTP client".into()));
        };
        rec.send(
            Method::GET,
            url,
            &[("accept", accept.to_owned())],
            None,
            BodyMode::Full,
        )
        .await
    }

    async fn mcp_post(
        &self,
        body: &Value,
        bearer: Option<&str>,
        id: Option<i64>,
    ) -> Result<Reply, HttpError> {
        let (Some(rec), Some(url)) = (&self.rec, &self.mcp_url) else {
            return Err(HttpError("no HTTP client".into()));
        };
        let mut h = vec![
            ("content-type", "application/json".to_owned()),
            ("accept", "application/json, text/event-stream".to_owned()),
        ];
        if let Some(t) = bearer {
            h.push(("authorization", format!("Bearer {t}")));
        }
        if let Some(sid) = &self.session_id {
            h.push(("mcp-session-id", sid.clone()));
        }
        if let Some(v) = &self.negotiated {
            h.push(("mcp-protocol-version", v.clone()));
        }
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        rec.send(
            Method::POST,
            url.as_str(),
            &h,
            Some(bytes),
            BodyMode::Mcp(id),
        )
        .await
    }

    async fn run(&mut self) -> Result<(), Stop> {
        if let Some(e) = self.rec_error.clone() {
            let mut s = self.begin("MCP challenge");
            s.fail(
                "http-client",
                e,
                "the HTTP client could not be set up",
                "report this as a bug",
            );
            self.end(s);
            return Err(Stop);
        }
        let mcp = self.mcp()?.clone();
        self.mcp_canonical = canonical(mcp.as_str());
        self.resource = self
            .o
            .resource
            .clone()
            .unwrap_or_else(|| self.mcp_canonical.clone());
        self.step_challenge().await?;
        self.step_prm().await?;
        self.step_as_metadata().await?;
        self.step_registration().await?;
        let landing = self.step_authorization().await?;
        let back = self.step_login(landing).await?;
        self.step_redirect(&back)?;
        self.step_token().await?;
        self.step_audience();
        self.step_initialize().await;
        self.step_tools_list().await;
        self.step_refresh().await;
        Ok(())
    }

    // ------------------------------------------------------------ 1

    async fn step_challenge(&mut self) -> Result<(), Stop> {
        let mut s = self.begin("MCP challenge");
        let mcp = self.mcp()?.clone();
        let r = self
            .mcp_post(&initialize_body(&self.o.protocol_version, 0), None, Some(0))
            .await;
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                s.fail(
                    "unreachable",
                    format!("cannot reach the MCP server at {mcp}: {e}"),
                    "nothing answered at that address: the server is down, the host or port is wrong, a firewall or proxy is in the way, or TLS failed",
                    "start the server and check the URL (scheme, host, port, path of the MCP endpoint)",
                );
                self.end(s);
                return Err(Stop);
            }
        };
        s.summary = format!("POST {mcp} (initialize, no token) → {}", r.status);
        let prm_hint = prm_candidates(&mcp).first().cloned().unwrap_or_default();
        match r.status {
            401 => {}
            403 => s.fail(
                "forbidden-without-token",
                "the MCP endpoint answered 403 to a request without a token",
                "403 means \"authenticated but not allowed\"; MCP clients start the OAuth flow only on 401",
                format!("answer 401 with `WWW-Authenticate: Bearer resource_metadata=\"{prm_hint}\"` when there is no token"),
            ),
            200..=299 => {
                s.fail(
                    "not-protected",
                    format!("the MCP endpoint answered {} without any token: it is not OAuth-protected", r.status),
                    "clients only start OAuth when the server answers 401; this one lets everybody in",
                    "put the Bearer layer (oauth-mcp's BearerLayer / BearerAuth) in front of the MCP endpoint, or trace the right URL",
                );
                self.end(s);
                return Err(Stop);
            }
            404 => {
                s.fail(
                    "mcp-not-found",
                    format!("no MCP endpoint at {mcp} (404)"),
                    "the path is wrong (e.g. /mcp vs /mcp/ vs /sse) or the server mounts MCP elsewhere",
                    "pass the URL of the streamable-HTTP MCP endpoint",
                );
                self.end(s);
                return Err(Stop);
            }
            405 => {
                s.fail(
                    "mcp-method-not-allowed",
                    format!("{mcp} does not accept POST (405)"),
                    "this is not a streamable-HTTP MCP endpoint (perhaps the old HTTP+SSE transport, or a web page)",
                    "point the tracer (and your clients) at the streamable-HTTP endpoint",
                );
                self.end(s);
                return Err(Stop);
            }
            other => {
                s.fail(
                    "mcp-unexpected-status",
                    format!("the MCP endpoint answered {other} to a request without a token: {}", truncate(&error_summary(&r), 200)),
                    "MCP clients expect 401 with a Bearer challenge when the token is missing; anything else stops them",
                    format!("answer 401 with `WWW-Authenticate: Bearer resource_metadata=\"{prm_hint}\"` before looking at the request body"),
                );
                self.end(s);
                return Err(Stop);
            }
        }
        let values = r.header_all("www-authenticate");
        if values.is_empty() {
            s.fail(
                "no-www-authenticate",
                format!("{} without a WWW-Authenticate header", r.status),
                "RFC 9110 §11.6.1 requires a challenge with every 401, and MCP clients read `resource_metadata` from it to find the authorization server; without it some clients stop here and the others must guess the well-known URL",
                format!("send `WWW-Authenticate: Bearer resource_metadata=\"{prm_hint}\"` with every 401 (and list WWW-Authenticate in Access-Control-Expose-Headers for browser-based clients)"),
            );
            s.note("continuing with the well-known protected-resource metadata URLs");
        } else {
            let all: Vec<Challenge> = values.iter().flat_map(|v| parse_challenges(v)).collect();
            let raw = values.join(", ");
            s.note(format!("WWW-Authenticate: {}", truncate(&raw, 300)));
            match all.iter().find(|c| c.is_bearer()) {
                None => s.fail(
                    "not-bearer",
                    format!(
                        "the challenge is not a Bearer challenge: `{}`",
                        truncate(&raw, 120)
                    ),
                    "MCP uses OAuth 2.0 Bearer tokens (RFC 6750); clients ignore other schemes",
                    format!("answer `WWW-Authenticate: Bearer resource_metadata=\"{prm_hint}\"`"),
                ),
                Some(c) => {
                    match c.param("resource_metadata") {
                        Some(rm) => self.resource_metadata = Some(rm.to_owned()),
                        None if self.version_at_least("2025-11-25") => s.warn(
                            "no-resource-metadata",
                            "the Bearer challenge has no resource_metadata parameter",
                            "MCP 2025-11-25 lets clients fall back to the well-known URL, but clients written for 2025-06-18 require the parameter and stop here",
                            format!("add `resource_metadata=\"{prm_hint}\"` to the challenge"),
                        ),
                        None if self.version_at_least("2025-06-18") => s.fail(
                            "no-resource-metadata",
                            "the Bearer challenge has no resource_metadata parameter",
                            format!("MCP {} requires servers to name their protected-resource metadata in the 401 challenge (RFC 9728 §5.1)", self.o.protocol_version),
                            format!("add `resource_metadata=\"{prm_hint}\"` to the challenge"),
                        ),
                        None => s.note("no resource_metadata (not used by 2025-03-26 clients)"),
                    }
                    if let Some(sc) = c.param("scope") {
                        self.challenge_scope = Some(sc.to_owned());
                    }
                    if let Some(err) = c.param("error") {
                        s.warn(
                            "error-on-bare-challenge",
                            format!("the challenge to a request without credentials carries error=\"{err}\""),
                            "RFC 6750 §3.1: when a request has no authentication information the challenge SHOULD NOT include an error code; a client may read it as \"my token is bad\" and throw away a good one",
                            "send a bare challenge (resource_metadata, scope) when there is no Authorization header; use error=\"invalid_token\" only for a bad token",
                        );
                    }
                }
            }
        }
        self.end(s);
        Ok(())
    }

    // ------------------------------------------------------------ 2

    async fn step_prm(&mut self) -> Result<(), Stop> {
        let mut s = self.begin("PRM");
        let mcp = self.mcp()?.clone();
        let from_challenge = self.resource_metadata.clone();
        let candidates = match &from_challenge {
            Some(u) => match Url::parse(u) {
                Ok(_) => vec![u.clone()],
                Err(_) => {
                    s.fail(
                        "prm-url-invalid",
                        format!("resource_metadata `{u}` is not an absolute URL"),
                        "RFC 9728 §5.1: the parameter is the absolute URL of the metadata",
                        format!(
                            "use an absolute URL, e.g. `{}`",
                            prm_candidates(&mcp).first().cloned().unwrap_or_default()
                        ),
                    );
                    prm_candidates(&mcp)
                }
            },
            None => prm_candidates(&mcp),
        };
        let mut tried = Vec::new();
        let mut found: Option<(String, Value)> = None;
        for c in &candidates {
            match self.get(c, "application/json").await {
                Err(e) => tried.push(format!("{c} → {e}")),
                Ok(r) if r.status == 200 => match r.json() {
                    Some(v) if v.is_object() => {
                        found = Some((c.clone(), v));
                        break;
                    }
                    _ => tried.push(format!(
                        "{c} → 200 but not a JSON object ({})",
                        r.content_type()
                    )),
                },
                Ok(r) => tried.push(format!("{c} → {}", r.status)),
            }
        }
        let Some((url, prm)) = found else {
            let legacy = !self.version_at_least("2025-06-18");
            let tried_s = tried.join(", ");
            if legacy {
                s.skipped = true;
                s.summary = format!("none ({tried_s})");
                s.note("2025-03-26 clients do not use protected-resource metadata");
            } else if let Some(u) = &from_challenge {
                s.fail(
                    "prm-not-found",
                    format!("the protected-resource metadata named by the challenge is not served: {tried_s}"),
                    format!("resource_metadata in WWW-Authenticate points to {u}, which does not answer with the RFC 9728 document; clients stop here"),
                    format!("serve the metadata (JSON with resource = \"{}\" and authorization_servers) at {u}, or correct the URL in the challenge", self.mcp_canonical),
                );
            } else {
                s.fail(
                    "prm-not-found",
                    format!("no protected-resource metadata (RFC 9728): tried {tried_s}"),
                    "MCP clients (2025-06-18 and later) find the authorization server through this document; without it they cannot start the login",
                    format!(
                        "serve {{\"resource\": \"{}\", \"authorization_servers\": [\"<issuer>\"]}} at {} and name it in the 401 challenge: WWW-Authenticate: Bearer resource_metadata=\"…\"",
                        self.mcp_canonical,
                        candidates.first().cloned().unwrap_or_default()
                    ),
                );
            }
            // Go on as a 2025-03-26 client would, to find further problems.
            self.legacy_as = true;
            self.issuer = origin(&mcp);
            s.note(format!(
                "continuing as a 2025-03-26 client would: the authorization server is assumed at the MCP server's origin, {}",
                self.issuer
            ));
            self.end(s);
            return Ok(());
        };
        s.summary = format!("GET {url} → 200");
        self.summary.resource_metadata_url = Some(url.clone());
        match prm.get("resource").and_then(Value::as_str) {
            None => s.fail(
                "prm-invalid",
                "the protected-resource metadata has no `resource` member",
                "RFC 9728 §2 requires it: clients compare it with the server URL and use it as the RFC 8707 resource indicator",
                format!("add \"resource\": \"{}\"", self.mcp_canonical),
            ),
            Some(res) if same_resource(res, mcp.as_str()) => {
                s.note(format!("resource {res} (matches the MCP server URL)"));
            }
            Some(res) => {
                let parent = Url::parse(res).is_ok_and(|r| {
                    r.origin() == mcp.origin()
                        && mcp
                            .path()
                            .starts_with(r.path().trim_end_matches('/'))
                });
                let problem = format!(
                    "the metadata's resource `{res}` is not the MCP server URL `{}`",
                    self.mcp_canonical
                );
                let fix = format!("set \"resource\": \"{}\" (the exact URL clients connect to)", self.mcp_canonical);
                if parent {
                    s.warn(
                        "prm-resource-mismatch",
                        problem,
                        "RFC 9728 §3.3 requires the resource to equal the URL the client started from; some clients (the TypeScript SDK) accept a parent path, stricter ones refuse, and tokens get this broader audience",
                        fix,
                    );
                } else {
                    s.fail(
                        "prm-resource-mismatch",
                        problem,
                        "RFC 9728 §3.3: clients must reject metadata whose resource differs from the URL they started from (it could be an impersonation); a proxy or wrong public URL usually causes it",
                        fix,
                    );
                }
            }
        }
        let servers = str_list(&prm, "authorization_servers").unwrap_or_default();
        let Some(first) = servers.first().cloned() else {
            s.fail(
                "prm-no-authorization-servers",
                "the metadata lists no authorization_servers",
                "MCP clients take the authorization server from this list (MCP requires at least one)",
                "add \"authorization_servers\": [\"<issuer URL>\"]",
            );
            self.end(s);
            return Err(Stop);
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
            s.warn(
                "prm-no-header-bearer",
                format!("bearer_methods_supported is {m:?}, without \"header\""),
                "MCP clients send the token in the Authorization header only (query-string tokens are forbidden)",
                "list \"header\" (or leave the member out)",
            );
        }
        if let Some(sc) = str_list(&prm, "scopes_supported") {
            s.note(format!("scopes_supported: {}", sc.join(" ")));
        }
        self.issuer = first;
        self.prm = prm;
        self.end(s);
        Ok(())
    }

    // ------------------------------------------------------------ 3

    async fn step_as_metadata(&mut self) -> Result<(), Stop> {
        let mut s = self.begin("AS metadata");
        let issuer_url = match Url::parse(&self.issuer) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => u,
            _ => {
                s.fail(
                    "as-issuer-invalid",
                    format!("the authorization server `{}` is not an http(s) URL", self.issuer),
                    "authorization_servers holds issuer identifiers: https URLs without query or fragment (RFC 8414 §2)",
                    "list the issuer URL exactly as the authorization server's metadata states it",
                );
                self.end(s);
                return Err(Stop);
            }
        };
        if issuer_url.scheme() == "http" && !is_loopback(&issuer_url) {
            s.warn(
                "as-not-https",
                format!("the authorization server {} uses plain http", self.issuer),
                "OAuth 2.1 requires TLS for every endpoint except on loopback; clients refuse or warn",
                "serve the authorization server over https",
            );
        }
        let candidates = as_metadata_candidates(&issuer_url);
        let mut tried = Vec::new();
        let mut found: Option<(String, Value)> = None;
        for c in &candidates {
            match self.get(c, "application/json").await {
                Err(e) => tried.push(format!("{c} → {e}")),
                Ok(r) if r.status == 200 => match r.json() {
                    Some(v) if v.is_object() => {
                        found = Some((c.clone(), v));
                        break;
                    }
                    _ => tried.push(format!(
                        "{c} → 200 but not a JSON object ({})",
                        r.content_type()
                    )),
                },
                Ok(r) => tried.push(format!("{c} → {}", r.status)),
            }
        }
        let Some((url, meta)) = found else {
            s.fail(
                "as-metadata-not-found",
                format!("no authorization-server metadata for issuer {}: tried {}", self.issuer, tried.join(", ")),
                "MCP clients read the authorization, token and registration endpoints from RFC 8414 metadata (or OpenID discovery), at the well-known URL derived from the issuer by path insertion",
                format!(
                    "serve the RFC 8414 document at {} (for an issuer with a path, the path goes after the well-known segment), or list the right issuer in the protected-resource metadata",
                    candidates.first().cloned().unwrap_or_default()
                ),
            );
            self.end(s);
            return Err(Stop);
        };
        s.summary = format!("GET {url} → 200");
        self.summary.authorization_server_metadata_url = Some(url.clone());
        match meta.get("issuer").and_then(Value::as_str) {
            None => s.fail(
                "as-issuer-mismatch",
                "the metadata has no `issuer` member",
                "RFC 8414 §2 requires it; clients compare it with the issuer they looked up (mix-up defence)",
                format!("add \"issuer\": \"{}\"", self.issuer),
            ),
            Some(i) if self.legacy_as => {
                if !same_resource(i, &self.issuer) {
                    s.note(format!("issuer {i} (not the MCP server's origin)"));
                }
                self.issuer = i.to_owned();
            }
            Some(i) if i == self.issuer => s.note(format!("issuer {i}")),
            Some(i) => {
                let slash = i.trim_end_matches('/') == self.issuer.trim_end_matches('/');
                s.fail(
                    "as-issuer-mismatch",
                    format!("the metadata's issuer `{i}` differs from the authorization server `{}` named by the protected-resource metadata", self.issuer),
                    if slash {
                        "RFC 8414 §3.3: the issuer must be identical to the URL the metadata was derived from, character for character; here only a trailing slash differs, which strict clients still refuse".to_owned()
                    } else {
                        "RFC 8414 §3.3: the issuer must be identical to the URL the metadata was derived from; clients refuse the metadata (it could come from another server: a mix-up attack)".to_owned()
                    },
                    "use one spelling of the issuer everywhere: in authorization_servers, in the metadata's issuer, and in the iss of tokens and redirects",
                );
            }
        }
        let endpoint = |k: &str| {
            meta.get(k)
                .and_then(Value::as_str)
                .filter(|v| Url::parse(v).is_ok())
                .map(str::to_owned)
        };
        let (auth_ep, token_ep) = (
            endpoint("authorization_endpoint"),
            endpoint("token_endpoint"),
        );
        if auth_ep.is_none() || token_ep.is_none() {
            let missing: Vec<&str> = [
                ("authorization_endpoint", auth_ep.is_none()),
                ("token_endpoint", token_ep.is_none()),
            ]
            .iter()
            .filter(|(_, m)| *m)
            .map(|(k, _)| *k)
            .collect();
            s.fail(
                "as-missing-endpoint",
                format!("the metadata has no usable {}", missing.join(" or ")),
                "RFC 8414 §2 requires both (absolute URLs) for the authorization code flow",
                "add them",
            );
            self.end(s);
            return Err(Stop);
        }
        match str_list(&meta, "code_challenge_methods_supported") {
            None => s.fail(
                "pkce-not-advertised",
                "the metadata has no code_challenge_methods_supported",
                "MCP clients must verify PKCE support before starting, and refuse to proceed when this member is absent (MCP authorization, 2025-11-25)",
                "add \"code_challenge_methods_supported\": [\"S256\"] (and require S256 at /authorize)",
            ),
            Some(m) if !m.iter().any(|x| x == "S256") => s.fail(
                "pkce-no-s256",
                format!("code_challenge_methods_supported is {m:?}, without S256"),
                "OAuth 2.1 and MCP require PKCE with S256; clients refuse servers without it",
                "support S256 and list it",
            ),
            Some(_) => {}
        }
        match str_list(&meta, "response_types_supported") {
            Some(r) if !r.iter().any(|x| x == "code") => s.fail(
                "no-code-response-type",
                format!("response_types_supported is {r:?}, without \"code\""),
                "MCP uses the authorization code flow",
                "support and list \"code\"",
            ),
            None => s.warn(
                "no-code-response-type",
                "the metadata has no response_types_supported",
                "RFC 8414 §2 requires it",
                "add \"response_types_supported\": [\"code\"]",
            ),
            _ => {}
        }
        if let Some(g) = str_list(&meta, "grant_types_supported")
            && !g.iter().any(|x| x == "authorization_code")
        {
            s.warn(
                "grant-type-missing",
                format!("grant_types_supported is {g:?}, without authorization_code"),
                "MCP clients use the authorization_code grant",
                "list authorization_code (and refresh_token)",
            );
        }
        if meta.get("registration_endpoint").is_none() {
            s.note("no registration_endpoint");
        }
        self.as_meta = meta;
        self.summary.issuer = Some(self.issuer.clone());
        self.end(s);
        Ok(())
    }

    // ------------------------------------------------------------ 4

    async fn step_registration(&mut self) -> Result<(), Stop> {
        let mut s = self.begin("registration");
        // The redirect URI first (a browser login listens on a free port).
        match &self.o.login {
            Login::Browser { .. } => match Callback::bind(self.o.redirect_uri.as_deref()).await {
                Ok(cb) => {
                    self.redirect_uri = cb.redirect_uri.to_string();
                    self.callback = Some(cb);
                }
                Err(e) => {
                    s.fail(
                        "browser-listener",
                        e,
                        "the browser login needs a loopback redirect URI this program can listen on",
                        "pass --redirect-uri http://127.0.0.1:<free port>/callback, or drop it to use any free port",
                    );
                    self.end(s);
                    return Err(Stop);
                }
            },
            Login::Form { .. } => {
                self.redirect_uri = self
                    .o
                    .redirect_uri
                    .clone()
                    .unwrap_or_else(|| DEFAULT_REDIRECT_URI.to_owned());
            }
        }
        self.summary.redirect_uri = Some(self.redirect_uri.clone());
        let methods = str_list(&self.as_meta, "token_endpoint_auth_methods_supported");
        let supports = |m: &str| methods.as_ref().is_none_or(|l| l.iter().any(|x| x == m));
        if let Some(id) = self.o.client_id.clone() {
            self.client_id = id.clone();
            self.client_secret = self.o.client_secret.clone();
            self.public_client = self.client_secret.is_none();
            if let (Some(sec), Some(rec)) = (&self.client_secret, &self.rec) {
                rec.secret(sec);
            }
            self.auth_type = if !supports("client_secret_basic") && supports("client_secret_post") {
                AuthType::RequestBody
            } else {
                AuthType::BasicAuth
            };
            s.summary = format!(
                "pre-registered {} client `{id}` (--client-id), no registration",
                if self.public_client {
                    "public"
                } else {
                    "confidential"
                }
            );
            self.summary.client_id = Some(id);
            self.end(s);
            return Ok(());
        }
        let Some(reg) = self
            .as_meta
            .get("registration_endpoint")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            let cimd = self
                .as_meta
                .get("client_id_metadata_document_supported")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            s.fail(
                "registration-unavailable",
                "the authorization server offers no dynamic client registration (no registration_endpoint)",
                if cimd {
                    "MCP clients without a pre-arranged client id register dynamically (RFC 7591); this server supports client ID metadata documents instead, which this tracer does not use"
                } else {
                    "MCP clients without a pre-arranged client id (Claude, Cursor, VS Code, MCP Inspector, …) register dynamically (RFC 7591) and stop here"
                },
                "enable registration (oauth-mcp: do not call disable_registration()), or pre-register a client and pass --client-id (and --client-secret)",
            );
            self.end(s);
            return Err(Stop);
        };
        let method = if supports("none") {
            "none"
        } else if supports("client_secret_basic") {
            "client_secret_basic"
        } else {
            "client_secret_post"
        };
        if method != "none" {
            s.warn(
                "no-public-clients",
                format!("token_endpoint_auth_methods_supported is {:?}, without \"none\"", methods.clone().unwrap_or_default()),
                "MCP clients are mostly public clients (no secret, PKCE instead); they cannot register here",
                "accept public clients (token_endpoint_auth_method \"none\") with PKCE",
            );
        }
        let mut body = json!({
            "client_name": self.o.client_name,
            "redirect_uris": [self.redirect_uri],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": method,
        });
        if let Some(sc) = self.requested_scope() {
            body["scope"] = json!(sc);
        }
        let r = match self
            .rec()?
            .send(
                Method::POST,
                &reg,
                &[
                    ("content-type", "application/json".to_owned()),
                    ("accept", "application/json".to_owned()),
                ],
                Some(serde_json::to_vec(&body).unwrap_or_default()),
                BodyMode::Full,
            )
            .await
        {
            Ok(r) => r,
            Err(e) => {
                s.fail(
                    "registration-refused",
                    format!("the registration endpoint {reg} did not answer: {e}"),
                    "the metadata names an endpoint that is not reachable",
                    "check registration_endpoint in the metadata",
                );
                self.end(s);
                return Err(Stop);
            }
        };
        let doc = r.json().unwrap_or(Value::Null);
        let client_id = doc
            .get("client_id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        match (r.status, client_id) {
            (200 | 201, Some(id)) => {
                if r.status == 200 {
                    s.note("RFC 7591 §3.2.1 says 201 Created (200 works with most clients)");
                }
                if let Some(sec) = doc.get("client_secret").and_then(Value::as_str) {
                    self.rec()?.secret(sec);
                    self.client_secret = Some(sec.to_owned());
                    self.public_client = false;
                }
                if let Some(uris) = str_list(&doc, "redirect_uris")
                    && !uris.iter().any(|u| u == &self.redirect_uri)
                {
                    s.warn(
                        "registration-redirect-changed",
                        format!("the registered redirect_uris {uris:?} do not contain the requested {}", self.redirect_uri),
                        "the server replaced the client's redirect URI; the authorization request will likely be refused",
                        "register the redirect URIs exactly as sent (or refuse the registration with invalid_redirect_uri)",
                    );
                }
                let m = doc
                    .get("token_endpoint_auth_method")
                    .and_then(Value::as_str)
                    .unwrap_or(method);
                self.auth_type = if m == "client_secret_post" {
                    AuthType::RequestBody
                } else {
                    AuthType::BasicAuth
                };
                s.note(format!("client_id {id} ({m})"));
                self.client_id = id.clone();
                self.summary.client_id = Some(id);
                self.summary.dynamically_registered = true;
                s.summary = format!("POST {reg} → {}", r.status);
            }
            (200 | 201, None) => {
                s.fail(
                    "registration-refused",
                    format!("the registration response ({}) has no client_id", r.status),
                    "RFC 7591 §3.2.1: the response carries the new client's client_id",
                    "return the client information response (JSON with client_id)",
                );
                self.end(s);
                return Err(Stop);
            }
            (status, _) => {
                let err = doc
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let summary = error_summary(&r);
                if err == "invalid_redirect_uri"
                    || (err.is_empty() && summary.to_ascii_lowercase().contains("redirect"))
                {
                    s.fail(
                        "redirect-uri-refused",
                        format!("registration refused the redirect URI {} ({status}: {summary})", self.redirect_uri),
                        "native MCP clients register loopback redirect URIs (http://127.0.0.1:<port>/…, RFC 8252 §7.3) and hosted ones their https callback; this server refuses it",
                        "accept http loopback redirect URIs (any port) and https redirect URIs at registration, or pass --redirect-uri with one the server accepts",
                    );
                } else if status == 401 || status == 403 {
                    s.fail(
                        "registration-refused",
                        format!("registration needs authorization ({status}: {summary})"),
                        "the registration endpoint requires an initial access token (RFC 7591 §3.1), which MCP clients do not have",
                        "allow open registration for MCP clients, or pre-register a client and pass --client-id",
                    );
                } else {
                    s.fail(
                        "registration-refused",
                        format!("registration refused ({status}: {summary})"),
                        "the server rejects the client metadata MCP clients send (client_name, redirect_uris, grant_types authorization_code + refresh_token, response_types code, token_endpoint_auth_method none)",
                        "accept that metadata (RFC 7591), or pre-register a client and pass --client-id",
                    );
                }
                self.end(s);
                return Err(Stop);
            }
        }
        self.end(s);
        Ok(())
    }

    /// `--scope`, else the challenge's scope, else the metadata's scopes.
    fn requested_scope(&self) -> Option<String> {
        self.o
            .scope
            .clone()
            .or_else(|| self.challenge_scope.clone())
            .or_else(|| str_list(&self.prm, "scopes_supported").map(|v| v.join(" ")))
            .filter(|s| !s.trim().is_empty())
    }

    // ------------------------------------------------------------ 5

    async fn step_authorization(&mut self) -> Result<Landing, Stop> {
        let mut s = self.begin("authorization");
        let auth_ep = self.as_endpoint("authorization_endpoint");
        let token_ep = self.as_endpoint("token_endpoint");
        let built = (|| -> Result<OAuthClient, String> {
            let c = BasicClient::new(ClientId::new(self.client_id.clone()))
                .set_auth_uri(
                    AuthUrl::new(auth_ep.clone())
                        .map_err(|e| format!("authorization_endpoint: {e}"))?,
                )
                .set_token_uri(
                    TokenUrl::new(token_ep.clone()).map_err(|e| format!("token_endpoint: {e}"))?,
                )
                .set_redirect_uri(
                    RedirectUrl::new(self.redirect_uri.clone())
                        .map_err(|e| format!("redirect URI: {e}"))?,
                )
                .set_auth_type(self.auth_type.clone());
            Ok(match &self.client_secret {
                Some(sec) => c.set_client_secret(ClientSecret::new(sec.clone())),
                None => c,
            })
        })();
        let client = match built {
            Ok(c) => c,
            Err(e) => {
                s.fail(
                    "bad-endpoint",
                    format!("cannot build the OAuth client: {e}"),
                    "an endpoint URL is not valid",
                    "fix the metadata (or --redirect-uri)",
                );
                self.end(s);
                return Err(Stop);
            }
        };
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        self.rec()?.secret(verifier.secret());
        let scope = self.requested_scope();
        let mut req = client
            .authorize_url(CsrfToken::new_random)
            .set_pkce_challenge(challenge);
        for sc in scope.iter().flat_map(|s| s.split_whitespace()) {
            req = req.add_scope(Scope::new(sc.to_owned()));
        }
        if self.o.send_resource {
            req = req.add_extra_param("resource", self.resource.clone());
            self.summary.resource = Some(self.resource.clone());
        }
        let (url, csrf) = req.url();
        self.state = csrf.secret().clone();
        self.verifier = Some(verifier);
        self.oauth = Some(client);
        self.summary.requested_scope = scope.clone();
        s.note(format!(
            "PKCE S256, state, scope {}, resource {}",
            scope
                .as_deref()
                .map_or_else(|| "(none)".to_owned(), |s| format!("\"{s}\"")),
            if self.o.send_resource {
                self.resource.clone()
            } else {
                "(omitted: --no-resource)".to_owned()
            }
        ));
        if let Login::Browser { opener, .. } = &self.o.login {
            let opener = opener.clone();
            match opener.open(url.as_str()).await {
                Ok(()) => s.summary = format!("opened {auth_ep} in the browser"),
                Err(e) => {
                    s.warn(
                        "browser-not-opened",
                        format!("could not open a browser: {e}"),
                        "no desktop opener (open / xdg-open) is available here",
                        "open the URL below yourself; the tracer is waiting for the redirect",
                    );
                    s.summary = "waiting for the browser".into();
                }
            }
            s.note(format!("authorization URL: {url}"));
            self.end(s);
            return Ok(Landing::Browser);
        }
        let redirect = Url::parse(&self.redirect_uri).map_err(|_| Stop)?;
        let mut page = url.to_string();
        // Follow redirects inside the authorization server (at most five).
        for _ in 0..6 {
            let r = match self.get(&page, "text/html,application/xhtml+xml").await {
                Ok(r) => r,
                Err(e) => {
                    s.fail(
                        "authorization-unreachable",
                        format!("the authorization endpoint did not answer: {e}"),
                        "the metadata names an endpoint that is not reachable from here",
                        "check authorization_endpoint in the metadata (a public URL behind a proxy must be reachable by clients)",
                    );
                    self.end(s);
                    return Err(Stop);
                }
            };
            if is_redirect_status(r.status) {
                let Some(loc) = r.location(&page) else {
                    s.fail(
                        "authorization-refused",
                        format!("{} without a usable Location header", r.status),
                        "a redirect needs a Location",
                        "send Location",
                    );
                    self.end(s);
                    return Err(Stop);
                };
                if is_redirect_to(&loc, &redirect) {
                    s.summary = format!(
                        "GET {auth_ep} → {} (back to the redirect URI without a login page)",
                        r.status
                    );
                    self.end(s);
                    return Ok(Landing::Redirect(loc));
                }
                page = loc.to_string();
                continue;
            }
            if r.status == 200 {
                let html = r.text();
                if parse_forms(&html).is_empty() {
                    s.fail(
                        "no-login-form",
                        format!("the authorization page ({}) has no HTML form to log in with", r.content_type()),
                        "the login page needs JavaScript, or the server answers with something other than a login page",
                        "use --browser to log in interactively",
                    );
                    self.end(s);
                    return Err(Stop);
                }
                s.summary = format!("GET {auth_ep} → 200 (login page)");
                self.end(s);
                return Ok(Landing::Form(page, html));
            }
            let text = error_summary(&r);
            let lower = text.to_ascii_lowercase();
            if lower.contains("redirect") {
                s.fail(
                    "redirect-uri-refused",
                    format!("the authorization endpoint refused the redirect URI {} ({}: {text})", self.redirect_uri, r.status),
                    format!(
                        "the redirect URI is not registered for client `{}`, or the server's redirect-URI policy refuses it; MCP clients use loopback URIs on any port (RFC 8252 §7.3) or their own https callback",
                        self.client_id
                    ),
                    "register this exact redirect URI for the client (or pass the registered one with --redirect-uri); for http loopback URIs, let any port match",
                );
            } else if lower.contains("client") {
                s.fail(
                    "unknown-client",
                    format!("the authorization endpoint refused client `{}` ({}: {text})", self.client_id, r.status),
                    "the client id is unknown, inactive or expired (a registration not persisted, or a store shared wrongly between instances)",
                    "check that registered clients are stored where /authorize looks them up (all instances must share the store)",
                );
            } else {
                s.fail(
                    "authorization-refused",
                    format!("the authorization endpoint answered {}: {text}", r.status),
                    "the authorization request MCP clients send (response_type=code, PKCE S256, state, scope, resource) was refused",
                    "accept it; the server's error page and logs name the parameter",
                );
            }
            self.end(s);
            return Err(Stop);
        }
        s.fail(
            "redirect-loop",
            "more than five redirects inside the authorization server",
            "a redirect loop",
            "fix the login redirects",
        );
        self.end(s);
        Err(Stop)
    }

    // ------------------------------------------------------------ 6

    async fn step_login(&mut self, landing: Landing) -> Result<Url, Stop> {
        let mut s = self.begin("login");
        let redirect = Url::parse(&self.redirect_uri).map_err(|_| Stop)?;
        let (mut page_url, mut html) = match landing {
            Landing::Redirect(u) => {
                s.skipped = true;
                s.summary = "no login page: the server approved the request at once".into();
                self.end(s);
                return Ok(u);
            }
            Landing::Browser => {
                let Login::Browser { timeout, .. } = &self.o.login else {
                    return Err(Stop);
                };
                let timeout = *timeout;
                let got = match &self.callback {
                    Some(cb) => cb.wait(timeout).await,
                    None => Err("no listener".into()),
                };
                return match got {
                    Ok(u) => {
                        s.summary = format!("the browser came back to {}", redirect.path());
                        self.end(s);
                        Ok(u)
                    }
                    Err(e) => {
                        s.fail(
                            "browser-timeout",
                            format!("the browser login did not come back: {e}"),
                            "the login was not completed, or the server redirected elsewhere",
                            "complete the login in the browser within the time limit (--browser-timeout), or use --username/--password",
                        );
                        self.end(s);
                        Err(Stop)
                    }
                };
            }
            Landing::Form(u, h) => (u, h),
        };
        let (username, password) = match &self.o.login {
            Login::Form { username, password } => (username.clone(), password.clone()),
            Login::Browser { .. } => (None, None),
        };
        if let Some(p) = &password {
            self.rec()?.secret(p);
        }
        // A login form, perhaps a consent form after it: at most four pages.
        for round in 0..4 {
            let forms = parse_forms(&html);
            let Some(form) = forms
                .iter()
                .find(|f| f.has_password())
                .or(forms.first())
                .cloned()
            else {
                s.fail(
                    "no-login-form",
                    "the page after the login has no form and is no redirect",
                    "the server shows a page the tracer cannot act on",
                    "use --browser",
                );
                self.end(s);
                return Err(Stop);
            };
            if form.has_password() && (username.is_none() || password.is_none()) {
                s.fail(
                    "credentials-needed",
                    "the authorization server shows a login form, and no credentials were given",
                    "the headless login fills the form with --username and --password",
                    "pass --username and --password (or --browser to log in yourself)",
                );
                self.end(s);
                return Err(Stop);
            }
            if form.has_password() && round > 0 {
                let why = error_text(&html)
                    .map(|e| format!(": \"{e}\""))
                    .unwrap_or_default();
                s.fail(
                    "login-refused",
                    format!("the login was refused: the server showed the login form again{why}"),
                    "wrong --username or --password, or this user may not log in",
                    "check the credentials (the example servers' demo user is demo-user / demo-password)",
                );
                self.end(s);
                return Err(Stop);
            }
            let pairs = form.fill(username.as_deref(), password.as_deref());
            let base = Url::parse(&page_url).map_err(|_| Stop)?;
            let Ok(mut action) = base.join(form.action.as_deref().unwrap_or("")) else {
                s.fail(
                    "no-login-form",
                    "the form's action is not a URL",
                    "bad HTML",
                    "fix the form's action",
                );
                self.end(s);
                return Err(Stop);
            };
            let encoded = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .finish();
            let fields: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
            let result = if form.method == "get" {
                action.set_query(Some(&encoded));
                self.get(action.as_str(), "text/html").await
            } else {
                self.rec()?
                    .send(
                        Method::POST,
                        action.as_str(),
                        &[
                            (
                                "content-type",
                                "application/x-www-form-urlencoded".to_owned(),
                            ),
                            ("accept", "text/html".to_owned()),
                        ],
                        Some(encoded.into_bytes()),
                        BodyMode::Full,
                    )
                    .await
            };
            let mut r = match result {
                Ok(r) => r,
                Err(e) => {
                    s.fail(
                        "login-failed",
                        format!("submitting the form failed: {e}"),
                        "the form's target did not answer",
                        "check the form's action URL",
                    );
                    self.end(s);
                    return Err(Stop);
                }
            };
            s.summary = format!(
                "{} {} ({}) → {}",
                form.method.to_ascii_uppercase(),
                action.as_str().split('?').next().unwrap_or_default(),
                fields.join(", "),
                r.status
            );
            let mut at = action.to_string();
            // Redirects inside the authorization server, then to the client.
            for _ in 0..5 {
                if !is_redirect_status(r.status) {
                    break;
                }
                let Some(loc) = r.location(&at) else { break };
                if is_redirect_to(&loc, &redirect) {
                    self.end(s);
                    return Ok(loc);
                }
                at = loc.to_string();
                r = match self.get(&at, "text/html").await {
                    Ok(r) => r,
                    Err(e) => {
                        s.fail(
                            "login-failed",
                            format!("following the login redirect to {at} failed: {e}"),
                            "the redirect target did not answer",
                            "check the login flow's redirects",
                        );
                        self.end(s);
                        return Err(Stop);
                    }
                };
            }
            let body = r.text();
            if parse_forms(&body).is_empty() || r.status >= 500 {
                let detail = error_summary(&r);
                if detail.to_ascii_lowercase().contains("redirect") {
                    s.fail(
                        "redirect-uri-refused",
                        format!("the login was answered {}: {detail}", r.status),
                        "the server refused the redirect URI after the login",
                        "register the redirect URI exactly (loopback: any port)",
                    );
                } else {
                    s.fail(
                        "login-failed",
                        format!("the login was answered {} without a redirect: {detail}", r.status),
                        "after a successful login the server must redirect (302/303) to the client's redirect URI with code and state",
                        "see the message; the server's logs say more",
                    );
                }
                self.end(s);
                return Err(Stop);
            }
            page_url = at;
            html = body;
            if !parse_forms(&html).iter().any(|f| f.has_password()) {
                s.note(format!(
                    "a second form followed (consent?), submitting it ({})",
                    r.status
                ));
            }
        }
        s.fail(
            "login-failed",
            "more than four forms in a row",
            "the tracer cannot get through this login",
            "use --browser",
        );
        self.end(s);
        Err(Stop)
    }

    // ------------------------------------------------------------ 7

    fn step_redirect(&mut self, back: &Url) -> Result<(), Stop> {
        let mut s = self.begin("redirect");
        let redirect = Url::parse(&self.redirect_uri).map_err(|_| Stop)?;
        let keys: Vec<String> = back.query_pairs().map(|(k, _)| k.into_owned()).collect();
        s.summary = format!(
            "back at {} with {}",
            back.as_str().split('?').next().unwrap_or_default(),
            if keys.is_empty() {
                "no parameters".to_owned()
            } else {
                keys.join(", ")
            }
        );
        if !is_redirect_to(back, &redirect) {
            s.fail(
                "wrong-redirect-target",
                format!(
                    "the server redirected to {back}, not to the redirect URI {}",
                    self.redirect_uri
                ),
                "the authorization response must go to the redirect URI of the request",
                "redirect to the exact redirect_uri of the authorization request",
            );
            self.end(s);
            return Err(Stop);
        }
        if let Some(err) = query_param(back, "error") {
            let desc = query_param(back, "error_description").unwrap_or_default();
            let (cause, fix) = match err.as_str() {
                "invalid_scope" => (
                    "the requested scope is unknown or not grantable to this user".to_owned(),
                    "request a scope the server supports (--scope), or grant it to the user"
                        .to_owned(),
                ),
                "invalid_target" => (
                    format!(
                        "the server refused the resource indicator {} (RFC 8707)",
                        self.resource
                    ),
                    "accept the MCP server's canonical URL as resource".to_owned(),
                ),
                "access_denied" => (
                    "the user (or a policy) denied the request".to_owned(),
                    "allow this user and client; check user and scope policies".to_owned(),
                ),
                _ => (
                    "the authorization server refused the request".to_owned(),
                    "see the description; the server's logs say more".to_owned(),
                ),
            };
            s.fail(
                "authorization-error",
                format!(
                    "the server redirected back with error={err}{}",
                    if desc.is_empty() {
                        String::new()
                    } else {
                        format!(": {desc}")
                    }
                ),
                cause,
                fix,
            );
            self.end(s);
            return Err(Stop);
        }
        let Some(code) = query_param(back, "code") else {
            s.fail(
                "no-code",
                "the redirect carries no code",
                "a successful authorization response has `code` (RFC 6749 §4.1.2)",
                "append code and state to the redirect URI",
            );
            self.end(s);
            return Err(Stop);
        };
        self.rec()?.secret(&code);
        self.code = Some(code);
        self.summary.auth_code_received = true;
        match query_param(back, "state") {
            Some(st) if st == self.state => s.note("state matches"),
            Some(st) => s.fail(
                "state-mismatch",
                format!("the redirect's state `{}` is not the state sent", truncate(&st, 40)),
                "the server altered state (re-encoding, truncation) or answered another request; clients must reject the response (CSRF defence, RFC 6749 §10.12)",
                "return state exactly as received",
            ),
            None => s.fail(
                "state-mismatch",
                "the redirect carries no state, though the request had one",
                "RFC 6749 §4.1.2: state is required in the response when the request had it; clients reject the response",
                "return state exactly as received",
            ),
        }
        let advertised = self
            .as_meta
            .get("authorization_response_iss_parameter_supported")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        match query_param(back, "iss") {
            Some(iss) if iss == self.issuer => s.note("iss matches the issuer (RFC 9207)"),
            Some(iss) => s.fail(
                "iss-mismatch",
                format!("the redirect's iss `{iss}` is not the issuer `{}`", self.issuer),
                "RFC 9207: clients compare iss with the issuer of the metadata and reject a mismatch (mix-up attack defence); a different public URL or a trailing slash usually causes it",
                "use the metadata's issuer exactly as iss",
            ),
            None if advertised => s.fail(
                "iss-missing",
                "the redirect carries no iss, though the metadata sets authorization_response_iss_parameter_supported",
                "RFC 9207 §2.4: clients then require iss and reject the response",
                "append iss=<issuer> to every authorization response (or stop advertising it)",
            ),
            None => s.note("no iss (RFC 9207 not advertised)"),
        }
        self.end(s);
        Ok(())
    }

    // ------------------------------------------------------------ 8

    /// An endpoint URL from the authorization-server metadata ("" if absent).
    fn as_endpoint(&self, name: &str) -> String {
        self.as_meta
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    }

    /// The one-line summary of a token request just sent: what was sent and
    /// the outcome of the last recorded exchange.
    fn token_request_summary(&self, rec: &Recorder, token_ep: &str, sent: &str) -> String {
        format!(
            "POST {token_ep} ({sent}{}) → {}",
            if self.o.send_resource {
                ", resource"
            } else {
                ""
            },
            rec.last()
                .as_ref()
                .map(report::outcome_of)
                .unwrap_or_default()
                .trim_start_matches("→ ")
        )
    }

    async fn step_token(&mut self) -> Result<(), Stop> {
        let mut s = self.begin("token");
        let token_ep = self.as_endpoint("token_endpoint");
        let (Some(client), Some(code), Some(verifier), Some(rec)) = (
            self.oauth.as_ref(),
            self.code.clone(),
            self.verifier.take(),
            self.rec.as_ref(),
        ) else {
            return Err(Stop);
        };
        let http = |req: oauth2::HttpRequest| rec.oauth2_call(req);
        let mut req = client
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(verifier);
        if self.o.send_resource {
            req = req.add_extra_param("resource", self.resource.clone());
        }
        let result = req.request_async(&http).await;
        s.summary = self.token_request_summary(rec, &token_ep, "authorization_code, PKCE verifier");
        let tr = match result {
            Ok(t) => t,
            Err(e) => {
                self.token_error(&mut s, &e, "authorization_code");
                self.end(s);
                return Err(Stop);
            }
        };
        let access = tr.access_token().secret().clone();
        rec.secret(&access);
        let refresh = tr.refresh_token().map(|r| r.secret().clone());
        if let Some(r) = &refresh {
            rec.secret(r);
        }
        self.summary.access_token_received = true;
        self.summary.refresh_token_received = refresh.is_some();
        self.summary.granted_scope = tr.scopes().map(|v| {
            v.iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        });
        let is_jwt = decode_jwt(&access).is_some();
        self.summary.access_token_is_jwt = Some(is_jwt);
        s.note(format!(
            "access token ({}{}), refresh token: {}{}",
            if is_jwt { "JWT" } else { "opaque" },
            tr.expires_in()
                .map(|d| format!(", expires in {} s", d.as_secs()))
                .unwrap_or_default(),
            if refresh.is_some() { "yes" } else { "no" },
            self.summary
                .granted_scope
                .as_deref()
                .map(|s| format!(", scope \"{s}\""))
                .unwrap_or_default(),
        ));
        if !matches!(tr.token_type(), oauth2::basic::BasicTokenType::Bearer) {
            s.warn(
                "token-type",
                format!("token_type is `{}`, not Bearer", tr.token_type().as_ref()),
                "MCP clients send Bearer tokens (RFC 6750)",
                "issue token_type \"Bearer\"",
            );
        }
        if let Some(e) = rec.last()
            && !e
                .response_header("cache-control")
                .is_some_and(|v| v.to_ascii_lowercase().contains("no-store"))
        {
            s.warn(
                "token-cacheable",
                "the token response has no `Cache-Control: no-store`",
                "RFC 6749 §5.1 requires it: tokens must not be stored by caches or proxies",
                "send Cache-Control: no-store with token responses",
            );
        }
        self.tokens = Some(Tokens { access, refresh });
        self.end(s);
        Ok(())
    }

    fn token_error(
        &self,
        s: &mut StepCtx,
        e: &RequestTokenError<HttpError, BasicErrorResponse>,
        grant: &str,
    ) {
        let refresh = grant == "refresh_token";
        let id_refused = if refresh {
            "refresh-refused"
        } else {
            "token-refused"
        };
        let resource = self.o.send_resource.then_some(self.resource.as_str());
        match e {
            RequestTokenError::ServerResponse(er) => {
                let code = er.error().to_string();
                let desc = er.error_description().cloned().unwrap_or_default();
                let (cause, fix) = token_error_help(&code, grant, resource);
                s.fail(
                    id_refused,
                    format!("the token endpoint refused the {grant} grant: {code}{}", if desc.is_empty() { String::new() } else { format!(": {desc}") }),
                    cause,
                    fix,
                );
            }
            RequestTokenError::Request(err) => s.fail(
                id_refused,
                format!("the token endpoint did not answer: {err}"),
                "the metadata names a token endpoint that is not reachable from here",
                "check token_endpoint in the metadata",
            ),
            RequestTokenError::Parse(err, body) => s.fail(
                "token-response-invalid",
                format!(
                    "the token response is not a valid RFC 6749 response ({err}): {}",
                    truncate(&String::from_utf8_lossy(body), 200)
                ),
                "clients need JSON with access_token and token_type (RFC 6749 §5.1), or an error JSON (§5.2)",
                "answer with application/json: {\"access_token\": …, \"token_type\": \"Bearer\", \"expires_in\": …}",
            ),
            RequestTokenError::Other(msg) => s.fail(
                "token-response-invalid",
                format!("the token response cannot be used: {msg}"),
                "token responses must be application/json (RFC 6749 §5.1)",
                "answer with Content-Type: application/json",
            ),
        }
    }

    // ------------------------------------------------------------ 9

    /// Checks a JWT access token's audience; `None` if it is not a JWT.
    fn check_audience(
        &self,
        s: &mut StepCtx,
        token: &str,
        after_refresh: bool,
    ) -> Option<Vec<String>> {
        let jwt = decode_jwt(token)?;
        let mcp = self.mcp_canonical.clone();
        let Some(auds) = audiences(&jwt.claims).filter(|a| !a.is_empty()) else {
            s.fail(
                "aud-missing",
                "the access token (a JWT) has no aud claim",
                "without an audience the token is valid for any resource server that trusts this issuer; MCP requires tokens bound to the MCP server (RFC 8707, RFC 9068 §2.2)",
                format!("put aud = \"{mcp}\" in every access token for this MCP server"),
            );
            return Some(Vec::new());
        };
        let list = auds.join(", ");
        if auds.iter().any(|a| same_resource(a, &mcp)) {
            s.note(format!("aud {list} (the MCP server)"));
        } else {
            let issuer_origin = Url::parse(&self.issuer)
                .map(|u| origin(&u))
                .unwrap_or_default();
            let is_as = auds.iter().any(|a| {
                same_resource(a, &self.issuer)
                    || (!issuer_origin.is_empty()
                        && same_resource(a, &issuer_origin)
                        && !same_resource(a, &mcp))
            });
            let is_client = auds.iter().any(|a| a == &self.client_id);
            let problem = if is_as {
                format!(
                    "the access token's audience is the authorization server ({list}), not the MCP server ({mcp})"
                )
            } else {
                format!("the access token's audience ({list}) is not the MCP server ({mcp})")
            };
            let id = match (after_refresh, is_as) {
                (true, _) => "refresh-aud-mismatch",
                (false, true) => "aud-is-authorization-server",
                (false, false) => "aud-mismatch",
            };
            let cause = match (is_as, self.o.send_resource) {
                (true, true) => format!(
                    "this trace sent resource={} (RFC 8707) and the server ignored it, binding the token to itself: the \"client omitted resource\" bug (an authorization server that falls back to its own identifier as audience when a client sends no resource), here hitting every client. An MCP server that checks aud must refuse this token; one that does not accepts tokens meant for any service (confused deputy)",
                    self.resource
                ),
                (true, false) => "this trace omitted resource (--no-resource), as some MCP clients do, and the server fell back to its own identifier as audience: the \"client omitted resource\" bug. Clients that omit resource get tokens the MCP server must refuse".to_owned(),
                (false, _) if is_client => "the token is addressed to the client (aud = client_id, like an ID token), not to the resource it is for".to_owned(),
                (false, true) => format!("the server did not bind the token to the requested resource {} (RFC 8707)", self.resource),
                (false, false) => "no resource was sent (--no-resource) and the server's default audience is not this MCP server".to_owned(),
            };
            let fix = if after_refresh {
                format!(
                    "keep the grant's resource on refresh: refreshed tokens must carry aud = \"{mcp}\" too"
                )
            } else {
                format!(
                    "honour the resource parameter (RFC 8707) at /authorize and /token, and when a client omits it, default the audience to the MCP server URL (\"{mcp}\"), never to the authorization server"
                )
            };
            s.fail(id, problem, cause, fix);
        }
        if !after_refresh {
            let claim = |k: &str| {
                jwt.claims.get(k).map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
            };
            let mut parts = Vec::new();
            for k in ["iss", "sub", "client_id", "scope"] {
                if let Some(v) = claim(k) {
                    parts.push(format!("{k} {v}"));
                }
            }
            if let Some(exp) = jwt.claims.get("exp").and_then(Value::as_i64) {
                parts.push(format!("exp {}", crate::timefmt::rfc3339(exp)));
            }
            if let Some(typ) = jwt.header.get("typ").and_then(Value::as_str) {
                parts.push(format!("typ {typ}"));
            }
            s.note(format!("claims: {}", parts.join(", ")));
        }
        if let Some(iss) = jwt.claims.get("iss").and_then(Value::as_str)
            && iss != self.issuer
        {
            s.warn(
                "jwt-iss-mismatch",
                format!(
                    "the token's iss `{iss}` differs from the issuer `{}`",
                    self.issuer
                ),
                "resource servers compare iss with the issuer they trust, character for character",
                "use one spelling of the issuer in metadata, tokens and redirects",
            );
        }
        Some(auds)
    }

    fn step_audience(&mut self) {
        let mut s = self.begin("token audience");
        let Some(access) = self.tokens.as_ref().map(|t| t.access.clone()) else {
            return;
        };
        match self.check_audience(&mut s, &access, false) {
            None => {
                s.skipped = true;
                s.summary = "aud: not a JWT, not checked (opaque token)".into();
            }
            Some(auds) => {
                s.summary = format!(
                    "JWT aud = {}",
                    if auds.is_empty() {
                        "(none)".to_owned()
                    } else {
                        auds.join(", ")
                    }
                );
                if s.diagnoses.iter().any(|d| d.severity == Severity::Failure) {
                    self.aud_problem = Some(auds.join(", "));
                }
                self.summary.audience = Some(auds);
            }
        }
        self.end(s);
    }

    // ------------------------------------------------------------ 10

    fn mcp_refusal(&self, s: &mut StepCtx, r: &Reply) {
        let challenge = r
            .header_all("www-authenticate")
            .iter()
            .flat_map(|v| parse_challenges(v))
            .find(Challenge::is_bearer);
        let desc = challenge
            .as_ref()
            .and_then(|c| c.param("error_description").map(str::to_owned))
            .unwrap_or_else(|| error_summary(r));
        if r.status == 403 {
            let scope = challenge
                .as_ref()
                .and_then(|c| c.param("scope").map(str::to_owned));
            s.fail(
                "mcp-insufficient-scope",
                format!("the MCP endpoint answered 403{}: {desc}", scope.as_deref().map(|x| format!(" (needs scope \"{x}\")")).unwrap_or_default()),
                "the token lacks a scope the server requires for this request",
                "request that scope (--scope; MCP clients take it from the challenge), or grant it to the user",
            );
            return;
        }
        let cause = match &self.aud_problem {
            Some(aud) => format!(
                "the token's audience is {aud}, not this server (see \"token audience\"): the MCP server is right to refuse it; the authorization server must issue tokens for {}",
                self.mcp_canonical
            ),
            None => format!(
                "the token was just issued by {}, yet the MCP server does not accept it: it trusts another issuer (or another spelling of it), expects another audience, cannot fetch the signing keys (JWKS) or introspect, or the clocks disagree",
                self.issuer
            ),
        };
        s.fail(
            "mcp-token-refused",
            format!("the MCP endpoint refused the access token ({}: {desc})", r.status),
            cause,
            format!(
                "make the MCP server accept tokens from issuer {} with audience {} (and the authorization server issue exactly those)",
                self.issuer, self.mcp_canonical
            ),
        );
    }

    async fn step_initialize(&mut self) {
        let mut s = self.begin("MCP initialize");
        let Some(access) = self.tokens.as_ref().map(|t| t.access.clone()) else {
            return;
        };
        let url = self.mcp_canonical.clone();
        let r = match self
            .mcp_post(
                &initialize_body(&self.o.protocol_version, 1),
                Some(&access),
                Some(1),
            )
            .await
        {
            Ok(r) => r,
            Err(e) => {
                s.fail(
                    "mcp-initialize-failed",
                    format!("the MCP endpoint did not answer: {e}"),
                    "the server stopped answering",
                    "check the server",
                );
                self.end(s);
                return;
            }
        };
        s.summary = format!("POST {url} (initialize, Bearer) → {}", r.status);
        if r.status == 401 || r.status == 403 {
            self.mcp_refusal(&mut s, &r);
            self.end(s);
            return;
        }
        if !(200..300).contains(&r.status) {
            s.fail(
                "mcp-initialize-failed",
                format!(
                    "initialize with a valid token was answered {}: {}",
                    r.status,
                    truncate(&error_summary(&r), 200)
                ),
                "the MCP server accepted the token but failed the request",
                "see the server's logs",
            );
            self.end(s);
            return;
        }
        let Some(msg) = r.messages.iter().find(|m| is_response_to(m, Some(1))) else {
            s.fail(
                "mcp-initialize-failed",
                format!("no JSON-RPC response to initialize in the answer ({})", r.content_type()),
                "streamable HTTP answers a request with application/json or an SSE stream carrying the response",
                "answer initialize with its JSON-RPC result",
            );
            self.end(s);
            return;
        };
        if let Some(err) = msg.get("error") {
            s.fail(
                "mcp-initialize-failed",
                format!("initialize returned a JSON-RPC error: {}", truncate(&err.to_string(), 200)),
                "the MCP server refused the initialize request",
                "see the error; a protocol version the server does not support can be changed with --protocol-version",
            );
            self.end(s);
            return;
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
        self.session_id = r.header("mcp-session-id").map(str::to_owned);
        let asked = &self.o.protocol_version;
        s.note(format!(
            "server {}, protocol {}{}{}",
            name.as_deref().unwrap_or("(unnamed)"),
            version.as_deref().unwrap_or("(none)"),
            match version.as_deref() {
                Some(v) if v != asked => format!(" (asked for {asked})"),
                _ => String::new(),
            },
            if self.session_id.is_some() {
                ", session id"
            } else {
                ", no session"
            }
        ));
        self.negotiated = version.clone();
        self.summary.protocol_version = version;
        self.summary.server_name = name;
        if let Some(aud) = &self.aud_problem {
            s.fail(
                "mcp-accepts-wrong-audience",
                format!("the MCP endpoint accepted a token whose audience is {aud}, not itself"),
                "it does not validate aud: a token issued for another service (or stolen from one) works here too — the confused-deputy / token-passthrough risk the MCP specification forbids",
                format!("validate that aud contains \"{}\" before accepting a token", self.mcp_canonical),
            );
        }
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        match self.mcp_post(&note, Some(&access), None).await {
            Ok(n) if n.status == 202 => s.note("notifications/initialized → 202"),
            Ok(n) if (200..300).contains(&n.status) => {
                s.note(format!(
                    "notifications/initialized → {} (202 Accepted expected)",
                    n.status
                ));
            }
            Ok(n) => s.warn(
                "initialized-refused",
                format!(
                    "notifications/initialized was answered {}: {}",
                    n.status,
                    truncate(&error_summary(&n), 200)
                ),
                "streamable HTTP answers notifications with 202 Accepted",
                "accept notifications (202)",
            ),
            Err(e) => s.warn(
                "initialized-refused",
                format!("notifications/initialized failed: {e}"),
                "the server stopped answering",
                "check the server",
            ),
        }
        self.mcp_ok = true;
        self.end(s);
    }

    // ------------------------------------------------------------ 11

    async fn step_tools_list(&mut self) {
        let mut s = self.begin("tools/list");
        let Some(access) = self.tokens.as_ref().map(|t| t.access.clone()) else {
            return;
        };
        if !self.mcp_ok {
            s.skipped = true;
            s.summary = "skipped: initialize failed".into();
            self.end(s);
            return;
        }
        let body = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}});
        let r = match self.mcp_post(&body, Some(&access), Some(2)).await {
            Ok(r) => r,
            Err(e) => {
                s.fail(
                    "tools-list-failed",
                    format!("tools/list did not complete: {e}"),
                    "the server stopped answering",
                    "check the server",
                );
                self.end(s);
                return;
            }
        };
        if r.status == 401 || r.status == 403 {
            self.mcp_refusal(&mut s, &r);
            self.end(s);
            return;
        }
        match r.messages.iter().find(|m| is_response_to(m, Some(2))) {
            Some(m) if m.get("result").is_some() => {
                let tools: Vec<String> = m["result"]
                    .get("tools")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|t| {
                                t.get("name").and_then(Value::as_str).map(str::to_owned)
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                s.summary = format!(
                    "POST {} (tools/list, Bearer) → {}: {} tool{}{}",
                    self.mcp_canonical,
                    r.status,
                    tools.len(),
                    if tools.len() == 1 { "" } else { "s" },
                    if tools.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", truncate(&tools.join(", "), 120))
                    }
                );
                self.summary.tools = tools;
            }
            Some(m) => s.fail(
                "tools-list-failed",
                format!(
                    "tools/list returned a JSON-RPC error: {}",
                    truncate(
                        &m.get("error").map(Value::to_string).unwrap_or_default(),
                        200
                    )
                ),
                "the server refused tools/list",
                "see the error",
            ),
            None => s.fail(
                "tools-list-failed",
                format!(
                    "no JSON-RPC response to tools/list ({} {})",
                    r.status,
                    r.content_type()
                ),
                "the answer carried no response with the request's id",
                "answer with the JSON-RPC result (JSON or SSE)",
            ),
        }
        self.end(s);
    }

    // ------------------------------------------------------------ 12

    async fn step_refresh(&mut self) {
        let mut s = self.begin("refresh");
        let Some(old) = self.tokens.as_ref().and_then(|t| t.refresh.clone()) else {
            let advertised = str_list(&self.as_meta, "grant_types_supported")
                .is_some_and(|g| g.iter().any(|x| x == "refresh_token"));
            if advertised {
                s.warn(
                    "refresh-not-issued",
                    "no refresh token was issued, though grant_types_supported lists refresh_token",
                    "clients must send the user through the login again when the access token expires (some servers issue refresh tokens only with scope offline_access)",
                    "issue a refresh token with the authorization_code grant (or stop advertising refresh_token)",
                );
                s.summary = "no refresh token issued".into();
            } else {
                s.skipped = true;
                s.summary = "no refresh token issued (the server does not offer refresh)".into();
            }
            self.end(s);
            return;
        };
        let token_ep = self.as_endpoint("token_endpoint");
        let (Some(client), Some(rec)) = (self.oauth.as_ref(), self.rec.as_ref()) else {
            return;
        };
        let http = |req: oauth2::HttpRequest| rec.oauth2_call(req);
        let rt = RefreshToken::new(old.clone());
        let mut req = client.exchange_refresh_token(&rt);
        if self.o.send_resource {
            req = req.add_extra_param("resource", self.resource.clone());
        }
        let result = req.request_async(&http).await;
        s.summary = self.token_request_summary(rec, &token_ep, "refresh_token");
        let tr = match result {
            Ok(t) => t,
            Err(e) => {
                self.token_error(&mut s, &e, "refresh_token");
                self.end(s);
                return;
            }
        };
        let access = tr.access_token().secret().clone();
        rec.secret(&access);
        let new = tr.refresh_token().map(|r| r.secret().clone());
        if let Some(n) = &new {
            rec.secret(n);
        }
        let rotated = new.as_ref().is_some_and(|n| n != &old);
        self.summary.refresh_token_rotated = Some(rotated);
        if rotated {
            s.note("new access token; the refresh token rotated");
        } else {
            let problem = match &new {
                None => {
                    "the refresh response carries no new refresh token: the refresh token was not rotated"
                }
                Some(_) => {
                    "the refresh response returned the same refresh token: it was not rotated"
                }
            };
            let fix = "issue a new refresh token with every refresh and retire the old one (oauth-mcp keeps the previous one usable until the new one is first used)";
            if self.public_client {
                s.fail(
                    "refresh-not-rotated",
                    problem,
                    "OAuth 2.1 §4.3.1: refresh tokens of public clients (MCP clients are mostly public) must be rotated or sender-constrained; a stolen one would stay valid",
                    fix,
                );
            } else {
                s.warn(
                    "refresh-not-rotated",
                    problem,
                    "rotation is optional for confidential clients but limits the damage of a leaked refresh token",
                    fix,
                );
            }
        }
        let _ = self.check_audience(&mut s, &access, true);
        if let Some(t) = self.tokens.as_mut() {
            t.access = access;
            if let Some(n) = new {
                t.refresh = Some(n);
            }
        }
        self.end(s);
    }
}
