//! The tracer's HTTP client: reqwest without redirects, every exchange
//! recorded (step, time, request, response), bounded in time and size, and
//! the redaction applied to everything that leaves the tracer.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use http::{HeaderMap, Method};
use serde_json::Value;
use url::Url;

use super::options::{Progress, Waiting};
use super::parse::{decode_utf8_chunk, drain_sse_events};
use super::redact::{redact_exchange, redact_text};

/// The largest response body kept (bigger ones are cut, the rest is not read).
const MAX_BODY: usize = 1024 * 1024;

/// One HTTP request and what came back, as recorded (redacted once it
/// leaves the tracer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The step (1-based) that sent it.
    pub step: u32,
    /// When the request was sent.
    pub time: SystemTime,
    /// How long until the response (and the part of its body read) arrived.
    pub duration: Duration,
    /// Request method.
    pub method: String,
    /// Request URL.
    pub url: String,
    /// Request headers the tracer set.
    pub request_headers: Vec<(String, String)>,
    /// Request body (UTF-8, lossy).
    pub request_body: Option<String>,
    /// Response status, if a response came.
    pub status: Option<u16>,
    /// Response headers.
    pub response_headers: Vec<(String, String)>,
    /// Response body (UTF-8, lossy; cut at 1 MiB).
    pub response_body: Option<String>,
    /// The transport error, if no response came.
    pub error: Option<String>,
}

impl Exchange {
    /// A response header (first value, name case-insensitive).
    pub fn response_header(&self, name: &str) -> Option<&str> {
        self.response_headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A response as the flow sees it (`Debug` shows neither headers nor body:
/// they may carry tokens and cookies).
#[derive(Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
    /// For MCP requests: the JSON-RPC messages found (SSE `data:` or the JSON body).
    pub(crate) messages: Vec<Value>,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("body_bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl Reply {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub(crate) fn header_all(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    pub(crate) fn content_type(&self) -> String {
        self.header("content-type")
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    }

    /// `Location`, resolved against `base`.
    pub(crate) fn location(&self, base: &str) -> Option<Url> {
        let loc = self.header("location")?;
        Url::parse(base).ok()?.join(loc).ok()
    }
}

/// How to read a response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyMode {
    /// All of it (up to the size limit).
    Full,
    /// An MCP answer: JSON, or an SSE stream read until the JSON-RPC
    /// response with this id arrives (the stream may stay open after it).
    Mcp(Option<i64>),
}

/// Why no (complete) response came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The host name does not resolve.
    Dns,
    /// The connection was refused: nothing listens on that port.
    Refused,
    /// The connection attempt got no reply in time (packets dropped).
    ConnectTimeout,
    /// The connection was accepted, but no (complete) answer came in time.
    NoAnswer,
    /// Anything else (TLS, a reset connection, an invalid URL, …).
    Other,
}

/// A transport failure: its kind and a description with its causes.
#[derive(Debug, Clone)]
pub(crate) struct HttpError {
    /// Why.
    pub(crate) kind: Failure,
    /// What happened, as the HTTP stack said it.
    pub(crate) message: String,
}

