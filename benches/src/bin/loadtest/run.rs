//! The harness run: start the servers, alternate rounds, print the tables.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode};
use oauth_mcp_benches::glue::{BoxError, TOOLS_LIST, TokenMint, mcp_headers};
use oauth_mcp_core::token::{SigningAlgorithm, SigningKey};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::client::Conn;
use crate::flows;
use crate::load::{self, FreshTokens, Plan, Tokens, Workload};
use crate::pgcount;
use crate::report::{self, Results, RoundStat};

/// Which measurements to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Suite {
    /// Protected trivial route vs bare axum, actix, the example MCP server.
    Rs,
    /// The token endpoint on each store, and PostgreSQL round trips.
    Token,
}

/// Which stores the token suite covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum StoreKind {
    /// `MemoryStore`.
    Memory,
    /// `SqlStore` on a SQLite file.
    Sqlite,
    /// `SqlStore` on PostgreSQL (`OAUTH_MCP_TEST_POSTGRES_URL`, or a private server).
    Postgres,
}

/// `loadtest` flags.
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// Alternating rounds (medians are over these).
    #[arg(long, default_value_t = 5)]
    pub(crate) rounds: usize,
    /// Measured seconds per target per round.
    #[arg(long, default_value_t = 5.0)]
    pub(crate) duration: f64,
    /// Unmeasured warm-up seconds before each window.
    #[arg(long, default_value_t = 1.0)]
    pub(crate) warmup: f64,
    /// Keep-alive connections for the resource-server suite.
    #[arg(long, default_value_t = 64)]
    pub(crate) connections: usize,
    /// Keep-alive connections for the token-endpoint suite.
    #[arg(long, default_value_t = 16)]
    pub(crate) token_connections: usize,
    /// Suites to run.
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["rs", "token"])]
    pub(crate) suites: Vec<Suite>,
    /// Stores for the token suite.
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["memory", "sqlite", "postgres"])]
    pub(crate) stores: Vec<StoreKind>,
    /// The core the servers are pinned to.
    #[arg(long, default_value = "0")]
    pub(crate) server_cpu: String,
    /// The core the load generator is pinned to.
    #[arg(long, default_value = "1")]
    pub(crate) client_cpu: String,
    /// Do not pin anything (no `taskset`).
    #[arg(long)]
    pub(crate) no_pin: bool,
    /// Leave the example MCP server out.
    #[arg(long)]
    pub(crate) no_example: bool,
    /// Sequential repetitions for counting PostgreSQL round trips.
    #[arg(long, default_value_t = 20)]
    pub(crate) count_reps: usize,
    /// A command (space-separated words) to run each server under, e.g.
    /// `valgrind --tool=callgrind`; it goes between `taskset` and the server.
    #[arg(long)]
    pub(crate) wrap: Option<String>,
    /// Only the targets whose name contains one of these (comma-separated;
    /// token-suite targets are named `<store> code flow` and
    /// `<store> refresh`).
    #[arg(long, value_delimiter = ',')]
    pub(crate) only: Vec<String>,
    /// Also write the report to this file.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

impl RunArgs {
    /// Whether `--only` keeps the target named `name` (all are kept without it).
    fn wanted(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| name.contains(o.as_str()))
    }
}

/// Pins this process, then runs everything on one thread.
pub(crate) fn main(args: &RunArgs) -> Result<(), BoxError> {
    if !args.no_pin {
        let st = std::process::Command::new("taskset")
            .args(["-a", "-p", "-c", &args.client_cpu])
            .arg(std::process::id().to_string())
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("taskset: {e} (install util-linux, or pass --no-pin)"))?;
        if !st.success() {
            return Err(format!("taskset -c {} failed", args.client_cpu).into());
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(args))
}

fn progress(msg: &str) {
    eprintln!("[loadtest] {msg}");
}

