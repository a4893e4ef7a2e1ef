//! The load generator: `connections` keep-alive connections, each running a
//! [`Workload`] back to back for a warm-up and then a measured window, on a
//! single-threaded runtime (the harness pins it to its own core). Server CPU
//! is read from `/proc/<pid>/stat` at the window's edges.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, StatusCode};
use http_body_util::Full;
use tokio::time::Instant;

use crate::client::{Conn, Error};
use crate::cpu;

/// A kind of operation a connection repeats.
#[async_trait]
pub(crate) trait Workload: Send + Sync + 'static {
    /// Per-connection state.
    type State: Send + 'static;
    /// Prepares one connection (not measured).
    async fn prepare(&self, conn: &mut Conn) -> Result<Self::State, Error>;
    /// One measured operation. `Ok(false)`: nothing left to send.
    async fn op(&self, conn: &mut Conn, state: &mut Self::State) -> Result<bool, Error>;
}

/// Where and how long to load.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// The server.
    pub(crate) addr: SocketAddr,
    /// Its process (for CPU time).
    pub(crate) pid: u32,
    /// Concurrent keep-alive connections.
    pub(crate) connections: usize,
    /// Unmeasured time before the window.
    pub(crate) warmup: Duration,
    /// The measured window.
    pub(crate) duration: Duration,
}

/// What a window measured.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outcome {
    /// Operations that completed successfully inside the window.
    pub(crate) ops: u64,
    /// Operations that failed (in the window or the warm-up; each stops its connection).
    pub(crate) errors: u64,
    /// Latency of each successful operation in the window, in µs.
    pub(crate) latencies_us: Vec<u32>,
    /// Server CPU seconds (user + system) over the window.
    pub(crate) cpu_secs: f64,
    /// The window's length.
    pub(crate) window: Duration,
    /// A connection ran out of work (e.g. first-seen tokens) before the end.
    pub(crate) ran_dry: bool,
    /// The first error seen, for the report.
    pub(crate) first_error: Option<String>,
}

impl Outcome {
    /// Operations per second.
    pub(crate) fn rate(&self) -> f64 {
        self.ops as f64 / self.window.as_secs_f64().max(1e-9)
    }

    /// Server CPU per operation, in µs.
    pub(crate) fn cpu_us_per_op(&self) -> f64 {
        self.cpu_secs * 1e6 / (self.ops.max(1) as f64)
    }

    /// The `q`-quantile of the latencies, in ms (sorts in place).
    pub(crate) fn latency_ms(&mut self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        self.latencies_us.sort_unstable();
        let i = ((self.latencies_us.len() - 1) as f64 * q).round() as usize;
        f64::from(self.latencies_us[i]) / 1000.0
    }
}

/// At most this many latencies are kept per connection (memory bound).
const MAX_SAMPLES_PER_CONN: usize = 2_000_000;

struct ConnResult {
    ops: u64,
    errors: u64,
    latencies_us: Vec<u32>,
    ran_dry: bool,
    first_error: Option<String>,
}