impl HttpError {
    fn new(kind: Failure, message: String) -> Self {
        Self { kind, message }
    }
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HttpError {}

/// The recording client (`Debug` shows no secret and no exchange).
pub(crate) struct Recorder {
    client: reqwest::Client,
    log: Mutex<Vec<Exchange>>,
    step: AtomicU32,
    secrets: Mutex<Vec<String>>,
    timeout: Duration,
    progress: Option<Progress>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("exchanges", &self.count())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// How often a waiting request is reported to [`Progress`].
const PROGRESS_TICK: Duration = Duration::from_secs(1);

/// Awaits `fut`, telling `progress` every [`PROGRESS_TICK`] how long it has
/// been waiting, and once more when it is done (if it was told at all).
async fn with_progress<T>(
    fut: impl Future<Output = T>,
    progress: &Progress,
    method: &str,
    url: &str,
) -> T {
    let started = Instant::now();
    let mut fut = std::pin::pin!(fut);
    let mut told = false;
    loop {
        match tokio::time::timeout(PROGRESS_TICK, &mut fut).await {
            Ok(out) => {
                if told {
                    progress(&Waiting {
                        method,
                        url,
                        elapsed: started.elapsed(),
                        done: true,
                    });
                }
                return out;
            }
            Err(_) => {
                told = true;
                progress(&Waiting {
                    method,
                    url,
                    elapsed: started.elapsed(),
                    done: false,
                });
            }
        }
    }
}

/// The causes of an error, outermost first (at most six deep).
fn causes(e: &reqwest::Error) -> Vec<&(dyn std::error::Error + 'static)> {
    std::iter::successors(std::error::Error::source(e), |c| c.source())
        .take(6)
        .collect()
}

/// Classifies a transport error and describes it with its causes
/// ("connection refused", …).
fn describe(e: &reqwest::Error) -> HttpError {
    let causes = causes(e);
    let io_kind = causes
        .iter()
        .find_map(|c| c.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind);
    // hyper-util names a failed lookup "dns error" (getaddrinfo's own
    // message varies by platform).
    let dns = causes
        .iter()
        .any(|c| c.to_string().starts_with("dns error"));
    let kind = if e.is_connect() && dns {
        Failure::Dns
    } else if e.is_connect() && io_kind == Some(std::io::ErrorKind::ConnectionRefused) {
        Failure::Refused
    } else if e.is_connect() && e.is_timeout() {
        Failure::ConnectTimeout
    } else if e.is_timeout() {
        Failure::NoAnswer
    } else {
        Failure::Other
    };
    let mut s = match kind {
        Failure::Dns => "the host name does not resolve".to_owned(),
        Failure::Refused => "connection refused".to_owned(),
        Failure::ConnectTimeout => "the connection attempt timed out".to_owned(),
        Failure::NoAnswer => "timed out waiting for the answer".to_owned(),
        Failure::Other if e.is_connect() => "could not connect".to_owned(),
        Failure::Other => e.to_string(),
    };
    for c in causes {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
    }
    HttpError::new(kind, s)
}

impl Recorder {
    /// A client whose every request ends within `timeout` (connecting within
    /// ten seconds); proxies are skipped for loopback servers.
    pub(crate) fn new(
        timeout: Duration,
        loopback: bool,
        progress: Option<Progress>,
    ) -> Result<Self, String> {
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("oauth-mcp-trace/", env!("CARGO_PKG_VERSION")));
        if loopback {
            b = b.no_proxy();
        }
        let client = b
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self {
            client,
            log: Mutex::new(Vec::new()),
            step: AtomicU32::new(0),
            secrets: Mutex::new(Vec::new()),
            timeout,
            progress,
        })
    }

    /// Requests from now on belong to `step`.
    pub(crate) fn set_step(&self, step: u32) {
        self.step.store(step, Ordering::SeqCst);
    }

    /// Remembers a secret value, so that it never appears in any output.
    pub(crate) fn secret(&self, value: &str) {
        if value.len() >= 4 {
            let mut s = self.secrets.lock().unwrap_or_else(|e| e.into_inner());
            if !s.iter().any(|v| v == value) {
                s.push(value.to_owned());
                // Longest first, so that a secret containing another is replaced whole.
                s.sort_by_key(|v| std::cmp::Reverse(v.len()));
            }
        }
    }

    /// Redacted copies of the exchanges recorded so far (`from` on).
    pub(crate) fn exchanges(&self, from: usize) -> Vec<Exchange> {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let secrets = self.secrets.lock().unwrap_or_else(|e| e.into_inner());
        log.iter()
            .skip(from)
            .map(|e| redact_exchange(e, &secrets))
            .collect()
    }

    /// The latest exchange, redacted.
    pub(crate) fn last(&self) -> Option<Exchange> {
        self.exchanges(self.count().saturating_sub(1))
            .into_iter()
            .next()
    }