async fn run(args: &RunArgs) -> Result<(), BoxError> {
    let tmp = std::env::temp_dir().join(format!("oauth-mcp-loadtest-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let result = run_in(args, &tmp).await;
    let _ = std::fs::remove_dir_all(&tmp);
    let md = result?;
    #[allow(clippy::print_stdout)]
    {
        println!("{md}");
    }
    if let Some(out) = &args.out {
        std::fs::write(out, &md)?;
    }
    Ok(())
}

async fn run_in(args: &RunArgs, tmp: &Path) -> Result<String, BoxError> {
    let mut md = String::new();
    let _ = writeln!(md, "{}", machine(args));
    let key = SigningKey::generate(SigningAlgorithm::Es256)?;
    let pem = tmp.join("key.pem");
    std::fs::write(&pem, key.to_pkcs8_pem())?;
    if args.suites.contains(&Suite::Rs) {
        md.push_str(&rs_suite(args, tmp, &pem, key.clone()).await?);
    }
    if args.suites.contains(&Suite::Token) {
        md.push_str(&token_suite(args, tmp, &pem).await?);
    }
    let _ = writeln!(md, "\nLoad average at the end: {}", loadavg());
    Ok(md)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn machine(args: &RunArgs) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "## oauth-mcp load harness\n\nMachine: {cpu}; this process may use {cores} core(s) after pinning; load average at the start: {}.\n\
         Servers pinned to CPU {}, generator to CPU {}{}; {} alternating rounds of {} s (after {} s warm-up) per target; \
         {} connections (resource server), {} (token endpoint); HTTP/1.1 keep-alive over loopback, TCP_NODELAY on the client.\n",
        loadavg(),
        args.server_cpu,
        args.client_cpu,
        if args.no_pin { " (pinning OFF)" } else { "" },
        args.rounds,
        args.duration,
        args.warmup,
        args.connections,
        args.token_connections,
    )
}

/// A server process (killed on drop).
struct Server {
    child: Child,
    addr: SocketAddr,
    pid: u32,
}

impl Server {
    async fn start(
        run: &RunArgs,
        program: &Path,
        args: &[String],
        stderr: Stdio,
        ready_prefix: &str,
    ) -> Result<Self, BoxError> {
        let mut words: Vec<String> = Vec::new();
        if !run.no_pin {
            words.extend(["taskset".into(), "-c".into(), run.server_cpu.clone()]);
        }
        if let Some(w) = &run.wrap {
            words.extend(w.split_whitespace().map(str::to_owned));
        }
        words.push(program.display().to_string());
        let mut cmd = Command::new(&words[0]);
        cmd.args(&words[1..]);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("{}: {e}", program.display()))?;
        let pid = child.id().ok_or("the server exited at once")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let wait = async {
            while let Some(line) = lines.next_line().await? {
                if let Some(rest) = line.trim().strip_prefix(ready_prefix) {
                    return Ok::<_, BoxError>(rest.trim().parse::<SocketAddr>()?);
                }
            }
            Err(format!("{} exited before listening", program.display()).into())
        };
        let addr = tokio::time::timeout(Duration::from_secs(120), wait)
            .await
            .map_err(|_| format!("{} did not start within 120 s", program.display()))??;
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self { child, addr, pid })
    }

    /// SIGINT (so the server, or a profiler around it, exits cleanly),
    /// then SIGKILL after 20 s.
    async fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.pid.to_string()])
            .status()
            .await;
        if tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.start_kill();
            let _ = self.child.wait().await;
        }
    }
}

async fn start_own(args: &RunArgs, serve: &[&str]) -> Result<Server, BoxError> {
    start_own_logging(args, serve, Stdio::inherit()).await
}

async fn start_own_logging(
    args: &RunArgs,
    serve: &[&str],
    stderr: Stdio,
) -> Result<Server, BoxError> {
    let exe = std::env::current_exe()?;
    let mut a = vec!["serve".to_owned()];
    a.extend(serve.iter().map(|s| (*s).to_owned()));
    Server::start(args, &exe, &a, stderr, "LISTENING").await
}

fn fixed(tokens: Tokens) -> load::Fixed {
    load::Fixed {
        method: Method::POST,
        path: "/mcp".into(),
        headers: mcp_headers(),
        body: Bytes::from_static(TOOLS_LIST.as_bytes()),
        tokens,
        expect: StatusCode::OK,
    }
}

