//! Shared helpers: starting the example servers on loopback, running the
//! tracer (library or binary) with a deadline, temporary directories, and an
//! axum middleware that records the codes and tokens a server hands out.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use oauth_mcp_cli::{Outcome, Status, TraceOptions, TraceReport, trace};
use tokio::io::AsyncWriteExt;

/// The longest a whole trace may take in a test.
pub(crate) const TRACE_LIMIT: Duration = Duration::from_secs(90);
/// The longest a CLI subprocess may take.
pub(crate) const CLI_LIMIT: Duration = Duration::from_secs(120);

/// Options for the example servers' demo user.
pub(crate) fn demo(url: &str) -> TraceOptions {
    TraceOptions::new(url).with_credentials("demo-user", "demo-password")
}

/// A loopback port nothing listens on (bound, then released).
pub(crate) fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    l.local_addr().unwrap().port()
}

/// Runs the tracer with a deadline and prints its text report (shown when a
/// test fails).
pub(crate) async fn run_trace(opts: &TraceOptions) -> TraceReport {
    let started = Instant::now();
    let report = tokio::time::timeout(TRACE_LIMIT, trace(opts))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "the trace of {} did not finish within {TRACE_LIMIT:?}",
                opts.server_url
            )
        });
    eprintln!(
        "--- trace of {} ({:?})\n{}",
        opts.server_url,
        started.elapsed(),
        report.render_text(false)
    );
    report
}

/// Asserts that every step ran and none failed.
pub(crate) fn assert_completed(report: &TraceReport) {
    assert_ne!(
        report.outcome(),
        Outcome::Failed,
        "{}",
        report.render_text(true)
    );
    let names: Vec<&str> = report.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "MCP challenge",
            "PRM",
            "AS metadata",
            "registration",
            "authorization",
            "login",
            "redirect",
            "token",
            "token audience",
            "MCP initialize",
            "tools/list",
            "refresh"
        ],
        "{}",
        report.render_text(false)
    );
}

/// Asserts the trace failed with diagnosis `id` in step `step`.
pub(crate) fn assert_diagnosis(report: &TraceReport, step: &str, id: &str) {
    assert_eq!(
        report.outcome(),
        Outcome::Failed,
        "{}",
        report.render_text(false)
    );
    let s = report
        .step(step)
        .unwrap_or_else(|| panic!("no step `{step}`:\n{}", report.render_text(false)));
    assert!(
        s.diagnoses.iter().any(|d| d.id == id),
        "step `{step}` lacks diagnosis `{id}`:\n{}",
        report.render_text(false)
    );
    assert_eq!(s.status, Status::Failed, "{}", report.render_text(false));
}

/// Starts the axum example on `127.0.0.1:0` with `opts` (its `bind` is
/// overridden; an SQL store gets a fresh key-encryption key unless one is given).
pub(crate) async fn start_axum(opts: example_axum_server::Options) -> example_axum_server::Running {
    let key_encryption_key = opts
        .key_encryption_key
        .clone()
        .or_else(|| Some(oauth_mcp_core::crypto::KeyEncryptionKey::generate_base64()));
    let running = example_axum_server::start(example_axum_server::Options {
        bind: ([127, 0, 0, 1], 0).into(),
        key_encryption_key,
        ..opts
    })
    .await
    .unwrap_or_else(|e| panic!("the axum example starts: {e}"));
    assert!(running.addr.ip().is_loopback());
    running
}

/// Starts the actix-web example on `127.0.0.1:0`.
pub(crate) async fn start_actix() -> example_actix_server::Running {
    let running = example_actix_server::start(example_actix_server::Options {
        bind: ([127, 0, 0, 1], 0).into(),
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("the actix example starts: {e}"));
    assert!(running.addr.ip().is_loopback());
    running
}

/// Every code and token a server issued (seen by [`capture`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct Issued(Arc<Mutex<Vec<String>>>);

impl Issued {
    fn push(&self, v: String) {
        self.0.lock().unwrap().push(v);
    }

    /// The values recorded so far.
    pub(crate) fn values(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// Middleware: records `code` from redirect `Location`s and the tokens of
/// `/token` responses.
async fn capture(State(issued): State<Issued>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let resp = next.run(req).await;
    if let Some(loc) = resp.headers().get("location").and_then(|v| v.to_str().ok())
        && let Ok(u) = url::Url::parse(loc)
    {
        for (k, v) in u.query_pairs() {
            if k == "code" {
                issued.push(v.into_owned());
            }
        }
    }
    if path != "/token" {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) {
        for k in ["access_token", "refresh_token"] {
            if let Some(t) = v[k].as_str() {
                issued.push(t.to_owned());
            }
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The axum example's app on `127.0.0.1:0` with [`capture`] in front;
/// returns the MCP URL and the record of what it issued.
pub(crate) async fn start_axum_capturing() -> (String, Issued) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let public_url = format!("http://{}", listener.local_addr().unwrap());
    let opts = example_axum_server::Options {
        bind: listener.local_addr().unwrap(),
        ..Default::default()
    };
    let issued = Issued::default();
    let app = example_axum_server::app(&opts, &public_url)
        .await
        .unwrap()
        .layer(axum::middleware::from_fn_with_state(
            issued.clone(),
            capture,
        ));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("{public_url}/mcp"), issued)
}

/// The output of a finished `oauth-mcp` run.
#[derive(Debug)]
pub(crate) struct CliOutput {
    /// Exit code (`None`: killed by a signal).
    pub(crate) code: Option<i32>,
    /// Standard output.
    pub(crate) stdout: String,
    /// Standard error.
    pub(crate) stderr: String,
}

/// Runs the real `oauth-mcp` binary with `args` (and `stdin`), with a deadline.
pub(crate) async fn run_cli(args: &[&str], stdin: Option<&str>) -> CliOutput {
    let started = Instant::now();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_oauth-mcp"))
        .args(args)
        .env_remove("OAUTH_MCP_USERNAME")
        .env_remove("OAUTH_MCP_PASSWORD")
        .env_remove("OAUTH_MCP_CLIENT_SECRET")
        .env_remove("MCP_STORE")
        .env_remove("MCP_KEY_ENCRYPTION_KEY")
        .env_remove("MCP_KEY_ENCRYPTION_KEY_FILE")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start oauth-mcp");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(input.as_bytes()).await.unwrap();
        drop(pipe);
    }
    let out = tokio::time::timeout(CLI_LIMIT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "`oauth-mcp {}` did not finish within {CLI_LIMIT:?}",
                args.join(" ")
            )
        })
        .unwrap();
    let res = CliOutput {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    eprintln!(
        "--- oauth-mcp {} ({:?}) → {:?}\n{}{}",
        args.join(" "),
        started.elapsed(),
        res.code,
        res.stdout,
        res.stderr
    );
    res
}

/// A directory under the system temp dir, removed when dropped.
#[derive(Debug)]
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    /// A fresh, empty directory.
    pub(crate) fn new(label: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "oauth-mcp-cli-{label}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }

    /// A path inside it.
    pub(crate) fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