    /// How many exchanges were recorded.
    pub(crate) fn count(&self) -> usize {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Redacts a string with the rules and the known secrets.
    pub(crate) fn redact(&self, s: &str) -> String {
        let secrets = self.secrets.lock().unwrap_or_else(|e| e.into_inner());
        redact_text(s, &secrets)
    }

    /// Sends a request, records it, reads the body as `mode` says.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, String)],
        body: Option<Vec<u8>>,
        mode: BodyMode,
    ) -> Result<Reply, HttpError> {
        let mut ex = Exchange {
            step: self.step.load(Ordering::SeqCst),
            time: SystemTime::now(),
            duration: Duration::ZERO,
            method: method.to_string(),
            url: url.to_owned(),
            request_headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            request_body: body
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned()),
            status: None,
            response_headers: Vec::new(),
            response_body: None,
            error: None,
        };
        let started = Instant::now();
        let shown = url.split('?').next().unwrap_or_default().to_owned();
        let method_name = method.to_string();
        let inner = self.send_inner(method, url, headers, body, mode);
        let result = match &self.progress {
            Some(p) => with_progress(inner, p, &method_name, &shown).await,
            None => inner.await,
        };
        ex.duration = started.elapsed();
        match &result {
            Ok(r) => {
                ex.status = Some(r.status);
                ex.response_headers = header_pairs(&r.headers);
                ex.response_body = Some(r.text());
            }
            Err(e) => ex.error = Some(e.message.clone()),
        }
        self.log.lock().unwrap_or_else(|e| e.into_inner()).push(ex);
        result
    }

    async fn send_inner(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, String)],
        body: Option<Vec<u8>>,
        mode: BodyMode,
    ) -> Result<Reply, HttpError> {
        let parsed = Url::parse(url)
            .map_err(|e| HttpError::new(Failure::Other, format!("invalid URL `{url}`: {e}")))?;
        let mut req = self.client.request(method, parsed);
        for (k, v) in headers {
            req = req.header(*k, v.as_str());
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        let deadline = Instant::now() + self.timeout;
        let mut resp = req.send().await.map_err(|e| describe(&e))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let is_sse = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("text/event-stream")
            });
        let mut body = Vec::new();
        let mut messages = Vec::new();
        let mut sse_buf = String::new();
        let mut pending_utf8: Vec<u8> = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let chunk = match tokio::time::timeout(left, resp.chunk()).await {
                Err(_) => {
                    if is_sse && !messages.is_empty() {
                        break;
                    }
                    return Err(HttpError::new(
                        Failure::NoAnswer,
                        format!(
                            "the response body did not finish within {:?} (status {status})",
                            self.timeout
                        ),
                    ));
                }
                Ok(Err(e)) => {
                    if is_sse && !messages.is_empty() {
                        break;
                    }
                    let e = describe(&e);
                    return Err(HttpError::new(
                        e.kind,
                        format!("reading the response body failed: {e}"),
                    ));
                }
                Ok(Ok(None)) => break,
                Ok(Ok(Some(c))) => c,
            };
            if body.len() < MAX_BODY {
                let room = MAX_BODY - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            if let (true, BodyMode::Mcp(id)) = (is_sse, mode) {
                pending_utf8.extend_from_slice(&chunk);
                decode_utf8_chunk(&mut pending_utf8, &mut sse_buf);
                let mut done = false;
                for data in drain_sse_events(&mut sse_buf) {
                    if let Ok(v) = serde_json::from_str::<Value>(&data) {
                        if is_response_to(&v, id) {
                            done = true;
                        }
                        messages.push(v);
                    }
                }
                if done {
                    break;
                }
            }
            if body.len() >= MAX_BODY {
                break;
            }
        }
        if !is_sse
            && let BodyMode::Mcp(_) = mode
            && let Ok(v) = serde_json::from_slice::<Value>(&body)
        {
            match v {
                Value::Array(items) => messages.extend(items),
                other => messages.push(other),
            }
        }
        Ok(Reply {
            status,
            headers,
            body,
            messages,
        })
    }

    /// The oauth2 crate's HTTP client: this recorder (see
    /// [`oauth2::AsyncHttpClient`]).
    pub(crate) async fn oauth2_call(
        &self,
        req: oauth2::HttpRequest,
    ) -> Result<oauth2::HttpResponse, HttpError> {
        let (parts, body) = req.into_parts();
        let headers = header_pairs(&parts.headers);
        let headers: Vec<(&str, String)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        let reply = self
            .send(
                parts.method,
                &parts.uri.to_string(),
                &headers,
                Some(body),
                BodyMode::Full,
            )
            .await?;
        let mut resp = http::Response::new(reply.body);
        *resp.status_mut() =
            http::StatusCode::from_u16(reply.status).unwrap_or(http::StatusCode::BAD_GATEWAY);
        *resp.headers_mut() = reply.headers;
        Ok(resp)
    }
}

/// Header names and values as strings (values decoded lossily).
fn header_pairs(h: &HeaderMap) -> Vec<(String, String)> {
    h.iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// True if `v` is the JSON-RPC response (result or error) to request `id`.
pub(crate) fn is_response_to(v: &Value, id: Option<i64>) -> bool {
    let Some(id) = id else { return false };
    v.get("id").and_then(Value::as_i64) == Some(id)
        && (v.get("result").is_some() || v.get("error").is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_by_id() {
        let v: Value = serde_json::json!({"jsonrpc":"2.0","id":2,"result":{}});
        assert!(is_response_to(&v, Some(2)));
        assert!(!is_response_to(&v, Some(1)));
        assert!(!is_response_to(
            &serde_json::json!({"jsonrpc":"2.0","method":"x"}),
            Some(2)
        ));
    }
}