fn bearer(token: &str) -> Result<HeaderValue, BoxError> {
    Ok(HeaderValue::from_str(&format!("Bearer {token}"))?)
}

struct Target {
    name: &'static str,
    server: &'static str,
    kind: TargetKind,
    /// Connections, if not `--connections`.
    connections: Option<usize>,
}

enum TargetKind {
    Fixed(Arc<load::Fixed>),
    FreshTokens,
}

async fn rs_suite(
    args: &RunArgs,
    tmp: &Path,
    pem: &Path,
    key: SigningKey,
) -> Result<String, BoxError> {
    let public = "http://127.0.0.1";
    let pem_s = pem.display().to_string();
    let mint = TokenMint::new(public, key)?;
    let repeated = bearer(&mint.mint()?)?;
    // The bare servers get the very same request, the token included (their
    // handler ignores it): the ratios then measure the library's work, not
    // the cost of receiving a ~600-byte header.
    let mut targets = vec![
        Target {
            name: "bare axum",
            server: "bare",
            kind: TargetKind::Fixed(Arc::new(fixed(Tokens::Same(repeated.clone())))),
            connections: None,
        },
        Target {
            name: "axum + BearerLayer, repeated token",
            server: "layer",
            kind: TargetKind::Fixed(Arc::new(fixed(Tokens::Same(repeated.clone())))),
            connections: None,
        },
        Target {
            name: "axum + BearerLayer, first-seen tokens",
            server: "layer",
            kind: TargetKind::FreshTokens,
            connections: None,
        },
        Target {
            name: "actix-web bare",
            server: "actix-bare",
            kind: TargetKind::Fixed(Arc::new(fixed(Tokens::Same(repeated.clone())))),
            connections: None,
        },
        Target {
            name: "actix-web + BearerAuth, repeated token",
            server: "actix",
            kind: TargetKind::Fixed(Arc::new(fixed(Tokens::Same(repeated)))),
            connections: None,
        },
    ];
    if !args.no_example {
        // The token comes from a code flow once the server runs.
        targets.push(Target {
            name: "example MCP server, tools/list",
            server: "example",
            kind: TargetKind::Fixed(Arc::new(fixed(Tokens::None))),
            connections: None,
        });
        // One client calling in sequence: the latency an MCP client sees.
        targets.push(Target {
            name: "example MCP server, tools/list, 1 connection",
            server: "example",
            kind: TargetKind::Fixed(Arc::new(fixed(Tokens::None))),
            connections: Some(1),
        });
    }
    targets.retain(|t| args.wanted(t.name));
    let mut servers: Vec<(&'static str, Server)> = Vec::new();
    let mut notes = String::new();
    let mut example_load: Option<Arc<load::Fixed>> = None;
    for t in &mut targets {
        if t.server == "example"
            && let Some(w) = &example_load
        {
            t.kind = TargetKind::Fixed(w.clone());
        }
        if servers.iter().any(|(k, _)| *k == t.server) {
            continue;
        }
        progress(&format!("starting {}", t.server));
        if t.server != "example" {
            let s = start_own(
                args,
                &[t.server, "--key", pem_s.as_str(), "--public-url", public],
            )
            .await?;
            servers.push((t.server, s));
            continue;
        }
        let log = tmp.join("example.log");
        let stderr = Stdio::from(std::fs::File::create(&log)?);
        let ex = start_own_logging(args, &["example"], stderr).await?;
        let mut conn = Conn::connect(ex.addr).await?;
        let (_, tok) = flows::code_flow(&mut conn, "demo-user", "demo-password").await?;
        let w = fixed(Tokens::Same(bearer(&tok.access)?));
        // Check the call works and count the log lines it costs.
        let before = line_count(&log);
        let n = 20;
        for _ in 0..n {
            w.op(&mut conn, &mut ()).await?;
        }
        let lines = line_count(&log).saturating_sub(before);
        let _ = writeln!(
            notes,
            "- Example MCP server (`example-axum-server`, default logging): {} log lines per `tools/list` call ({} lines over {} calls).",
            lines as f64 / f64::from(n),
            lines,
            n
        );
        let w = Arc::new(w);
        t.kind = TargetKind::Fixed(w.clone());
        example_load = Some(w);
        servers.push(("example", ex));
    }
    let window = args.warmup + args.duration;
    let mut fresh_rate: Option<f64> = None;
    let mut results = Results::default();
    for round in 1..=args.rounds {
        for t in &targets {
            let s = servers
                .iter()
                .find(|(k, _)| *k == t.server)
                .map(|(_, s)| s)
                .ok_or("target without a server")?;
            let plan = Plan {
                addr: s.addr,
                pid: s.pid,
                connections: t.connections.unwrap_or(args.connections),
                warmup: Duration::from_secs_f64(args.warmup),
                duration: Duration::from_secs_f64(args.duration),
            };
            let mut out = match &t.kind {
                TargetKind::Fixed(w) => load::run(w.clone(), &plan).await?,
                TargetKind::FreshTokens => {
                    // Enough first-seen tokens for the window (ES256 verification
                    // bounds this rate), minted before the window starts.
                    let n = ((fresh_rate.unwrap_or(15_000.0) * window * 3.0) as usize).max(20_000);
                    progress(&format!("round {round}: minting {n} first-seen tokens"));
                    let tokens = (0..n).map(|_| mint.mint()).collect::<Result<Vec<_>, _>>()?;
                    let w = Arc::new(fixed(Tokens::Fresh(FreshTokens::new(tokens)?)));
                    let out = load::run(w, &plan).await?;
                    fresh_rate = Some(out.rate());
                    out
                }
            };
            if let Some(e) = &out.first_error {
                progress(&format!("{}: first error: {e}", t.name));
            }
            let st = RoundStat::of(&mut out);
            progress(&format!(
                "round {round} {}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {:.1} µs CPU/req, {} errors",
                t.name, st.rate, st.p50, st.p99, st.cpu_us, st.errors
            ));
            results.push(t.name, st);
        }
    }
    for (_, s) in servers {
        s.stop().await;
    }
    let mut md = String::new();
    let _ = writeln!(
        md,
        "\n### Resource server: trivial `POST /mcp` (`tools/list` body), medians of {} rounds\n",
        args.rounds
    );
    md.push_str(&report::rs_table(&results, "bare axum"));
    let _ = writeln!(
        md,
        "\nRatios are medians of same-round ratios to bare axum. Server CPU is utime+stime of the server process over the window ÷ requests; \
         the load generator runs on the other core. The protected targets use the README's set-up (`MemoryStore`, `AuthServer`, \
         `ResourceServer::for_auth_server` with `required_scopes`/`tool_scopes`); tokens are ES256, carry a grant id, and \
         first-seen tokens are each sent once. The bare servers receive the same request, `Authorization` header included \
         (their handler ignores it)."
    );
    md.push_str(&notes);
    let _ = writeln!(md, "\n<details><summary>Every round</summary>\n");
    md.push_str(&report::per_round(&results));
    let _ = writeln!(md, "\n</details>");
    Ok(md)
}

fn line_count(p: &Path) -> usize {
    std::fs::read_to_string(p)
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

async fn token_suite(args: &RunArgs, tmp: &Path, pem: &Path) -> Result<String, BoxError> {
    let pem_s = pem.display().to_string();
    let mut servers = Vec::new();
    let mut pg = None;
    for store in &args.stores {
        let (name, url) = match store {
            StoreKind::Memory => ("memory", "memory".to_owned()),
            StoreKind::Sqlite => (
                "sqlite",
                format!("sqlite://{}?mode=rwc", tmp.join("as.db").display()),
            ),
            StoreKind::Postgres => {
                let db = oauth_mcp_sqlx::testing::postgres_for_tests().await;
                let url = db.url().to_owned();
                pg = Some(db);
                ("postgres", url)
            }
        };
        progress(&format!("starting the authorization server on {name}"));
        let s = start_own(
            args,
            &[
                "as",
                "--key",
                &pem_s,
                "--store",
                &url,
                "--public-url",
                "http://127.0.0.1",
            ],
        )
        .await?;
        servers.push((name, url, s));
    }
    let mut results = Results::default();
    for round in 1..=args.rounds {
        for (name, _, s) in &servers {
            let plan = Plan {
                addr: s.addr,
                pid: s.pid,
                connections: args.token_connections,
                warmup: Duration::from_secs_f64(args.warmup),
                duration: Duration::from_secs_f64(args.duration),
            };
            for op in ["code flow", "refresh"] {
                let label = format!("{name} {op}");
                if !args.wanted(&label) {
                    continue;
                }
                let mut out = if op == "code flow" {
                    load::run(Arc::new(flows::CodeFlow), &plan).await?
                } else {
                    load::run(Arc::new(flows::Refresh), &plan).await?
                };
                if let Some(e) = &out.first_error {
                    progress(&format!("{label}: first error: {e}"));
                }
                let st = RoundStat::of(&mut out);
                progress(&format!(
                    "round {round} {label}: {:.0} ops/s, p50 {:.2} ms, p99 {:.2} ms, {:.1} µs CPU/op",
                    st.rate, st.p50, st.p99, st.cpu_us
                ));
                results.push(&label, st);
            }
        }
    }
    let mut md = String::new();
    let _ = writeln!(
        md,
        "\n### Token endpoint, medians of {} rounds ({} connections)\n",
        args.rounds, args.token_connections
    );
    md.push_str(&report::token_table(&results));
    let _ = writeln!(
        md,
        "\nA code flow is register → GET /authorize → POST /authorize (log in) → POST /token, over HTTP; a refresh is one \
         rotation on a grant owned by the connection. The server is the embedded authorization server with a fixed-cost \
         authenticator (a constant user check, no argon2), so password hashing does not dominate; server CPU excludes \
         the database's own processes."
    );
    if let Some((_, url, _)) = servers.iter().find(|(n, _, _)| *n == "postgres") {
        let _ = writeln!(md, "\n{}", pg_tls_line(url));
    }
    if let Some(db) = &pg {
        let postgres = servers
            .iter()
            .find(|(n, _, _)| *n == "postgres")
            .map(|(_, u, _)| u.clone())
            .ok_or("no postgres server")?;
        for (_, _, s) in servers {
            s.stop().await;
        }
        md.push_str(&count_round_trips(args, &pem_s, &postgres).await?);
        let _ = db;
    } else {
        for (_, _, s) in servers {
            s.stop().await;
        }
    }
    let _ = writeln!(md, "\n<details><summary>Every round</summary>\n");
    md.push_str(&report::per_round(&results));
    let _ = writeln!(md, "\n</details>");
    drop(pg);
    Ok(md)
}

/// Which `sslmode` the PostgreSQL rows used, as sqlx decides it: the URL's
/// `sslmode` (or `ssl-mode`), else `PGSSLMODE`, else `prefer` (TLS
/// whenever the server offers it, as Debian's does even on loopback; a
/// private server the harness starts offers none). TLS costs both
/// processes CPU per round trip.
fn pg_tls_line(url: &str) -> String {
    let in_url = url::Url::parse(url).ok().and_then(|u| {
        u.query_pairs()
            .find(|(k, _)| k == "sslmode" || k == "ssl-mode")
            .map(|(_, v)| v.into_owned())
    });
    match (in_url, std::env::var("PGSSLMODE").ok()) {
        (Some(m), _) => format!("PostgreSQL connection: `sslmode={m}` (from the URL)."),
        (None, Some(m)) => format!("PostgreSQL connection: `sslmode={m}` (from `PGSSLMODE`)."),
        (None, None) => "PostgreSQL connection: no `sslmode` in the URL or `PGSSLMODE`, so \
                         sqlx's `prefer`: TLS if the server offers it (add `sslmode=disable` to \
                         the URL to measure without)."
            .to_owned(),
    }
}

/// Runs each endpoint sequentially through the counting proxy and reports
/// the median round trips per call.
async fn count_round_trips(args: &RunArgs, pem: &str, url: &str) -> Result<String, BoxError> {
    let mut u = url::Url::parse(url)?;
    let host = u.host_str().unwrap_or("127.0.0.1").to_owned();
    let port = u.port().unwrap_or(5432);
    let upstream: SocketAddr = tokio::net::lookup_host((host.as_str(), port))
        .await?
        .find(|a| a.ip().is_loopback())
        .ok_or_else(|| format!("PostgreSQL host `{host}` is not on loopback"))?;
    let (proxy, counters) = pgcount::start(upstream).await?;
    u.set_host(Some("127.0.0.1"))?;
    u.set_port(Some(proxy.port()))
        .map_err(|_| "cannot set the proxy port")?;
    u.query_pairs_mut().append_pair("sslmode", "disable");
    progress("counting PostgreSQL round trips per endpoint");
    let s = start_own(
        args,
        &[
            "as",
            "--key",
            pem,
            "--store",
            u.as_str(),
            "--public-url",
            "http://127.0.0.1",
        ],
    )
    .await?;
    let mut conn = Conn::connect(s.addr).await?;
    let steps = [
        "POST /register",
        "GET /authorize",
        "POST /authorize",
        "POST /token (code)",
        "POST /token (refresh)",
        "POST /mcp (Bearer check)",
        "(idle, 100 ms)",
    ];
    let mut per: Vec<Vec<pgcount::Counts>> = vec![Vec::new(); steps.len()];
    let mcp = fixed(Tokens::None);
    for _ in 0..args.count_reps {
        let mut snap = counters.snapshot();
        // Each step's trailing traffic (e.g. a connection's return to the
        // pool) is counted with it: snapshots are taken after a short pause.
        let settle = || tokio::time::sleep(Duration::from_millis(20));
        let mut mark = |i: usize, per: &mut Vec<Vec<pgcount::Counts>>| {
            let now = counters.snapshot();
            per[i].push(now - snap);
            snap = now;
        };
        let cid = flows::register(&mut conn).await?;
        settle().await;
        mark(0, &mut per);
        let rid = flows::authorize_get(&mut conn, &cid).await?;
        settle().await;
        mark(1, &mut per);
        let code = flows::authorize_post(&mut conn, &rid, flows::USER.0, flows::USER.1).await?;
        settle().await;
        mark(2, &mut per);
        let t = flows::exchange(&mut conn, &cid, &code).await?;
        settle().await;
        mark(3, &mut per);
        let t2 = flows::refresh(&mut conn, &cid, &t.refresh).await?;
        settle().await;
        mark(4, &mut per);
        let mut req = crate::client::request(
            Method::POST,
            "/mcp",
            Some("application/json"),
            Bytes::from_static(TOOLS_LIST.as_bytes()),
        )?;
        req.headers_mut()
            .insert(http::header::AUTHORIZATION, bearer(&t2.access)?);
        let r = conn.send(req).await?;
        if r.status != StatusCode::OK {
            return Err(format!("POST /mcp: status {}", r.status).into());
        }
        settle().await;
        mark(5, &mut per);
        tokio::time::sleep(Duration::from_millis(100)).await;
        mark(6, &mut per);
    }
    drop(mcp);
    s.stop().await;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "\n### PostgreSQL round trips per endpoint (median of {} sequential calls, counted by a protocol proxy)\n",
        args.count_reps
    );
    let _ = writeln!(
        md,
        "| endpoint | round trips | prepared statements run | simple queries (BEGIN/COMMIT…) | health-check pings |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|");
    let mut flow_total = 0.0;
    for (i, name) in steps.iter().enumerate() {
        let m = |f: fn(&pgcount::Counts) -> u64| {
            report::median(&per[i].iter().map(|c| f(c) as f64).collect::<Vec<_>>())
        };
        let rt = m(|c| c.round_trips);
        if i < 4 {
            flow_total += rt;
        }
        let _ = writeln!(
            md,
            "| {name} | {rt} | {} | {} | {} |",
            m(|c| c.executes),
            m(|c| c.simple),
            m(|c| c.pings)
        );
    }
    let _ = writeln!(
        md,
        "\nA round trip is one `ReadyForQuery` from the server (one `Sync` or simple query from the client). \
         The code flow's four requests take {flow_total} round trips in all."
    );
    Ok(md)
}