/// Runs `w` under `plan`.
pub(crate) async fn run<W: Workload>(w: Arc<W>, plan: &Plan) -> Result<Outcome, Error> {
    let mut conns = Vec::with_capacity(plan.connections);
    let mut prepared = tokio::task::JoinSet::new();
    for _ in 0..plan.connections {
        let w = w.clone();
        let addr = plan.addr;
        prepared.spawn(async move {
            let mut c = Conn::connect(addr).await?;
            let s = w.prepare(&mut c).await?;
            Ok::<_, Error>((c, s))
        });
    }
    while let Some(r) = prepared.join_next().await {
        conns.push(r??);
    }
    let measure_start = Instant::now() + plan.warmup;
    let end = measure_start + plan.duration;
    let mut tasks = tokio::task::JoinSet::new();
    for (mut conn, mut state) in conns {
        let w = w.clone();
        tasks.spawn(async move {
            let mut r = ConnResult {
                ops: 0,
                errors: 0,
                latencies_us: Vec::new(),
                ran_dry: false,
                first_error: None,
            };
            loop {
                let start = Instant::now();
                if start >= end {
                    break;
                }
                let outcome = w.op(&mut conn, &mut state).await;
                let done = Instant::now();
                let inside = done >= measure_start && done < end;
                match outcome {
                    Ok(true) => {
                        if inside {
                            r.ops += 1;
                            if r.latencies_us.len() < MAX_SAMPLES_PER_CONN {
                                let us = (done - start).as_micros().min(u128::from(u32::MAX));
                                r.latencies_us.push(us as u32);
                            }
                        }
                    }
                    Ok(false) => {
                        r.ran_dry = true;
                        break;
                    }
                    Err(e) => {
                        // Counted even outside the window: the connection stops.
                        r.errors += 1;
                        r.first_error.get_or_insert_with(|| e.to_string());
                        // The connection may be broken: stop using it.
                        break;
                    }
                }
            }
            r
        });
    }
    tokio::time::sleep_until(measure_start).await;
    let t0 = cpu::cpu_ticks(plan.pid)?;
    tokio::time::sleep_until(end).await;
    let t1 = cpu::cpu_ticks(plan.pid)?;
    let mut out = Outcome {
        window: plan.duration,
        cpu_secs: (t1.saturating_sub(t0)) as f64 / cpu::ticks_per_second() as f64,
        ..Outcome::default()
    };
    while let Some(r) = tasks.join_next().await {
        let r = r?;
        out.ops += r.ops;
        out.errors += r.errors;
        out.latencies_us.extend(r.latencies_us);
        out.ran_dry |= r.ran_dry;
        if out.first_error.is_none() {
            out.first_error = r.first_error;
        }
    }
    Ok(out)
}

/// Where a [`Fixed`] request gets its Bearer token.
pub(crate) enum Tokens {
    /// No `Authorization` header.
    None,
    /// The same token every time (what the validated-token cache serves).
    Same(HeaderValue),
    /// A token never sent before on every request, minted beforehand.
    Fresh(FreshTokens),
}

/// A supply of first-seen tokens, each handed out once.
pub(crate) struct FreshTokens {
    list: Vec<HeaderValue>,
    next: AtomicUsize,
}

impl FreshTokens {
    /// Bearer header values for `tokens`.
    pub(crate) fn new(tokens: Vec<String>) -> Result<Self, Error> {
        Ok(Self {
            list: tokens
                .into_iter()
                .map(|t| HeaderValue::from_str(&format!("Bearer {t}")))
                .collect::<Result<_, _>>()?,
            next: AtomicUsize::new(0),
        })
    }

    fn take(&self) -> Option<HeaderValue> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        self.list.get(i).cloned()
    }
}

/// The same request over and over, expecting one status.
pub(crate) struct Fixed {
    /// Method.
    pub(crate) method: Method,
    /// Path.
    pub(crate) path: String,
    /// Extra headers.
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    /// Body.
    pub(crate) body: Bytes,
    /// Token source.
    pub(crate) tokens: Tokens,
    /// The status that counts as success.
    pub(crate) expect: StatusCode,
}

#[async_trait]
impl Workload for Fixed {
    type State = ();

    async fn prepare(&self, _conn: &mut Conn) -> Result<(), Error> {
        Ok(())
    }

    async fn op(&self, conn: &mut Conn, _state: &mut ()) -> Result<bool, Error> {
        let mut req = http::Request::builder()
            .method(self.method.clone())
            .uri(&self.path)
            .body(Full::new(self.body.clone()))?;
        let h = req.headers_mut();
        for (k, v) in &self.headers {
            h.insert(k.clone(), v.clone());
        }
        match &self.tokens {
            Tokens::None => {}
            Tokens::Same(v) => {
                h.insert(http::header::AUTHORIZATION, v.clone());
            }
            Tokens::Fresh(f) => match f.take() {
                Some(v) => {
                    h.insert(http::header::AUTHORIZATION, v);
                }
                None => return Ok(false),
            },
        }
        let r = conn.send(req).await?;
        if r.status != self.expect {
            return Err(format!(
                "status {} (expected {}): {}",
                r.status,
                self.expect,
                String::from_utf8_lossy(&r.body[..r.body.len().min(300)])
            )
            .into());
        }
        Ok(true)
    }
}
